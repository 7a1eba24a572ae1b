//! `hikube_kafka_topic`: a topic managed through the Kafka admin protocol.

mod apply;
mod plan;
mod read;
mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::kafka_connection::{self, Connection};
use super::{Context, Resource, duration};
use crate::kafka::{self, Cluster, topic_config};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::Schema;
use crate::tfplugin::value::Value;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, ImportResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
};

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

    fn validate(&self, config: &Value) -> Diagnostics {
        validate(config)
    }

    async fn plan(&self, ctx: &Context, request: PlanRequest) -> PlanResponse {
        plan::plan(ctx, request).await
    }

    async fn apply(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        apply::apply(ctx, request).await
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
    fn from_value(value: &Value) -> Result<TopicSpec, Diagnostics> {
        let unknown = |name: &str| {
            Diagnostic::error("Value not known", format!("{name} must be known to apply this change."))
                .at(AttrPath::root(name))
        };
        let name = value.attr("name").as_str().ok_or_else(|| unknown("name"))?.to_string();
        let partitions = value.attr("partitions").as_i64().ok_or_else(|| unknown("partitions"))? as i32;
        let replication_factor = match value.attr("replication_factor") {
            Value::Null | Value::Unknown(_) => None,
            v => Some(v.as_i64().ok_or_else(|| unknown("replication_factor"))? as i16),
        };
        let config = match value.attr("config") {
            Value::Null => None,
            v => Some(v.as_string_map().ok_or_else(|| unknown("config"))?),
        };
        Ok(TopicSpec { name, partitions, replication_factor, config, timeout: timeout_of(value) })
    }
}

fn timeout_of(value: &Value) -> Duration {
    value
        .attr("timeout")
        .as_str()
        .and_then(|t| duration::parse(t).ok())
        .unwrap_or_else(|| duration::parse(schema::DEFAULT_TIMEOUT).expect("default timeout parses"))
}

/// The cluster a topic lives in: its own `kafka` connection, else the provider's.
enum Target {
    Cluster(Arc<Cluster>),
    /// The topic's connection is not known until apply.
    Unknown,
}

fn target(ctx: &Context, value: &Value) -> Result<Target, Diagnostics> {
    let path = AttrPath::root("kafka");
    match kafka_connection::parse(value.attr("kafka"), &path)? {
        Connection::Known(config) => Ok(Target::Cluster(ctx.kafka_pool.cluster(&config))),
        Connection::Unknown => Ok(Target::Unknown),
        Connection::Absent if ctx.config.is_deferred("kafka") => Ok(Target::Unknown),
        Connection::Absent => match &ctx.config.kafka {
            Some(config) => Ok(Target::Cluster(ctx.kafka_pool.cluster(config))),
            None => Err(Diagnostic::error(
                "No Kafka connection",
                "Set `kafka` in the provider block (or HIKUBE_KAFKA_BOOTSTRAP_SERVERS), or on this resource.",
            )
            .at(path)
            .into()),
        },
    }
}

fn validate(config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    if let Some(name) = config.attr("name").as_str() {
        if let Err(why) = check_name(name) {
            diagnostics.push(Diagnostic::error("Invalid topic name", why).at(AttrPath::root("name")));
        } else if name.contains('.') || name.contains('_') {
            diagnostics.push(
                Diagnostic::warning(
                    "Topic name with '.' or '_'",
                    format!("Kafka maps '.' to '_' in metric names, so {name:?} collides with any topic that differs only in those characters; the broker refuses the second one."),
                )
                .at(AttrPath::root("name")),
            );
        }
    }
    let partitions = config.attr("partitions");
    if !partitions.is_unknown() && !partitions.is_null() {
        match partitions.as_i64() {
            Some(n) if (1..=i32::MAX as i64).contains(&n) => {}
            _ => diagnostics.push(
                Diagnostic::error(
                    "Invalid partition count",
                    format!("partitions must be a whole number of at least 1, not {}.", display(partitions)),
                )
                .at(AttrPath::root("partitions")),
            ),
        }
    }
    let replication_factor = config.attr("replication_factor");
    let rf = replication_factor.as_i64();
    if !replication_factor.is_unknown()
        && !replication_factor.is_null()
        && !rf.is_some_and(|n| (1..=i16::MAX as i64).contains(&n))
    {
        diagnostics.push(
            Diagnostic::error(
                "Invalid replication factor",
                format!(
                    "replication_factor must be a whole number of at least 1, not {}.",
                    display(replication_factor)
                ),
            )
            .at(AttrPath::root("replication_factor")),
        );
    }
    if let Value::Map(entries) = config.attr("config") {
        for (key, value) in entries {
            let Some(value) = value.as_str() else { continue };
            let path = AttrPath::root("config").key(key);
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
    if let Some(timeout) = config.attr("timeout").as_str()
        && let Err(why) = duration::parse(timeout)
    {
        diagnostics.push(Diagnostic::error("Invalid timeout", why).at(AttrPath::root("timeout")));
    }
    diagnostics.extend(kafka_connection::check(config.attr("kafka"), &AttrPath::root("kafka")));
    diagnostics
}

fn display(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
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
        R::InvalidReplicationFactor | R::InvalidReplicaAssignment => Some(AttrPath::root("replication_factor")),
        R::InvalidPartitions => Some(AttrPath::root("partitions")),
        R::InvalidConfig | R::PolicyViolation => Some(AttrPath::root("config")),
        R::TopicAlreadyExists | R::InvalidTopicException => Some(AttrPath::root("name")),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
