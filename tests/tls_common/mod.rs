//! A throwaway PKI for the TLS tests, made with rcgen at test time: a test CA, server
//! certificates it signs for `localhost` and `127.0.0.1` (valid, or expired), written as PEM
//! files in a fresh temporary directory that is removed on drop.
#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};

/// The CA and the directory the PEM files go to.
pub struct TestPki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate's DER, to recognise it in a handshake.
    pub der: Vec<u8>,
}

impl CertFiles {
    pub fn cert_arg(&self) -> &str {
        self.cert.to_str().unwrap()
    }

    pub fn key_arg(&self) -> &str {
        self.key.to_str().unwrap()
    }
}

impl TestPki {
    pub fn new() -> Self {
        static DIRS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wschat-pki-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "wschat test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Self { dir, ca }
    }

    /// The CA certificate (PEM file) to trust.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `localhost` and `127.0.0.1`, valid now, signed by the CA.
    pub fn server_cert(&self, name: &str) -> CertFiles {
        self.issue(name, false)
    }

    /// The same, expired since 2021.
    pub fn expired_cert(&self, name: &str) -> CertFiles {
        self.issue(name, true)
    }

    /// A valid certificate for `names` only.
    pub fn cert_for(&self, name: &str, names: &[&str]) -> CertFiles {
        self.issue_for(name, names, false)
    }

    fn issue(&self, name: &str, expired: bool) -> CertFiles {
        self.issue_for(name, &["localhost", "127.0.0.1"], expired)
    }

    fn issue_for(&self, name: &str, names: &[&str], expired: bool) -> CertFiles {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let files = CertFiles {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    /// A path in the PKI's directory, for files a test writes itself.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A client configuration trusting the test CA (and Mozilla's roots).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        wschat::ws::tls::client_config_with_extra_roots(self.ca_pem().as_bytes()).unwrap()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies `from`'s certificate and key over `to`'s files (a certificate rotation).
pub fn install(from: &CertFiles, to: &Path, to_key: &Path) {
    std::fs::copy(&from.cert, to).unwrap();
    std::fs::copy(&from.key, to_key).unwrap();
}
