//! `hikube_zookeeper_ensemble`: a ZooKeeper ensemble as a Helm release of `charts/zookeeper`.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::Context;
use super::helm_release::{
    ReleaseKind, replicas, sizing_attributes, sizing_from_values, sizing_values, validate_sizing,
};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::{Type, Value};

pub struct ZookeeperEnsemble;

const IMAGE: &str = "docker.io/library/zookeeper:3.8.4";

#[tonic::async_trait]
impl ReleaseKind for ZookeeperEnsemble {
    fn type_name(&self) -> &'static str {
        "hikube_zookeeper_ensemble"
    }

    fn chart(&self) -> &'static str {
        "zookeeper"
    }

    fn description(&self) -> &'static str {
        "A ZooKeeper ensemble on Kubernetes, installed as a Helm release of the chart embedded in the provider: Hikube's \
         `zookeeper.*` fields. Kafka clusters take its `connect_string`."
    }

    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![Attribute::optional_computed(
            "replicas",
            Type::Number,
            "Members of the ensemble (3). Odd, so that a majority survives the loss of a member: an even count is refused. \
             Fixed once the ensemble runs: rolling a new member list through it could split it into two quorums, so a \
             change is refused at plan.",
        )];
        attributes.extend(sizing_attributes("5Gi", "small", IMAGE));
        attributes.push(Attribute::optional_computed(
            "delete_volumes",
            Type::Bool,
            "Delete the members' volumes, and so the ensemble's data, on destroy or replacement (false: they are kept \
             and reused by an ensemble of the same name).",
        ));
        attributes.push(Attribute::computed(
            "connect_string",
            Type::String,
            "`host:port` of the ensemble's client Service, for `hikube_kafka_cluster.zookeeper`.",
        ));
        attributes
    }

    fn defaults(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("replicas", Value::int(3)),
            ("storage_size", Value::string("5Gi")),
            ("resources_preset", Value::string("small")),
            ("image", Value::string(IMAGE)),
            ("delete_volumes", Value::Bool(false)),
        ]
    }

    fn replace_on_change(&self) -> &'static [&'static str] {
        &["storage_class"]
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = validate_sizing(config);
        if let Some(n) = replicas(config, 1..=9, &mut diagnostics)
            && n % 2 == 0
        {
            diagnostics.push(
                    Diagnostic::error(
                        "ZooKeeper needs an odd number of members",
                        format!("replicas is {n}. An ensemble stays available while a majority of its members is up, so an even count adds a member without adding tolerance. Use 1, 3, 5, 7 or 9."),
                    )
                    .at(AttrPath::root("replicas")),
                );
        }
        diagnostics
    }

    fn values(&self, planned: &Value) -> Json {
        let mut values = sizing_values(planned);
        values["replicas"] = json!(planned.attr("replicas").as_i64().unwrap_or(3));
        values
    }

    fn attributes_from_values(&self, values: &Json) -> BTreeMap<String, Value> {
        let mut attributes = sizing_from_values(values);
        if let Some(n) = values["replicas"].as_i64() {
            attributes.insert("replicas".into(), Value::int(n));
        }
        attributes
    }

    /// A running ensemble keeps its size. Its members know each other from a static list:
    /// rolling a new list through them lets old and new members form two quorums while growing
    /// (3 -> 5: two new members and one restarted are a majority of five, the two others a
    /// majority of three), and loses the quorum while shrinking. ZooKeeper's dynamic
    /// reconfiguration is the safe way, and is not implemented yet.
    async fn check_change(&self, _ctx: &Context, prior: &Value, planned: &Value) -> Diagnostics {
        match (prior.attr("replicas").as_i64(), planned.attr("replicas").as_i64()) {
            (Some(before), Some(after)) if before != after => Diagnostic::error(
                "The member count of a running ensemble cannot change",
                format!(
                    "replicas would go from {before} to {after}. Rolling a new member list through a running ensemble can \
                     split it into two quorums (growing) or lose its quorum (shrinking), and with it Kafka's metadata. Keep \
                     {before}, or create an ensemble of {after} members under another name for a new cluster."
                ),
            )
            .at(AttrPath::root("replicas"))
            .into(),
            _ => Diagnostics::default(),
        }
    }

    fn outputs(&self, name: &str, namespace: &str, _planned: &Value) -> Vec<(&'static str, Value)> {
        vec![("connect_string", Value::string(format!("{name}-zookeeper.{namespace}.svc.cluster.local:2181")))]
    }
}
