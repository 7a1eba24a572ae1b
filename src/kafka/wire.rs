//! The admin requests as the wire carries them, and their answers as the client's types: pure
//! functions, shared by the transport (topology reads) and the typed operations.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{CreateTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::Error;
use super::topic_config::{ConfigEntry, ConfigKind, ConfigSource};
use super::types::{NewTopic, TopicInfo, TopicPartition};

/// A Metadata request for these topics (all with `None`). It never lets the broker create a
/// missing topic: on a cluster with `auto.create.topics.enable=true`, the request's default
/// would have a refresh, an import or the wait after a delete bring topics back.
pub(super) fn metadata_request(topics: Option<Vec<MetadataRequestTopic>>) -> MetadataRequest {
    MetadataRequest::default().with_topics(topics).with_allow_auto_topic_creation(false)
}

pub(super) const TOPIC_RESOURCE: i8 = 2;

pub(super) fn create_topics_request(
    topics: &[NewTopic],
    validate_only: bool,
    broker_wait_ms: i32,
) -> CreateTopicsRequest {
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
pub(super) fn timeout_ms(budget: Duration) -> i32 {
    budget.as_millis().min(i32::MAX as u128) as i32
}

/// The topics of a Metadata response, each with its own outcome: a topic this principal may
/// not describe, or one the broker cannot serve, fails only its own read. Missing topics are
/// left out.
pub(super) fn topics_from_metadata(topics: &[MetadataResponseTopic]) -> BTreeMap<String, Result<TopicInfo, Error>> {
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
pub(super) fn configs_from_results(
    results: Vec<DescribeConfigsResult>,
) -> BTreeMap<String, Result<Vec<ConfigEntry>, Error>> {
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
pub(super) fn first_refusal<'a>(
    operation: &str,
    results: impl IntoIterator<Item = (i16, Option<&'a str>)>,
) -> Result<(), Error> {
    match results.into_iter().find(|(code, _)| *code != 0) {
        Some((code, message)) => Err(Error::broker(operation, code, message)),
        None => Ok(()),
    }
}

/// A topic of a Metadata response, its partitions ordered by id.
pub(super) fn topic_info(name: String, topic: &MetadataResponseTopic) -> TopicInfo {
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

pub(super) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub(super) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
