//! One cluster as the provider sees it: a connection per broker shared by every resource,
//! the brokers and controller it last learned, and routing with retries.
//!
//! A broker that stops answering must not stall the others: connections to different brokers
//! are set up independently, a broker that failed lately is tried last while others remain, and
//! every send, connection set-up included, ends within a bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::Request;

use super::Error;
use super::config::ConnectionConfig;
use super::conn::Connection;
use super::types::BrokerInfo;
use super::wire::metadata_request;

pub(crate) const METADATA_VERSION: i16 = 12;
/// How long a broker that failed stays at the back of the queue.
const SUSPECT_FOR: Duration = Duration::from_secs(30);

#[derive(Default, Clone)]
pub(crate) struct Topology {
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub controller: Option<i32>,
}

pub struct Cluster {
    pub(crate) config: ConnectionConfig,
    connections: StdMutex<HashMap<String, Arc<Connection>>>,
    /// One connection attempt per address at a time, never waiting on another address's.
    dialing: StdMutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The last failure of each address that failed, and when.
    failures: StdMutex<HashMap<String, (Instant, Error)>>,
    topology: StdMutex<Topology>,
}

impl Cluster {
    pub fn new(config: ConnectionConfig) -> Cluster {
        Cluster {
            config,
            connections: StdMutex::default(),
            dialing: StdMutex::default(),
            failures: StdMutex::default(),
            topology: StdMutex::new(Topology::default()),
        }
    }

    pub fn describe(&self) -> String {
        self.config.describe()
    }

    fn open_connection(&self, address: &str) -> Option<Arc<Connection>> {
        self.connections.lock().expect("connections").get(address).filter(|c| !c.is_closed()).cloned()
    }

    fn recently_failed(&self, address: &str) -> bool {
        self.failures.lock().expect("failures").get(address).is_some_and(|(at, _)| at.elapsed() < SUSPECT_FOR)
    }

    /// Remembers that `address` failed, so that the next requests go elsewhere first.
    fn note_failure(&self, address: &str, error: &Error) {
        tracing::debug!(address, error = %error, "broker failed; trying the others first for a while");
        self.failures.lock().expect("failures").insert(address.to_string(), (Instant::now(), error.clone()));
        let mut connections = self.connections.lock().expect("connections");
        if connections.get(address).is_some_and(|c| c.is_closed()) {
            connections.remove(address);
        }
    }

    async fn connection(&self, address: &str) -> Result<Arc<Connection>, Error> {
        if let Some(conn) = self.open_connection(address) {
            return Ok(conn);
        }
        let asked = Instant::now();
        let gate = self.dialing.lock().expect("dialing").entry(address.to_string()).or_default().clone();
        let _turn = gate.lock().await;
        if let Some(conn) = self.open_connection(address) {
            return Ok(conn);
        }
        // An attempt that failed while this one waited its turn is this one's answer too.
        if let Some((at, e)) = self.failures.lock().expect("failures").get(address)
            && *at >= asked
        {
            return Err(e.clone());
        }
        match Connection::open(address, &self.config).await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                self.connections.lock().expect("connections").insert(address.to_string(), conn.clone());
                self.failures.lock().expect("failures").remove(address);
                Ok(conn)
            }
            Err(e) => {
                self.note_failure(address, &e);
                Err(e)
            }
        }
    }

    /// Sends on `conn`; a connection that broke or timed out marks its broker as failed.
    async fn send_on<R: Request>(&self, conn: &Connection, request: &R, version: i16) -> Result<R::Response, Error> {
        let result = conn.send(request, version).await;
        if let Err(e) = &result
            && e.is_connection_failure()
        {
            self.note_failure(&conn.address, e);
        }
        result
    }

    /// Bounds a send, connection set-up included, so that no request outlives its timeout.
    async fn bounded<T>(&self, what: &str, op: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let bound = self.config.send_bound();
        tokio::time::timeout(bound, op)
            .await
            .unwrap_or_else(|_| Err(Error::Timeout(format!("{what}: no broker answered within {bound:?}"))))
    }

    /// Any broker: an open connection to one that has not failed lately, else the known brokers
    /// and then the bootstrap list, those that failed lately last.
    async fn any_connection(&self) -> Result<Arc<Connection>, Error> {
        let open = self
            .connections
            .lock()
            .expect("connections")
            .values()
            .find(|c| !c.is_closed() && !self.recently_failed(&c.address))
            .cloned();
        if let Some(conn) = open {
            return Ok(conn);
        }
        let known: Vec<String> =
            self.topology.lock().expect("topology").brokers.values().map(|b| b.address()).collect();
        let mut candidates: Vec<&String> = Vec::new();
        for address in known.iter().chain(&self.config.bootstrap_servers) {
            if !candidates.contains(&address) {
                candidates.push(address);
            }
        }
        candidates.sort_by_key(|address| self.recently_failed(address));
        let mut last_error = None;
        for address in candidates {
            match self.connection(address).await {
                Ok(conn) => return Ok(conn),
                // Credentials, TLS and a tunnel refused fail the same way on every broker: no point
                // in trying on.
                Err(
                    e @ (Error::Authentication(_) | Error::Tls { .. } | Error::TlsConfig(_) | Error::Tunnel { .. }),
                ) => {
                    return Err(e);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(Error::NoBroker {
            tried: self.config.bootstrap_servers.join(","),
            last_error: last_error.map_or_else(|| "no bootstrap servers".into(), |e| e.to_string()),
        })
    }

    pub(crate) async fn send_any<R: Request>(&self, request: &R, version: i16) -> Result<R::Response, Error> {
        self.bounded("a request to any broker", async {
            let conn = self.any_connection().await?;
            self.send_on(&conn, request, version).await
        })
        .await
    }

    pub(crate) async fn send_to_broker<R: Request>(
        &self,
        id: i32,
        request: &R,
        version: i16,
    ) -> Result<R::Response, Error> {
        self.bounded(&format!("a request to broker {id}"), async {
            let address = self.broker_address(id).await?;
            let conn = self.connection(&address).await?;
            self.send_on(&conn, request, version).await
        })
        .await
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
        let result = self.send_to_broker(controller, request, version).await;
        // A controller that cannot be reached may have been replaced: ask again next time.
        if let Err(e) = &result
            && e.is_connection_failure()
        {
            self.forget_controller();
        }
        result
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
        let response = self.send_any(&metadata_request(Some(Vec::new())), METADATA_VERSION).await?;
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
    /// between tries and refreshing the topology when the controller or a leader moved. Each
    /// try is itself bounded (see [`Cluster::bounded`]), so the whole ends within the budget and
    /// one send.
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::kafka::fake_broker::{Behaviour, FakeBroker, config, healthy};

    /// The connection map's lock used to be held while connecting, so a broker that accepted TCP
    /// and never answered blocked every request to every broker for the whole timeout.
    #[tokio::test]
    async fn a_frozen_broker_does_not_stall_requests_to_the_others() {
        let frozen = FakeBroker::start(Behaviour::Frozen).await;
        let live = FakeBroker::start(healthy(&[])).await;
        let cluster = Arc::new(Cluster::new(config(&[&frozen.address, &live.address], Duration::from_secs(3))));
        let stuck = {
            let cluster = cluster.clone();
            let address = frozen.address.clone();
            tokio::spawn(async move { cluster.connection(&address).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let conn = cluster.connection(&live.address).await.expect("the live broker answers");
        cluster.send_on(&conn, &metadata_request(None), METADATA_VERSION).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "waited {:?} behind the frozen broker", started.elapsed());
        assert!(matches!(stuck.await.unwrap(), Err(Error::Connect { .. })));
    }

    /// Seen with a broker out of heap and with SIGSTOP: a plan waited on one unanswered request
    /// for good. Now the connection attempt ends within its timeout, the next broker answers,
    /// and later reads go to it without waiting on the frozen one again.
    #[tokio::test]
    async fn a_broker_that_stops_reading_fails_the_request_in_time_and_its_socket_is_dropped() {
        let mute = FakeBroker::start(Behaviour::MuteAfterHandshake).await;
        let cluster = Cluster::new(config(&[&mute.address], Duration::from_secs(1)));
        let conn = cluster.connection(&mute.address).await.expect("the handshake completes");
        // Large enough to fill both sockets' buffers: the write itself must time out too.
        let names = (0..200_000).map(|i| format!("topic-with-a-long-name-{i:08}")).collect::<Vec<_>>();
        let request = metadata_request(Some(
            names
                .iter()
                .map(|n| {
                    kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(Some(
                        kafka_protocol::messages::TopicName(kafka_protocol::protocol::StrBytes::from_string(n.clone())),
                    ))
                })
                .collect(),
        ));
        let started = Instant::now();
        let sent = cluster.send_on(&conn, &request, METADATA_VERSION).await;
        assert!(matches!(sent, Err(Error::Timeout(_))), "{sent:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert!(conn.is_closed(), "a timed-out socket is not reused");
        assert!(cluster.open_connection(&mute.address).is_none());
    }
}
