//! One cluster as the provider sees it: a connection per broker shared by every resource,
//! the brokers and controller it last learned, and routing with retries.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::MetadataRequest;
use kafka_protocol::protocol::Request;
use tokio::sync::Mutex;

use super::Error;
use super::admin::{BrokerInfo, NewTopic, TopicInfo};
use super::batch::Coalescer;
use super::config::ConnectionConfig;
use super::conn::Connection;
use super::read_ahead::ReadAhead;
use super::topic_config::ConfigEntry;

/// Long enough to gather the reads Terraform issues together, short enough to go unnoticed.
const COALESCE_WINDOW: Duration = Duration::from_millis(5);
pub(crate) const METADATA_VERSION: i16 = 12;

#[derive(Default, Clone)]
pub(crate) struct Topology {
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub controller: Option<i32>,
}

pub struct Cluster {
    pub(crate) config: ConnectionConfig,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    pub(crate) topology: StdMutex<Topology>,
    pub(crate) metadata: Coalescer<String, TopicInfo>,
    pub(crate) configs: Coalescer<String, Vec<ConfigEntry>>,
    pub(crate) creations: Coalescer<NewTopic, Result<(), Error>>,
    pub(crate) deletions: Coalescer<String, Result<(), Error>>,
    pub(crate) read_ahead: ReadAhead,
}

/// Clusters by connection settings: every resource that names the same cluster shares one.
#[derive(Default)]
pub struct Pool {
    clusters: StdMutex<HashMap<ConnectionConfig, Arc<Cluster>>>,
}

impl Pool {
    pub fn cluster(&self, config: &ConnectionConfig) -> Arc<Cluster> {
        let mut clusters = self.clusters.lock().expect("pool lock");
        clusters.entry(config.clone()).or_insert_with(|| Arc::new(Cluster::new(config.clone()))).clone()
    }
}

impl Cluster {
    pub fn new(config: ConnectionConfig) -> Cluster {
        Cluster {
            config,
            connections: Mutex::new(HashMap::new()),
            topology: StdMutex::new(Topology::default()),
            metadata: Coalescer::new(COALESCE_WINDOW),
            configs: Coalescer::new(COALESCE_WINDOW),
            creations: Coalescer::new(COALESCE_WINDOW),
            deletions: Coalescer::new(COALESCE_WINDOW),
            read_ahead: ReadAhead::default(),
        }
    }

    pub fn describe(&self) -> String {
        self.config.describe()
    }

    async fn connection(&self, address: &str) -> Result<Arc<Connection>, Error> {
        let mut connections = self.connections.lock().await;
        if let Some(conn) = connections.get(address).filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let conn = Arc::new(Connection::open(address, &self.config).await?);
        connections.insert(address.to_string(), conn.clone());
        Ok(conn)
    }

    /// Any broker: an open connection if there is one, else the known brokers, else the
    /// bootstrap list.
    async fn any_connection(&self) -> Result<Arc<Connection>, Error> {
        if let Some(conn) = self.connections.lock().await.values().find(|c| !c.is_closed()).cloned() {
            return Ok(conn);
        }
        let known: Vec<String> =
            self.topology.lock().expect("topology").brokers.values().map(|b| b.address()).collect();
        let mut last_error = None;
        for address in known.iter().chain(&self.config.bootstrap_servers) {
            match self.connection(address).await {
                Ok(conn) => return Ok(conn),
                // Credentials and TLS fail the same way on every broker: no point in trying on.
                Err(e @ (Error::Authentication(_) | Error::Tls { .. } | Error::TlsConfig(_))) => return Err(e),
                Err(e) => last_error = Some(e),
            }
        }
        Err(Error::NoBroker {
            tried: self.config.bootstrap_servers.join(","),
            last_error: last_error.map_or_else(|| "no bootstrap servers".into(), |e| e.to_string()),
        })
    }

    pub(crate) async fn send_any<R: Request>(&self, request: &R, version: i16) -> Result<R::Response, Error> {
        self.any_connection().await?.send(request, version).await
    }

    pub(crate) async fn send_to_broker<R: Request>(
        &self,
        id: i32,
        request: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        let address = self.broker_address(id).await?;
        self.connection(&address).await?.send(request, version).await
    }

    /// Topic creation, partition changes and reassignments go to the controller in ZooKeeper
    /// mode; a moved controller answers NOT_CONTROLLER and the caller's retry comes here again
    /// after a refresh.
    pub(crate) async fn send_to_controller<R: Request>(&self, request: &R, version: i16) -> Result<R::Response, Error> {
        let controller = self.topology.lock().expect("topology").controller;
        let controller = match controller {
            Some(id) => id,
            None => self.refresh_topology().await?.controller.ok_or_else(|| Error::Broker {
                operation: "finding the controller".into(),
                code: ResponseError::NotController.code(),
                message: "no controller elected yet".into(),
            })?,
        };
        self.send_to_broker(controller, request, version).await
    }

    async fn broker_address(&self, id: i32) -> Result<String, Error> {
        let known = self.topology.lock().expect("topology").brokers.get(&id).map(BrokerInfo::address);
        match known {
            Some(address) => Ok(address),
            None => {
                self.refresh_topology().await?.brokers.get(&id).map(BrokerInfo::address).ok_or_else(|| Error::Broker {
                    operation: format!("finding broker {id}"),
                    code: ResponseError::BrokerNotAvailable.code(),
                    message: format!("broker {id} is not in the cluster's metadata"),
                })
            }
        }
    }

    /// Asks any broker for the cluster's brokers and controller.
    pub(crate) async fn refresh_topology(&self) -> Result<Topology, Error> {
        let response =
            self.send_any(&MetadataRequest::default().with_topics(Some(Vec::new())), METADATA_VERSION).await?;
        let topology = Topology {
            brokers: response
                .brokers
                .iter()
                .map(|b| {
                    (
                        b.node_id.0,
                        BrokerInfo {
                            id: b.node_id.0,
                            host: b.host.to_string(),
                            port: b.port,
                            rack: b.rack.as_ref().map(|r| r.to_string()),
                        },
                    )
                })
                .collect(),
            controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
        };
        *self.topology.lock().expect("topology") = topology.clone();
        Ok(topology)
    }

    pub(crate) fn forget_controller(&self) {
        self.topology.lock().expect("topology").controller = None;
    }

    /// Runs `op` until it succeeds, fails for good, or `budget` runs out, pausing with backoff
    /// between tries and refreshing the topology when the controller or a leader moved.
    pub(crate) async fn retry<T, F, Fut>(&self, what: &str, budget: Duration, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let deadline = tokio::time::Instant::now() + budget;
        let mut pause = Duration::from_millis(100);
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retriable() && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(operation = what, error = %e, retry_in_ms = pause.as_millis() as u64, "retrying");
                    if matches!(e.code(), Some(ResponseError::NotController)) {
                        self.forget_controller();
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
