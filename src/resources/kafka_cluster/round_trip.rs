//! `ReleaseKind::values` promises that every attribute is represented, so that reading a
//! release back gives exactly what the plan had: otherwise a refresh would report drift that
//! is not there.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::KafkaCluster;
use crate::resources::helm_release::ReleaseKind;
use crate::resources::zookeeper_ensemble::ZookeeperEnsemble;
use crate::tfplugin::value::Value;

fn text_or_null(s: Option<String>) -> Value {
    s.map(Value::string).unwrap_or(Value::Null)
}

prop_compose! {
    fn sizing()(
        image in "[a-z0-9./:-]{1,30}",
        preset in prop::sample::select(vec!["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"]),
        resources in prop::option::of(("[1-9][0-9]{0,2}m", "[1-9][0-9]{0,3}Mi")),
        size in "[1-9][0-9]{0,2}Gi",
        class in prop::option::of("[a-z][a-z0-9-]{0,20}"),
    ) -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("image".to_string(), Value::string(image)),
            ("resources_preset".to_string(), Value::string(preset)),
            ("resources".to_string(), resources.map_or(Value::Null, |(cpu, memory)| Value::Object(BTreeMap::from([
                ("cpu".to_string(), Value::string(cpu)),
                ("memory".to_string(), Value::string(memory)),
            ])))),
            ("storage_size".to_string(), Value::string(size)),
            ("storage_class".to_string(), text_or_null(class)),
        ])
    }
}

/// Read back, every attribute is what the plan had; only an empty map comes back null (read
/// then keeps the configuration's, see `helm_release::read`).
fn assert_round_trip(kind: &dyn ReleaseKind, planned: BTreeMap<String, Value>) -> Result<(), TestCaseError> {
    let read = kind.attributes_from_values(&kind.values(&Value::Object(planned.clone())));
    for (name, value) in &read {
        let expected = match planned.get(name) {
            Some(Value::Map(m)) if m.is_empty() => &Value::Null,
            Some(v) => v,
            None => &Value::Null,
        };
        prop_assert_eq!(value, expected, "{}", name);
    }
    Ok(())
}

proptest! {
    #[test]
    fn an_ensemble_reads_back_as_planned(mut planned in sizing(), replicas in prop::sample::select(vec![1i64, 3, 5, 7, 9])) {
        planned.insert("replicas".into(), Value::int(replicas));
        assert_round_trip(&ZookeeperEnsemble, planned)?;
    }

    #[test]
    fn a_cluster_reads_back_as_planned(
        mut planned in sizing(),
        replicas in 1i64..=100,
        zookeeper in "[a-z0-9.-]{1,20}:2181",
        chroot in prop::option::of("/[a-z0-9/-]{1,20}"),
        config in prop::option::of(prop::collection::btree_map("[a-z.]{1,20}", "[a-z0-9]{0,8}", 0..4)),
        external in prop::option::of("[a-z.]{1,20}"),
        tls in prop::option::of("[a-z-]{1,20}"),
        authentication in prop::sample::select(vec!["SCRAM-SHA-512", "SCRAM-SHA-256", "none"]),
        ranges in prop::option::of(prop::collection::vec("10\\.[0-9]{1,2}\\.0\\.0/16", 1..3)),
    ) {
        planned.insert("replicas".into(), Value::int(replicas));
        planned.insert("zookeeper".into(), Value::string(zookeeper));
        planned.insert("zookeeper_chroot".into(), text_or_null(chroot));
        planned.insert(
            "config".into(),
            config.map_or(Value::Null, |c| Value::Map(c.into_iter().map(|(k, v)| (k, Value::string(v))).collect())),
        );
        planned.insert("external".into(), Value::Bool(external.is_some()));
        planned.insert("external_domain".into(), text_or_null(external));
        planned.insert("tls_secret_name".into(), text_or_null(tls));
        planned.insert("authentication".into(), Value::string(authentication));
        planned.insert(
            "load_balancer_source_ranges".into(),
            ranges.map_or(Value::Null, |r| Value::List(r.into_iter().map(Value::string).collect())),
        );
        assert_round_trip(&KafkaCluster, planned)?;
    }
}

/// A state written before authentication existed (schema version 0, chart 0.1) reads as a
/// cluster without it, whatever the new default.
#[test]
fn a_version_0_state_upgrades_to_a_cluster_without_authentication() {
    let old = Value::Object(BTreeMap::from([("name".to_string(), Value::string("events"))]));
    let upgraded = KafkaCluster.upgrade_state(0, old).expect("version 0 upgrades");
    assert_eq!(upgraded.attr("authentication"), &Value::string("none"));
    assert_eq!(upgraded.attr("name"), &Value::string("events"));
    assert!(KafkaCluster.upgrade_state(7, Value::Null).is_none());
}

/// States of versions 0 and 1 may hold the `kafka` connection's password and key: version 2
/// keeps neither, and keeps the rest of the connection.
#[test]
fn a_version_1_state_upgrades_without_the_connections_secrets() {
    let sasl = BTreeMap::from([
        ("username".to_string(), Value::string("admin")),
        ("password".to_string(), Value::string("kept")),
    ]);
    let kafka = BTreeMap::from([("sasl".to_string(), Value::Object(sasl))]);
    let old = Value::Object(BTreeMap::from([
        ("name".to_string(), Value::string("events")),
        ("authentication".to_string(), Value::string("SCRAM-SHA-512")),
        ("kafka".to_string(), Value::Object(kafka)),
    ]));
    for version in [0, 1] {
        let upgraded = KafkaCluster.upgrade_state(version, old.clone()).expect("upgrades");
        assert!(upgraded.attr("kafka").attr("sasl").attr("password").is_null());
        assert_eq!(upgraded.attr("kafka").attr("sasl").attr("username"), &Value::string("admin"));
    }
    let upgraded = KafkaCluster.upgrade_state(1, old).unwrap();
    assert_eq!(upgraded.attr("authentication"), &Value::string("SCRAM-SHA-512"), "version 1 had authentication");
    assert!(KafkaCluster.upgrade_state(2, Value::Null).is_none(), "version 2 is current");
}
