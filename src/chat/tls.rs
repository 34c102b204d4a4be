//! The chat server's TLS: certificate and key loaded from PEM files, swapped whole on reload.
//!
//! New connections take the configuration current when they arrive; connections already open
//! keep the one they were accepted with. A reload that fails (a missing file, a key that does not
//! match the certificate) changes nothing and says why, so a typo during a certificate rotation
//! never takes the server down.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::ws::tls::{crypto_provider, ALPN_HTTP11};

/// Why a certificate and key could not be used.
#[derive(Debug)]
pub struct TlsSetupError(String);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

/// Loads a server configuration: the certificate chain from `cert` (PEM, leaf first), the
/// private key from `key` (PEM: PKCS#8, PKCS#1 or SEC1), TLS 1.2 and 1.3, ALPN `http/1.1`.
///
/// # Errors
/// A message naming the file and the problem: unreadable, no certificate or key in it, or a
/// key that does not belong to the certificate.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(cert, "certificate chain", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, "certificate chain", &e))?;
    if chain.is_empty() {
        return Err(TlsSetupError(format!(
            "{}: no certificate in this file (expected PEM: -----BEGIN CERTIFICATE-----)",
            cert.display()
        )));
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, "private key", &e))?;
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| {
            TlsSetupError(format!(
                "{} and {} cannot be used together: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(path: &Path, what: &str, error: &rustls::pki_types::pem::Error) -> TlsSetupError {
    use rustls::pki_types::pem::Error;
    let why = match error {
        Error::Io(io) => format!("cannot read it: {io}"),
        Error::NoItemsFound => format!("no {what} in this file (expected PEM)"),
        other => format!("not a valid PEM {what}: {other:?}"),
    };
    TlsSetupError(format!("{}: {why}", path.display()))
}

/// The certificate in force, reloadable from the same files.
#[derive(Debug)]
pub struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl ServerTls {
    /// Loads `cert` and `key`.
    ///
    /// # Errors
    /// As [`load_server_config`].
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsSetupError> {
        let config = load_server_config(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(config),
        }))
    }

    /// An acceptor with the configuration in force now.
    #[must_use]
    pub fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        TlsAcceptor::from(Arc::clone(&current))
    }

    /// Reads the files again and, if they are usable, serves new connections with them.
    ///
    /// # Errors
    /// As [`load_server_config`]; the configuration in force is kept then.
    pub fn reload(&self) -> Result<(), TlsSetupError> {
        let config = load_server_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }

    /// The certificate file.
    #[must_use]
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }
}
