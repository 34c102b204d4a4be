//! TLS for clients (`wss://`), through rustls.
//!
//! The crypto provider is chosen explicitly: aws-lc-rs, rustls' own default, the one with
//! post-quantum hybrid key exchange (X25519MLKEM768, preferred here), which rustls now
//! recommends over ring (whose provider it deprecates for lacking it); it builds with the C
//! compiler a Debian machine has. Every configuration here is built with it, so no caller ever
//! depends on a process-wide default provider being installed (rustls panics with "no
//! process-level CryptoProvider" when two providers are compiled in and none was chosen). The default roots are Mozilla's, compiled in by `webpki-roots`: the same on
//! every machine, including minimal containers without a system certificate store.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;

use crate::error::Error;

/// The protocol WebSocket runs over, for ALPN (RFC 6455 §4.1 requires HTTP/1.1).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider every configuration of this crate uses.
#[must_use]
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The client configuration [`connect`](super::connect) uses for `wss://`: Mozilla's roots,
/// TLS 1.2 and 1.3, ALPN `http/1.1`. Built once.
#[must_use]
pub fn default_client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(client_config(roots))
    }))
}

/// A client configuration trusting Mozilla's roots plus every certificate in `pem` (a CA of
/// one's own, or a self-signed server certificate).
///
/// # Errors
/// [`Error::Io`] when the PEM holds no certificate or one rustls cannot use as a root.
pub fn client_config_with_extra_roots(pem: &[u8]) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut added = 0;
    for certificate in CertificateDer::pem_slice_iter(pem) {
        let certificate = certificate.map_err(|e| invalid(format!("bad PEM: {e}")))?;
        roots
            .add(certificate)
            .map_err(|e| invalid(format!("not a usable CA certificate: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(invalid("no certificate in the PEM data".to_owned()));
    }
    Ok(Arc::new(client_config(roots)))
}

fn client_config(roots: RootCertStore) -> ClientConfig {
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    config
}

/// The TLS handshake over `tcp`, verifying that the certificate is valid for `host`.
///
/// # Errors
/// [`Error::Tls`] when the handshake fails (an untrusted or expired certificate, a name
/// mismatch); [`Error::Io`] for a host that cannot be a TLS server name, or a transport error.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        invalid(format!(
            "{host:?} cannot be verified as a TLS server name: {e}"
        ))
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(Error::from_tls_io)
}

fn invalid(message: String) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, message))
}
