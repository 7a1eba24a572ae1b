use std::collections::BTreeMap;

use super::plan::config_ops;
use super::*;
use crate::kafka::topic_config::ConfigOp;

fn config(pairs: &[(&str, Value)]) -> Value {
    let mut object: BTreeMap<String, Value> = [
        "id",
        "name",
        "partitions",
        "replication_factor",
        "config",
        "replace_on_partition_decrease",
        "timeout",
        "kafka",
    ]
    .into_iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect();
    for (k, v) in pairs {
        object.insert(k.to_string(), v.clone());
    }
    Value::Object(object)
}

fn errors_at(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .iter()
        .filter(|d| d.severity == crate::tfplugin::diag::Severity::Error)
        .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect()
}

#[test]
fn topic_names_follow_kafka_rules() {
    assert!(check_name("orders.v1_events-2").is_ok());
    for bad in ["", ".", "..", "has space", "ünïcode", &"x".repeat(250)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn invalid_values_are_refused_at_their_attribute() {
    let diagnostics = crate::resources::framework::validate(
        &KafkaTopic,
        &config(&[
            ("name", Value::string("bad name")),
            ("partitions", Value::int(0)),
            ("replication_factor", Value::int(-1)),
            ("config", Value::Map(BTreeMap::from([("retention.ms".into(), Value::string("a week"))]))),
            ("timeout", Value::string("soon")),
        ]),
    );
    assert_eq!(
        errors_at(&diagnostics),
        ["name", "partitions", "replication_factor", "timeout", "config[\"retention.ms\"]"]
    );
}

#[test]
fn unknown_values_are_left_for_later() {
    let diagnostics = crate::resources::framework::validate(
        &KafkaTopic,
        &config(&[("name", Value::unknown()), ("partitions", Value::unknown()), ("kafka", Value::unknown())]),
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

#[test]
fn min_insync_replicas_at_the_replication_factor_warns() {
    let diagnostics = crate::resources::framework::validate(
        &KafkaTopic,
        &config(&[
            ("name", Value::string("orders")),
            ("replication_factor", Value::int(2)),
            ("config", Value::Map(BTreeMap::from([("min.insync.replicas".into(), Value::string("2"))]))),
        ]),
    );
    assert!(!diagnostics.has_errors());
    assert_eq!(diagnostics.iter().filter(|d| d.severity == crate::tfplugin::diag::Severity::Warning).count(), 1);
}

#[test]
fn config_changes_become_incremental_operations() {
    let before = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact, delete".to_string()),
        ("retention.ms".to_string(), "1000".to_string()),
        ("segment.ms".to_string(), "60000".to_string()),
    ]);
    let after = BTreeMap::from([
        ("cleanup.policy".to_string(), "compact,delete".to_string()),
        ("retention.ms".to_string(), "2000".to_string()),
        ("max.message.bytes".to_string(), "2097152".to_string()),
    ]);
    assert_eq!(
        config_ops(&before, &after),
        [
            ConfigOp::Set("max.message.bytes".into(), "2097152".into()),
            ConfigOp::Set("retention.ms".into(), "2000".into()),
            ConfigOp::Delete("segment.ms".into()),
        ]
    );
}
