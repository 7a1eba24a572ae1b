//! The local stack itself: every end-to-end claim of the provider rests on these parts being
//! real and healthy.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Stack, check, unique};

#[test]
fn control_plane_is_healthy_and_reports_its_real_version() {
    let Some(stack) = Stack::from_env() else { return };
    let readyz = check(stack.kubectl(&["get", "--raw", "/readyz"]), "GET /readyz");
    assert_eq!(readyz.trim(), "ok");
    let version = check(stack.kubectl(&["version", "-o", "json"]), "kubectl version");
    assert!(version.contains("\"gitVersion\": \"v1.34."), "{version}");
    let ready = |kind: &str| {
        let nodes = check(
            stack.kubectl(&[
                "get",
                "nodes",
                "-l",
                &format!("type={kind}"),
                "-o",
                "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
            ]),
            "kubectl get nodes",
        );
        nodes.lines().filter(|l| *l == "True").count()
    };
    assert_eq!(ready("kwok"), 3, "three Ready kwok nodes");
    assert_eq!(ready("real"), 1, "the real node, Ready");
    let kubelet = check(
        stack.kubectl(&["get", "node", "hikube-node", "-o", "jsonpath={.status.nodeInfo.kubeletVersion}"]),
        "kubectl get node",
    );
    assert!(kubelet.starts_with("v1.34."), "the real node's kubelet is the control plane's version: {kubelet}");
}

#[test]
fn helm_release_with_a_three_replica_statefulset_becomes_ready() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("stack-helm");
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/charts/statefulset");
    check(
        stack.helm(&["install", "app", chart, "--namespace", &ns, "--create-namespace", "--wait", "--timeout", "120s"]),
        "helm install --wait",
    );
    let ready = check(
        stack.kubectl(&["-n", &ns, "get", "statefulset", "app", "-o", "jsonpath={.status.readyReplicas}"]),
        "get sts",
    );
    assert_eq!(ready, "3");
    let pvcs = check(stack.kubectl(&["-n", &ns, "get", "pvc", "-o", "jsonpath={.items[*].status.phase}"]), "get pvc");
    assert_eq!(pvcs, "Bound Bound Bound");
    check(stack.kubectl(&["delete", "namespace", &ns, "--wait=true", "--timeout=120s"]), "delete namespace");
    let gone = stack.kubectl(&["get", "namespace", &ns]);
    assert!(!gone.status.success(), "namespace {ns} still exists");
}

#[test]
fn garbage_collector_removes_owned_objects() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("stack-gc");
    check(stack.kubectl(&["create", "namespace", &ns]), "create namespace");
    check(
        stack.kubectl(&["-n", &ns, "create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=2"]),
        "create deployment",
    );
    let wait_rs = stack.kubectl(&[
        "-n",
        &ns,
        "wait",
        "--for=jsonpath={.status.readyReplicas}=2",
        "deployment/web",
        "--timeout=60s",
    ]);
    check(wait_rs, "deployment becomes ready");
    check(stack.kubectl(&["-n", &ns, "delete", "deployment", "web", "--cascade=background"]), "delete deployment");
    let gone = stack.kubectl(&["-n", &ns, "wait", "--for=delete", "replicaset", "--all", "--timeout=60s"]);
    check(gone, "owned ReplicaSets are garbage-collected");
    check(stack.kubectl(&["delete", "namespace", &ns, "--wait=false"]), "delete namespace");
}

#[test]
fn topic_with_replication_factor_three_over_both_listeners() {
    let Some(stack) = Stack::from_env() else { return };
    let topic = unique("stack-topic");
    let properties = stack.sasl_client_properties.to_string_lossy().into_owned();
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &[
                "--bootstrap-server",
                &stack.sasl_bootstrap,
                "--command-config",
                &properties,
                "--create",
                "--topic",
                &topic,
                "--partitions",
                "3",
                "--replication-factor",
                "3",
            ],
        ),
        "create topic over SASL_SSL",
    );
    for (bootstrap, extra) in
        [(&stack.plain_bootstrap, vec![]), (&stack.sasl_bootstrap, vec!["--command-config", properties.as_str()])]
    {
        let mut args = vec!["--bootstrap-server", bootstrap.as_str(), "--describe", "--topic", topic.as_str()];
        args.extend(extra);
        let described = check(stack.kafka_tool("org.apache.kafka.tools.TopicCommand", &args), "describe topic");
        assert!(described.contains("PartitionCount: 3") && described.contains("ReplicationFactor: 3"), "{described}");
    }
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--delete", "--topic", &topic],
        ),
        "delete topic",
    );
}

fn zookeeper_mode(address: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect to ZooKeeper");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"srvr").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply.lines().find_map(|l| l.strip_prefix("Mode: ")).unwrap_or("none").to_string()
}

#[test]
fn zookeeper_ensemble_has_one_leader_and_two_followers() {
    let Some(stack) = Stack::from_env() else { return };
    let mut modes: Vec<String> = stack.zookeeper_connect.split(',').map(zookeeper_mode).collect();
    modes.sort();
    assert_eq!(modes, ["follower", "follower", "leader"]);
}
