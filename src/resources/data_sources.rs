//! The data sources: what a configuration that did not create a topic or a cluster reads of
//! it (another team's cluster, a topic made by a client).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::framework::{DataSource, Field, model};
use super::helm_release::{ReleaseKind, status_text};
use super::kafka_cluster::KafkaCluster;
use super::kafka_connection::{self, KafkaConnection};
use super::{Context, kafka_diagnostic, kube_diagnostic};
use crate::kafka::Admin;
use crate::kafka::topic_config;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Block, Schema};
use crate::tfplugin::value::Value;

const KAFKA: &str = "Connection to the cluster, instead of the provider's `kafka`.";

model! {
    pub struct FoundTopic in found_topic {
        id: String = computed("The topic name.");
        name: String = required("The topic's name.");
        partitions: i64 = computed("Its partition count.");
        replication_factor: i64 = computed("Its replication factor.");
        config: BTreeMap<String, String> = computed(
            "The configuration overrides set on it, as `hikube_kafka_topic`'s `config` would hold them (not the \
             broker's defaults; sensitive values left out)."
        );
        kafka: KafkaConnection = optional(KAFKA);
    }
}

model! {
    pub struct TopicList in topic_list {
        id: String = computed("The prefix, or `*` without one.");
        prefix: String = optional(
            "Only the topics whose names begin with it. Kafka's internal topics (`__consumer_offsets`, ...) are \
             listed only when it begins with `__`."
        );
        names: Vec<String> = computed("The topics' names, sorted.");
        kafka: KafkaConnection = optional(KAFKA);
    }
}

model! {
    pub struct FoundCluster in found_cluster {
        id: String = computed("`namespace/name`.");
        name: String = required("The cluster's name, as its `hikube_kafka_cluster` has it.");
        namespace: String = optional_computed("Its namespace; the provider's `namespace` when unset.");
        status: String = computed("Status of its release's newest revision: `deployed`, `failed`, ...");
        replicas: i64 = computed("Its broker count.");
        zookeeper: String = computed("The ZooKeeper ensemble it uses, as `host:port` pairs.");
        zookeeper_chroot: String = computed("The ZooKeeper path of its metadata.");
        tls_secret_name: String = computed(
            "The Secret with the TLS listener's certificate and CA (`ca.crt`), when TLS is on."
        );
        bootstrap_servers: Vec<String> = computed("In-cluster plaintext bootstrap address (port 9092).");
        tls_bootstrap_servers: Vec<String> = computed("In-cluster TLS bootstrap address (port 9093) when TLS is on.");
        external_bootstrap_servers: Vec<String> = computed(
            "One address per broker on port 9094 when it is exposed outside the cluster."
        );
        authentication: String = computed("`SCRAM-SHA-512`, `SCRAM-SHA-256`, or `none`.");
        admin_secret: String = computed(
            "`namespace/name` of the Secret with the admin's credentials, for a connection's \
             `sasl.credentials_secret`; null without authentication."
        );
    }
}

fn schema(description: &str, attributes: Vec<crate::tfplugin::schema::Attribute>) -> Schema {
    Schema { version: 0, block: Block { description: description.into(), attributes } }
}

/// The cluster a data source reads: its own `kafka`, else the provider's.
async fn cluster(ctx: &Context, kafka: &Field<KafkaConnection>, path: &str) -> Result<Arc<Admin>, Diagnostics> {
    kafka_connection::known_target(ctx, kafka, &AttrPath::root(path)).await
}

fn known(field: &Field<String>, path: &str) -> Result<String, Diagnostics> {
    let unknown =
        || Diagnostic::error("Value not known", format!("{path} must be known to read this.")).at(AttrPath::root(path));
    field.known().cloned().ok_or_else(|| unknown().into())
}

pub struct TopicData;

#[tonic::async_trait]
impl DataSource for TopicData {
    fn type_name(&self) -> &'static str {
        "hikube_kafka_topic"
    }

    fn schema(&self) -> Schema {
        let description = "A topic as the cluster has it: partitions, replication factor and configuration overrides, \
                           for configurations that did not create it.";
        schema(description, FoundTopic::attributes())
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        kafka_connection::check_in_state(config.attr(found_topic::kafka), &AttrPath::root(found_topic::kafka))
    }

    async fn read(&self, ctx: &Context, config: Value) -> Result<Value, Diagnostics> {
        let found = FoundTopic::read(&config)?;
        let name = known(&found.name, found_topic::name)?;
        let cluster = cluster(ctx, &found.kafka, found_topic::kafka).await?;
        let (info, configs) = ctx
            .cancellable(cluster.read_topic(&name))
            .await
            .map_err(|e| Diagnostics::from(kafka_diagnostic(&format!("Reading topic {name} failed"), &e, None)))?;
        let Some(info) = info else {
            let why = format!("No topic named {name:?} exists at {}.", cluster.describe());
            return Err(Diagnostic::error("Topic not found", why).at(AttrPath::root(found_topic::name)).into());
        };
        let overrides = topic_config::overrides(configs.unwrap_or_default());
        let found = FoundTopic {
            id: Field::Known(name),
            partitions: Field::Known(info.partitions.len() as i64),
            replication_factor: Field::Known(info.replication_factor() as i64),
            config: Field::Known(overrides),
            ..found
        };
        Ok(found.to_value())
    }
}

pub struct TopicsData;

#[tonic::async_trait]
impl DataSource for TopicsData {
    fn type_name(&self) -> &'static str {
        "hikube_kafka_topics"
    }

    fn schema(&self) -> Schema {
        let description = "The names of a cluster's topics, all of them or those that begin with a prefix.";
        schema(description, TopicList::attributes())
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        kafka_connection::check_in_state(config.attr(topic_list::kafka), &AttrPath::root(topic_list::kafka))
    }

    async fn read(&self, ctx: &Context, config: Value) -> Result<Value, Diagnostics> {
        let list = TopicList::read(&config)?;
        let prefix = list.prefix.known().cloned().unwrap_or_default();
        let cluster = cluster(ctx, &list.kafka, topic_list::kafka).await?;
        let topics = ctx
            .cancellable(cluster.all_topics())
            .await
            .map_err(|e| Diagnostics::from(kafka_diagnostic("Listing the topics failed", &e, None)))?;
        let internal_wanted = prefix.starts_with("__");
        let mut names: Vec<String> = topics
            .into_iter()
            .map(|t| t.name)
            .filter(|name| name.starts_with(&prefix) && (internal_wanted || !name.starts_with("__")))
            .collect();
        names.sort();
        let id = if prefix.is_empty() { "*".to_string() } else { prefix };
        Ok(TopicList { id: Field::Known(id), names: Field::Known(names), ..list }.to_value())
    }
}

pub struct ClusterData;

#[tonic::async_trait]
impl DataSource for ClusterData {
    fn type_name(&self) -> &'static str {
        "hikube_kafka_cluster"
    }

    fn schema(&self) -> Schema {
        let description = "How to reach a Kafka cluster this provider deployed, read from its Helm release: bootstrap \
                           addresses, the TLS Secret, the admin Secret, the ZooKeeper it uses. For configurations that \
                           connect to a cluster another one manages.";
        schema(description, FoundCluster::attributes())
    }

    async fn read(&self, ctx: &Context, config: Value) -> Result<Value, Diagnostics> {
        let found = FoundCluster::read(&config)?;
        let name = known(&found.name, found_cluster::name)?;
        let namespace = match &found.namespace {
            Field::Null => ctx.config.namespace.clone(),
            field => known(field, found_cluster::namespace)?,
        };
        let kube = ctx.kube().await?;
        let release_name = format!("{name}-{}", KafkaCluster.chart());
        let release = match kube.latest_release(&namespace, &release_name).await {
            Ok(Some(release)) if release.chart_name == KafkaCluster.chart() => release,
            Ok(_) => {
                let why = format!(
                    "No Kafka cluster of this provider named {name:?} in namespace {namespace:?} (no Helm release \
                     {release_name} of its kafka chart)."
                );
                return Err(Diagnostic::error("Kafka cluster not found", why)
                    .at(AttrPath::root(found_cluster::name))
                    .into());
            }
            Err(e) => return Err(kube_diagnostic(format!("Reading release {release_name} failed"), &e).into()),
        };
        let mut state: BTreeMap<String, Value> = KafkaCluster.attributes_from_values(&release.values);
        state.insert(found_cluster::name.into(), Value::string(&name));
        state.insert(found_cluster::namespace.into(), Value::string(&namespace));
        for (key, value) in KafkaCluster.outputs(&name, &namespace, &Value::Object(state.clone())) {
            state.insert(key.to_string(), value);
        }
        let text = |key: &str| state.get(key).and_then(Value::as_str).map(str::to_string);
        let list = |key: &str| match state.get(key) {
            Some(Value::List(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        let found = FoundCluster {
            id: Field::Known(format!("{namespace}/{name}")),
            namespace: Field::Known(namespace.clone()),
            status: Field::Known(status_text(&release.status)),
            replicas: state.get("replicas").and_then(Value::as_i64).map_or(Field::Null, Field::Known),
            zookeeper: text("zookeeper").map_or(Field::Null, Field::Known),
            zookeeper_chroot: text("zookeeper_chroot").map_or(Field::Null, Field::Known),
            tls_secret_name: text("tls_secret_name").map_or(Field::Null, Field::Known),
            bootstrap_servers: Field::Known(list("bootstrap_servers")),
            tls_bootstrap_servers: Field::Known(list("tls_bootstrap_servers")),
            external_bootstrap_servers: Field::Known(list("external_bootstrap_servers")),
            authentication: text("authentication").map_or(Field::Null, Field::Known),
            admin_secret: text("admin_secret").map_or(Field::Null, Field::Known),
            ..found
        };
        Ok(found.to_value())
    }
}
