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

/// The topic's plan logic on its own, without Terraform or a cluster.
mod plan {
    use super::*;
    use crate::resources::framework;
    use crate::tfplugin::PlanRequest;
    use crate::tfplugin::diag::AttrPath;

    fn plan(prior: &Value, config: Value) -> crate::tfplugin::PlanResponse {
        let request = PlanRequest {
            type_name: TYPE_NAME.into(),
            prior_state: prior.clone(),
            proposed_new_state: proposed(prior, &config),
            config,
            prior_private: Vec::new(),
        };
        futures::executor::block_on(framework::plan(&KafkaTopic, &Context::offline(), request))
    }

    /// As Terraform proposes it: the configuration, with computed values the configuration
    /// leaves null taken from the prior state.
    fn proposed(prior: &Value, config: &Value) -> Value {
        let Value::Object(mut object) = config.clone() else { return Value::Null };
        for key in ["id", "replication_factor"] {
            if object.get(key).is_none_or(Value::is_null) {
                object.insert(key.into(), prior.attr(key).clone());
            }
        }
        Value::Object(object)
    }

    fn state(partitions: i64) -> Value {
        let mut object = config(&[("name", Value::string("orders")), ("partitions", Value::int(partitions))]);
        if let Value::Object(o) = &mut object {
            o.insert("id".into(), Value::string("orders"));
            o.insert("replication_factor".into(), Value::int(3));
        }
        object
    }

    #[test]
    fn a_new_topic_is_named_by_its_id_and_learns_its_replication_factor_at_apply() {
        let planned = plan(&Value::Null, config(&[("name", Value::string("orders")), ("partitions", Value::int(3))]));
        assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
        assert_eq!(planned.planned_state.attr("id"), &Value::string("orders"));
        assert!(planned.planned_state.attr("replication_factor").is_unknown());
        assert!(planned.requires_replace.is_empty());
    }

    #[test]
    fn an_unchanged_topic_plans_exactly_its_state() {
        let prior = state(6);
        let planned = plan(&prior, config(&[("name", Value::string("orders")), ("partitions", Value::int(6))]));
        assert_eq!(planned.planned_state, prior);
    }

    #[test]
    fn more_partitions_keep_the_replication_factor_and_fewer_are_refused_unless_replacing() {
        let prior = state(6);
        let grown = plan(&prior, config(&[("name", Value::string("orders")), ("partitions", Value::int(9))]));
        assert_eq!(grown.planned_state.attr("replication_factor"), &Value::int(3));
        assert_eq!(grown.planned_state.attr("id"), &Value::string("orders"));
        let shrunk = plan(&prior, config(&[("name", Value::string("orders")), ("partitions", Value::int(3))]));
        assert_eq!(errors_at(&shrunk.diagnostics), ["partitions"]);
        let replaced = plan(
            &prior,
            config(&[
                ("name", Value::string("orders")),
                ("partitions", Value::int(3)),
                ("replace_on_partition_decrease", Value::Bool(true)),
            ]),
        );
        assert!(replaced.diagnostics.is_empty(), "{:?}", replaced.diagnostics);
        assert_eq!(replaced.requires_replace, [AttrPath::root("partitions")]);
    }

    #[test]
    fn a_destroy_plan_passes_through() {
        let request = PlanRequest {
            type_name: TYPE_NAME.into(),
            prior_state: state(6),
            proposed_new_state: Value::Null,
            config: Value::Null,
            prior_private: b"kept".to_vec(),
        };
        let planned = futures::executor::block_on(framework::plan(&KafkaTopic, &Context::offline(), request));
        assert_eq!(planned.planned_state, Value::Null);
        assert_eq!(planned.planned_private, b"kept");
    }
}
