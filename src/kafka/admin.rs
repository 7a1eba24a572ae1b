//! Typed admin operations on a [`Cluster`]: what the resources ask of Kafka, with the broker's
//! per-item errors turned into [`Error`]s and the waits that make a change visible everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest, MetadataRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::Error;
use super::cluster::{Cluster, METADATA_VERSION};
use super::topic_config::{ConfigEntry, ConfigKind, ConfigOp, ConfigSource};

const TOPIC_RESOURCE: i8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPartition {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Ordered by partition id.
    pub partitions: Vec<TopicPartition>,
}

impl TopicInfo {
    /// The replica count most partitions have: during a reassignment some briefly have more.
    pub fn replication_factor(&self) -> usize {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for p in &self.partitions {
            *counts.entry(p.replicas.len()).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(len, n)| (*n, *len)).map_or(0, |(len, _)| len)
    }

    pub fn assignment(&self) -> BTreeMap<i32, Vec<i32>> {
        self.partitions.iter().map(|p| (p.id, p.replicas.clone())).collect()
    }

    fn is_ready(&self) -> bool {
        !self.partitions.is_empty() && self.partitions.iter().all(|p| p.leader >= 0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

/// A Metadata request for these topics (all with `None`). It never lets the broker create a
/// missing topic: on a cluster with `auto.create.topics.enable=true`, the request's default
/// would have a refresh, an import or the wait after a delete bring topics back.
pub(crate) fn metadata_request(topics: Option<Vec<MetadataRequestTopic>>) -> MetadataRequest {
    MetadataRequest::default().with_topics(topics).with_allow_auto_topic_creation(false)
}

fn create_topics_request(topics: &[NewTopic], validate_only: bool, broker_wait_ms: i32) -> CreateTopicsRequest {
    CreateTopicsRequest::default().with_timeout_ms(broker_wait_ms).with_validate_only(validate_only).with_topics(
        topics
            .iter()
            .map(|topic| {
                CreatableTopic::default()
                    .with_name(topic_name(&topic.name))
                    .with_num_partitions(topic.partitions)
                    .with_replication_factor(topic.replication_factor)
                    .with_configs(
                        topic
                            .configs
                            .iter()
                            .map(|(k, v)| {
                                CreatableTopicConfig::default().with_name(str_bytes(k)).with_value(Some(str_bytes(v)))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

/// A budget as the broker-side timeout of a request: milliseconds, capped to what fits the field.
fn timeout_ms(budget: Duration) -> i32 {
    budget.as_millis().min(i32::MAX as u128) as i32
}

/// The topics of a Metadata response, each with its own outcome: a topic this principal may
/// not describe, or one the broker cannot serve, fails only its own read. Missing topics are
/// left out.
fn topics_from_metadata(topics: &[MetadataResponseTopic]) -> BTreeMap<String, Result<TopicInfo, Error>> {
    let mut outcomes = BTreeMap::new();
    for topic in topics {
        let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else { continue };
        let outcome = match ResponseError::try_from_code(topic.error_code) {
            None | Some(ResponseError::LeaderNotAvailable) => Ok(topic_info(name.clone(), topic)),
            Some(ResponseError::UnknownTopicOrPartition) => continue,
            Some(_) => Err(Error::broker(format!("reading metadata of topic {name}"), topic.error_code, None)),
        };
        outcomes.insert(name, outcome);
    }
    outcomes
}

/// The results of a DescribeConfigs response, each with its own outcome, as for metadata.
fn configs_from_results(results: Vec<DescribeConfigsResult>) -> BTreeMap<String, Result<Vec<ConfigEntry>, Error>> {
    let mut outcomes = BTreeMap::new();
    for result in results {
        let name = result.resource_name.to_string();
        let outcome = match ResponseError::try_from_code(result.error_code) {
            None => Ok(result
                .configs
                .into_iter()
                .map(|c| ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    source: ConfigSource::from_wire(c.config_source),
                    kind: ConfigKind::from_wire(c.config_type),
                    sensitive: c.is_sensitive,
                })
                .collect()),
            Some(ResponseError::UnknownTopicOrPartition) => continue,
            Some(_) => Err(Error::broker(
                format!("describing configs of topic {name}"),
                result.error_code,
                result.error_message.as_deref(),
            )),
        };
        outcomes.insert(name, outcome);
    }
    outcomes
}

/// The first refusal among a response's per-item results, as the operation's error.
fn first_refusal<'a>(operation: &str, results: impl IntoIterator<Item = (i16, Option<&'a str>)>) -> Result<(), Error> {
    match results.into_iter().find(|(code, _)| *code != 0) {
        Some((code, message)) => Err(Error::broker(operation, code, message)),
        None => Ok(()),
    }
}

/// A topic of a Metadata response, its partitions ordered by id.
fn topic_info(name: String, topic: &MetadataResponseTopic) -> TopicInfo {
    let mut partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition {
            id: p.partition_index,
            leader: p.leader_id.0,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
        })
        .collect();
    partitions.sort_by_key(|p| p.id);
    TopicInfo { name, partitions }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl Cluster {
    /// How long the broker may wait on its side: a little less than the client waits for the
    /// answer, so that a slow change is answered with the broker's own timeout, not cut off.
    fn broker_wait_ms(&self, budget: Duration) -> i32 {
        timeout_ms(budget.min(self.config.request_timeout.mul_f64(0.8)))
    }

    /// The broker acting as controller now, if the cluster has elected one.
    pub async fn controller(&self) -> Result<Option<i32>, Error> {
        let budget = self.config.request_timeout;
        Ok(self.retry("finding the controller", budget, || self.refresh_topology()).await?.controller)
    }

    /// The brokers the cluster has now, with their racks.
    pub async fn brokers(&self) -> Result<Vec<BrokerInfo>, Error> {
        let budget = self.config.request_timeout;
        let topology = self.retry("describing the cluster", budget, || self.refresh_topology()).await?;
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
            .retry("reading topic metadata", self.config.read_budget(), || self.send_any(&request, METADATA_VERSION))
            .await?;
        Ok(topics_from_metadata(&response.topics))
    }

    /// Every topic of the cluster with its partitions, in one Metadata request.
    pub async fn all_topics(&self) -> Result<Vec<TopicInfo>, Error> {
        let request = metadata_request(None);
        let response = self
            .retry("listing topics", self.config.read_budget(), || self.send_any(&request, METADATA_VERSION))
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
        let response =
            self.retry("describing topic configs", self.config.read_budget(), || self.send_any(&request, 4)).await?;
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
            let response = self.send_to_controller(&request, 7).await?;
            return first_refusal(
                &operation,
                response.topics.iter().map(|r| (r.error_code, r.error_message.as_deref())),
            );
        }
        // Creations Terraform issues together go to the controller in one request, which its
        // event loop then handles as one topic change rather than one per topic.
        let failed_before = std::sync::atomic::AtomicBool::new(false);
        let created = self
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
        let request = create_topics_request(&topics, false, self.broker_wait_ms(self.config.request_timeout));
        let started = tokio::time::Instant::now();
        let response = self.send_to_controller(&request, 7).await?;
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
        self.retry(&operation, budget, || async {
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
            .with_timeout_ms(self.broker_wait_ms(self.config.request_timeout))
            .with_topics(names.iter().map(|n| DeleteTopicState::default().with_name(Some(topic_name(n)))).collect());
        // Version 6 names topics in `topics`; older versions used `topic_names` (Kafka 2.8+ needed).
        let response = self.send_to_controller(&request, 6).await?;
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
        self.retry(&operation, budget, || async {
            let response = self.send_to_controller(&request, 3).await?;
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
        let request = IncrementalAlterConfigsRequest::default().with_validate_only(validate_only).with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(str_bytes(name))
                .with_configs(configs),
        ]);
        if !validate_only {
            self.read_ahead.invalidate();
        }
        let operation = format!("altering configs of topic {name}");
        self.retry(&operation, budget, || async {
            let response = self.send_any(&request, 1).await?;
            first_refusal(&operation, response.responses.iter().map(|r| (r.error_code, r.error_message.as_deref())))
        })
        .await
    }

    /// Starts moving partitions to the given replica lists. Returns once the controller has
    /// accepted; [`Cluster::ongoing_reassignments`] tells when the data has moved.
    pub async fn reassign_partitions(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        budget: Duration,
    ) -> Result<(), Error> {
        self.read_ahead.invalidate();
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(budget))
            .with_topics(vec![
                ReassignableTopic::default().with_name(topic_name(name)).with_partitions(
                    assignment
                        .iter()
                        .map(|(p, replicas)| {
                            ReassignablePartition::default()
                                .with_partition_index(*p)
                                .with_replicas(Some(replicas.iter().map(|b| BrokerId(*b)).collect()))
                        })
                        .collect(),
                ),
            ]);
        let operation = format!("reassigning partitions of topic {name}");
        self.retry(&operation, budget, || async {
            let response = self.send_to_controller(&request, 0).await?;
            if response.error_code != 0 {
                return Err(Error::broker(operation.clone(), response.error_code, response.error_message.as_deref()));
            }
            for topic in &response.responses {
                for p in &topic.partitions {
                    if p.error_code != 0 {
                        return Err(Error::broker(
                            format!("{operation} (partition {})", p.partition_index),
                            p.error_code,
                            p.error_message.as_deref(),
                        ));
                    }
                }
            }
            Ok(())
        })
        .await
    }

    /// Reassignments of this topic's partitions still moving data, by partition.
    pub async fn ongoing_reassignments(&self, name: &str) -> Result<BTreeMap<i32, OngoingReassignment>, Error> {
        let request = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(self.config.request_timeout))
            .with_topics(None);
        let operation = format!("listing reassignments of topic {name}");
        let response = self
            .retry(&operation, self.config.request_timeout, || async {
                let response = self.send_to_controller(&request, 0).await?;
                if response.error_code != 0 {
                    return Err(Error::broker(
                        operation.clone(),
                        response.error_code,
                        response.error_message.as_deref(),
                    ));
                }
                Ok(response)
            })
            .await?;
        Ok(response
            .topics
            .into_iter()
            .filter(|t| t.name.0.as_str() == name)
            .flat_map(|t| t.partitions)
            .map(|p| {
                (
                    p.partition_index,
                    OngoingReassignment {
                        replicas: p.replicas.iter().map(|b| b.0).collect(),
                        adding: p.adding_replicas.iter().map(|b| b.0).collect(),
                        removing: p.removing_replicas.iter().map(|b| b.0).collect(),
                    },
                )
            })
            .collect())
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

/// New replica lists that give every partition `replication_factor` replicas, keeping the
/// replicas each partition has (the preferred leader first) and adding the least-loaded brokers,
/// preferring racks the partition does not use yet. Only partitions that change are returned.
pub fn plan_reassignment(
    current: &BTreeMap<i32, Vec<i32>>,
    brokers: &[BrokerInfo],
    replication_factor: usize,
) -> Result<BTreeMap<i32, Vec<i32>>, String> {
    if replication_factor == 0 || replication_factor > brokers.len() {
        return Err(format!(
            "replication factor {replication_factor} needs as many live brokers; the cluster has {}",
            brokers.len()
        ));
    }
    let live: BTreeSet<i32> = brokers.iter().map(|b| b.id).collect();
    let rack = |id: i32| brokers.iter().find(|b| b.id == id).and_then(|b| b.rack.clone());
    let mut load: BTreeMap<i32, usize> = live.iter().map(|b| (*b, 0)).collect();
    let mut target: BTreeMap<i32, Vec<i32>> = current
        .iter()
        .map(|(p, replicas)| {
            let kept: Vec<i32> =
                replicas.iter().copied().filter(|b| live.contains(b)).take(replication_factor).collect();
            (*p, kept)
        })
        .collect();
    for replicas in target.values() {
        for b in replicas {
            *load.entry(*b).or_default() += 1;
        }
    }
    for replicas in target.values_mut() {
        while replicas.len() < replication_factor {
            let used_racks: BTreeSet<Option<String>> = replicas.iter().map(|b| rack(*b)).collect();
            let pick = live
                .iter()
                .copied()
                .filter(|b| !replicas.contains(b))
                .min_by_key(|b| {
                    let rack_reused = rack(*b).is_some() && used_racks.contains(&rack(*b));
                    (rack_reused, load[b], *b)
                })
                .expect("enough live brokers, checked above");
            replicas.push(pick);
            *load.get_mut(&pick).expect("live broker") += 1;
        }
    }
    Ok(target.into_iter().filter(|(p, replicas)| current.get(p) != Some(replicas)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(racks: &[Option<&str>]) -> Vec<BrokerInfo> {
        racks
            .iter()
            .enumerate()
            .map(|(i, r)| BrokerInfo { id: i as i32, host: "h".into(), port: 1, rack: r.map(Into::into) })
            .collect()
    }

    #[test]
    fn raising_the_replication_factor_spreads_evenly_and_keeps_leaders() {
        let current: BTreeMap<i32, Vec<i32>> = (0..6).map(|p| (p, vec![p % 3])).collect();
        let target = plan_reassignment(&current, &brokers(&[None, None, None]), 3).unwrap();
        assert_eq!(target.len(), 6);
        for (p, replicas) in &target {
            assert_eq!(replicas[0], p % 3, "preferred leader kept");
            assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), 3);
        }
    }

    #[test]
    fn new_replicas_go_to_unused_racks_first() {
        let current = BTreeMap::from([(0, vec![0])]);
        let b = brokers(&[Some("a"), Some("a"), Some("b")]);
        let target = plan_reassignment(&current, &b, 2).unwrap();
        assert_eq!(target[&0], vec![0, 2]);
    }

    #[test]
    fn lowering_keeps_the_first_replicas_and_refuses_too_many() {
        let current = BTreeMap::from([(0, vec![2, 0, 1])]);
        assert_eq!(plan_reassignment(&current, &brokers(&[None, None, None]), 1).unwrap()[&0], vec![2]);
        assert!(plan_reassignment(&current, &brokers(&[None, None, None]), 4).is_err());
        assert!(plan_reassignment(&current, &brokers(&[None, None, None]), 3).unwrap().is_empty());
    }
}
