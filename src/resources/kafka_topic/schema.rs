//! The schema of `hikube_kafka_topic`, as its typed model.

use std::collections::BTreeMap;

use crate::resources::framework::{model, validators};
use crate::resources::kafka_connection::KafkaConnection;
use crate::tfplugin::schema::{Block, Schema};

pub const DEFAULT_TIMEOUT: &str = "5m";

model! {
    pub struct Topic in attr {
        id: String = computed("The topic name.").use_state_for_unknown();
        name: String = required(
            "Topic name: at most 249 characters of `a-z A-Z 0-9 . _ -`. Changing it replaces the topic (its data is lost)."
        )
        .requires_replace()
        .validate_str("Invalid topic name", super::check_name);
        partitions: i64 = required(
            "Number of partitions. Raising it happens in place; Kafka cannot lower it, so a decrease is refused \
             unless `replace_on_partition_decrease` is true."
        )
        .validate("Invalid partition count", validators::whole_number("partitions", 1..=i32::MAX as i64));
        replication_factor: i64 = optional_computed(
            "Replicas of each partition, at most the number of live brokers. Changes happen in place by a partition \
             reassignment spread evenly over the brokers (rack-aware). When unset, the cluster's \
             `default.replication.factor` applies."
        )
        .use_state_for_unknown()
        .validate("Invalid replication factor", validators::whole_number("replication_factor", 1..=i16::MAX as i64));
        config: BTreeMap<String, String> = optional(
            "Topic-level configuration overrides, such as `cleanup.policy`, `retention.ms` or `min.insync.replicas`. \
             Only the keys set here are managed: removing a key restores the broker default."
        )
        .validate("Invalid topic configuration", validators::no_null_values);
        replace_on_partition_decrease: bool = optional(
            "Allow a lower `partitions` to destroy and recreate the topic, losing its data. Off by default: a \
             decrease is refused at plan."
        );
        timeout: String = optional(&format!(
            "How long create, update and delete may take, including waiting for a reassignment (`{DEFAULT_TIMEOUT}`)."
        ))
        .validate_str("Invalid timeout", validators::timeout);
        kafka: KafkaConnection = optional(
            "Connection to the cluster holding the topic, instead of the provider's `kafka`. Use it to target a \
             cluster created in the same configuration: when its address is unknown at plan time, the plan does \
             not contact the cluster and checks happen at apply."
        );
    }
}

/// Version 1 keeps no connection secret (see [`kafka_connection::without_kept_secrets`]).
pub fn schema() -> Schema {
    Schema {
        version: 1,
        block: Block {
            description: "A Kafka topic, managed through the Kafka admin protocol: partitions, replication factor and \
                          topic-level configuration, with drift detection. Hikube's `topics[]` entry of a Kafka application."
                .into(),
            attributes: Topic::attributes(),
        },
    }
}
