//! `hikube_kafka_topic`: a topic managed through the Kafka admin protocol.

mod apply;
mod moved;
mod plan;
mod read;
mod schema;

use std::collections::BTreeMap;
use std::time::Duration;

use schema::{Topic, attr};

use super::framework::{Field, Plan, Resource};
use super::kafka_connection::{self, Target};
use super::{Context, duration};
use crate::kafka::{self, topic_config};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::Schema;
use crate::tfplugin::value::Value;
use crate::tfplugin::{ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, ReadRequest, ReadResponse};

pub struct KafkaTopic;

pub const TYPE_NAME: &str = "hikube_kafka_topic";
const MAX_NAME_LENGTH: usize = 249;

#[tonic::async_trait]
impl Resource for KafkaTopic {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    /// Version 0 kept the connection's password and key in the state.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostic> {
        kafka_connection::upgrade_from_version_0(self.type_name(), version, state, attr::kafka)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate(config)
    }

    fn move_state(&self, source: &MoveRequest) -> Option<Result<Value, Diagnostics>> {
        source.comes_from("mongey/kafka", "kafka_topic").then(|| moved::from_mongey(source).map_err(Diagnostics::from))
    }

    async fn plan(&self, ctx: &Context, plan: &mut Plan) {
        plan::plan(ctx, plan).await
    }

    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        apply::create(ctx, request).await
    }

    async fn update(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        apply::update(ctx, request).await
    }

    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        apply::delete(ctx, request).await
    }

    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        read::read(ctx, request).await
    }

    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        read::import(ctx, id).await
    }
}

/// A topic as configured, once every value is known.
#[derive(Clone, Debug, PartialEq)]
struct TopicSpec {
    name: String,
    partitions: i32,
    replication_factor: Option<i16>,
    config: Option<BTreeMap<String, String>>,
    timeout: Duration,
}

impl TopicSpec {
    fn from_model(topic: &Topic) -> Result<TopicSpec, Diagnostics> {
        let unknown = |name: &str| {
            Diagnostic::error("Value not known", format!("{name} must be known to apply this change."))
                .at(AttrPath::root(name))
        };
        let name = topic.name.known().ok_or_else(|| unknown(attr::name))?.clone();
        let partitions = *topic.partitions.known().ok_or_else(|| unknown(attr::partitions))? as i32;
        let config = match &topic.config {
            Field::Unknown => return Err(unknown(attr::config).into()),
            other => other.known().cloned(),
        };
        let replication_factor = topic.replication_factor.known().map(|rf| *rf as i16);
        Ok(TopicSpec { name, partitions, replication_factor, config, timeout: timeout_of(topic) })
    }
}

fn timeout_of(topic: &Topic) -> Duration {
    let text = topic.timeout.as_deref().unwrap_or(schema::DEFAULT_TIMEOUT);
    duration::parse(text).unwrap_or_else(|_| duration::parse(schema::DEFAULT_TIMEOUT).expect("default timeout parses"))
}

/// The cluster a topic lives in: its own `kafka` connection, else the provider's.
async fn target(ctx: &Context, topic: &Topic) -> Result<Target, Diagnostics> {
    kafka_connection::target(ctx, &topic.kafka, &AttrPath::root(attr::kafka)).await
}

/// The checks across attributes and inside the config map; the schema's validators check each
/// attribute on its own.
fn validate(config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    if let Some(name) = config.attr(attr::name).as_str()
        && check_name(name).is_ok()
        && (name.contains('.') || name.contains('_'))
    {
        diagnostics.push(
            Diagnostic::warning(
                "Topic name with '.' or '_'",
                format!("Kafka maps '.' to '_' in metric names, so {name:?} collides with any topic that differs only in those characters; the broker refuses the second one."),
            )
            .at(AttrPath::root(attr::name)),
        );
    }
    let rf = config.attr(attr::replication_factor).as_i64();
    if let Value::Map(entries) = config.attr(attr::config) {
        for (key, value) in entries {
            let Some(value) = value.as_str() else { continue };
            let path = AttrPath::root(attr::config).key(key);
            if let Err(why) = topic_config::validate(key, value) {
                diagnostics.push(Diagnostic::error("Invalid topic configuration", why).at(path));
            } else if key == "min.insync.replicas"
                && let (Ok(min_isr), Some(rf)) = (value.trim().parse::<i64>(), rf)
                && min_isr >= rf
            {
                diagnostics.push(
                            Diagnostic::warning(
                                "min.insync.replicas leaves no room for a broker outage",
                                format!("With min.insync.replicas={min_isr} and replication_factor={rf}, producers using acks=all fail as soon as one replica is down. Use a value below the replication factor."),
                            )
                            .at(path),
                        );
            }
        }
    }
    diagnostics.extend(kafka_connection::check_in_state(config.attr(attr::kafka), &AttrPath::root(attr::kafka)));
    diagnostics
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("The topic name is empty.".into());
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not a valid topic name."));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!("The topic name has {} characters; Kafka allows at most {MAX_NAME_LENGTH}.", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("{bad:?} is not allowed in a topic name: use ASCII letters, digits, '.', '_' and '-'."));
    }
    Ok(())
}

/// Where a broker's refusal belongs in the configuration.
fn path_for(error: &kafka::Error) -> Option<AttrPath> {
    use kafka_protocol::error::ResponseError as R;
    match error.code()? {
        R::InvalidReplicationFactor | R::InvalidReplicaAssignment => Some(AttrPath::root(attr::replication_factor)),
        R::InvalidPartitions => Some(AttrPath::root(attr::partitions)),
        R::InvalidConfig | R::PolicyViolation => Some(AttrPath::root(attr::config)),
        R::TopicAlreadyExists | R::InvalidTopicException => Some(AttrPath::root(attr::name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
