//! Bad input across the provider block and every resource, through the real terraform CLI
//! against the stack: each configuration is refused by `terraform plan` (validation, or the first
//! contact with Kafka or Kubernetes) with a diagnostic that points at the attribute and says what
//! would be accepted, and the cluster is the same afterwards as before.

mod support;

use std::collections::BTreeSet;

use support::terraform::Workspace;
use support::{Stack, check, stdout, unique};

/// One refused configuration and what must appear in Terraform's output. `attribute` names the
/// offending attribute: a top-level one must be the line Terraform quotes under the diagnostic
/// (which it finds only through the attribute path the provider gave); a nested one, which
/// Terraform cannot quote, must be named in the text; empty for problems found at the first
/// contact with a cluster, which concern the connection as a whole. `says` are fragments of the
/// summary and of the advice.
struct Case {
    name: String,
    main_tf: String,
    attribute: &'static str,
    says: Vec<&'static str>,
}

const TOPIC_DEFAULTS: &[(&str, &str)] =
    &[("partitions", "3"), ("replication_factor", "2"), ("config", r#"{ "retention.ms" = "3600000" }"#)];

/// A provider block on the stack's plaintext listener and its Kubernetes, unless `provider` is
/// given.
fn provider_block(stack: &Stack, provider: Option<&str>) -> String {
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let body = provider.map(str::to_string).unwrap_or_else(|| format!("kafka = {{ bootstrap_servers = [{servers}] }}"));
    format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\nprovider \"hikube\" {{\n  {body}\n}}\n"
    )
}

/// A resource block from defaults and overrides (`None` removes an attribute).
fn block(kind: &str, defaults: &[(&str, &str)], overrides: &[(&str, Option<&str>)]) -> String {
    let mut attributes: Vec<(String, String)> = defaults.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (key, value) in overrides {
        attributes.retain(|(k, _)| k != key);
        if let Some(value) = value {
            attributes.push((key.to_string(), value.to_string()));
        }
    }
    let body: String = attributes.iter().map(|(k, v)| format!("  {k} = {v}\n")).collect();
    format!("resource \"{kind}\" \"bad\" {{\n{body}}}\n")
}

struct Cases<'a> {
    stack: &'a Stack,
    cases: Vec<Case>,
}

impl Cases<'_> {
    fn push(
        &mut self,
        name: &str,
        provider: Option<&str>,
        resource: String,
        line: &'static str,
        says: &[&'static str],
    ) {
        self.cases.push(Case {
            name: name.to_string(),
            main_tf: format!("{}\n{resource}", provider_block(self.stack, provider)),
            attribute: line,
            says: says.to_vec(),
        });
    }

    fn topic(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let topic_name = format!("\"{}\"", unique("bad-input"));
        let mut all = vec![("name", Some(topic_name.as_str()))];
        all.extend_from_slice(overrides);
        let resource = block("hikube_kafka_topic", TOPIC_DEFAULTS, &all);
        self.push(name, None, resource, line, says);
    }

    fn topic_config(&mut self, key: &str, value: &str, says: &[&'static str]) {
        let config = format!("{{ {key:?} = {value:?} }}");
        let config: &'static str = Box::leak(config.into_boxed_str());
        self.topic(&format!("topic config {key}={value}"), &[("config", Some(config))], "config", says);
    }

    fn ensemble(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let defaults = [("name", "\"bad-zk\""), ("namespace", "\"bad-input\""), ("replicas", "3")];
        let resource = block("hikube_zookeeper_ensemble", &defaults, overrides);
        self.push(name, None, resource, line, says);
    }

    fn cluster(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let defaults = [
            ("name", "\"bad-kafka\""),
            ("namespace", "\"bad-input\""),
            ("replicas", "3"),
            ("zookeeper", "\"bad-zk-zookeeper:2181\""),
            ("deletion_protection", "false"),
        ];
        let resource = block("hikube_kafka_cluster", &defaults, overrides);
        self.push(name, None, resource, line, says);
    }

    fn acl(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let defaults = [
            ("resource_type", "\"Topic\""),
            ("resource_name", "\"orders\""),
            ("acl_principal", "\"User:alice\""),
            ("acl_operation", "\"Read\""),
            ("acl_permission_type", "\"Allow\""),
        ];
        let resource = block("hikube_kafka_acl", &defaults, overrides);
        self.push(name, None, resource, line, says);
    }

    fn user(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let defaults = [("name", "\"bad-user\""), ("password_wo", "\"a-long-enough-password\"")];
        let resource = block("hikube_kafka_user", &defaults, overrides);
        self.push(name, None, resource, line, says);
    }

    fn quota(&mut self, name: &str, overrides: &[(&str, Option<&str>)], line: &'static str, says: &[&'static str]) {
        let defaults = [
            ("entity_type", "\"user\""),
            ("entity_name", "\"alice\""),
            ("config", r#"{ "producer_byte_rate" = "1024" }"#),
        ];
        let resource = block("hikube_kafka_quota", &defaults, overrides);
        self.push(name, None, resource, line, says);
    }

    /// A topic planned under a provider block of its own: connection settings are checked when
    /// the plan first reaches the brokers.
    fn provider(&mut self, name: &str, provider: &str, line: &'static str, says: &[&'static str]) {
        let topic_name = format!("\"{}\"", unique("bad-input"));
        let resource = block("hikube_kafka_topic", TOPIC_DEFAULTS, &[("name", Some(topic_name.as_str()))]);
        self.push(name, Some(provider), resource, line, says);
    }

    /// An ensemble planned under a provider block of its own: the Kubernetes connection is
    /// checked when the plan first reaches the API server.
    fn kube_provider(&mut self, name: &str, provider: &str, line: &'static str, says: &[&'static str]) {
        let resource =
            block("hikube_zookeeper_ensemble", &[("name", "\"bad-zk\""), ("namespace", "\"bad-input\"")], &[]);
        self.push(name, Some(provider), resource, line, says);
    }
}

fn pem_of_another_ca() -> String {
    let mut params = rcgen::CertificateParams::new(vec!["not-the-stack-ca".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn all_cases(stack: &Stack, dir: &std::path::Path) -> Vec<Case> {
    let mut c = Cases { stack, cases: Vec::new() };

    // hikube_kafka_topic: names.
    let long_name = format!("\"{}\"", "t".repeat(250));
    let long_name: &'static str = Box::leak(long_name.into_boxed_str());
    for (label, value) in [
        ("empty name", r#""""#),
        ("name with a space", r#""orders events""#),
        ("name with a slash", r#""orders/events""#),
        ("name with a colon", r#""orders:v1""#),
        ("name with an accent", r#""commandés""#),
        ("name '.'", r#"".""#),
        ("name '..'", r#""..""#),
        ("name of 250 characters", long_name),
        ("name with a star", r#""orders*""#),
        ("name with a comma", r#""a,b""#),
    ] {
        c.topic(label, &[("name", Some(value))], "name", &["Invalid topic name"]);
    }
    // Numbers.
    for (label, value, says) in [
        ("zero partitions", "0", "at least 1"),
        ("negative partitions", "-4", "at least 1"),
        ("fractional partitions", "1.5", "whole number"),
        ("partitions beyond i32", "2147483648", "whole number"),
    ] {
        c.topic(label, &[("partitions", Some(value))], "partitions", &["Invalid partition count", says]);
    }
    c.topic(
        "partitions as a word",
        &[("partitions", Some(r#""many""#))],
        "partitions",
        &["Incorrect attribute value type"],
    );
    c.topic("partitions as a list", &[("partitions", Some("[3]"))], "partitions", &["Incorrect attribute value type"]);
    for (label, value, says) in [
        ("zero replication factor", "0", "at least 1"),
        ("negative replication factor", "-2", "at least 1"),
        ("fractional replication factor", "2.5", "whole number"),
        ("replication factor beyond i16", "40000", "whole number"),
    ] {
        c.topic(
            label,
            &[("replication_factor", Some(value))],
            "replication_factor",
            &["Invalid replication factor", says],
        );
    }
    c.topic(
        "replication factor above the live broker count",
        &[("replication_factor", Some("4"))],
        "replication_factor",
        &["Replication factor above the broker count", "3 live broker"],
    );
    c.topic(
        "replication factor as a word",
        &[("replication_factor", Some(r#""three""#))],
        "replication_factor",
        &["Incorrect attribute value type"],
    );
    c.topic(
        "missing partitions",
        &[("partitions", None)],
        "resource \"hikube_kafka_topic\"",
        &["Missing required argument", "partitions"],
    );
    c.topic("unknown attribute", &[("retention", Some("7"))], "retention", &["Unsupported argument"]);
    c.topic(
        "config as a list",
        &[("config", Some(r#"["retention.ms=1"]"#))],
        "config",
        &["Incorrect attribute value type"],
    );
    c.topic("timeout in parsecs", &[("timeout", Some(r#""5 parsecs""#))], "timeout", &["Invalid timeout"]);
    c.topic("negative timeout", &[("timeout", Some(r#""-5m""#))], "timeout", &["Invalid timeout"]);
    c.topic("zero timeout", &[("timeout", Some(r#""0s""#))], "timeout", &["Invalid timeout"]);
    c.topic(
        "timeout of 2^64 seconds",
        &[("timeout", Some(r#""18446744073709551615s""#))],
        "timeout",
        &["Invalid timeout", "24h"],
    );
    c.topic("timeout of 25 hours", &[("timeout", Some(r#""25h""#))], "timeout", &["Invalid timeout", "24h"]);
    // Topic configuration keys Kafka 3.9 does not know, or knows only at broker level.
    for key in ["retention.msx", "foo.bar", "log.retention.ms", "num.partitions", "retention", "cleanup-policy"] {
        c.topic_config(key, "1", &["Invalid topic configuration", "is not a topic configuration key of Kafka 3.9"]);
    }
    // Values Kafka would refuse.
    for (key, value) in [
        ("retention.ms", "a week"),
        ("retention.ms", "-5"),
        ("retention.ms", "1e9"),
        ("retention.bytes", "10GB"),
        ("cleanup.policy", "compactt"),
        ("cleanup.policy", "delete,archive"),
        ("compression.type", "brotli"),
        ("min.insync.replicas", "0"),
        ("segment.bytes", "10"),
        ("segment.ms", "0"),
        ("max.message.bytes", "-1"),
        ("message.timestamp.type", "Now"),
        ("unclean.leader.election.enable", "maybe"),
        ("min.cleanable.dirty.ratio", "1.5"),
        ("preallocate", "yes"),
        ("delete.retention.ms", "x"),
        ("index.interval.bytes", "-1"),
        ("flush.messages", "0"),
        ("segment.index.bytes", "3"),
        ("message.downconversion.enable", "1"),
    ] {
        c.topic_config(key, value, &["Invalid topic configuration"]);
    }
    c.topic_config(
        "leader.replication.throttled.replicas",
        "*",
        &["Invalid topic configuration", "set by a partition move"],
    );
    // The topic's own connection.
    for (label, kafka, line, says) in [
        (
            "topic: empty bootstrap list",
            "{ bootstrap_servers = [] }",
            "kafka.bootstrap_servers",
            &["No bootstrap servers", "host:port"][..],
        ),
        (
            "topic: server without port",
            r#"{ bootstrap_servers = ["kafka-0"] }"#,
            "kafka.bootstrap_servers[0]",
            &["Invalid bootstrap server", "host:port"],
        ),
        (
            "topic: port not a number",
            r#"{ bootstrap_servers = ["kafka-0:http"] }"#,
            "kafka.bootstrap_servers[0]",
            &["Invalid bootstrap server"],
        ),
        (
            "topic: port out of range",
            r#"{ bootstrap_servers = ["kafka-0:70000"] }"#,
            "kafka.bootstrap_servers[0]",
            &["Invalid bootstrap server"],
        ),
        (
            "topic: SASL mechanism GSSAPI",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "GSSAPI", username = "u", password_env = "PW" } }"#,
            "kafka.sasl.mechanism",
            &["Unsupported SASL mechanism", "SCRAM-SHA-512"],
        ),
        (
            "topic: SASL without password",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "PLAIN", username = "u" } }"#,
            "kafka.sasl.password_env",
            &["Incomplete SASL credentials", "password"],
        ),
        (
            "topic: credentials Secret that names no Secret",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { credentials_secret = "kafka/admin/password" } }"#,
            "kafka.sasl.credentials_secret",
            &["Invalid Secret reference"],
        ),
        (
            "topic: password beside a credentials Secret",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { credentials_secret = "events-kafka-admin", username = "u", password_env = "PW" } }"#,
            "kafka.sasl.username",
            &["Two sources of SASL credentials"],
        ),
        (
            "topic: password written in the resource, kept in the state",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "SCRAM-SHA-512", username = "u", password = "p" } }"#,
            "kafka.sasl.password",
            &["Secret would be kept in the state", "password_env"],
        ),
        (
            "topic: client key written in the resource, kept in the state",
            r#"{ bootstrap_servers = ["kafka-0:9093"], tls = { client_cert = "-----BEGIN CERTIFICATE-----", client_key = "k" } }"#,
            "kafka.tls.client_key",
            &["Secret would be kept in the state", "client_key_env"],
        ),
        (
            "topic: password and password_env",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "SCRAM-SHA-512", username = "u", password = "p", password_env = "PW" } }"#,
            "kafka.sasl.password_env",
            &["Two sources of the SASL password"],
        ),
        (
            "topic: password_env that names no variable",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "SCRAM-SHA-512", username = "u", password_env = "kafka-password" } }"#,
            "kafka.sasl.password_env",
            &["Invalid environment variable name", "letters, digits and _"],
        ),
        (
            "topic: client_key_env that names no variable",
            r#"{ bootstrap_servers = ["kafka-0:9093"], tls = { client_cert = "-----BEGIN CERTIFICATE-----", client_key_env = "1KEY" } }"#,
            "kafka.tls.client_key_env",
            &["Invalid environment variable name"],
        ),
        (
            "topic: tunnel to a namespace that cannot exist",
            r#"{ bootstrap_servers = ["kafka-0:9092"], tunnel = { namespace = "Data_Team" } }"#,
            "kafka.tunnel.namespace",
            &["Invalid namespace", "DNS label"],
        ),
        (
            "topic: CA that is not PEM",
            r#"{ bootstrap_servers = ["kafka-0:9092"], tls = { ca_cert = "not a certificate" } }"#,
            "kafka.tls.ca_cert",
            &["Invalid CA certificate", "PEM"],
        ),
        (
            "topic: client certificate without key",
            r#"{ bootstrap_servers = ["kafka-0:9092"], tls = { client_cert = "-----BEGIN CERTIFICATE-----" } }"#,
            "kafka.tls.client_key_env",
            &["Incomplete client certificate", "client_key"],
        ),
        (
            "topic: request timeout not a duration",
            r#"{ bootstrap_servers = ["kafka-0:9092"], request_timeout = "soon" }"#,
            "kafka.request_timeout",
            &["Invalid timeout"],
        ),
        (
            "topic: request timeout overflowing the parser",
            r#"{ bootstrap_servers = ["kafka-0:9092"], request_timeout = "18446744073709551615s1s" }"#,
            "kafka.request_timeout",
            &["Invalid timeout", "24h"],
        ),
        (
            "topic: SASL PLAIN over plaintext",
            r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "PLAIN", username = "u", password_env = "PW" } }"#,
            "kafka.sasl.mechanism",
            &["SASL PLAIN without TLS", "tls"],
        ),
        (
            "topic: bootstrap list as a string",
            r#"{ bootstrap_servers = "kafka-0:9092" }"#,
            "kafka",
            &["Incorrect attribute value type"],
        ),
    ] {
        c.topic(label, &[("kafka", Some(kafka))], line, says);
    }

    // hikube_zookeeper_ensemble.
    for (label, replicas, says) in [
        ("ensemble of 2", "2", &["odd number", "1, 3, 5"][..]),
        ("ensemble of 4", "4", &["odd number"]),
        ("ensemble of 0", "0", &["replicas"]),
        ("ensemble of -1", "-1", &["replicas"]),
        ("ensemble of 1.5", "1.5", &["replicas"]),
        ("ensemble of 101", "101", &["replicas"]),
    ] {
        c.ensemble(label, &[("replicas", Some(replicas))], "replicas", says);
    }
    c.ensemble(
        "ensemble replicas as a word",
        &[("replicas", Some(r#""three""#))],
        "replicas",
        &["Incorrect attribute value type"],
    );
    for (label, name) in [
        ("ensemble name with capitals", r#""Events""#),
        ("ensemble name with underscore", r#""events_zk""#),
        ("ensemble name starting with '-'", r#""-events""#),
        ("empty ensemble name", r#""""#),
        ("ensemble name of 41 characters", r#""aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#),
    ] {
        c.ensemble(label, &[("name", Some(name))], "name", &["Invalid name", "lowercase"]);
    }
    c.ensemble(
        "ensemble namespace with capitals",
        &[("namespace", Some(r#""Kafka""#))],
        "namespace",
        &["Invalid namespace"],
    );
    c.ensemble(
        "ensemble preset huge",
        &[("resources_preset", Some(r#""huge""#))],
        "resources_preset",
        &["Unknown preset", "nano"],
    );
    c.ensemble(
        "ensemble storage 10GB",
        &[("storage_size", Some(r#""10GB""#))],
        "storage_size",
        &["Invalid storage size", "10Gi"],
    );
    c.ensemble(
        "ensemble storage negative",
        &[("storage_size", Some(r#""-1Gi""#))],
        "storage_size",
        &["Invalid storage size"],
    );
    c.ensemble("ensemble storage zero", &[("storage_size", Some(r#""0""#))], "storage_size", &["Invalid storage size"]);
    c.ensemble(
        "ensemble CPU lots",
        &[("resources", Some(r#"{ cpu = "lots", memory = "1Gi" }"#))],
        "resources.cpu",
        &["Invalid CPU", "500m"],
    );
    c.ensemble(
        "ensemble memory 1 GB",
        &[("resources", Some(r#"{ cpu = "1", memory = "1 GB" }"#))],
        "resources.memory",
        &["Invalid memory"],
    );
    c.ensemble(
        "ensemble memory too small",
        &[("resources", Some(r#"{ cpu = "1", memory = "64Mi" }"#))],
        "resources.memory",
        &["Invalid memory"],
    );
    c.ensemble("ensemble timeout forever", &[("timeout", Some(r#""forever""#))], "timeout", &["Invalid timeout"]);
    c.ensemble(
        "ensemble delete_volumes as a word",
        &[("delete_volumes", Some(r#""please""#))],
        "delete_volumes",
        &["Incorrect attribute value type"],
    );
    c.ensemble(
        "ensemble wait as a word",
        &[("wait", Some(r#""sometimes""#))],
        "wait",
        &["Incorrect attribute value type"],
    );
    c.ensemble(
        "ensemble storage class with capitals",
        &[("storage_class", Some(r#""Fast_SSD""#))],
        "storage_class",
        &["Invalid storage class name", "fast-ssd"],
    );
    c.ensemble("ensemble empty image", &[("image", Some(r#""""#))], "image", &["Invalid image"]);
    c.ensemble("ensemble unknown attribute", &[("heap", Some(r#""1g""#))], "heap", &["Unsupported argument"]);
    c.ensemble(
        "ensemble chart that does not exist",
        &[(
            "chart",
            Some(&*Box::leak(
                format!("{{ reference = {:?} }}", dir.join("no-such-chart").display().to_string()).into_boxed_str(),
            )),
        )],
        "resource \"hikube_zookeeper_ensemble\"",
        &["chart"],
    );

    // hikube_kafka_cluster.
    for (label, replicas) in
        [("no brokers", "0"), ("negative brokers", "-3"), ("101 brokers", "101"), ("2.5 brokers", "2.5")]
    {
        c.cluster(label, &[("replicas", Some(replicas))], "replicas", &["Invalid member count", "from 1 to 100"]);
    }
    for (label, zookeeper) in [
        ("empty ZooKeeper connect string", r#""""#),
        ("ZooKeeper without port", r#""zk-0""#),
        ("ZooKeeper with a chroot", r#""zk-0:2181/kafka""#),
        ("ZooKeeper port not a number", r#""zk-0:zk""#),
    ] {
        c.cluster(
            label,
            &[("zookeeper", Some(zookeeper))],
            "zookeeper",
            &["Invalid ZooKeeper connect string", "host:port"],
        );
    }
    c.cluster(
        "chroot without slash",
        &[("zookeeper_chroot", Some(r#""kafka""#))],
        "zookeeper_chroot",
        &["Invalid chroot"],
    );
    c.cluster(
        "broker setting with '='",
        &[("config", Some(r#"{ "num.partitions=3" = "3" }"#))],
        "config",
        &["Invalid broker setting"],
    );
    c.cluster(
        "broker setting on two lines",
        &[("config", Some(r#"{ "num.partitions" = "3\n4" }"#))],
        "config",
        &["Invalid broker setting"],
    );
    c.cluster(
        "broker setting with a space",
        &[("config", Some(r#"{ "num partitions" = "3" }"#))],
        "config",
        &["Invalid broker setting"],
    );
    c.cluster(
        "broker setting moving the data",
        &[("config", Some(r#"{ "log.dirs" = "/tmp/kafka" }"#))],
        "config",
        &["Invalid broker setting", "log.dirs cannot be set"],
    );
    c.cluster(
        "broker setting replacing the listeners",
        &[("config", Some(r#"{ "listeners" = "PLAINTEXT://:9999" }"#))],
        "config",
        &["Invalid broker setting", "listeners cannot be set"],
    );
    c.cluster(
        "broker setting making everyone a super user",
        &[("config", Some(r#"{ "super.users" = "User:*" }"#))],
        "config",
        &["Invalid broker setting", "super.users cannot be set"],
    );
    c.cluster(
        "broker setting continued on the next line",
        &[("config", Some(r#"{ "num.partitions" = "3\\" }"#))],
        "config",
        &["Invalid broker setting"],
    );
    c.cluster(
        "ZooKeeper connect string with a line of its own",
        &[("zookeeper", Some(r#""zk:2181\nlog.dirs=/tmp:2181""#))],
        "zookeeper",
        &["Invalid ZooKeeper connect string"],
    );
    c.cluster(
        "external without domain",
        &[("external", Some("true"))],
        "external",
        &["External access needs a domain", "external_domain"],
    );
    c.cluster(
        "rebalance throttle of one byte per second",
        &[("rebalance_throttle", Some("1"))],
        "rebalance_throttle",
        &["Invalid throttle", "at least 1024"],
    );
    c.cluster(
        "cluster authentication SCRAM-SHA-1",
        &[("authentication", Some(r#""SCRAM-SHA-1""#))],
        "authentication",
        &["Invalid authentication", "SCRAM-SHA-512"],
    );
    c.cluster(
        "external access without authentication",
        &[
            ("external", Some("true")),
            ("external_domain", Some(r#""kafka.example.com""#)),
            ("authentication", Some(r#""none""#)),
        ],
        "authentication",
        &["External access needs authentication"],
    );
    c.cluster(
        "LoadBalancer source range without its prefix length",
        &[
            ("external", Some("true")),
            ("external_domain", Some(r#""kafka.example.com""#)),
            ("load_balancer_source_ranges", Some(r#"["10.0.0.0"]"#)),
        ],
        "load_balancer_source_ranges",
        &["Invalid source range", "CIDR"],
    );
    c.cluster(
        "LoadBalancer source ranges without LoadBalancers",
        &[("load_balancer_source_ranges", Some(r#"["10.0.0.0/8"]"#))],
        "load_balancer_source_ranges",
        &["Source ranges without LoadBalancers"],
    );
    c.cluster(
        "cluster preset giant",
        &[("resources_preset", Some(r#""giant""#))],
        "resources_preset",
        &["Unknown preset"],
    );
    c.cluster(
        "cluster storage 100 gigs",
        &[("storage_size", Some(r#""100 gigs""#))],
        "storage_size",
        &["Invalid storage size"],
    );
    c.cluster("cluster name with dots", &[("name", Some(r#""events.kafka""#))], "name", &["Invalid name"]);
    c.cluster(
        "cluster namespace too long",
        &[("namespace", Some(&*Box::leak(format!("\"{}\"", "n".repeat(64)).into_boxed_str())))],
        "namespace",
        &["Invalid namespace"],
    );
    c.cluster(
        "cluster timeout 10 minutes in words",
        &[("timeout", Some(r#""ten minutes""#))],
        "timeout",
        &["Invalid timeout"],
    );
    c.cluster(
        "deletion protection as a word",
        &[("deletion_protection", Some(r#""maybe""#))],
        "deletion_protection",
        &["Incorrect attribute value type"],
    );
    c.cluster(
        "missing zookeeper",
        &[("zookeeper", None)],
        "resource \"hikube_kafka_cluster\"",
        &["Missing required argument", "zookeeper"],
    );
    c.cluster(
        "cluster CPU zero",
        &[("resources", Some(r#"{ cpu = "0", memory = "2Gi" }"#))],
        "resources.cpu",
        &["Invalid CPU"],
    );
    c.cluster(
        "TLS secret with capitals",
        &[("tls_secret_name", Some(r#""Kafka_TLS""#))],
        "tls_secret_name",
        &["Invalid Secret name"],
    );
    c.cluster(
        "external domain with a space",
        &[("external", Some("true")), ("external_domain", Some(r#""kafka example.com""#))],
        "external_domain",
        &["Invalid DNS domain"],
    );

    // The provider block: settings refused before any contact.
    for (label, provider, line, says) in [
        (
            "provider: empty bootstrap list",
            "kafka = { bootstrap_servers = [] }",
            "kafka.bootstrap_servers",
            &["No bootstrap servers"][..],
        ),
        (
            "provider: server without port",
            r#"kafka = { bootstrap_servers = ["localhost"] }"#,
            "kafka.bootstrap_servers[0]",
            &["Invalid bootstrap server"],
        ),
        (
            "provider: unknown SASL mechanism",
            r#"kafka = { bootstrap_servers = ["localhost:9092"], sasl = { mechanism = "OAUTHBEARER", username = "u", password = "p" } }"#,
            "kafka.sasl.mechanism",
            &["Unsupported SASL mechanism"],
        ),
        (
            "provider: CA not PEM",
            r#"kafka = { bootstrap_servers = ["localhost:9092"], tls = { ca_cert = "MIIB..." } }"#,
            "kafka.tls.ca_cert",
            &["Invalid CA certificate"],
        ),
        (
            "provider: key without certificate",
            r#"kafka = { bootstrap_servers = ["localhost:9092"], tls = { client_key = "k" } }"#,
            "kafka.tls.client_cert",
            &["Incomplete client certificate"],
        ),
        (
            "provider: request timeout words",
            r#"kafka = { bootstrap_servers = ["localhost:9092"], request_timeout = "a while" }"#,
            "kafka.request_timeout",
            &["Invalid timeout"],
        ),
        (
            "provider: request timeout of 2^64 seconds",
            r#"kafka = { bootstrap_servers = ["localhost:9092"], request_timeout = "18446744073709551615s" }"#,
            "kafka.request_timeout",
            &["Invalid timeout", "24h"],
        ),
        (
            "provider: namespace with capitals",
            r#"namespace = "Kafka""#,
            "namespace",
            &["Invalid namespace", "lowercase"],
        ),
        ("provider: token without host", r#"kubernetes = { token = "t" }"#, "kubernetes.host", &["Token without host"]),
        ("provider: unknown attribute", r#"region = "eu-west-1""#, "region", &["Unsupported argument"]),
        ("provider: kafka as a string", r#"kafka = "localhost:9092""#, "kafka", &["Incorrect attribute value type"]),
    ] {
        c.provider(label, provider, line, says);
    }

    // Connection settings refused at the first contact, during plan.
    let plain = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let sasl = stack.sasl_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let ca = std::fs::read_to_string(&stack.kafka_ca).unwrap();
    let other_ca = pem_of_another_ca();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    c.provider(
        "wrong SASL password",
        leak(format!(
            "kafka = {{\n    bootstrap_servers = [{sasl}]\n    tls = {{ ca_cert = {ca:?} }}\n    sasl = {{ mechanism = \"SCRAM-SHA-512\", username = {:?}, password = \"not-the-password\" }}\n  }}",
            stack.sasl_username
        )),
        "",
        &["SASL authentication failed", "password"],
    );
    c.topic(
        "topic: password_env not set where terraform runs",
        &[(
            "kafka",
            Some(leak(format!(
                "{{\n    bootstrap_servers = [{sasl}]\n    tls = {{ ca_cert = {ca:?} }}\n    sasl = {{ mechanism = \"SCRAM-SHA-512\", username = {:?}, password_env = \"HIKUBE_BAD_INPUT_UNSET\" }}\n  }}",
                stack.sasl_username
            ))),
        )],
        "kafka.sasl.password_env",
        &["Credential not in the environment", "HIKUBE_BAD_INPUT_UNSET"],
    );
    c.provider(
        "unreachable bootstrap address",
        r#"kafka = { bootstrap_servers = ["127.0.0.1:1"], request_timeout = "3s" }"#,
        "",
        &["Cannot reach Kafka", "127.0.0.1:1"],
    );
    c.provider(
        "TLS CA that does not match",
        leak(format!(
            "kafka = {{\n    bootstrap_servers = [{sasl}]\n    tls = {{ ca_cert = {other_ca:?} }}\n    sasl = {{ mechanism = \"SCRAM-SHA-512\", username = {:?}, password = \"x\" }}\n  }}",
            stack.sasl_username
        )),
        "",
        &["certificate", "ca_cert"],
    );
    c.provider(
        "TLS against the plaintext listener",
        leak(format!("kafka = {{\n    bootstrap_servers = [{plain}]\n    tls = {{ ca_cert = {ca:?} }}\n  }}")),
        "",
        &["TLS"],
    );
    let broken = dir.join("broken-kubeconfig");
    std::fs::write(&broken, "apiVersion: v1\nclusters: [this is not\n").unwrap();
    c.kube_provider(
        "broken kubeconfig",
        leak(format!("kubernetes = {{ config_path = {:?} }}", broken.display().to_string())),
        "",
        &["Cannot reach Kubernetes", "kubernetes settings"],
    );
    c.kube_provider(
        "kubeconfig that does not exist",
        leak(format!("kubernetes = {{ config_path = {:?} }}", dir.join("nope").display().to_string())),
        "",
        &["Cannot reach Kubernetes", "kubernetes settings"],
    );
    c.kube_provider(
        "kubeconfig context that does not exist",
        leak(format!(
            "kubernetes = {{\n    config_path = {:?}\n    config_context = \"prod\"\n  }}",
            stack.kubeconfig.display().to_string()
        )),
        "",
        &["Cannot reach Kubernetes", "prod"],
    );
    c.kube_provider(
        "API server token that is wrong",
        r#"kubernetes = {
    host     = "https://127.0.0.1:16443"
    token    = "not-a-token"
    insecure = true
  }"#,
        "",
        &["Unauthorized", "kubernetes settings"],
    );
    c.kube_provider(
        "API server that does not answer",
        r#"kubernetes = {
    host     = "https://127.0.0.1:1"
    token    = "t"
    insecure = true
  }"#,
        "",
        &["kubernetes settings"],
    );

    // hikube_kafka_acl.
    for (label, attribute, value, says) in [
        ("unknown resource type", "resource_type", r#""Topics""#, "Invalid resource type"),
        ("resource type in capitals", "resource_type", r#""TOPIC""#, "Invalid resource type"),
        ("empty resource name", "resource_name", r#""""#, "Invalid resource name"),
        ("unknown pattern type", "resource_pattern_type_filter", r#""Match""#, "Invalid pattern type"),
        ("principal without a type", "acl_principal", r#""alice""#, "Invalid principal"),
        ("principal with a pipe", "acl_principal", r#""User:a|b""#, "Invalid principal"),
        ("empty host", "acl_host", r#""""#, "Invalid host"),
        ("unknown operation", "acl_operation", r#""Produce""#, "Invalid operation"),
        ("unknown permission", "acl_permission_type", r#""Maybe""#, "Invalid permission type"),
    ] {
        c.acl(label, &[(attribute, Some(value))], attribute, &[says]);
    }
    c.acl(
        "cluster ACL on another name",
        &[("resource_type", Some(r#""Cluster""#)), ("resource_name", Some(r#""prod""#))],
        "resource_name",
        &["Invalid cluster ACL", "kafka-cluster"],
    );
    c.acl(
        "prefixed wildcard",
        &[("resource_name", Some(r#""*""#)), ("resource_pattern_type_filter", Some(r#""Prefixed""#))],
        "resource_pattern_type_filter",
        &["A prefix cannot be a wildcard", "Literal"],
    );
    c.acl("ACL without an operation", &[("acl_operation", None)], "", &["acl_operation", "required"]);

    // hikube_kafka_user.
    for (label, attribute, value, says) in [
        ("user name with a pipe", "name", r#""a|b""#, "Invalid user name"),
        ("empty user name", "name", r#""""#, "Invalid user name"),
        ("user named ANONYMOUS", "name", r#""ANONYMOUS""#, "reserved"),
        ("PLAIN is no SCRAM mechanism", "mechanism", r#""PLAIN""#, "Invalid mechanism"),
        ("too few iterations", "iterations", "100", "Invalid iteration count"),
        ("too many iterations", "iterations", "20000", "Invalid iteration count"),
        ("short password", "password_wo", r#""short""#, "Invalid password"),
    ] {
        c.user(label, &[(attribute, Some(value))], attribute, &[says]);
    }

    // hikube_kafka_quota.
    for (label, attribute, value, says) in [
        ("unknown entity type", "entity_type", r#""group""#, "Invalid entity type"),
        ("empty entity name", "entity_name", r#""""#, "Invalid entity name"),
        ("entity name with a pipe", "entity_name", r#""a|b""#, "Invalid entity name"),
        ("client ID with a pipe", "client_id", r#""app|x""#, "Invalid client ID"),
        ("negative rate", "config", r#"{ "producer_byte_rate" = "-1" }"#, "Invalid quota"),
        ("zero rate", "config", r#"{ "consumer_byte_rate" = "0" }"#, "Invalid quota"),
        ("rate in words", "config", r#"{ "consumer_byte_rate" = "fast" }"#, "Invalid quota"),
        ("unknown quota key", "config", r#"{ "fetch_rate" = "10" }"#, "Invalid quota"),
        ("an IP's key on a user", "config", r#"{ "connection_creation_rate" = "10" }"#, "Invalid quota"),
        ("no quota at all", "config", "{}", "No quota"),
    ] {
        c.quota(label, &[(attribute, Some(value))], attribute, &[says]);
    }
    c.quota(
        "client ID on a client-id entity",
        &[("entity_type", Some(r#""client-id""#)), ("client_id", Some(r#""app""#))],
        "client_id",
        &["A client ID narrows a user's quota only"],
    );

    // Every resource and data source with a connection of its own refuses a password written in
    // it: Terraform would keep it in the state.
    let kept = r#"{ bootstrap_servers = ["kafka-0:9092"], sasl = { mechanism = "SCRAM-SHA-512", username = "u", password = "p" } }"#;
    let refused = "kafka.sasl.password";
    let says = &["Secret would be kept in the state", "password_env"][..];
    c.acl("ACL: password kept in the state", &[("kafka", Some(kept))], refused, says);
    c.user("user: password kept in the state", &[("kafka", Some(kept))], refused, says);
    c.quota("quota: password kept in the state", &[("kafka", Some(kept))], refused, says);
    c.cluster("cluster: password kept in the state", &[("kafka", Some(kept))], refused, says);
    for data_source in ["hikube_kafka_topic\" \"t\" {\n  name = \"orders\"", "hikube_kafka_topics\" \"all\" {"] {
        c.push(
            &format!("data source {data_source}: password kept in the state"),
            None,
            format!("data \"{data_source}\n  kafka = {kept}\n}}\n"),
            refused,
            says,
        );
    }
    c.cases
}

/// What the bad plans must not have changed: topics, Helm releases and namespaces.
fn snapshot(stack: &Stack) -> (BTreeSet<String>, String, String) {
    let topics = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--list"],
        ),
        "kafka-topics --list",
    );
    let releases = check(stack.helm(&["list", "--all-namespaces", "--all", "-q"]), "helm list");
    // Namespaces that earlier tests are still deleting go on their own time: only live ones count.
    let namespaces =
        stdout(&stack.kubectl(&["get", "namespaces", "--field-selector", "status.phase=Active", "-o", "name"]));
    (topics.lines().map(str::to_string).collect(), releases, namespaces)
}

fn refused(stack: &Stack, case: &Case) -> Result<(), String> {
    let workspace = Workspace::new(stack);
    workspace.write(&case.main_tf);
    let output = workspace.terraform(&["plan", "-no-color", "-input=false"]);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        return Err(format!("{}: plan succeeded\n{text}", case.name));
    }
    // Terraform quotes the offending line as "  N:   <line>".
    let named = match case.attribute {
        "" => true,
        nested if nested.contains(['.', '[']) => text.contains(nested),
        top_level => text.lines().any(|l| {
            l.split_once(':')
                .is_some_and(|(n, rest)| n.trim().parse::<u32>().is_ok() && rest.trim_start().starts_with(top_level))
        }),
    };
    let missing: Vec<&str> = case.says.iter().copied().filter(|s| !text.contains(s)).collect();
    if !named || !missing.is_empty() {
        return Err(format!(
            "{}: refused, but {}{}\n{text}",
            case.name,
            if named { String::new() } else { format!("`{}` is not named; ", case.attribute) },
            if missing.is_empty() { String::new() } else { format!("missing {missing:?}") }
        ));
    }
    Ok(())
}

/// Each test compares the cluster before and after: the other's changes must not fall in between.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn over_a_hundred_bad_configurations_are_refused_at_plan_and_change_nothing() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases = all_cases(&stack, dir.path());
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let before = snapshot(&stack);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<&[Case]> = cases.chunks(cases.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let stack = &stack;
                scope.spawn(move || chunk.iter().filter_map(|case| refused(stack, case).err()).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let after = snapshot(&stack);
    assert!(
        failures.is_empty(),
        "{} of {} cases not refused as expected:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert_eq!(before.0, after.0, "topics changed");
    assert_eq!(before.1, after.1, "Helm releases changed");
    assert_eq!(before.2, after.2, "namespaces changed");
    eprintln!("{} bad configurations refused at plan; topics, releases and namespaces unchanged", cases.len());
}

/// Changes that only an existing resource can refuse: fewer partitions, a smaller volume, a
/// replacement that would claim the old volumes again.
#[test]
fn decreases_kafka_and_kubernetes_cannot_make_are_refused_at_plan() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let topic = unique("bad-decrease");
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let namespace = unique("bad-shrink");
    let _cleanup = stack.namespace_cleanup(&namespace);
    let config = |partitions: u32, size: &str| {
        format!(
            "{}\nresource \"hikube_kafka_topic\" \"t\" {{\n  name = {topic:?}\n  partitions = {partitions}\n  replication_factor = 2\n}}\n\nresource \"hikube_zookeeper_ensemble\" \"zk\" {{\n  name = \"zk\"\n  namespace = {namespace:?}\n  replicas = 1\n  resources_preset = \"nano\"\n  storage_size = {size:?}\n}}\n",
            provider_block(&stack, Some(&format!("kafka = {{ bootstrap_servers = [{servers}] }}")))
        )
    };
    let workspace = Workspace::new(&stack);
    workspace.write(&config(4, "2Gi"));
    workspace.apply();
    let before = snapshot(&stack);

    workspace.write(&config(2, "2Gi"));
    let text = workspace.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(text.contains("Kafka cannot remove partitions") && text.contains("partitions = 2"), "{text}");
    workspace.write(&config(4, "1Gi"));
    let text = workspace.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(text.contains("Volumes cannot shrink") && text.contains("storage_size"), "{text}");
    // A new storage class replaces the ensemble, whose pods would claim the kept volumes again.
    workspace.write(
        &config(4, "2Gi")
            .replace("storage_size = \"2Gi\"", "storage_size = \"2Gi\"\n  storage_class = \"kwok-volume\""),
    );
    let text = workspace.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(text.contains("would reuse the old volumes") && text.contains("delete_volumes"), "{text}");

    assert_eq!(before, snapshot(&stack), "a refused plan changed the cluster");
    workspace.write(&config(4, "2Gi"));
    workspace.assert_no_changes();
    workspace.destroy();
}
