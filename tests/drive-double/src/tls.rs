//! TLS, for running the double under Google's own host names: a certificate authority made for one
//! run, trusted only by the processes that are told about it (`SSL_CERT_FILE`), and a server
//! certificate it signs for those names. Benchmarks use it to put unmodified clients (rclone, the
//! orchestrator with its default endpoints) in front of the double exactly as in front of Google.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The host names Google's clients use: Drive's API and uploads, the token and revocation
/// endpoints, the consent page.
pub const GOOGLE_HOSTS: [&str; 3] = ["www.googleapis.com", "oauth2.googleapis.com", "accounts.google.com"];

/// A throw-away certificate authority and a server certificate it signed.
#[derive(Clone)]
pub struct TestCa {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    server_pem: String,
    server_key_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new authority, and a certificate for `hosts` (plus `localhost` and 127.0.0.1).
    ///
    /// # Panics
    /// If key generation or signing fails (never with these fixed parameters).
    pub fn generate(hosts: &[&str]) -> TestCa {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: two authorities of one test (one trusted, one not) must not pass
        // for each other, which a verifier looking issuers up by name would let them.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("drive-double throw-away CA {} {serial}", std::process::id());
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA certificate");
        let mut names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
        let mut leaf = CertificateParams::new(names).expect("server certificate parameters");
        leaf.distinguished_name.push(DnType::CommonName, hosts.first().copied().unwrap_or("localhost"));
        let key = KeyPair::generate().expect("server key");
        let cert = leaf.signed_by(&key, &ca).expect("server certificate");
        TestCa {
            ca_pem: ca.pem(),
            chain: vec![cert.der().clone(), ca.der().clone()],
            key: key.serialize_der(),
            server_pem: format!("{}{}", cert.pem(), ca.pem()),
            server_key_pem: key.serialize_pem(),
        }
    }

    /// The authority's certificate, PEM: the whole trust store of a client for one run.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate and its authority's, PEM: the chain a server of another tool (an
    /// SMTP server in Python) presents.
    pub fn server_chain_pem(&self) -> &str {
        &self.server_pem
    }

    /// The server certificate's private key, PKCS#8 PEM.
    pub fn server_key_pem(&self) -> &str {
        &self.server_key_pem
    }

    /// Serves `router` on `listener` over TLS with the server certificate, until the task running
    /// this is aborted: for other doubles that must be reached over HTTPS.
    pub async fn serve(&self, listener: tokio::net::TcpListener, router: axum::Router) {
        crate::serve::serve(listener, router, Some(self.acceptor())).await;
    }

    /// A TLS acceptor presenting the server certificate; HTTP/1.1 only (as the double serves).
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .expect("a valid server certificate and key");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}
