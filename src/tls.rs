//! TLS (rustls, ring provider, TLS 1.2 and 1.3 only) for Synap's listeners: the RESP port,
//! optionally the HTTP port, and the replication port when it lands. [`TlsAcceptor`] holds the
//! server configuration built from `server.tls` and swaps in a fresh one on
//! [`TlsAcceptor::reload`] (SIGHUP), so renewed certificates apply to new connections without a
//! restart. [`client_config`] builds the matching client side (synap-admin, replicas).
//!
//! Connections that fail the handshake (a plaintext client, an untrusted client certificate)
//! are closed on their own; nobody else notices.

use crate::config::TlsConfig;
use futures::{AsyncRead, AsyncWrite};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// A server-side TLS stream over `IO`.
pub type TlsStream<IO> = futures_rustls::server::TlsStream<IO>;

/// The protocol versions Synap speaks: TLS 1.3 and 1.2, nothing older.
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected PEM \"BEGIN CERTIFICATE\" blocks)",
            path.display()
        ));
    }
    Ok(certs)
}

fn roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for c in certs(path, "CA certificates")? {
        roots
            .add(c)
            .map_err(|e| format!("{}: bad CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!(
            "{}: cannot read the private key: {e} (expected a PEM PKCS#8, PKCS#1 or SEC1 key)",
            path.display()
        )
    })
}

/// Builds the server configuration for `server.tls`: certificate chain and key, and, when
/// `ca_path` is set, mandatory client certificates signed by that CA.
pub fn server_config(t: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    let cert_path = t
        .cert_path
        .as_deref()
        .ok_or("server.tls.cert_path is required when TLS is enabled")?;
    let key_path = t
        .key_path
        .as_deref()
        .ok_or("server.tls.key_path is required when TLS is enabled")?;
    let chain = certs(cert_path, "the certificate chain")?;
    let key = key(key_path)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &t.ca_path {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("{} / {}: {e}", cert_path.display(), key_path.display()))?;
    Ok(Arc::new(config))
}

/// Accepts TLS connections with the current server configuration; reloadable.
pub struct TlsAcceptor {
    settings: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsAcceptor {
    /// Loads the certificate, key and CA named by `settings`.
    pub fn new(settings: &TlsConfig) -> Result<TlsAcceptor, String> {
        Ok(TlsAcceptor {
            current: RwLock::new(server_config(settings)?),
            settings: settings.clone(),
        })
    }

    /// The configuration new connections get.
    pub fn config(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the files; on error the previous configuration stays in force.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = server_config(&self.settings)?;
        match self.current.write() {
            Ok(mut c) => *c = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
        Ok(())
    }

    /// Runs the server side of a handshake over `io`.
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        futures_rustls::TlsAcceptor::from(self.config())
            .accept(io)
            .await
    }
}

/// A client configuration: trust `ca_path` (required unless `insecure`), optionally present
/// a client certificate (`identity` = certificate chain, key). `insecure` accepts any server
/// certificate (tests, first contact) and should not be used in production.
pub fn client_config(
    ca_path: Option<&Path>,
    identity: Option<(&Path, &Path)>,
    insecure: bool,
) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(danger::AcceptAny(provider())))
    } else {
        let ca = ca_path.ok_or("TLS needs a CA certificate to trust (--cacert)")?;
        builder.with_root_certificates(roots(ca)?)
    };
    let config = match identity {
        Some((cert, key_path)) => builder
            .with_client_auth_cert(certs(cert, "the client certificate")?, key(key_path)?)
            .map_err(|e| format!("{}: {e}", cert.display()))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

mod danger {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use std::sync::Arc;

    /// Accepts any server certificate (still checks the handshake signatures).
    #[derive(Debug)]
    pub struct AcceptAny(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
