//! A scripted broker on loopback for the client's unit tests: it speaks just enough of the
//! protocol (ApiVersions, Metadata) to be connected to, or misbehaves in the ways real brokers
//! do when they freeze (a long GC, an exhausted heap) or drop packets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub enum Behaviour {
    /// Accepts TCP (the kernel does) and never reads a byte: a frozen process.
    Frozen,
    /// Completes ApiVersions, then stops reading: a broker that froze while connected.
    MuteAfterHandshake,
    /// Answers Metadata with itself as the only broker and controller, and these topics with
    /// their error codes (0 for a healthy topic of one partition). Like a broker with
    /// `auto.create.topics.enable=true`, it creates a missing topic a request allows it to.
    Healthy { node_id: i32, topics: Topics },
}

pub type Topics = Arc<Mutex<BTreeMap<String, i16>>>;

pub fn topics(entries: &[(&str, i16)]) -> Topics {
    Arc::new(Mutex::new(entries.iter().map(|(name, code)| (name.to_string(), *code)).collect()))
}

pub struct FakeBroker {
    pub address: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBroker {
    pub async fn start(behaviour: Behaviour) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address: SocketAddr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                match &behaviour {
                    Behaviour::Frozen => held.push(stream),
                    other => {
                        tokio::spawn(serve(stream, other.clone(), address));
                    }
                }
            }
        });
        FakeBroker { address: address.to_string(), task }
    }
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, address: SocketAddr) {
    loop {
        let Ok(len) = stream.read_i32().await else { return };
        let mut body = vec![0u8; len as usize];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut body = bytes::Bytes::from(body);
        let key = ApiKey::try_from((&body[..2]).get_i16()).expect("a known API key");
        let version = (&body[2..4]).get_i16();
        let header = RequestHeader::decode(&mut body, key.request_header_version(version)).expect("request header");
        let response = match (key, &behaviour) {
            (ApiKey::ApiVersions, _) => encode(header.correlation_id, version, &api_versions()),
            (ApiKey::Metadata, Behaviour::Healthy { node_id, topics }) => {
                let request = MetadataRequest::decode(&mut body, version).expect("metadata request");
                let response = metadata(&request, *node_id, &mut topics.lock().expect("topics"), address);
                encode(header.correlation_id, version, &response)
            }
            _ => return,
        };
        if stream.write_all(&response).await.is_err() {
            return;
        }
        if matches!(behaviour, Behaviour::MuteAfterHandshake) {
            std::future::pending::<()>().await;
        }
    }
}

fn encode<R: Encodable + HeaderVersion>(correlation_id: i32, version: i16, response: &R) -> BytesMut {
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut frame, R::header_version(version))
        .expect("response header");
    response.encode(&mut frame, version).expect("response body");
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        ApiKey::iter()
            .map(|key| {
                let range = key.valid_versions();
                ApiVersion::default().with_api_key(key as i16).with_min_version(range.min).with_max_version(range.max)
            })
            .collect(),
    )
}

fn metadata(
    request: &MetadataRequest,
    node_id: i32,
    topics: &mut BTreeMap<String, i16>,
    address: SocketAddr,
) -> MetadataResponse {
    let asked: Vec<String> = match &request.topics {
        None => topics.keys().cloned().collect(),
        Some(asked) => asked.iter().filter_map(|t| t.name.as_ref().map(|n| n.0.to_string())).collect(),
    };
    let unknown = kafka_protocol::error::ResponseError::UnknownTopicOrPartition.code();
    if request.allow_auto_topic_creation {
        for name in &asked {
            topics.entry(name.clone()).or_insert(0);
        }
    }
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(node_id))
                .with_host(StrBytes::from_string(address.ip().to_string()))
                .with_port(i32::from(address.port())),
        ])
        .with_controller_id(BrokerId(node_id))
        .with_topics(
            asked
                .into_iter()
                .map(|name| {
                    let code = topics.get(&name).copied().unwrap_or(unknown);
                    let partitions = if code == 0 {
                        vec![
                            MetadataResponsePartition::default()
                                .with_leader_id(BrokerId(node_id))
                                .with_replica_nodes(vec![BrokerId(node_id)])
                                .with_isr_nodes(vec![BrokerId(node_id)]),
                        ]
                    } else {
                        Vec::new()
                    };
                    MetadataResponseTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name))))
                        .with_error_code(code)
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// Settings for the fake brokers at these addresses, with this request timeout.
pub fn config(bootstrap: &[&str], timeout: std::time::Duration) -> crate::kafka::ConnectionConfig {
    let mut config = crate::kafka::ConnectionConfig::plaintext(bootstrap.iter().copied());
    config.request_timeout = timeout;
    config
}

/// Broker 1, answering for these topics (name and the error code it gives for each).
pub fn healthy(entries: &[(&str, i16)]) -> Behaviour {
    Behaviour::Healthy { node_id: 1, topics: topics(entries) }
}
