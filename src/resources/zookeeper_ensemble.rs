//! `hikube_zookeeper_ensemble`: a ZooKeeper ensemble as a Helm release of `charts/zookeeper`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::framework::{model, validators};
use super::helm_release::{Change, ReleaseKind, sizing_attributes, sizing_from_values, sizing_values};
use super::kube_diagnostic;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::Value;

pub struct ZookeeperEnsemble;

model! {
    /// An ensemble's own attributes, beside those of every release and the sizing ones.
    pub struct Ensemble in ensemble_attr {
        replicas: i64 = optional_computed(
            "Members of the ensemble (3). Odd, so that a majority survives the loss of a member: an even count is refused. \
             A running ensemble changes size in place through ZooKeeper's dynamic reconfiguration: members to remove \
             leave the voting set before their pods are deleted, new members join it once their pods run and have \
             caught up, and no member restarts. A removed member's volume goes with its pod. The provider reconfigures \
             through the first member's container, so its Kubernetes identity needs `create` on `pods/exec` for a size \
             change."
        )
        .with_default(Value::int(3))
        .validate("Invalid member count", validators::whole_number("replicas", 1..=9));
        delete_volumes: bool = optional_computed(
            "Delete the members' volumes, and so the ensemble's data, on destroy or replacement (false: they are kept \
             and reused by an ensemble of the same name)."
        )
        .with_default(Value::Bool(false));
        connect_string: String = computed("`host:port` of the ensemble's client Service, for `hikube_kafka_cluster.zookeeper`.");
    }
}

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
        let mut attributes = Ensemble::attributes();
        attributes.extend(sizing_attributes("5Gi", "small", IMAGE));
        attributes
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match config.attr(ensemble_attr::replicas).as_i64() {
            Some(n) if n % 2 == 0 && (1..=9).contains(&n) => Diagnostic::error(
                "ZooKeeper needs an odd number of members",
                format!("replicas is {n}. An ensemble stays available while a majority of its members is up, so an even count adds a member without adding tolerance. Use 1, 3, 5, 7 or 9."),
            )
            .at(AttrPath::root(ensemble_attr::replicas))
            .into(),
            _ => Diagnostics::default(),
        }
    }

    fn values(&self, planned: &Value) -> Json {
        let mut values = sizing_values(planned);
        values["replicas"] = json!(replicas_of(planned).unwrap_or(3));
        values
    }

    fn attributes_from_values(&self, values: &Json) -> BTreeMap<String, Value> {
        let mut attributes = sizing_from_values(values);
        if let Some(n) = values["replicas"].as_i64() {
            attributes.insert(ensemble_attr::replicas.into(), Value::int(n));
        }
        attributes
    }

    /// A running ensemble changes size through ZooKeeper's dynamic reconfiguration, never by
    /// restarting members with a new list (growing, old and new members could form two
    /// quorums; shrinking, lose the only one). Members leave the voting set before their pods
    /// go, and join it once their pods run and have caught up as non-voting followers.
    fn steps_around_upgrade(&self, change: Change<'_>) -> bool {
        replicas_of(change.prior) != replicas_of(change.planned) || change.resumes_unfinished()
    }

    async fn before_upgrade(&self, change: Change<'_>) -> Result<(), Diagnostic> {
        match (replicas_of(change.prior), replicas_of(change.planned)) {
            (Some(before), Some(after)) if after < before => set_members(change, after).await,
            _ => Ok(()),
        }
    }

    async fn after_upgrade(&self, change: Change<'_>) -> Result<(), Diagnostic> {
        match replicas_of(change.planned) {
            Some(after) => set_members(change, after).await,
            None => Ok(()),
        }
    }

    fn outputs(&self, name: &str, namespace: &str, _planned: &Value) -> Vec<(&'static str, Value)> {
        let connect_string = format!("{name}-zookeeper.{namespace}.svc.cluster.local:2181");
        vec![(ensemble_attr::connect_string, Value::string(connect_string))]
    }
}

/// How long one membership command may take: a reconfiguration commits once a majority of the
/// new member set has acknowledged it.
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

fn replicas_of(state: &Value) -> Option<i64> {
    Ensemble::read(state).ok()?.replicas.known().copied()
}

/// Makes members 1..=wanted the voting members (the chart's `members.sh`, run in the first
/// member, which every size keeps).
async fn set_members(change: Change<'_>, wanted: i64) -> Result<(), Diagnostic> {
    let Change { kube, release, namespace, .. } = change;
    tracing::info!(release = %release, members = wanted, "reconfiguring the ensemble's voting members");
    let pod = format!("{release}-0");
    let command = ["bash", "/conf/members.sh", "set", &wanted.to_string()];
    let out = kube.exec(namespace, &pod, "zookeeper", &command, MEMBERSHIP_TIMEOUT).await.map_err(|e| {
        kube_diagnostic(format!("Changing the members of ensemble {release} failed"), &e)
            .with_hint(&format!(
                "The voting members are unchanged unless the error says otherwise; the next apply tries again. The \
                 provider's Kubernetes identity needs `create` on `pods/exec` in namespace {namespace}."
            ))
            .at(AttrPath::root(ensemble_attr::replicas))
    })?;
    let members: Vec<&str> = out.lines().filter(|l| l.starts_with("server.")).collect();
    tracing::info!(release = %release, members = ?members, "voting members");
    Ok(())
}
