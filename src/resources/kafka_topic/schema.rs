//! The schema of `hikube_kafka_topic`.

use crate::resources::kafka_connection;
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::Type;

pub const DEFAULT_TIMEOUT: &str = "5m";

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            description: "A Kafka topic, managed through the Kafka admin protocol: partitions, replication factor and \
                          topic-level configuration, with drift detection. Hikube's `topics[]` entry of a Kafka application."
                .into(),
            attributes: vec![
                Attribute::computed("id", Type::String, "The topic name."),
                Attribute::required(
                    "name",
                    Type::String,
                    "Topic name: at most 249 characters of `a-z A-Z 0-9 . _ -`. Changing it replaces the topic (its data is lost).",
                )
                .requires_replace(),
                Attribute::required(
                    "partitions",
                    Type::Number,
                    "Number of partitions. Raising it happens in place; Kafka cannot lower it, so a decrease is refused \
                     unless `replace_on_partition_decrease` is true.",
                ),
                Attribute::optional_computed(
                    "replication_factor",
                    Type::Number,
                    "Replicas of each partition, at most the number of live brokers. Changes happen in place by a partition \
                     reassignment spread evenly over the brokers (rack-aware). When unset, the cluster's \
                     `default.replication.factor` applies.",
                ),
                Attribute::optional(
                    "config",
                    Type::map(Type::String),
                    "Topic-level configuration overrides, such as `cleanup.policy`, `retention.ms` or `min.insync.replicas`. \
                     Only the keys set here are managed: removing a key restores the broker default.",
                ),
                Attribute::optional(
                    "replace_on_partition_decrease",
                    Type::Bool,
                    "Allow a lower `partitions` to destroy and recreate the topic, losing its data. Off by default: a \
                     decrease is refused at plan.",
                ),
                Attribute::optional(
                    "timeout",
                    Type::String,
                    "How long create, update and delete may take, including waiting for a reassignment (`5m`).",
                ),
                kafka_connection::attribute(
                    "kafka",
                    "Connection to the cluster holding the topic, instead of the provider's `kafka`. Use it to target a \
                     cluster created in the same configuration: when its address is unknown at plan time, the plan does \
                     not contact the cluster and checks happen at apply.",
                ),
            ],
            blocks: vec![],
        },
    }
}
