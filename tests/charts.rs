//! The embedded charts: `helm lint` and `helm template` are clean, and their schemas refuse
//! bad values before anything reaches a cluster.

mod support;

use support::{Stack, check};

const CHARTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts");

fn chart(name: &str) -> String {
    format!("{CHARTS}/{name}")
}

#[test]
fn charts_lint_and_render_cleanly() {
    let Some(stack) = Stack::from_env() else { return };
    let kafka = |more: &[&'static str]| [&["--set", "zookeeper.connect=zk:2181"][..], more].concat();
    for (name, args) in [
        ("zookeeper", vec![]),
        ("kafka", kafka(&["--set", "auth.adminSecret=release-admin"])),
        ("kafka", kafka(&["--set", "auth.mechanism="])),
        (
            "kafka",
            kafka(&[
                "--set",
                "auth.mechanism=SCRAM-SHA-256,auth.adminSecret=release-admin,tls.enabled=true,tls.secretName=tls",
                "--set",
                "external.enabled=true,external.domain=kafka.example.com,external.loadBalancerSourceRanges={10.0.0.0/8}",
            ]),
        ),
    ] {
        let mut lint = vec!["lint", "--strict"];
        let path = chart(name);
        lint.push(&path);
        lint.extend(&args);
        let linted = check(stack.helm(&lint), &format!("helm lint {name}"));
        assert!(linted.contains("0 chart(s) failed"), "{linted}");
        let mut template = vec!["template", "release", path.as_str()];
        template.extend(&args);
        let rendered = check(stack.helm(&template), &format!("helm template {name}"));
        for kind in ["StatefulSet", "ConfigMap", "Service", "PodDisruptionBudget"] {
            assert!(rendered.contains(&format!("kind: {kind}")), "{name} renders a {kind}");
        }
    }
}

#[test]
fn schemas_refuse_bad_values() {
    let Some(stack) = Stack::from_env() else { return };
    let cases = [
        ("zookeeper", vec!["--set", "replicas=4"]),
        ("zookeeper", vec!["--set", "resourcesPreset=huge"]),
        ("zookeeper", vec!["--set", "storage.size=lots"]),
        ("kafka", vec![]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181/chroot"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "external.enabled=true"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "tls.enabled=true"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "config.retention=1"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "unknown=1"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "auth.mechanism=SCRAM-SHA-1"]),
        ("kafka", vec!["--set", "zookeeper.connect=zk:2181", "--set", "external.loadBalancerSourceRanges={10.0.0.0}"]),
    ];
    for (name, args) in cases {
        let path = chart(name);
        let mut template = vec!["template", "release", path.as_str()];
        template.extend(&args);
        let output = stack.helm(&template);
        assert!(!output.status.success(), "{name} {args:?} must be refused");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("schema"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The brokers' readiness script (`charts/kafka/files/ready.sh`), run against the stack's own
/// brokers: ready for a live broker in sync on every partition it hosts; not ready for an id the
/// controller does not count among the live brokers, nor for a replica still catching up (a
/// reassignment throttled to a crawl adds broker 2 to a partition it must first copy).
#[test]
fn the_broker_readiness_script_means_registered_and_caught_up() {
    let Some(stack) = Stack::from_env() else { return };
    let script = std::fs::read_to_string(chart("kafka") + "/files/ready.sh").unwrap();
    // The stack's brokers listen on the loopback too, each on a port of its own, given as the
    // chart gives LOCAL's.
    let port = stack.plain_bootstrap.split(',').next().unwrap().strip_prefix("127.0.0.1:").unwrap().to_string();
    let ready = |id: u32| {
        let out = std::process::Command::new("bash")
            .args(["-c", &script, "ready.sh", &port])
            .env("HOSTNAME", format!("events-kafka-{id}"))
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    let topic = support::unique("ready");
    let tool = |class: &str, args: &[&str]| check(stack.kafka_tool(class, args), class);
    let bootstrap = stack.plain_bootstrap.as_str();
    let topics = "org.apache.kafka.tools.TopicCommand";
    tool(topics, &["--bootstrap-server", bootstrap, "--create", "--topic", &topic, "--replica-assignment", "0:1"]);
    tool(
        "org.apache.kafka.tools.ProducerPerformance",
        &[
            "--topic",
            &topic,
            "--num-records",
            "20000",
            "--record-size",
            "500",
            "--throughput",
            "-1",
            "--producer-props",
            &format!("bootstrap.servers={bootstrap}"),
            "acks=all",
        ],
    );
    for id in 0..3 {
        assert_eq!(ready(id), (true, String::new()), "broker {id}, in sync everywhere");
    }
    let (ok, why) = ready(7);
    assert!(!ok && why.contains("not among the live brokers"), "{why}");

    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("reassign.json");
    std::fs::write(
        &plan,
        format!(r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[0,1,2]}}]}}"#),
    )
    .unwrap();
    let reassign = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand";
    let plan = plan.to_str().unwrap();
    let args = ["--bootstrap-server", bootstrap, "--reassignment-json-file", plan];
    tool(reassign, &[&args[..], &["--execute", "--throttle", "1000"]].concat());
    // The controller tells the brokers of the new replica a moment after the command returns.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (ok, why) = loop {
        let (ok, why) = ready(2);
        if !ok || std::time::Instant::now() > deadline {
            break (ok, why);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    tool(reassign, &[&args[..], &["--cancel"]].concat());
    tool(topics, &["--bootstrap-server", bootstrap, "--delete", "--topic", &topic]);
    assert!(!ok && why.contains("not yet in sync on 1 partitions"), "broker 2 copying 10 MB at 1 kB/s: {why}");
    assert_eq!(ready(0), (true, String::new()), "broker 0 leads and is in sync");
}
