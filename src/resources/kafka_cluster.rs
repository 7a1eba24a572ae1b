//! `hikube_kafka_cluster`: Kafka 3.9 brokers in ZooKeeper mode, as a Helm release of
//! `charts/kafka`.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::framework::{Field, model, validators};
use super::helm_release::{ReleaseKind, dns_name, sizing_attributes, sizing_from_values, sizing_values, text_field};
use super::kafka_connection::{self, Connection, KafkaConnection};
use super::{Context, kafka_diagnostic};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::Value;

pub struct KafkaCluster;

model! {
    /// A cluster's own attributes, beside those of every release and the sizing ones.
    pub struct ClusterState in cluster_attr {
        replicas: i64 = optional_computed(
            "Brokers (3). Growing is in place; shrinking is refused while the brokers to remove hold partition replicas."
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
            "Broker settings (`server.properties`) on top of the defaults; a change rolls the brokers, one at a time: the \
             next restarts only once the last is registered again and back in the in-sync replicas of every partition \
             it hosts (its readiness)."
        )
        .validate("Invalid broker setting", validators::no_null_values);
        external: bool = optional_computed(
            "Expose each broker through a LoadBalancer on port 9094 with TLS, as Hikube does (false)."
        )
        .with_default(Value::Bool(false));
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
        kafka: KafkaConnection = optional(
            "How the provider reaches these brokers to check a broker-count decrease; the provider's `kafka` when unset."
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
    }
}

/// Written as one line of server.properties: anything but host names and ports could add lines
/// of its own.
fn check_connect_string(connect: &str) -> Result<(), String> {
    let valid = !connect.is_empty()
        && connect.split(',').all(|hp| {
            hp.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty()
                    && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(c))
                    && p.parse::<u16>().is_ok()
            })
        });
    if valid {
        Ok(())
    } else {
        Err(format!("{connect:?} must be host:port[,host:port...]; the chroot goes in zookeeper_chroot."))
    }
}

fn cluster(state: &Value) -> ClusterState {
    ClusterState::read(state).unwrap_or_default()
}

const IMAGE: &str = "docker.io/confluentinc/cp-kafka:7.9.1";

/// Settings the chart derives from the resource's own attributes or from the pod: set through
/// `config`, they would break what those attributes promise (where the data lives, which
/// ZooKeeper and listeners the brokers use, which broker is which).
const STRUCTURAL_SETTINGS: [(&str, &str); 17] = [
    ("broker.id", "each broker's id comes from its pod's ordinal"),
    ("node.id", "each broker's id comes from its pod's ordinal"),
    ("broker.id.generation.enable", "each broker's id comes from its pod's ordinal"),
    ("reserved.broker.max.id", "each broker's id comes from its pod's ordinal"),
    ("log.dirs", "the data lives on the brokers' volumes"),
    ("log.dir", "the data lives on the brokers' volumes"),
    ("listeners", "the listeners follow tls_secret_name and external"),
    ("advertised.listeners", "the listeners follow tls_secret_name and external"),
    ("listener.security.protocol.map", "the listeners follow tls_secret_name and external"),
    ("inter.broker.listener.name", "the brokers talk to each other on their own listener"),
    ("security.inter.broker.protocol", "the brokers talk to each other on their own listener"),
    ("zookeeper.connect", "set the zookeeper and zookeeper_chroot attributes instead"),
    ("broker.rack", "each broker's rack is its node's zone"),
    ("process.roles", "these clusters run in ZooKeeper mode"),
    ("controller.quorum.voters", "these clusters run in ZooKeeper mode"),
    ("ssl.keystore.location", "the TLS material comes from tls_secret_name"),
    ("ssl.truststore.location", "the TLS material comes from tls_secret_name"),
];

/// Why a `config` entry is refused, if it is: a structural setting, or text that would not stay
/// one `key=value` line of server.properties.
fn refused_setting(key: &str, value: Option<&str>) -> Option<String> {
    if let Some((_, why)) = STRUCTURAL_SETTINGS.iter().find(|(name, _)| *name == key) {
        return Some(format!("{key} cannot be set through config: {why}."));
    }
    if key.starts_with("ssl.keystore.") || key.starts_with("ssl.truststore.") {
        return Some(format!("{key} cannot be set through config: the TLS material comes from tls_secret_name."));
    }
    let bad_key = key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control() || "=:#!\\".contains(c));
    // A trailing backslash continues the line: the next setting would become part of this value.
    let bad_value = value.is_some_and(|v| v.chars().any(char::is_control) || v.ends_with('\\'));
    (bad_key || bad_value).then(|| {
        "Keys are server.properties names (no spaces, '=', ':', '#', '!' or '\\'); values fit on one line and do not end \
         with '\\'."
            .to_string()
    })
}

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
         (3 or more brokers: replication factor 3, min.insync.replicas 2)."
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
        if config.attr(cluster_attr::external).as_bool() == Some(true)
            && config.attr(cluster_attr::external_domain).is_null()
        {
            diagnostics.push(
                Diagnostic::error("External access needs a domain", "Set external_domain: brokers advertise <name>-kafka-<n>.<domain>:9094 to clients outside the cluster.")
                    .at(AttrPath::root(cluster_attr::external)),
            );
        }
        let kafka = AttrPath::root(cluster_attr::kafka);
        diagnostics.extend(kafka_connection::check(config.attr(cluster_attr::kafka), &kafka));
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
        values["external"] = json!({"enabled": cluster.external.or(false), "domain": text(&cluster.external_domain)});
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
        vec![
            (cluster_attr::bootstrap_servers, Value::List(vec![Value::string(format!("{host}:9092"))])),
            (cluster_attr::tls_bootstrap_servers, tls_servers),
            (cluster_attr::external_bootstrap_servers, external),
            (cluster_attr::service_names, Value::List(services)),
            (cluster_attr::zookeeper_chroot, Value::string(chroot)),
        ]
    }

    /// A broker count may only go down once the brokers that go away hold no replicas.
    async fn check_change(&self, ctx: &Context, prior: &Value, planned: &Value) -> Diagnostics {
        let (Some(&before), Some(&after)) = (cluster(prior).replicas.known(), cluster(planned).replicas.known()) else {
            return Diagnostics::default();
        };
        if after >= before {
            return Diagnostics::default();
        }
        let path = AttrPath::root(cluster_attr::replicas);
        let config = match kafka_connection::parse_field(&cluster(planned).kafka, &AttrPath::root(cluster_attr::kafka))
        {
            Ok(Connection::Known(c)) => Some(c),
            Ok(Connection::Absent) if !ctx.config.is_deferred("kafka") => ctx.config.kafka.clone(),
            _ => None,
        };
        let Some(config) = config else {
            return Diagnostic::error(
                "Cannot check the brokers to remove",
                format!("Going from {before} to {after} brokers removes brokers {after} to {}; the provider must see that they hold no partition replicas first. Set `kafka` on this resource or the provider.", before - 1),
            )
            .at(path)
            .into();
        };
        let cluster = ctx.kafka_pool.admin(&config);
        let topics = match ctx.cancellable(cluster.all_topics()).await {
            Ok(topics) => topics,
            Err(e) => return kafka_diagnostic("Cannot check the brokers to remove", &e, Some(path)).into(),
        };
        let stranded: Vec<String> = topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.replicas.iter().any(|b| i64::from(*b) >= after))
                    .map(move |p| format!("{}-{}", t.name, p.id))
            })
            .collect();
        if stranded.is_empty() {
            return Diagnostics::default();
        }
        let shown: Vec<&str> = stranded.iter().take(10).map(String::as_str).collect();
        let removed =
            if after == before - 1 { format!("Broker {after}") } else { format!("Brokers {after} to {}", before - 1) };
        Diagnostic::error(
            "Brokers to remove still hold data",
            format!(
                "{removed} hold(s) replicas of {} partition(s): {}{}. Move them to brokers 0 to {} first (lower the topics' replication factor or reassign them), then lower replicas.",
                stranded.len(),
                shown.join(", "),
                if stranded.len() > shown.len() { ", ..." } else { "" },
                after - 1
            ),
        )
        .at(path)
        .into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_settings_and_line_breaking_text_are_refused() {
        for key in
            ["log.dirs", "listeners", "advertised.listeners", "zookeeper.connect", "broker.id", "ssl.keystore.type"]
        {
            assert!(refused_setting(key, Some("x")).is_some(), "{key}");
        }
        for (key, value) in [("a b", "1"), ("k", "1\nlog.dirs=/tmp"), ("k", "1\\"), ("k\rx", "1"), ("#k", "1")] {
            assert!(refused_setting(key, Some(value)).is_some(), "{key:?}={value:?}");
        }
        assert_eq!(refused_setting("log.retention.hours", Some("168")), None);
        assert_eq!(refused_setting("auto.create.topics.enable", Some("false")), None);
    }

    #[test]
    fn a_connect_string_cannot_carry_lines_of_its_own() {
        assert!(check_connect_string("zk:2181\nlog.dirs=/tmp:2181").is_err());
        assert!(check_connect_string("zk 1:2181").is_err());
        assert!(check_connect_string("zk-0.zk.ns.svc.cluster.local:2181,zk-1:2181").is_ok());
    }
}

/// `ReleaseKind::values` promises that every attribute is represented, so that reading a
/// release back gives exactly what the plan had: otherwise a refresh would report drift that
/// is not there.
#[cfg(test)]
mod values_round_trip {
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
            assert_round_trip(&KafkaCluster, planned)?;
        }
    }
}
