//! `hikube_kafka_cluster`: Kafka 3.9 brokers in ZooKeeper mode, as a Helm release of
//! `charts/kafka`. `settings` checks what `config` may hold; `roll` restarts the brokers of a
//! change one at a time, safely; `round_trip` proves that its chart values read back as the plan
//! had them.

mod roll;
#[cfg(test)]
mod round_trip;
mod scaling;
mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use self::settings::{check_cidr, check_connect_string, refused_setting};
use super::framework::{Field, model, validators};
use super::helm_release::{
    Change, PlannedChange, ReleaseKind, dns_name, sizing_attributes, sizing_from_values, sizing_values, text_field,
};
use super::kafka_connection::{self, Connection, ConnectionSpec, CredentialsSecret, KafkaConnection};
use super::{Context, kube_diagnostic};
use crate::k8s::Kube;
use crate::kafka::{Admin, ConnectionConfig};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics, Severity};
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::Value;

pub struct KafkaCluster;

model! {
    /// A cluster's own attributes, beside those of every release and the sizing ones.
    pub struct ClusterState in cluster_attr {
        replicas: i64 = optional_computed(
            "Brokers (3). Growing adds empty brokers; shrinking is refused while the brokers to remove hold partition \
             replicas. With `rebalance_on_scale`, replicas move in both cases."
        )
        .with_default(Value::int(3))
        .validate("Invalid member count", validators::whole_number("replicas", 1..=100));
        zookeeper: String = required(
            "`host:port` list of the ZooKeeper ensemble, usually `hikube_zookeeper_ensemble.<name>.connect_string`."
        )
        .validate_str("Invalid ZooKeeper connect string", check_connect_string);
        zookeeper_chroot: String = optional_computed(
            "ZooKeeper path holding this cluster's metadata (`/hikube/<namespace>/<name>`). Changing it replaces the cluster."
        )
        .requires_replace()
        .use_state_for_unknown()
        .validate_str("Invalid chroot", |chroot| {
            let valid = chroot.starts_with('/')
                && chroot
                    .split('/')
                    .skip(1)
                    .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
            if valid { Ok(()) } else { Err(format!("{chroot:?} must be a ZooKeeper path such as /kafka/events.")) }
        });
        config: BTreeMap<String, String> = optional(
            "Broker settings (`server.properties`) on top of the defaults; a change restarts the brokers one at a time, \
             each only when no partition is under-replicated (see above)."
        )
        .validate("Invalid broker setting", validators::no_null_values);
        authentication: String = optional_computed(
            "How clients and brokers prove who they are: `SCRAM-SHA-512` (the default) or `SCRAM-SHA-256` on every \
             listener, with an authorizer that denies what no ACL allows; or `none` (anyone who reaches a listener may do \
             anything). The mechanism is the admin's and the brokers' own; clients may use either. Changing it replaces \
             the cluster: volumes and ZooKeeper metadata are kept, so topics and their data come back (see \
             docs/guides/cluster-authentication.md)."
        )
        .with_default(Value::string(SCRAM_SHA_512))
        .requires_replace()
        .validate_str("Invalid authentication", validators::one_of(&[SCRAM_SHA_512, "SCRAM-SHA-256", NO_AUTHENTICATION]));
        external: bool = optional_computed(
            "Expose each broker through a LoadBalancer on port 9094 with TLS, as Hikube does (false). Needs \
             `authentication`."
        )
        .with_default(Value::Bool(false));
        load_balancer_source_ranges: Vec<String> = optional(
            "CIDRs that may reach the external LoadBalancers (`loadBalancerSourceRanges`); anyone when unset."
        )
        .validate("Invalid source range", |value| match value {
            Value::List(ranges) => ranges.iter().filter_map(Value::as_str).try_for_each(check_cidr),
            _ => Ok(()),
        });
        external_domain: String = optional(
            "DNS domain under which the external LoadBalancers are published (`<name>-kafka-<n>.<domain>`); required \
             with `external`."
        )
        .validate_str("Invalid DNS domain", dns_name("DNS domain"));
        tls_secret_name: String = optional(
            "Secret with `tls.crt`, `tls.key` and `ca.crt` for the TLS listener on 9093 (and 9094). TLS is on when set."
        )
        .validate_str("Invalid Secret name", dns_name("Secret name"));
        deletion_protection: bool = optional_computed(
            "Refuse to destroy the cluster (true). Set false and apply before destroying."
        )
        .with_default(Value::Bool(true));
        delete_volumes: bool = optional_computed(
            "Delete the brokers' volumes, and so their data, on destroy or replacement (false: they are kept and \
             reused by a cluster of the same name)."
        )
        .with_default(Value::Bool(false));
        atomic: bool = optional_computed("Roll an upgrade back by itself when it fails (true).")
            .with_default(Value::Bool(true));
        rebalance_on_scale: bool = optional_computed(
            "Move partition replicas when `replicas` changes (false). Growing: once the new brokers are Ready, \
             replicas spread over them until every broker holds as many as the others, to within one, keeping a \
             partition's replicas on distinct racks. Shrinking: the replicas of the brokers to remove move to the \
             others before the brokers go (without it, shrinking is refused while they hold any). The plan names the \
             partitions that move; moves are throttled (`rebalance_throttle`) and awaited within `timeout`."
        )
        .with_default(Value::Bool(false));
        rebalance_throttle: i64 = optional_computed(
            "Bytes per second each broker may spend copying moved replicas (52428800: 50 MiB/s), so that clients keep \
             their share; replicas in sync are never slowed. Set while moves run and removed after them."
        )
        .with_default(Value::int(DEFAULT_THROTTLE))
        .validate("Invalid throttle", validators::whole_number("rebalance_throttle", 1024..=i64::from(i32::MAX) * 8));
        kafka: KafkaConnection = optional(
            "How the provider reaches these brokers for the checks and steps that need them (a roll, a broker-count \
             change). When unset: the cluster's own brokers through the Kubernetes API server, signed in as the admin."
        );
        bootstrap_servers: Vec<String> = computed(
            "In-cluster plaintext bootstrap address (port 9092). Known once the cluster is installed: topics that \
             connect through it are checked at apply."
        );
        tls_bootstrap_servers: Vec<String> = computed(
            "In-cluster TLS bootstrap address (port 9093) when TLS is on; known once the cluster is installed."
        );
        external_bootstrap_servers: Vec<String> = computed(
            "One address per broker on port 9094 when `external` is on; known once the cluster is installed."
        );
        service_names: Vec<String> = computed("The Services of the cluster.");
        admin_secret: String = computed(
            "`namespace/name` of the Secret holding the admin's `username`, `password` and `mechanism`, which the \
             provider makes before the brokers start and deletes with the cluster; null without authentication. Name it \
             in a `kafka` connection's `sasl.credentials_secret`: the password stays in Kubernetes, out of plans and \
             state."
        );
    }
}

const SCRAM_SHA_512: &str = "SCRAM-SHA-512";
/// How often the brokers and pods are asked again while a roll or a move waits on them.
const POLL: std::time::Duration = std::time::Duration::from_secs(3);
/// 50 MiB/s: what a broker may spend on moved replicas by default.
const DEFAULT_THROTTLE: i64 = 50 * 1024 * 1024;
const NO_AUTHENTICATION: &str = "none";
/// The admin's name: a super user of the authorizer, and the brokers' own among themselves.
pub(crate) const ADMIN_USERNAME: &str = "hikube-admin";

/// 32 letters and digits (190 bits): nothing a JAAS line or a properties file must escape.
fn generate_password() -> String {
    use rand::Rng;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(32).map(char::from).collect()
}

/// The admin Secret of a release: made by the provider, named after the release.
fn foreign_admin_secret(namespace: &str, name: &str, error: &crate::k8s::Error) -> Diagnostic {
    kube_diagnostic(format!("The admin Secret {namespace}/{name} is not this cluster's"), error)
        .with_hint("Delete or rename that Secret: the cluster's admin Secret is made by the provider.")
        .at(AttrPath::root("name"))
}

fn admin_secret_name(release: &str) -> String {
    format!("{release}-admin")
}

/// The Helm release of a cluster: `<name>-kafka`.
fn release_of(name: &str) -> String {
    format!("{name}-kafka")
}

/// A chart value that holds a list of strings, as an attribute: an empty list is no value.
fn text_list(value: &Json) -> Value {
    match value.as_array() {
        Some(items) if !items.is_empty() => {
            Value::List(items.iter().filter_map(Json::as_str).map(Value::string).collect())
        }
        _ => Value::Null,
    }
}

fn cluster(state: &Value) -> ClusterState {
    ClusterState::read(state).unwrap_or_default()
}

/// The brokers as the cluster's `kafka` reaches them; without it, the cluster's own brokers
/// through the API server, signed in as its admin from its Secret, so that the provider needs
/// no route to the pods: the same connection a `kafka` block with a `tunnel` and a
/// `credentials_secret` makes.
async fn own_admin(
    ctx: &Context,
    release: &str,
    namespace: &str,
    cluster: &ClusterState,
) -> Result<Arc<Admin>, Diagnostic> {
    let path = AttrPath::root(cluster_attr::kafka);
    let first = |d: Diagnostics| {
        d.0.into_iter().find(|d| d.severity == Severity::Error).unwrap_or_else(|| {
            Diagnostic::error("Unusable `kafka` connection", "The provider cannot reach the brokers.").at(path.clone())
        })
    };
    match kafka_connection::parse_field(&cluster.kafka, &path).map_err(first)? {
        Connection::Known(spec) => return kafka_connection::admin(ctx, &spec, &path).await.map_err(first),
        Connection::Absent | Connection::Unknown => {}
    }
    let credentials_secret = match cluster.authentication.as_deref() {
        Some(NO_AUTHENTICATION) => None,
        _ => Some(CredentialsSecret {
            namespace: Some(namespace.to_string()),
            name: admin_secret_name(release),
            mechanism: None,
        }),
    };
    let own = ConnectionSpec {
        config: ConnectionConfig::plaintext([format!("{release}-bootstrap.{namespace}.svc.cluster.local:9092")]),
        credentials_secret,
        env_secrets: Default::default(),
        tunnel: Some(Some(namespace.to_string())),
    };
    // Not the configuration's `kafka`, which is unset: the error belongs to no attribute.
    kafka_connection::admin(ctx, &own, &path).await.map_err(|d| Diagnostic { path: None, ..first(d) })
}

const IMAGE: &str = "docker.io/confluentinc/cp-kafka:7.9.1";

#[tonic::async_trait]
impl ReleaseKind for KafkaCluster {
    fn type_name(&self) -> &'static str {
        "hikube_kafka_cluster"
    }

    fn chart(&self) -> &'static str {
        "kafka"
    }

    fn description(&self) -> &'static str {
        "A Kafka 3.9 cluster in ZooKeeper mode on Kubernetes, installed as a Helm release of the chart embedded in the \
         provider: Hikube's `kafka.*` and `external` fields. Replication defaults follow the broker count as on Hikube \
         (3 or more brokers: replication factor 3, min.insync.replicas 2).\n\n\
         A change that restarts the brokers (`config`, `image`, sizes) restarts them one at a time, driven by the \
         provider rather than by the StatefulSet controller (`updateStrategy: OnDelete`), which would move on as soon as \
         a restarted broker's readiness probe passes: a broker restarts only when no partition of the cluster is \
         under-replicated, the next only once it is back in sync everywhere it is a replica, and the active controller \
         last. The provider reaches the brokers for this through the Kubernetes API server, signed in as the admin; \
         its identity needs `create` on `pods/portforward` and `delete` on pods. A roll that cannot go on within \
         `timeout` stops with the partitions that hold it; the next apply resumes it with the brokers not restarted \
         yet, a broker that is not Ready first. The roll is the change itself: it runs with `wait = false` too. Helm's \
         own wait does not cover the brokers of such a StatefulSet, so the provider waits for them after an install; \
         with `atomic`, an install whose brokers are not Ready within `timeout` is uninstalled, as helm would have. \
         The plan says how many brokers a change restarts and what in their pod template changes.\n\n\
         A change of `replicas` with `rebalance_on_scale` moves the data: new brokers get their share of the \
         replicas once they are Ready, and brokers to remove give theirs to the others before they go, each move \
         throttled and awaited like a replication-factor change (the plan names the partitions that move). A move \
         that outlasts `timeout` goes on in Kafka; the next apply waits for it and removes the throttle. While moves \
         run, the provider owns the replication throttle: it sets each broker's rates and the moving topics' \
         throttled replicas, and removes them (from every broker and topic) when every move of the cluster is \
         done. A broker receiving replicas is not Ready until it holds them in sync: the bootstrap Service routes to \
         the others meanwhile, and a shrink waits for every broker to be Ready before the others go."
    }

    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = ClusterState::attributes();
        attributes.extend(sizing_attributes("10Gi", "medium", IMAGE));
        attributes
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::default();
        if let Value::Map(entries) = config.attr(cluster_attr::config) {
            for (key, value) in entries {
                if let Some(why) = refused_setting(key, value.as_str()) {
                    let path = AttrPath::root(cluster_attr::config).key(key);
                    diagnostics.push(Diagnostic::error("Invalid broker setting", why).at(path));
                }
            }
        }
        let external = config.attr(cluster_attr::external).as_bool() == Some(true);
        if external && config.attr(cluster_attr::authentication).as_str() == Some(NO_AUTHENTICATION) {
            diagnostics.push(
                Diagnostic::error(
                    "External access needs authentication",
                    "Brokers on LoadBalancers would let whoever reaches them read, write and delete every topic. Keep \
                     authentication (SCRAM-SHA-512), or set external = false.",
                )
                .at(AttrPath::root(cluster_attr::authentication)),
            );
        }
        if !external
            && matches!(config.attr(cluster_attr::load_balancer_source_ranges), Value::List(r) if !r.is_empty())
        {
            diagnostics.push(
                Diagnostic::error(
                    "Source ranges without LoadBalancers",
                    "load_balancer_source_ranges limits who reaches the external LoadBalancers; set external = true, or \
                     remove it.",
                )
                .at(AttrPath::root(cluster_attr::load_balancer_source_ranges)),
            );
        }
        if external && config.attr(cluster_attr::external_domain).is_null() {
            diagnostics.push(
                Diagnostic::error("External access needs a domain", "Set external_domain: brokers advertise <name>-kafka-<n>.<domain>:9094 to clients outside the cluster.")
                    .at(AttrPath::root(cluster_attr::external)),
            );
        }
        let kafka = AttrPath::root(cluster_attr::kafka);
        diagnostics.extend(kafka_connection::check_in_state(config.attr(cluster_attr::kafka), &kafka));
        diagnostics
    }

    fn values(&self, planned: &Value) -> Json {
        let mut values = sizing_values(planned);
        let cluster = cluster(planned);
        let text = |field: &Field<String>| field.known().cloned().unwrap_or_default();
        let tls = text(&cluster.tls_secret_name);
        values["replicas"] = json!(cluster.replicas.or(3));
        values["zookeeper"] = json!({"connect": text(&cluster.zookeeper), "chroot": text(&cluster.zookeeper_chroot)});
        values["config"] = json!(cluster.config.known().cloned().unwrap_or_default());
        let ranges = cluster.load_balancer_source_ranges.known().cloned().unwrap_or_default();
        values["external"] = json!({
            "enabled": cluster.external.or(false),
            "domain": text(&cluster.external_domain),
            "loadBalancerSourceRanges": ranges,
        });
        let mechanism = cluster.authentication.known().map_or(SCRAM_SHA_512, String::as_str);
        values["auth"] = match mechanism {
            NO_AUTHENTICATION => json!({"mechanism": "", "adminSecret": ""}),
            mechanism => {
                json!({"mechanism": mechanism, "adminSecret": admin_secret_name(&release_of(planned.attr("name").as_str().unwrap_or_default()))})
            }
        };
        values["tls"] = json!({"enabled": !tls.is_empty(), "secretName": tls});
        values
    }

    fn attributes_from_values(&self, values: &Json) -> BTreeMap<String, Value> {
        let mut attributes = sizing_from_values(values);
        let config: BTreeMap<String, String> = values["config"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
            .unwrap_or_default();
        let read = [
            (cluster_attr::zookeeper, text_field(&values["zookeeper"]["connect"]).encode()),
            (cluster_attr::zookeeper_chroot, text_field(&values["zookeeper"]["chroot"]).encode()),
            (cluster_attr::config, if config.is_empty() { Field::Null } else { Field::Known(config) }.encode()),
            (cluster_attr::external, Value::Bool(values["external"]["enabled"].as_bool().unwrap_or(false))),
            (cluster_attr::external_domain, text_field(&values["external"]["domain"]).encode()),
            (cluster_attr::tls_secret_name, text_field(&values["tls"]["secretName"]).encode()),
            (cluster_attr::load_balancer_source_ranges, text_list(&values["external"]["loadBalancerSourceRanges"])),
            // A release of chart 0.1 has no auth values: it authenticates nobody.
            (
                cluster_attr::authentication,
                Value::string(match values["auth"]["mechanism"].as_str() {
                    Some(mechanism) if !mechanism.is_empty() => mechanism,
                    _ => NO_AUTHENTICATION,
                }),
            ),
        ];
        attributes.extend(read.into_iter().map(|(k, v)| (k.to_string(), v)));
        if let Some(n) = values["replicas"].as_i64() {
            attributes.insert(cluster_attr::replicas.into(), Value::int(n));
        }
        attributes
    }

    fn outputs(&self, name: &str, namespace: &str, planned: &Value) -> Vec<(&'static str, Value)> {
        let cluster = cluster(planned);
        let host = format!("{name}-kafka-bootstrap.{namespace}.svc.cluster.local");
        let tls_servers = match &cluster.tls_secret_name {
            Field::Unknown => Value::unknown(),
            Field::Known(secret) if !secret.is_empty() => Value::List(vec![Value::string(format!("{host}:9093"))]),
            _ => Value::List(vec![]),
        };
        let replicas = cluster.replicas.known().copied();
        let external = match (cluster.external.known(), cluster.external_domain.known(), replicas) {
            (Some(true), Some(domain), Some(n)) => {
                Value::List((0..n).map(|i| Value::string(format!("{name}-kafka-{i}.{domain}:9094"))).collect())
            }
            (Some(false), _, _) => Value::List(vec![]),
            (None, _, _) if cluster.external_domain.is_null() => Value::List(vec![]),
            _ => Value::unknown(),
        };
        let mut services =
            vec![Value::string(format!("{name}-kafka-headless")), Value::string(format!("{name}-kafka-bootstrap"))];
        if let (Value::List(addresses), Some(n)) = (&external, replicas)
            && !addresses.is_empty()
        {
            services.extend((0..n).map(|i| Value::string(format!("{name}-kafka-{i}-external"))));
        }
        let chroot = cluster.zookeeper_chroot.known().cloned().unwrap_or_else(|| format!("/hikube/{namespace}/{name}"));
        // Null only in a state written before the attribute existed, whose release authenticates nobody.
        let admin_secret = match cluster.authentication.known().map(String::as_str) {
            None if cluster.authentication.is_unknown() => Value::unknown(),
            None | Some(NO_AUTHENTICATION) => Value::Null,
            Some(_) => Value::string(format!("{namespace}/{}", admin_secret_name(&release_of(name)))),
        };
        vec![
            (cluster_attr::bootstrap_servers, Value::List(vec![Value::string(format!("{host}:9092"))])),
            (cluster_attr::tls_bootstrap_servers, tls_servers),
            (cluster_attr::external_bootstrap_servers, external),
            (cluster_attr::service_names, Value::List(services)),
            (cluster_attr::zookeeper_chroot, Value::string(chroot)),
            (cluster_attr::admin_secret, admin_secret),
        ]
    }

    /// The plan's notices (the brokers a change restarts, the partitions that move) and refusals
    /// (brokers to remove that hold replicas).
    async fn check_change(&self, change: PlannedChange<'_>) -> Diagnostics {
        let mut diagnostics: Diagnostics = roll::restart_notice(change).await.into_iter().collect();
        diagnostics.extend(scaling::check(change).await);
        diagnostics
    }

    /// A Secret of the admin Secret's name that somebody else made would refuse the install at
    /// apply: said at plan instead.
    async fn check_install(&self, kube: &Kube, release: &str, namespace: &str, planned: &Value) -> Diagnostics {
        if cluster(planned).authentication.known().is_none_or(|mechanism| mechanism == NO_AUTHENTICATION) {
            return Diagnostics::default();
        }
        let name = admin_secret_name(release);
        match kube.refuse_foreign_secret(namespace, &name, release).await {
            Ok(()) => Diagnostics::default(),
            Err(e @ crate::k8s::Error::Foreign(_)) => foreign_admin_secret(namespace, &name, &e).into(),
            Err(e) => kube_diagnostic(format!("Reading the admin Secret {namespace}/{name} failed"), &e).into(),
        }
    }

    /// The admin Secret, made before the brokers that mount it: its password is generated here
    /// and written nowhere else (not in values, the manifest or the state). A running cluster
    /// must still have its own: a new password would reach only the brokers that restart, and
    /// the others could no longer talk to them.
    async fn before_install(
        &self,
        kube: &Kube,
        release: &str,
        namespace: &str,
        prior: &Value,
        planned: &Value,
    ) -> Result<(), Diagnostic> {
        let mechanism = match cluster(planned).authentication.known() {
            Some(mechanism) if mechanism != NO_AUTHENTICATION => mechanism.clone(),
            _ => return Ok(()),
        };
        let name = admin_secret_name(release);
        let generate = || {
            BTreeMap::from([
                ("username".to_string(), ADMIN_USERNAME.to_string()),
                ("password".to_string(), generate_password()),
                ("mechanism".to_string(), mechanism),
            ])
        };
        let running = !prior.is_null();
        match kube.ensure_owned_secret(namespace, &name, release, !running, generate).await {
            Ok(ensured) => {
                tracing::info!(secret = %name, namespace = %namespace, ?ensured, "admin Secret ready");
                Ok(())
            }
            Err(e @ crate::k8s::Error::Foreign(_)) => Err(foreign_admin_secret(namespace, &name, &e)),
            Err(e) if e.is_not_found() => Err(Diagnostic::error(
                format!("The admin Secret {namespace}/{name} is gone"),
                "It was deleted outside Terraform while the brokers run with its password. Restore it from a backup; \
                 or replace the cluster (terraform apply -replace) to start it with a new one: its volumes and ZooKeeper \
                 metadata are kept.",
            )),
            Err(e) => Err(kube_diagnostic(format!("Reading or making the admin Secret {namespace}/{name} failed"), &e)),
        }
    }

    async fn after_uninstall(&self, kube: &Kube, release: &str, namespace: &str) -> Result<(), Diagnostic> {
        let name = admin_secret_name(release);
        match kube.delete_owned_secret(namespace, &name, release).await {
            Ok(_) => Ok(()),
            // Somebody else's Secret of that name is left alone: the release is gone all the same.
            Err(crate::k8s::Error::Foreign(_)) => Ok(()),
            Err(e) => Err(kube_diagnostic(format!("Deleting the admin Secret {namespace}/{name} failed"), &e)),
        }
    }

    /// Version 1 added authentication; version 2 keeps no connection secret.
    fn schema_version(&self) -> i64 {
        2
    }

    /// A version 0 state was written with chart 0.1, which authenticates nobody: it says so,
    /// so that a plan made without refreshing does not read the new default as a change.
    /// Versions 0 and 1 kept the `kafka` connection's password and key.
    fn upgrade_state(&self, version: i64, state: Value) -> Option<Value> {
        let state = match (version, state) {
            (0, Value::Object(mut attributes)) => {
                attributes.insert(cluster_attr::authentication.into(), Value::string(NO_AUTHENTICATION));
                attributes.insert(cluster_attr::admin_secret.into(), Value::Null);
                Value::Object(attributes)
            }
            (0 | 1, state) => state,
            _ => return None,
        };
        Some(kafka_connection::without_kept_secrets(state, cluster_attr::kafka))
    }

    /// Every upgrade of a running cluster may change the brokers' pod template: the provider
    /// restarts the brokers still on an older one itself (see `roll`), and finds none to restart
    /// when the template did not change.
    fn steps_around_upgrade(&self, _change: Change<'_>) -> bool {
        true
    }

    /// The roll is the change itself, so it runs whatever `wait` says; `wait = false` skips
    /// only the wait for brokers added by a larger `replicas`, unless replicas spread over them.
    async fn after_upgrade(&self, change: Change<'_>) -> Result<(), Diagnostic> {
        let deadline = tokio::time::Instant::now() + change.timeout;
        roll::roll(change, deadline).await?;
        scaling::await_moves(change, deadline).await?;
        if scaling::rebalances(change.planned) || change.planned.attr("wait").as_bool() != Some(false) {
            roll::all_ready(change, deadline).await?;
        }
        scaling::spread(change, deadline).await
    }

    /// Brokers to remove give their replicas away first (`rebalance_on_scale`).
    async fn before_upgrade(&self, change: Change<'_>) -> Result<(), Diagnostic> {
        scaling::drain(change, tokio::time::Instant::now() + change.timeout).await
    }

    async fn after_install(&self, change: Change<'_>) -> Result<(), Diagnostic> {
        roll::all_ready(change, tokio::time::Instant::now() + change.timeout).await
    }

    /// A change of authentication replaces the brokers' listeners, not their data.
    fn reuses_volumes(&self) -> &'static [&'static str] {
        &[cluster_attr::authentication]
    }

    fn reachable_once_installed(&self) -> &'static [&'static str] {
        &[
            cluster_attr::bootstrap_servers,
            cluster_attr::tls_bootstrap_servers,
            cluster_attr::external_bootstrap_servers,
        ]
    }

    fn refuse_destroy(&self, state: &Value) -> Option<Diagnostic> {
        (cluster(state).deletion_protection.known() != Some(&false)).then(|| {
            Diagnostic::error(
                "Deletion protection is on",
                "This cluster would be destroyed with its data. Set deletion_protection = false and apply, then destroy.",
            )
            .at(AttrPath::root(cluster_attr::deletion_protection))
        })
    }
}
