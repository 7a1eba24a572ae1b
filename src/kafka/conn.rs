//! One connection to one broker: TCP (and TLS), ApiVersions negotiation, SASL, then pipelined
//! requests matched to responses by correlation id, so concurrent callers share the socket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, oneshot};

use super::Error;
use super::config::{ConnectionConfig, SaslMechanism, TlsConfig};
use super::route::{Route, Stream};
use super::sasl::{Scram, plain_message};

const CLIENT_ID: &str = "terraform-provider-hikube";
/// Larger responses than this are refused rather than allocated (a metadata response for tens
/// of thousands of topics stays well below it).
const MAX_FRAME: usize = 256 * 1024 * 1024;
/// Before the broker has proven who it is, only ApiVersions and SASL answers arrive, each a
/// few hundred bytes: anything larger is not a broker worth believing.
const MAX_FRAME_BEFORE_AUTHENTICATION: usize = 1024 * 1024;

type Pending = Arc<StdMutex<HashMap<i32, oneshot::Sender<Result<Bytes, Error>>>>>;

pub struct Connection {
    pub address: String,
    writer: Mutex<WriteHalf<Box<dyn Stream>>>,
    pending: Pending,
    next_correlation_id: AtomicI32,
    /// The broker's supported version range per API key.
    versions: HashMap<i16, (i16, i16)>,
    closed: Arc<AtomicBool>,
    reader: tokio::task::AbortHandle,
    request_timeout: Duration,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The reader holds half of the socket: without this, a broker that never answers keeps
        // the socket and the task alive after everyone has given up on it.
        self.reader.abort();
    }
}

impl Connection {
    /// Connects, negotiates versions and authenticates, all within the connection set-up timeout.
    pub async fn open(address: &str, config: &ConnectionConfig) -> Result<Connection, Error> {
        let timeout = config.connect_timeout();
        let deadline = tokio::time::Instant::now() + timeout;
        let late = |step: &str| Error::Connect {
            address: address.into(),
            reason: format!("{step} got no answer within {timeout:?} (the broker may be down, frozen or unreachable)"),
        };
        let transport = tokio::time::timeout_at(deadline, dial(&config.route, address))
            .await
            .map_err(|_| late(if config.route == Route::Direct { "TCP connect" } else { "Opening the tunnel" }))??;
        let mut stream: Box<dyn Stream> = match &config.tls {
            None => transport,
            Some(tls) => Box::new(tls_connect(transport, address, tls, deadline).await?),
        };
        let versions = tokio::time::timeout_at(deadline, negotiate_versions(&mut stream, address))
            .await
            .map_err(|_| late("ApiVersions"))??;
        if let Some(sasl) = &config.sasl {
            tokio::time::timeout_at(deadline, authenticate(&mut stream, &versions, sasl))
                .await
                .map_err(|_| late("SASL authentication"))??;
        }
        let (reader, writer) = tokio::io::split(stream);
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let reader =
            tokio::spawn(read_responses(reader, pending.clone(), closed.clone(), address.to_string())).abort_handle();
        tracing::debug!(address, security = %config.describe(), "connected to broker");
        Ok(Connection {
            address: address.to_string(),
            writer: Mutex::new(writer),
            pending,
            next_correlation_id: AtomicI32::new(1),
            versions,
            closed,
            reader,
            request_timeout: config.request_timeout,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Gives the connection up: a request that timed out may still be answered late, or a
    /// frame may be half written, so nothing more can be matched on this socket. Every request
    /// still waiting on it fails now rather than at its own timeout.
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.reader.abort();
        for (_, waiter) in self.pending.lock().expect("pending map").drain() {
            let _ = waiter.send(Err(Error::Disconnected(self.address.clone())));
        }
    }

    /// The highest version both sides speak, capped at `preferred_max`.
    pub fn version_for(&self, key: ApiKey, preferred_max: i16) -> Result<i16, Error> {
        let ours = key.valid_versions();
        let (broker_min, broker_max) = self
            .versions
            .get(&(key as i16))
            .copied()
            .ok_or(Error::Unsupported { api: format!("{key:?}"), address: self.address.clone() })?;
        let version = preferred_max.min(broker_max).min(ours.max);
        if version < broker_min.max(ours.min) {
            return Err(Error::Unsupported { api: format!("{key:?}"), address: self.address.clone() });
        }
        Ok(version)
    }

    /// Sends a request and waits for its response, the whole within the request timeout: the
    /// turn at the socket, the write (a broker that stopped reading fills the socket's buffers)
    /// and the answer.
    pub async fn send<R: Request>(&self, request: &R, preferred_max: i16) -> Result<R::Response, Error> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| Error::Protocol(format!("unknown API key {}", R::KEY)))?;
        let version = self.version_for(key, preferred_max)?;
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_request(request, version, correlation_id)?;
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending map").insert(correlation_id, tx);
        if self.is_closed() {
            self.pending.lock().expect("pending map").remove(&correlation_id);
            return Err(Error::Disconnected(self.address.clone()));
        }
        let timed_out = |what: &str| {
            self.close();
            Error::Timeout(format!("{key:?} to {}: {what} within {:?}", self.address, self.request_timeout))
        };
        // Dropped before its frame is wholly written (a caller giving up, a stop), the socket
        // would carry half a request into the next: the guard closes it then.
        let unfinished = CloseUnlessDisarmed(Some(self));
        let written = tokio::time::timeout_at(deadline, async {
            let mut writer = self.writer.lock().await;
            writer.write_all(&frame).await
        })
        .await;
        match written {
            Ok(Ok(())) => unfinished.disarm(),
            Ok(Err(e)) => {
                self.close();
                return Err(Error::io(&self.address, &e));
            }
            Err(_) => return Err(timed_out("the broker did not take the request")),
        }
        let response = match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(Error::Disconnected(self.address.clone())),
            Err(_) => return Err(timed_out("no answer")),
        };
        decode_response::<R>(response, version)
    }
}

/// Closes the connection when dropped, unless disarmed first.
struct CloseUnlessDisarmed<'a>(Option<&'a Connection>);

impl CloseUnlessDisarmed<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CloseUnlessDisarmed<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.0 {
            conn.close();
        }
    }
}

fn encode_request<R: Request>(request: &R, version: i16, correlation_id: i32) -> Result<BytesMut, Error> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
    let mut frame = BytesMut::with_capacity(256);
    frame.put_i32(0);
    header.encode(&mut frame, R::header_version(version)).map_err(|e| Error::Protocol(e.to_string()))?;
    request.encode(&mut frame, version).map_err(|e| Error::Protocol(e.to_string()))?;
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

/// Every API this client sends, with the highest version it asks for: what a broker's answers
/// are decoded as.
pub const APIS: [(ApiKey, i16); 18] = [
    (ApiKey::ApiVersions, 3),
    (ApiKey::SaslHandshake, 1),
    (ApiKey::SaslAuthenticate, 2),
    (ApiKey::Metadata, super::cluster::METADATA_VERSION),
    (ApiKey::DescribeConfigs, 4),
    (ApiKey::CreateTopics, 7),
    (ApiKey::DeleteTopics, 6),
    (ApiKey::CreatePartitions, 3),
    (ApiKey::IncrementalAlterConfigs, 1),
    (ApiKey::AlterPartitionReassignments, 0),
    (ApiKey::ListPartitionReassignments, 0),
    (ApiKey::CreateAcls, 3),
    (ApiKey::DescribeAcls, 3),
    (ApiKey::DeleteAcls, 3),
    (ApiKey::DescribeUserScramCredentials, 0),
    (ApiKey::AlterUserScramCredentials, 0),
    (ApiKey::DescribeClientQuotas, 1),
    (ApiKey::AlterClientQuotas, 1),
];

/// Decodes a response body (header included) as the connection would, for the fuzz target:
/// errors are fine, panics and unbounded allocations are not.
pub fn decode_any_response(key: ApiKey, version: i16, body: Bytes) -> Result<(), Error> {
    use kafka_protocol::messages::*;
    match key {
        ApiKey::ApiVersions => decode_response::<ApiVersionsRequest>(body, version).map(drop),
        ApiKey::SaslHandshake => decode_response::<SaslHandshakeRequest>(body, version).map(drop),
        ApiKey::SaslAuthenticate => decode_response::<SaslAuthenticateRequest>(body, version).map(drop),
        ApiKey::Metadata => decode_response::<MetadataRequest>(body, version).map(drop),
        ApiKey::DescribeConfigs => decode_response::<DescribeConfigsRequest>(body, version).map(drop),
        ApiKey::CreateTopics => decode_response::<CreateTopicsRequest>(body, version).map(drop),
        ApiKey::DeleteTopics => decode_response::<DeleteTopicsRequest>(body, version).map(drop),
        ApiKey::CreatePartitions => decode_response::<CreatePartitionsRequest>(body, version).map(drop),
        ApiKey::IncrementalAlterConfigs => decode_response::<IncrementalAlterConfigsRequest>(body, version).map(drop),
        ApiKey::AlterPartitionReassignments => {
            decode_response::<AlterPartitionReassignmentsRequest>(body, version).map(drop)
        }
        ApiKey::ListPartitionReassignments => {
            decode_response::<ListPartitionReassignmentsRequest>(body, version).map(drop)
        }
        ApiKey::CreateAcls => decode_response::<CreateAclsRequest>(body, version).map(drop),
        ApiKey::DescribeAcls => decode_response::<DescribeAclsRequest>(body, version).map(drop),
        ApiKey::DeleteAcls => decode_response::<DeleteAclsRequest>(body, version).map(drop),
        ApiKey::DescribeUserScramCredentials => {
            decode_response::<DescribeUserScramCredentialsRequest>(body, version).map(drop)
        }
        ApiKey::AlterUserScramCredentials => {
            decode_response::<AlterUserScramCredentialsRequest>(body, version).map(drop)
        }
        ApiKey::DescribeClientQuotas => decode_response::<DescribeClientQuotasRequest>(body, version).map(drop),
        ApiKey::AlterClientQuotas => decode_response::<AlterClientQuotasRequest>(body, version).map(drop),
        other => Err(Error::Protocol(format!("this client does not use {other:?}"))),
    }
}

fn decode_response<R: Request>(mut body: Bytes, version: i16) -> Result<R::Response, Error> {
    ResponseHeader::decode(&mut body, <R::Response as HeaderVersion>::header_version(version))
        .map_err(|e| Error::Protocol(format!("response header: {e}")))?;
    R::Response::decode(&mut body, version).map_err(|e| Error::Protocol(format!("response body: {e}")))
}

async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S, max: usize) -> std::io::Result<Bytes> {
    let len = stream.read_i32().await?;
    if len < 4 || len as usize > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes (at most {max} expected here)"),
        ));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

async fn read_responses(
    mut reader: ReadHalf<Box<dyn Stream>>,
    pending: Pending,
    closed: Arc<AtomicBool>,
    address: String,
) {
    let error = loop {
        match read_frame(&mut reader, MAX_FRAME).await {
            Ok(frame) => {
                let correlation_id = (&frame[..4]).get_i32();
                if let Some(waiter) = pending.lock().expect("pending map").remove(&correlation_id) {
                    let _ = waiter.send(Ok(frame));
                }
            }
            Err(e) => break e,
        }
    };
    closed.store(true, Ordering::Relaxed);
    tracing::debug!(address, error = %error, "broker connection closed");
    for (_, waiter) in pending.lock().expect("pending map").drain() {
        let _ = waiter.send(Err(Error::Disconnected(address.clone())));
    }
}

/// One request and its response before the connection is shared: ApiVersions and SASL.
async fn roundtrip<R: Request>(stream: &mut Box<dyn Stream>, request: &R, version: i16) -> Result<R::Response, Error> {
    let frame = encode_request(request, version, 0)?;
    stream.write_all(&frame).await.map_err(|e| Error::io("", &e))?;
    let response = read_frame(stream, MAX_FRAME_BEFORE_AUTHENTICATION).await.map_err(|e| Error::io("", &e))?;
    decode_response::<R>(response, version)
}

async fn negotiate_versions(stream: &mut Box<dyn Stream>, address: &str) -> Result<HashMap<i16, (i16, i16)>, Error> {
    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str(CLIENT_ID))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
    let response: ApiVersionsResponse = roundtrip(stream, &request, 3).await.map_err(|e| match e {
        Error::Io { reason, .. } => Error::Connect {
            address: address.into(),
            reason: format!("{reason} (is this a Kafka listener of the expected security protocol?)"),
        },
        other => other,
    })?;
    if response.error_code != 0 {
        return Err(Error::Connect {
            address: address.into(),
            reason: format!(
                "ApiVersions failed with error code {}; Kafka 2.4 or later is required",
                response.error_code
            ),
        });
    }
    Ok(response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect())
}

async fn authenticate(
    stream: &mut Box<dyn Stream>,
    versions: &HashMap<i16, (i16, i16)>,
    sasl: &super::config::SaslConfig,
) -> Result<(), Error> {
    let handshake_version = versions.get(&(ApiKey::SaslHandshake as i16)).map_or(0, |v| v.1.min(1));
    if handshake_version < 1 {
        return Err(Error::Authentication("the broker offers no SASL handshake v1 on this listener".into()));
    }
    let handshake = roundtrip(
        stream,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(sasl.mechanism.name())),
        1,
    )
    .await?;
    if handshake.error_code != 0 {
        let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(Error::Authentication(format!(
            "the listener does not accept SASL mechanism {} (it offers {})",
            sasl.mechanism.name(),
            offered.join(", ")
        )));
    }
    let authenticate_version = versions.get(&(ApiKey::SaslAuthenticate as i16)).map_or(0, |v| v.1.min(2));
    let mut send = async |bytes: Vec<u8>| -> Result<Bytes, Error> {
        let response = roundtrip(
            stream,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes)),
            authenticate_version,
        )
        .await?;
        if response.error_code != 0 {
            let message = response.error_message.map(|m| m.to_string()).unwrap_or_default();
            return Err(Error::Authentication(format!("the broker refused the credentials: {message}")));
        }
        Ok(response.auth_bytes)
    };
    match sasl.mechanism {
        SaslMechanism::Plain => {
            send(plain_message(sasl)).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let mut scram = Scram::new(sasl);
            let server_first = send(scram.client_first()).await?;
            let client_final = scram.client_final(&server_first)?;
            let server_final = send(client_final).await?;
            scram.verify_server_final(&server_final)?;
        }
    }
    tracing::debug!(mechanism = sasl.mechanism.name(), username = %sasl.username, "SASL authentication succeeded");
    Ok(())
}

/// A stream to `address`, over TCP or through the route's tunnel.
async fn dial(route: &Route, address: &str) -> Result<Box<dyn Stream>, Error> {
    match route {
        Route::Direct => {
            let tcp = TcpStream::connect(address)
                .await
                .map_err(|e| Error::Connect { address: address.into(), reason: e.to_string() })?;
            tcp.set_nodelay(true).ok();
            Ok(Box::new(tcp))
        }
        Route::Tunnel { tunnel, .. } => {
            let port = address
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .ok_or_else(|| Error::Connect { address: address.into(), reason: "the address has no port".into() })?;
            tunnel.open(host_of(address), port).await.map_err(|e| match e.permanent {
                true => Error::Tunnel { address: address.into(), reason: e.reason },
                false => Error::Connect { address: address.into(), reason: e.reason },
            })
        }
    }
}

async fn tls_connect(
    transport: Box<dyn Stream>,
    address: &str,
    tls: &TlsConfig,
    deadline: tokio::time::Instant,
) -> Result<tokio_rustls::client::TlsStream<Box<dyn Stream>>, Error> {
    let config = tls_client_config(tls)?;
    let host = tls.server_name.clone().unwrap_or_else(|| host_of(address).to_string());
    let failed = |reason: String, cause: Option<rustls::Error>| Error::Tls { address: address.into(), reason, cause };
    let server_name = ServerName::try_from(host.clone())
        .map_err(|_| failed(format!("{host:?} is not a valid TLS server name"), None))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout_at(deadline, connector.connect(server_name, transport))
        .await
        .map_err(|_| failed("TLS handshake timed out".into(), None))?
        .map_err(|e| {
            let cause = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).cloned();
            failed(e.to_string(), cause)
        })
}

fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn tls_client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, Error> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::TlsConfig(format!("{what}: {e}"));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?;
    let builder = if tls.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_pem {
            Some(pem) => {
                let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad("ca_cert is not a PEM certificate bundle", &e))?;
                if certs.is_empty() {
                    return Err(Error::TlsConfig("ca_cert holds no PEM certificate".into()));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| bad("ca_cert", &e))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer> = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad("client_cert is not PEM", &e))?;
            let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|e| bad("client_key is not a PEM key", &e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| bad("client certificate", &e))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(Error::TlsConfig("client_cert and client_key go together".into())),
    }
}

/// `insecure_skip_verify`: accepts any server certificate, still checking handshake signatures.
#[derive(Debug)]
struct SkipVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
