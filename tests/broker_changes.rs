//! Changes to a running cluster on the stack's real node, through the real terraform, while a
//! producer with acks=all writes to a topic of replication factor 3 and min.insync.replicas 2:
//! a roll held by a broker that is slow to catch up (its replication throttled) stops with the
//! partitions that hold it, and the next apply finishes it without restarting a broker twice;
//! three brokers grow to five with the partitions spread over the new ones, and shrink back to
//! three with the leaving brokers drained first. No send fails, no acknowledged record is lost,
//! a consumer reading throughout reads every one, and the time per restart and per GiB moved is
//! printed for docs/benchmarks.md.
//!
//! One deployment serves every step: five brokers take most of this 2-core machine.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use support::deployed::Deployed;
use support::terraform::{Workspace, provider_in};
use support::{Stack, check, unique};

/// A one-member ensemble (the least CPU) and a cluster of `brokers`, with the topic whose records
/// must never be lost, and a topic of bulk data whose moves are timed.
fn config(namespace: &str, brokers: u32, broker_config: &str, extra: &str) -> String {
    format!(
        r#"{provider}

resource "hikube_zookeeper_ensemble" "zk" {{
  name           = "events"
  replicas       = 1
  storage_class  = "hikube-local"
  storage_size   = "1Gi"
  resources      = {{ cpu = "100m", memory = "256Mi" }}
  delete_volumes = true
}}

resource "hikube_kafka_cluster" "kafka" {{
  name                = "events"
  replicas            = {brokers}
  zookeeper           = hikube_zookeeper_ensemble.zk.connect_string
  storage_class       = "hikube-local"
  storage_size        = "2Gi"
  resources           = {{ cpu = "250m", memory = "1Gi" }}
  config              = {{ {broker_config} }}
  rebalance_on_scale  = true
  deletion_protection = false
  delete_volumes      = true
  {extra}
}}

locals {{
  kafka = {{
    bootstrap_servers = hikube_kafka_cluster.kafka.bootstrap_servers
    sasl              = {{ credentials_secret = hikube_kafka_cluster.kafka.admin_secret }}
    tunnel            = {{ namespace = "{namespace}" }}
  }}
}}

resource "hikube_kafka_topic" "acked" {{
  name               = "acked"
  partitions         = 6
  replication_factor = 3
  config             = {{ "min.insync.replicas" = "2" }}
  kafka              = local.kafka
}}

resource "hikube_kafka_topic" "slow" {{
  name               = "slow"
  partitions         = 6
  replication_factor = 3
  kafka              = local.kafka
}}

resource "hikube_kafka_topic" "bulk" {{
  name               = "bulk"
  partitions         = 6
  replication_factor = 2
  kafka              = local.kafka
}}
"#,
        provider = provider_in(namespace)
    )
}

impl Deployed<'_> {
    /// Each partition's replicas, as Kafka's own tool describes the topic.
    fn replicas(&self, topic: &str) -> BTreeMap<i32, Vec<i32>> {
        let config = self.client_config();
        let mut describe = self.tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &self.bootstrap, "--describe", "--topic", topic, "--command-config", &config],
        );
        let text = check(support::run(&mut describe), "describe topic");
        let field = |line: &str, name: &str| -> Option<String> {
            let rest = &line[line.find(&format!("{name}: "))? + name.len() + 2..];
            Some(rest.split_whitespace().next()?.to_string())
        };
        text.lines()
            .filter_map(|line| {
                let partition = field(line, "Partition")?.parse().ok()?;
                let replicas = field(line, "Replicas")?.split(',').filter_map(|b| b.parse().ok()).collect();
                Some((partition, replicas))
            })
            .collect()
    }

    /// Sets (or with `None` removes) a replication throttle on brokers 0 to 2 and every replica
    /// of `topic`, with Kafka's own tool, each broker told its own rate (as
    /// kafka-reassign-partitions does).
    fn throttle(&self, topic: &str, rate: Option<u32>) {
        let config = self.client_config();
        let alter = |entity: &[&str], change: &[&str]| {
            let mut args = vec!["--bootstrap-server", &self.bootstrap, "--command-config", &config, "--alter"];
            args.extend(entity);
            args.extend(change);
            check(support::run(&mut self.tool("kafka.admin.ConfigCommand", &args)), "kafka-configs");
        };
        let rates = "leader.replication.throttled.rate,follower.replication.throttled.rate";
        let replicas = "leader.replication.throttled.replicas,follower.replication.throttled.replicas";
        let (change, rates, replicas) = match rate {
            Some(r) => (
                "--add-config",
                format!("leader.replication.throttled.rate={r},follower.replication.throttled.rate={r}"),
                "leader.replication.throttled.replicas=*,follower.replication.throttled.replicas=*".to_string(),
            ),
            None => ("--delete-config", rates.to_string(), replicas.to_string()),
        };
        for broker in ["0", "1", "2"] {
            alter(&["--entity-type", "brokers", "--entity-name", broker], &[change, &rates]);
        }
        alter(&["--entity-type", "topics", "--entity-name", topic], &[change, &replicas]);
    }

    /// The dynamic configuration of an entity, as Kafka's own tool describes it.
    fn describe_configs(&self, entity: &[&str]) -> String {
        let config = self.client_config();
        let mut args = vec!["--bootstrap-server", &self.bootstrap, "--command-config", &config, "--describe"];
        args.extend(entity);
        check(support::run(&mut self.tool("kafka.admin.ConfigCommand", &args)), "kafka-configs --describe")
    }

    /// Each broker pod's uid: a restart gives a new one.
    fn broker_uids(&self) -> BTreeMap<String, String> {
        self.kubectl(&[
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/instance=events-kafka",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid}{\"\\n\"}{end}",
        ])
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
    }

    /// Bytes held by each broker for `topic`, as Kafka's log-dirs tool reports them.
    fn bytes_by_broker(&self, topic: &str) -> BTreeMap<i32, u64> {
        let config = self.client_config();
        let mut describe = self.tool(
            "org.apache.kafka.tools.LogDirsCommand",
            &["--bootstrap-server", &self.bootstrap, "--describe", "--topic-list", topic, "--command-config", &config],
        );
        let text = check(support::run(&mut describe), "kafka-log-dirs");
        let json = text.lines().find(|l| l.starts_with('{')).expect("the tool's JSON line");
        let report: serde_json::Value = serde_json::from_str(json).unwrap();
        report["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let size = b["logDirs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|d| d["partitions"].as_array().cloned().unwrap_or_default())
                    .filter_map(|p| p["size"].as_u64())
                    .sum();
                (b["broker"].as_i64().unwrap() as i32, size)
            })
            .collect()
    }
}

fn all_on(assignment: &BTreeMap<i32, Vec<i32>>, brokers: &BTreeSet<i32>) -> bool {
    assignment.values().flatten().all(|b| brokers.contains(b))
}

#[test]
fn rolls_wait_for_a_slow_broker_and_brokers_join_and_leave_with_their_data() {
    let Some(stack) = Stack::from_env() else { return };
    let namespace = unique("changes");
    let _cleanup = stack.namespace_cleanup(&namespace);
    stack.real_namespace(&namespace);
    let ws = Workspace::new(&stack);
    ws.write(&config(&namespace, 3, "", ""));
    ws.apply();
    let deployed = Deployed {
        stack: &stack,
        bootstrap: format!("events-kafka-bootstrap.{namespace}.svc.cluster.local:9092"),
        namespace: namespace.clone(),
        client: tempfile::tempdir().unwrap(),
    };
    deployed.sign_in();

    // A broker slow to catch up holds the roll: 30 MB are written to a topic whose replicas are
    // throttled to 1 kB/s as soon as the first broker restarts, more than the broker copies in
    // its first fetches. The apply stops at its short timeout, naming the partitions; once the
    // throttle is gone, the next apply finishes the roll.
    let consumer = deployed.start_consumer("acked");
    let producer = deployed.start_producer("1", "acked", 1_000_000, 100);
    deployed.throttle("slow", Some(1024));
    let before = deployed.broker_uids();
    ws.write(&config(&namespace, 3, r#""log.retention.hours" = "72""#, r#"timeout = "100s""#));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("3 broker(s) of events-kafka restart") && plan.contains("broker settings"), "{plan}");
    let stopped = std::thread::scope(|scope| {
        scope.spawn(|| {
            deployed.wait_until("a broker restarted", Duration::from_secs(120), || deployed.broker_uids() != before);
            deployed.produced_rate(&deployed.client_config(), "slow", 30_000);
        });
        ws.expect_failure(&["apply", "-auto-approve", "-no-color"])
    });
    let stopped = stopped.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        stopped.contains("The roll of events-kafka stopped") && stopped.contains("slow-"),
        "the roll names the partitions that hold it:\n{stopped}"
    );
    let after_first = deployed.broker_uids();
    let restarted: Vec<&String> = before.keys().filter(|pod| before[*pod] != after_first[*pod]).collect();
    assert_eq!(restarted.len(), 1, "one broker restarted before the roll stopped: {restarted:?}");
    deployed.throttle("slow", None);
    let resumed_at = Instant::now();
    ws.write(&config(&namespace, 3, r#""log.retention.hours" = "72""#, ""));
    ws.apply();
    let resumed = resumed_at.elapsed();
    let after_second = deployed.broker_uids();
    assert_eq!(after_first[restarted[0]], after_second[restarted[0]], "the restarted broker did not restart again");
    assert!(before.iter().all(|(pod, uid)| after_second[pod] != *uid), "every broker restarted once");
    eprintln!("the resumed roll restarted 2 brokers in {resumed:?} ({:?} per broker)", resumed / 2);
    ws.assert_no_changes();
    producer.stop();
    let produced = Deployed::produced(producer);
    produced.assert_unharmed("a roll held by a slow broker");
    deployed.assert_kept("a roll held by a slow broker", "acked", &produced.acknowledged);
    let mut acknowledged = produced.acknowledged;

    // Three brokers grow to five: partitions spread over the new ones.
    let bulk = deployed.produced_rate(&deployed.client_config(), "bulk", 150_000);
    eprintln!("bulk data written at {:.1} MB/s", bulk / 1e6);
    let producer = deployed.start_producer("2", "acked", 1_000_000, 100);
    ws.write(&config(&namespace, 5, r#""log.retention.hours" = "72""#, ""));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("Partitions move to the brokers events-kafka gains"), "{plan}");
    let grown_at = Instant::now();
    ws.apply();
    let grown = grown_at.elapsed();
    let new_brokers = BTreeSet::from([3, 4]);
    for topic in ["acked", "bulk"] {
        let replicas = deployed.replicas(topic);
        assert!(
            replicas.values().flatten().any(|b| new_brokers.contains(b)),
            "{topic} has replicas on the new brokers: {replicas:?}"
        );
    }
    for broker in ["0", "3"] {
        let described = deployed.describe_configs(&["--entity-type", "brokers", "--entity-name", broker]);
        assert!(!described.contains("throttled.rate"), "the move's throttle is gone from broker {broker}: {described}");
    }
    let described = deployed.describe_configs(&["--entity-type", "topics", "--entity-name", "bulk"]);
    assert!(!described.contains("throttled.replicas"), "the move's throttle is gone from bulk: {described}");
    let moved: u64 =
        deployed.bytes_by_broker("bulk").iter().filter(|(b, _)| new_brokers.contains(b)).map(|(_, n)| n).sum();
    eprintln!(
        "3 -> 5 brokers in {grown:?}, {:.0} MB of bulk data moved to the new ones ({:.0} s per GiB, with the brokers' start)",
        moved as f64 / 1e6,
        grown.as_secs_f64() / (moved as f64 / (1u64 << 30) as f64)
    );
    ws.assert_no_changes();

    // Five brokers shrink to three: the leaving brokers are drained first.
    ws.write(&config(&namespace, 3, r#""log.retention.hours" = "72""#, ""));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("Partitions move off the brokers events-kafka loses"), "{plan}");
    let shrunk_at = Instant::now();
    ws.apply();
    eprintln!("5 -> 3 brokers, the leaving ones drained first, in {:?}", shrunk_at.elapsed());
    let staying = BTreeSet::from([0, 1, 2]);
    for topic in ["acked", "bulk"] {
        let replicas = deployed.replicas(topic);
        assert!(all_on(&replicas, &staying), "{topic} is on brokers 0-2 only: {replicas:?}");
    }
    assert_eq!(deployed.ready("events-kafka"), "3/3");
    ws.assert_no_changes();
    producer.stop();
    let produced = Deployed::produced(producer);
    produced.assert_unharmed("brokers added and removed");
    deployed.assert_kept("brokers added and removed", "acked", &produced.acknowledged);
    acknowledged.extend(produced.acknowledged);
    let read = Deployed::consumed(consumer, &acknowledged);
    let missed = acknowledged.difference(&read).count();
    assert_eq!(missed, 0, "the consumer reading throughout every change missed {missed} acknowledged records");
    eprintln!("the consumer reading throughout read all {} acknowledged records", acknowledged.len());

    ws.destroy();
}
