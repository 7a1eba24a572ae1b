//! AutoMTLS: a fresh server certificate per run, and a client verifier that accepts exactly the
//! certificate Terraform announced in `PLUGIN_CLIENT_CERT`.
//!
//! Terraform's client certificate is self-signed, ECDSA P-521 with SHA-512, and marked as a CA,
//! so the stock webpki verifier (which refuses a CA as an end entity) does not fit, and the
//! `ring` provider cannot check P-521 signatures: hence aws-lc-rs and a pinned-certificate
//! verifier that still checks the handshake signature.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use super::Error;

/// The server side of AutoMTLS: the rustls configuration, and the certificate announced in the
/// handshake line.
pub struct AutoMtls {
    pub config: Arc<ServerConfig>,
    pub server_cert_der: Vec<u8>,
}

pub fn auto_mtls(client_cert_pem: &str) -> Result<AutoMtls, Error> {
    let client_cert = CertificateDer::from_pem_slice(client_cert_pem.as_bytes()).map_err(|e| {
        Error::BadEnvironment { name: "PLUGIN_CLIENT_CERT", reason: format!("not a PEM certificate: {e}") }
    })?;
    let provider = Arc::new(aws_lc_rs::default_provider());
    // go-plugin checks the server certificate against the name "localhost".
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).map_err(|e| Error::Tls(e.to_string()))?;
    let server_cert_der = generated.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()));
    let verifier = Arc::new(PinnedClientCert {
        expected: client_cert.into_owned(),
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(server_cert_der.clone())], key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(AutoMtls { config: Arc::new(config), server_cert_der })
}

#[derive(Debug)]
struct PinnedClientCert {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Installs aws-lc-rs as the process default so every rustls user (the Kafka client too)
/// agrees on one provider.
pub fn install_crypto_provider() {
    let _ = CryptoProvider::install_default(aws_lc_rs::default_provider());
}
