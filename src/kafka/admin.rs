//! Typed admin operations: what the resources ask of Kafka, with the broker's per-item errors
//! turned into [`Error`]s and the waits that make a change visible everywhere. [`Admin`] owns
//! what makes many small operations cheap (the coalescers that batch them, the read-ahead of
//! large refreshes) and sends through a [`Cluster`], the transport.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, DeleteTopicsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
};

use super::Error;
use super::batch::Coalescer;
use super::cluster::{Cluster, METADATA_VERSION};
use super::config::ConnectionConfig;
use super::read_ahead::ReadAhead;
use super::topic_config::{ConfigEntry, ConfigOp};
use super::types::{BrokerInfo, NewTopic, TopicInfo};
use super::wire::*;

/// Long enough to gather the reads Terraform issues together, short enough to go unnoticed.
const COALESCE_WINDOW: Duration = Duration::from_millis(5);

/// The admin client of one cluster.
pub struct Admin {
    pub(super) cluster: Cluster,
    metadata: Coalescer<String, Result<TopicInfo, Error>>,
    configs: Coalescer<String, Result<Vec<ConfigEntry>, Error>>,
    creations: Coalescer<NewTopic, Result<(), Error>>,
    deletions: Coalescer<String, Result<(), Error>>,
    pub(super) read_ahead: ReadAhead,
}

/// Admin clients by connection settings: every resource that names the same cluster shares one.
#[derive(Default)]
pub struct Pool {
    clusters: Mutex<HashMap<ConnectionConfig, Arc<Admin>>>,
}

impl Pool {
    pub fn admin(&self, config: &ConnectionConfig) -> Arc<Admin> {
        let mut clusters = self.clusters.lock().expect("pool lock");
        clusters.entry(config.clone()).or_insert_with(|| Arc::new(Admin::new(config.clone()))).clone()
    }
}

impl Admin {
    pub fn new(config: ConnectionConfig) -> Admin {
        // A batch's fetch retries within the read budget, its last try ending one send later.
        let patience = config.read_budget() + config.send_bound() + Duration::from_secs(1);
        // A write may find the controller unknown: one send to learn it, one to ask it.
        let write_patience = config.send_bound().saturating_mul(2) + Duration::from_secs(1);
        Admin {
            cluster: Cluster::new(config),
            metadata: Coalescer::new(COALESCE_WINDOW, patience),
            configs: Coalescer::new(COALESCE_WINDOW, patience),
            creations: Coalescer::new(COALESCE_WINDOW, write_patience),
            deletions: Coalescer::new(COALESCE_WINDOW, write_patience),
            read_ahead: ReadAhead::default(),
        }
    }

    pub fn config(&self) -> &ConnectionConfig {
        &self.cluster.config
    }

    /// The transport, for the typed operations kept in other files.
    pub(super) fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The cluster as its settings name it, for messages.
    pub fn describe(&self) -> String {
        self.cluster.describe()
    }

    /// A topic's partitions and configuration for a refresh; `None` parts when it does not
    /// exist. A large refresh is answered from one description of the whole cluster.
    pub async fn read_topic(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<(Option<TopicInfo>, Option<Vec<ConfigEntry>>), Error> {
        let ahead = self.read_ahead.lookup(name, || self.fetch_topics(None), |names| self.fetch_configs(names)).await;
        match ahead {
            Some((info, configs)) => Ok((Some(info), Some(configs))),
            None => tokio::try_join!(self.describe_topic(name), self.topic_configs(name)),
        }
    }

    /// How long the broker may wait on its side: a little less than the client waits for the
    /// answer, so that a slow change is answered with the broker's own timeout, not cut off.
    pub(super) fn broker_wait_ms(&self, budget: Duration) -> i32 {
        timeout_ms(budget.min(self.cluster.config.request_timeout.mul_f64(0.8)))
    }

    /// The broker acting as controller now, if the cluster has elected one.
    pub async fn controller(&self) -> Result<Option<i32>, Error> {
        let budget = self.cluster.config.request_timeout;
        Ok(self.cluster.retry("finding the controller", budget, || self.cluster.refresh_topology()).await?.controller)
    }

    /// The brokers the cluster has now, with their racks.
    pub async fn brokers(&self) -> Result<Vec<BrokerInfo>, Error> {
        let budget = self.cluster.config.request_timeout;
        let topology = self.cluster.retry("describing the cluster", budget, || self.cluster.refresh_topology()).await?;
        Ok(topology.brokers.into_values().collect())
    }

    /// A topic's partitions and replicas; `None` when it does not exist. Concurrent calls share
    /// one Metadata request.
    pub async fn describe_topic(self: &Arc<Self>, name: &str) -> Result<Option<TopicInfo>, Error> {
        let cluster = self.clone();
        self.metadata
            .load(name.to_string(), move |names| async move { cluster.fetch_topics(Some(names)).await })
            .await?
            .transpose()
    }

    /// The named topics, or every topic with `None`, each with its own outcome.
    pub(crate) async fn fetch_topics(
        &self,
        names: Option<Vec<String>>,
    ) -> Result<BTreeMap<String, Result<TopicInfo, Error>>, Error> {
        let request = metadata_request(names.map(|names| {
            names.iter().map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n)))).collect()
        }));
        let response = self
            .cluster
            .retry("reading topic metadata", self.cluster.config.read_budget(), || {
                self.cluster.send_any(&request, METADATA_VERSION)
            })
            .await?;
        Ok(topics_from_metadata(&response.topics))
    }

    /// Every topic of the cluster with its partitions, in one Metadata request.
    pub async fn all_topics(&self) -> Result<Vec<TopicInfo>, Error> {
        let request = metadata_request(None);
        let response = self
            .cluster
            .retry("listing topics", self.cluster.config.read_budget(), || {
                self.cluster.send_any(&request, METADATA_VERSION)
            })
            .await?;
        Ok(response.topics.into_iter().filter_map(|t| Some(topic_info(t.name.as_ref()?.0.to_string(), &t))).collect())
    }

    /// The topic's configuration as the broker describes it; `None` when the topic does not exist.
    pub async fn topic_configs(self: &Arc<Self>, name: &str) -> Result<Option<Vec<ConfigEntry>>, Error> {
        let cluster = self.clone();
        self.configs
            .load(name.to_string(), move |names| async move { cluster.fetch_configs(names).await })
            .await?
            .transpose()
    }

    /// The named topics' configurations, each with its own outcome.
    pub(crate) async fn fetch_configs(
        &self,
        names: Vec<String>,
    ) -> Result<BTreeMap<String, Result<Vec<ConfigEntry>, Error>>, Error> {
        let request = DescribeConfigsRequest::default().with_resources(
            names
                .iter()
                .map(|n| {
                    DescribeConfigsResource::default()
                        .with_resource_type(TOPIC_RESOURCE)
                        .with_resource_name(str_bytes(n))
                })
                .collect(),
        );
        let response = self
            .cluster
            .retry("describing topic configs", self.cluster.config.read_budget(), || self.cluster.send_any(&request, 4))
            .await?;
        Ok(configs_from_results(response.results))
    }

    /// Creates a topic and waits until every partition has a leader. With `validate_only` the
    /// controller checks the request (name, partitions, replication factor against live brokers,
    /// every config value) and creates nothing.
    pub async fn create_topic(
        self: &Arc<Self>,
        topic: &NewTopic,
        validate_only: bool,
        budget: Duration,
    ) -> Result<(), Error> {
        let operation = format!("creating topic {}", topic.name);
        if validate_only {
            let request = create_topics_request(std::slice::from_ref(topic), true, self.broker_wait_ms(budget));
            let response = self.cluster.send_to_controller(&request, 7).await?;
            return first_refusal(
                &operation,
                response.topics.iter().map(|r| (r.error_code, r.error_message.as_deref())),
            );
        }
        // Creations Terraform issues together go to the controller in one request, which its
        // event loop then handles as one topic change rather than one per topic.
        let failed_before = std::sync::atomic::AtomicBool::new(false);
        let created = self
            .cluster
            .retry(&operation, budget, || async {
                let cluster = self.clone();
                let outcome = self
                    .creations
                    .load(topic.clone(), move |topics| async move { cluster.create_topics(topics).await })
                    .await
                    .and_then(|outcome| {
                        outcome.unwrap_or_else(|| {
                            Err(Error::Protocol(format!("{operation}: the broker did not answer for it")))
                        })
                    });
                if outcome.as_ref().is_err_and(|e| e.code() != Some(ResponseError::TopicAlreadyExists)) {
                    failed_before.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                outcome
            })
            .await;
        match created {
            // The broker may act on a request and still fail it (ZooKeeper moving, a timeout):
            // the caller decides whether what exists now is what it asked for.
            Err(e)
                if failed_before.load(std::sync::atomic::Ordering::Relaxed)
                    && e.code() == Some(ResponseError::TopicAlreadyExists) =>
            {
                return Err(Error::ExistsAfterFailedTry(topic.name.clone()));
            }
            other => other?,
        }
        let partitions = topic.partitions as usize;
        self.wait_for_topic(&topic.name, budget, |t| {
            t.is_some_and(|t| t.is_ready() && t.partitions.len() == partitions)
        })
        .await
    }

    /// One CreateTopics for a batch; each topic's outcome on its own, so that one refusal fails
    /// only its topic.
    async fn create_topics(&self, topics: Vec<NewTopic>) -> Result<BTreeMap<NewTopic, Result<(), Error>>, Error> {
        self.read_ahead.invalidate();
        let request = create_topics_request(&topics, false, self.broker_wait_ms(self.cluster.config.request_timeout));
        let started = tokio::time::Instant::now();
        let response = self.cluster.send_to_controller(&request, 7).await?;
        tracing::debug!(
            topics = topics.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "CreateTopics answered"
        );
        let mut outcomes: BTreeMap<String, Result<(), Error>> = BTreeMap::new();
        for result in &response.topics {
            let name = result.name.0.to_string();
            let operation = format!("creating topic {name}");
            let message = result.error_message.as_deref();
            // A replacement deletes the old topic first; ZooKeeper-mode controllers keep it
            // "marked for deletion" a moment after metadata stops listing it.
            let outcome = if result.error_code == ResponseError::TopicAlreadyExists.code()
                && message.is_some_and(|m| m.contains("marked for deletion"))
            {
                Err(Error::Busy(format!("{operation}: the previous topic of that name is still being deleted")))
            } else {
                first_refusal(&operation, [(result.error_code, message)])
            };
            outcomes.insert(name, outcome);
        }
        Ok(topics
            .into_iter()
            .filter_map(|topic| outcomes.remove(&topic.name).map(|outcome| (topic, outcome)))
            .collect())
    }

    pub async fn delete_topic(self: &Arc<Self>, name: &str, budget: Duration) -> Result<(), Error> {
        let operation = format!("deleting topic {name}");
        self.cluster
            .retry(&operation, budget, || async {
                let cluster = self.clone();
                self.deletions
                    .load(name.to_string(), move |names| async move { cluster.delete_topics(names).await })
                    .await?
                    // Not in the answer: nothing was there to delete.
                    .unwrap_or(Ok(()))
            })
            .await?;
        self.wait_for_topic(name, budget, |t| t.is_none()).await
    }

    async fn delete_topics(&self, names: Vec<String>) -> Result<BTreeMap<String, Result<(), Error>>, Error> {
        self.read_ahead.invalidate();
        let request = DeleteTopicsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(self.cluster.config.request_timeout))
            .with_topics(names.iter().map(|n| DeleteTopicState::default().with_name(Some(topic_name(n)))).collect());
        // Version 6 names topics in `topics`; older versions used `topic_names` (Kafka 2.8+ needed).
        let response = self.cluster.send_to_controller(&request, 6).await?;
        Ok(response
            .responses
            .iter()
            .filter_map(|result| {
                let name = result.name.as_ref()?.0.to_string();
                let outcome = match ResponseError::try_from_code(result.error_code) {
                    None | Some(ResponseError::UnknownTopicOrPartition) => Ok(()),
                    Some(_) => Err(Error::broker(
                        format!("deleting topic {name}"),
                        result.error_code,
                        result.error_message.as_deref(),
                    )),
                };
                Some((name, outcome))
            })
            .collect())
    }

    /// Raises the partition count to `count` (Kafka cannot lower it).
    pub async fn create_partitions(
        self: &Arc<Self>,
        name: &str,
        count: i32,
        validate_only: bool,
        budget: Duration,
    ) -> Result<(), Error> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(budget))
            .with_validate_only(validate_only)
            .with_topics(vec![
                CreatePartitionsTopic::default().with_name(topic_name(name)).with_count(count).with_assignments(None),
            ]);
        if !validate_only {
            self.read_ahead.invalidate();
        }
        let operation = format!("adding partitions to topic {name}");
        self.cluster
            .retry(&operation, budget, || async {
                let response = self.cluster.send_to_controller(&request, 3).await?;
                first_refusal(&operation, response.results.iter().map(|r| (r.error_code, r.error_message.as_deref())))
            })
            .await?;
        if !validate_only {
            let count = count as usize;
            self.wait_for_topic(name, budget, |t| t.is_some_and(|t| t.is_ready() && t.partitions.len() == count))
                .await?;
        }
        Ok(())
    }

    /// Sets and removes topic config overrides in one incremental request.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        ops: &[ConfigOp],
        validate_only: bool,
        budget: Duration,
    ) -> Result<(), Error> {
        if ops.is_empty() {
            return Ok(());
        }
        if !validate_only {
            self.read_ahead.invalidate();
        }
        let resources = [(TOPIC_RESOURCE, name.to_string(), ops.to_vec())];
        let operation = format!("altering configs of topic {name}");
        self.alter_configs(&operation, None, &resources, validate_only, budget).await
    }

    /// Sets and removes config overrides of several resources (topics, brokers) in one
    /// incremental request, sent to `broker` (one's own settings are that broker's to change)
    /// or to any.
    pub(super) async fn alter_configs(
        &self,
        operation: &str,
        broker: Option<i32>,
        resources: &[(i8, String, Vec<ConfigOp>)],
        validate_only: bool,
        budget: Duration,
    ) -> Result<(), Error> {
        let resources = resources
            .iter()
            .map(|(resource_type, name, ops)| {
                let configs = ops
                    .iter()
                    .map(|op| match op {
                        ConfigOp::Set(k, v) => AlterableConfig::default()
                            .with_name(str_bytes(k))
                            .with_config_operation(0)
                            .with_value(Some(str_bytes(v))),
                        ConfigOp::Delete(k) => {
                            AlterableConfig::default().with_name(str_bytes(k)).with_config_operation(1).with_value(None)
                        }
                    })
                    .collect();
                AlterConfigsResource::default()
                    .with_resource_type(*resource_type)
                    .with_resource_name(str_bytes(name))
                    .with_configs(configs)
            })
            .collect();
        let request =
            IncrementalAlterConfigsRequest::default().with_validate_only(validate_only).with_resources(resources);
        self.cluster
            .retry(operation, budget, || async {
                let response = match broker {
                    Some(id) => self.cluster.send_to_broker(id, &request, 1).await?,
                    None => self.cluster.send_any(&request, 1).await?,
                };
                first_refusal(operation, response.responses.iter().map(|r| (r.error_code, r.error_message.as_deref())))
            })
            .await
    }

    /// Polls the topic's metadata until `done` holds or the budget runs out.
    async fn wait_for_topic(
        self: &Arc<Self>,
        name: &str,
        budget: Duration,
        done: impl Fn(Option<&TopicInfo>) -> bool,
    ) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        let deadline = started + budget;
        // Brokers learn of a change from the controller within tens of milliseconds.
        let mut pause = Duration::from_millis(20);
        let mut polls = 0;
        loop {
            polls += 1;
            let topic = self.describe_topic(name).await?;
            if done(topic.as_ref()) {
                tracing::debug!(
                    topic = name,
                    polls,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "topic reached the expected state"
                );
                return Ok(());
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(Error::Timeout(format!("topic {name} did not reach the expected state within {budget:?}")));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::kafka::fake_broker::{Behaviour, FakeBroker, config, healthy, topics};

    #[tokio::test]
    async fn reads_go_around_a_frozen_bootstrap_broker() {
        let frozen = FakeBroker::start(Behaviour::Frozen).await;
        let live = FakeBroker::start(healthy(&[("orders", 0)])).await;
        let cluster = Arc::new(Admin::new(config(&[&frozen.address, &live.address], Duration::from_secs(2))));
        let started = Instant::now();
        let found = cluster.describe_topic("orders").await.expect("read through the live broker");
        assert_eq!(found.map(|t| t.name).as_deref(), Some("orders"));
        assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
        let again = Instant::now();
        cluster.describe_topic("orders").await.unwrap();
        assert!(again.elapsed() < Duration::from_secs(1), "the second read waited on the frozen broker");
    }

    /// kafka-protocol's Metadata request allows auto-creation by default: on a cluster with
    /// `auto.create.topics.enable=true`, refresh, import and the wait after delete recreated topics.
    #[tokio::test]
    async fn reading_a_missing_topic_never_creates_it() {
        let broker_topics = topics(&[]);
        let broker = FakeBroker::start(Behaviour::Healthy { node_id: 1, topics: broker_topics.clone() }).await;
        let cluster = Arc::new(Admin::new(config(&[&broker.address], Duration::from_secs(2))));
        assert_eq!(cluster.describe_topic("ghost").await.unwrap(), None);
        assert!(cluster.all_topics().await.unwrap().is_empty());
        assert!(broker_topics.lock().unwrap().is_empty(), "the broker was allowed to create the topic");
    }

    /// One topic this principal may not describe used to fail the whole batched read, and so
    /// the refresh of every topic read with it.
    #[tokio::test]
    async fn a_refused_topic_fails_only_its_own_read() {
        let denied = kafka_protocol::error::ResponseError::TopicAuthorizationFailed.code();
        let broker = FakeBroker::start(healthy(&[("ok", 0), ("denied", denied)])).await;
        let cluster = Arc::new(Admin::new(config(&[&broker.address], Duration::from_secs(2))));
        let (ok, refused) = tokio::join!(cluster.describe_topic("ok"), cluster.describe_topic("denied"));
        assert!(ok.unwrap().is_some());
        assert!(matches!(refused, Err(Error::Broker { .. })), "{refused:?}");
    }
}
