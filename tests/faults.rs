//! Faults during apply, on the real stack: a broker killed while 200 topics are created, the
//! controller killed during a replication-factor change, the ZooKeeper leader killed, the
//! kube-apiserver restarted during a Helm upgrade, the provider itself killed mid-apply; and a
//! bootstrap broker frozen during a plan, and a create that collides with a foreign topic.
//!
//! After each: the stack is brought back with its own command, a refresh finds nothing in the
//! state that does not exist, one more apply converges with no manual step, a plan is empty, no
//! topic is missing, and every record acknowledged with acks=all before the fault is read back
//! by Kafka's own consumer.
//!
//! The faults break the shared stack for a while, so they run one at a time.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::terraform::Workspace;
use support::{Stack, check, stdout, unique};
use terraform_provider_hikube::kafka::{Admin, ConnectionConfig, NewTopic};

static ONE_FAULT_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_FAULT_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

fn cluster(stack: &Stack) -> Arc<Admin> {
    Arc::new(Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(','))))
}

fn live_topics(stack: &Stack, prefix: &str) -> BTreeSet<String> {
    let topics = block_on(cluster(stack).all_topics()).expect("listing topics");
    topics.into_iter().map(|t| t.name).filter(|n| n.starts_with(prefix)).collect()
}

fn provider(stack: &Stack) -> String {
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\nprovider \"hikube\" {{\n  kafka = {{ bootstrap_servers = [{servers}] }}\n}}\n"
    )
}

fn topics(prefix: &str, count: usize, replication_factor: u8) -> String {
    format!(
        "resource \"hikube_kafka_topic\" \"t\" {{\n  count              = {count}\n  name               = format(\"{prefix}-%03d\", count.index)\n  partitions         = 2\n  replication_factor = {replication_factor}\n}}\n"
    )
}

fn names(prefix: &str, count: usize) -> BTreeSet<String> {
    (0..count).map(|i| format!("{prefix}-{i:03}")).collect()
}

/// A topic outside Terraform holding records acknowledged by all in-sync replicas before the
/// fault: what must survive it.
struct Witness {
    topic: String,
    acked: BTreeSet<String>,
}

impl Witness {
    fn new(stack: &Stack) -> Witness {
        let topic = unique("fault-witness");
        let configs = BTreeMap::from([("min.insync.replicas".to_string(), "2".to_string())]);
        let new = NewTopic { name: topic.clone(), partitions: 3, replication_factor: 3, configs };
        block_on(cluster(stack).create_topic(&new, false, Duration::from_secs(60))).expect("witness topic");
        let acked = stack.produce(&topic, 2000);
        assert_eq!(acked.len(), 2000, "the producer had all 2000 records acknowledged before the fault");
        Witness { topic, acked }
    }

    fn assert_intact(&self, stack: &Stack) {
        let read = stack.consume(&self.topic, self.acked.len());
        let lost: Vec<&String> = self.acked.difference(&read).collect();
        assert!(
            lost.is_empty(),
            "{} acknowledged records of {} lost, e.g. {:?}",
            lost.len(),
            self.topic,
            &lost[..lost.len().min(5)]
        );
        block_on(cluster(stack).delete_topic(&self.topic, Duration::from_secs(60))).expect("deleting the witness");
    }
}

fn wait_until(what: &str, timeout: Duration, done: impl FnMut() -> bool) {
    support::wait_until(what, timeout, Duration::from_millis(200), done);
}

/// Waits for the interrupted apply; it may fail or succeed, depending on where the fault hit.
fn finish(apply: Child) -> String {
    let output = apply.wait_with_output().expect("terraform apply");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("interrupted apply exited with {}", output.status);
    text
}

/// Refresh, then converge: what the state holds exists, one apply reaches the configuration, the
/// next plan is empty. Returns the topics the state holds after the refresh.
fn recover(stack: &Stack, workspace: &Workspace, prefix: &str) {
    stack.bring_up();
    check(
        workspace.terraform(&["apply", "-refresh-only", "-auto-approve", "-no-color", "-input=false"]),
        "terraform apply -refresh-only",
    );
    let in_state: BTreeSet<String> = workspace.state()["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| r["type"] == "hikube_kafka_topic")
        .filter_map(|r| r["values"]["name"].as_str().map(str::to_string))
        .collect();
    let live = live_topics(stack, prefix);
    let phantom: Vec<&String> = in_state.difference(&live).collect();
    assert!(phantom.is_empty(), "after refresh the state holds topics that do not exist: {phantom:?}");
    workspace.apply();
    workspace.assert_no_changes();
}

#[test]
fn a_broker_killed_while_200_topics_are_created() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let witness = Witness::new(&stack);
    let _witness_topic = stack.topic_cleanup(&[&witness.topic]);
    let prefix = unique("fault-broker");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}", provider(&stack), topics(&prefix, 200, 2)));
    let apply = workspace.spawn_apply();
    wait_until("30 topics exist", Duration::from_secs(120), || live_topics(&stack, &prefix).len() >= 30);
    stack.kill("kafka-2");
    finish(apply);
    recover(&stack, &workspace, &prefix);
    assert_eq!(live_topics(&stack, &prefix), names(&prefix, 200));
    witness.assert_intact(&stack);
    workspace.destroy();
}

#[test]
fn the_controller_killed_during_a_replication_factor_change() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let prefix = unique("fault-controller");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}", provider(&stack), topics(&prefix, 3, 1)));
    workspace.apply();
    // The moved topics themselves carry the records: replication factor 1 until the change.
    let acked: Vec<(String, BTreeSet<String>)> =
        names(&prefix, 3).into_iter().map(|t| (t.clone(), stack.produce(&t, 1000))).collect();
    let witness = Witness::new(&stack);
    let _witness_topic = stack.topic_cleanup(&[&witness.topic]);
    workspace.write(&format!("{}{}", provider(&stack), topics(&prefix, 3, 3)));
    let controller = block_on(cluster(&stack).controller()).expect("controller").expect("an elected controller");
    let apply = workspace.spawn_apply();
    let kafka = cluster(&stack);
    let first = format!("{prefix}-000");
    wait_until("the reassignment starts", Duration::from_secs(30), || {
        block_on(kafka.ongoing_reassignments(&first)).is_ok_and(|ongoing| !ongoing.is_empty())
            || block_on(kafka.describe_topic(&first)).ok().flatten().is_some_and(|t| t.replication_factor() > 1)
    });
    stack.kill(&format!("kafka-{controller}"));
    finish(apply);
    recover(&stack, &workspace, &prefix);
    for (topic, records) in acked {
        let info = block_on(cluster(&stack).describe_topic(&topic)).unwrap().expect("topic still there");
        assert_eq!(info.replication_factor(), 3, "{topic}");
        let read = stack.consume(&topic, records.len());
        assert!(
            records.is_subset(&read),
            "records of {topic} lost: {} of {}",
            records.difference(&read).count(),
            records.len()
        );
    }
    witness.assert_intact(&stack);
    workspace.destroy();
}

#[test]
fn the_zookeeper_leader_killed_during_an_apply() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let witness = Witness::new(&stack);
    let _witness_topic = stack.topic_cleanup(&[&witness.topic]);
    let prefix = unique("fault-zk");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}", provider(&stack), topics(&prefix, 60, 3)));
    let leader = stack.zookeeper_leader().expect("a ZooKeeper leader");
    let apply = workspace.spawn_apply();
    wait_until("5 topics exist", Duration::from_secs(120), || live_topics(&stack, &prefix).len() >= 5);
    stack.kill(&leader);
    finish(apply);
    recover(&stack, &workspace, &prefix);
    assert_eq!(live_topics(&stack, &prefix), names(&prefix, 60));
    witness.assert_intact(&stack);
    workspace.destroy();
}

fn ensemble(namespace: &str, preset: &str) -> String {
    format!(
        "resource \"hikube_zookeeper_ensemble\" \"zk\" {{\n  name             = \"zk\"\n  namespace        = {namespace:?}\n  replicas         = 3\n  resources_preset = {preset:?}\n  storage_size     = \"1Gi\"\n}}\n"
    )
}

fn release_status(stack: &Stack, namespace: &str) -> String {
    stdout(&stack.kubectl(&[
        "get",
        "secrets",
        "-n",
        namespace,
        "-l",
        "owner=helm,name=zk-zookeeper",
        "-o",
        "jsonpath={.items[*].metadata.labels.status}",
    ]))
}

#[test]
fn the_apiserver_restarted_during_a_helm_upgrade() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let witness = Witness::new(&stack);
    let _witness_topic = stack.topic_cleanup(&[&witness.topic]);
    let namespace = unique("fault-apiserver");
    let _cleanup = stack.namespace_cleanup(&namespace);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}", provider(&stack), ensemble(&namespace, "nano")));
    workspace.apply();
    workspace.write(&format!("{}{}", provider(&stack), ensemble(&namespace, "micro")));
    let apply = workspace.spawn_apply();
    wait_until("the upgrade is pending", Duration::from_secs(60), || {
        release_status(&stack, &namespace).contains("pending-upgrade")
    });
    stack.kill("kube-apiserver");
    std::thread::sleep(Duration::from_secs(2));
    stack.bring_up();
    finish(apply);
    recover(&stack, &workspace, "fault-apiserver-none");
    let state = workspace.resource("hikube_zookeeper_ensemble.zk");
    assert_eq!(state["resources_preset"], "micro");
    assert_eq!(state["status"], "deployed");
    // What helm goes by is the newest revision: it must be the deployed one. A rollback out of an
    // abandoned upgrade leaves that upgrade's own record as it was (helm supersedes only deployed
    // revisions), so an older pending record may remain, depending on whether helm could still
    // mark the upgrade failed when the API server went away. (Fewer than ten revisions: the
    // Secrets' names sort as their revisions.)
    let statuses = release_status(&stack, &namespace);
    assert_eq!(statuses.split_whitespace().last(), Some("deployed"), "release statuses after recovery: {statuses}");
    witness.assert_intact(&stack);
    workspace.destroy();
}

/// Every running process of the provider binary this test built.
fn provider_pids() -> Vec<i32> {
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_terraform-provider-hikube")).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary))
        .collect()
}

#[test]
fn the_provider_killed_mid_apply() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let witness = Witness::new(&stack);
    let _witness_topic = stack.topic_cleanup(&[&witness.topic]);
    let prefix = unique("fault-provider");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let namespace = unique("fault-provider");
    let _cleanup = stack.namespace_cleanup(&namespace);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}{}", provider(&stack), topics(&prefix, 100, 2), ensemble(&namespace, "nano")));
    let apply = workspace.spawn_apply();
    wait_until("10 topics exist", Duration::from_secs(120), || live_topics(&stack, &prefix).len() >= 10);
    let pids = provider_pids();
    assert!(!pids.is_empty(), "no provider process to kill");
    for pid in pids {
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    let text = finish(apply);
    assert!(text.contains("Error"), "terraform saw no error when its provider died:\n{text}");
    recover(&stack, &workspace, &prefix);
    assert_eq!(live_topics(&stack, &prefix), names(&prefix, 100));
    assert_eq!(workspace.resource("hikube_zookeeper_ensemble.zk")["status"], "deployed");
    witness.assert_intact(&stack);
    workspace.destroy();
}

fn provider_with_request_timeout(stack: &Stack, timeout: &str) -> String {
    provider(stack).replace("] }", &format!("], request_timeout = {timeout:?} }}"))
}

/// A bootstrap broker that stops answering while Terraform plans 200 topics (SIGSTOP: the
/// kernel still accepts its TCP connections, as during a long GC or with its heap exhausted).
/// The plan used to wait on it for good; now the connection attempt ends within its timeout and
/// the other brokers answer.
#[test]
fn a_frozen_bootstrap_broker_during_a_plan() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let prefix = unique("fault-frozen");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let workspace = Workspace::new(&stack);
    workspace.write(&format!("{}{}", provider_with_request_timeout(&stack, "5s"), topics(&prefix, 200, 3)));
    workspace.apply();
    let first = stack.plain_bootstrap.split(',').next().unwrap().to_string();
    assert!(first.ends_with(":19092"), "kafka-0 is the first bootstrap server ({first})");
    let frozen = stack.freeze("kafka-0");
    let started = Instant::now();
    let (code, text) = workspace.plan();
    let took = started.elapsed();
    drop(frozen);
    eprintln!("plan of 200 topics with the first bootstrap broker frozen: {took:?}");
    assert_eq!(code, 0, "the plan failed or showed changes:\n{text}");
    assert!(took < Duration::from_secs(90), "the plan took {took:?}");
    workspace.destroy();
}

/// Somebody else's topic, and a configuration declaring the same name whose connection comes
/// from a resource, so unknown at plan: the plan cannot check, and the first apply used to put
/// the other owner's topic into the state. The next apply grew it to 3 partitions; destroy
/// would have deleted it with its data. Now every apply refuses and points to import.
#[test]
fn a_create_colliding_with_a_foreign_topic_while_the_connection_is_unknown_at_plan() {
    let _serial = serial();
    let Some(stack) = Stack::from_env() else { return };
    let topic = unique("fault-foreign");
    let _topics = stack.topic_cleanup(&[&topic]);
    let foreign = NewTopic { name: topic.clone(), partitions: 1, replication_factor: 1, configs: BTreeMap::new() };
    block_on(cluster(&stack).create_topic(&foreign, false, Duration::from_secs(60))).expect("the foreign topic");
    let records = stack.produce(&topic, 10);
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let workspace = Workspace::new(&stack);
    workspace.write(&format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\nprovider \"hikube\" {{}}\n\nresource \"terraform_data\" \"bootstrap\" {{\n  input = [{servers}]\n}}\n\nresource \"hikube_kafka_topic\" \"t\" {{\n  name               = {topic:?}\n  partitions         = 3\n  replication_factor = 1\n  kafka              = {{ bootstrap_servers = terraform_data.bootstrap.output }}\n}}\n"
    ));
    for apply in ["first", "second"] {
        let text = workspace.expect_failure(&["apply", "-auto-approve", "-no-color", "-input=false"]);
        assert!(
            text.contains(&format!("Topic {topic} already exists")) && text.contains("import"),
            "{apply} apply:\n{text}"
        );
        let recorded = workspace.state()["values"]["root_module"]["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .any(|r| r["type"] == "hikube_kafka_topic");
        assert!(!recorded, "the {apply} apply recorded the foreign topic in the state");
    }
    let info = block_on(cluster(&stack).describe_topic(&topic)).unwrap().expect("the foreign topic still exists");
    assert_eq!(info.partitions.len(), 1, "the foreign topic was changed");
    workspace.destroy();
    let read = stack.consume(&topic, records.len());
    assert!(records.is_subset(&read), "the foreign topic lost records");
    block_on(cluster(&stack).delete_topic(&topic, Duration::from_secs(60))).expect("cleaning up");
}
