//! `hikube_zookeeper_ensemble` and `hikube_kafka_cluster` through the real terraform CLI
//! against the stack's real control plane and Helm, kwok making their pods Ready.

mod support;

use std::time::{Duration, Instant};

use support::terraform::{Workspace, provider_in};
use support::{Stack, check, stdout, unique};

fn ensemble(replicas: u32) -> String {
    format!(
        "\nresource \"hikube_zookeeper_ensemble\" \"zk\" {{\n  name     = \"events\"\n  replicas = {replicas}\n}}\n"
    )
}

fn cluster(replicas: u32, extra: &str) -> String {
    format!(
        "\nresource \"hikube_kafka_cluster\" \"kafka\" {{\n  name      = \"events\"\n  replicas  = {replicas}\n  \
         zookeeper = hikube_zookeeper_ensemble.zk.connect_string\n{extra}}}\n"
    )
}

fn ready_replicas(stack: &Stack, namespace: &str, statefulset: &str) -> String {
    stdout(&stack.kubectl(&[
        "-n",
        namespace,
        "get",
        "statefulset",
        statefulset,
        "-o",
        "jsonpath={.status.readyReplicas}/{.spec.replicas}",
    ]))
}

fn release_status(stack: &Stack, namespace: &str, release: &str) -> Option<(String, i64)> {
    let output = stack.helm(&["-n", namespace, "status", release, "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some((json["info"]["status"].as_str()?.to_string(), json["version"].as_i64()?))
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    support::wait_until(what, Duration::from_secs(60), Duration::from_millis(250), done);
}

#[test]
fn ensemble_and_cluster_lifecycle_with_drift_import_and_protection() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    let base = provider_in(&ns);
    // kwok's pods run no broker: the roll that follows a configuration change asks the stack's
    // brokers whether a restart is safe, and restarts kwok's pods one at a time as it would real ones.
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    let roll_checks = format!("  kafka = {{ bootstrap_servers = [{}] }}\n", servers.join(", "));
    ws.write(&format!("{base}{}{}", ensemble(3), cluster(3, &roll_checks)));
    ws.apply();
    assert_eq!(ready_replicas(&stack, &ns, "events-zookeeper"), "3/3");
    assert_eq!(ready_replicas(&stack, &ns, "events-kafka"), "3/3");
    assert_eq!(release_status(&stack, &ns, "events-kafka").unwrap().0, "deployed");
    let kafka = ws.resource("hikube_kafka_cluster.kafka");
    assert_eq!(kafka["bootstrap_servers"][0], format!("events-kafka-bootstrap.{ns}.svc.cluster.local:9092"));
    assert_eq!(kafka["zookeeper"], format!("events-zookeeper.{ns}.svc.cluster.local:2181"));
    let properties = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "configmap",
        "events-kafka",
        "-o",
        "jsonpath={.data.server\\.properties}",
    ]));
    assert!(
        properties
            .contains(&format!("zookeeper.connect=events-zookeeper.{ns}.svc.cluster.local:2181/hikube/{ns}/events")),
        "{properties}"
    );
    assert!(
        properties.contains("default.replication.factor=3") && properties.contains("min.insync.replicas=2"),
        "{properties}"
    );
    ws.assert_no_changes();

    // Another configuration finds the cluster through the data source.
    let reader = Workspace::new(&stack);
    reader.write(&format!(
        "{base}\ndata \"hikube_kafka_cluster\" \"c\" {{\n  name = \"events\"\n}}\n\n\
         output \"servers\" {{\n  value = data.hikube_kafka_cluster.c.bootstrap_servers\n}}\n\n\
         output \"zookeeper\" {{\n  value = data.hikube_kafka_cluster.c.zookeeper\n}}\n"
    ));
    reader.apply();
    let servers = check(reader.terraform(&["output", "-json", "servers"]), "terraform output servers");
    assert_eq!(servers.trim(), format!("[\"events-kafka-bootstrap.{ns}.svc.cluster.local:9092\"]"));
    let zookeeper = check(reader.terraform(&["output", "-raw", "zookeeper"]), "terraform output zookeeper");
    assert_eq!(zookeeper, format!("events-zookeeper.{ns}.svc.cluster.local:2181"));

    // Scale 3 -> 5 in place.
    ws.write(&format!("{base}{}{}", ensemble(3), cluster(5, &roll_checks)));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("replicas") && plan.contains("3 -> 5") && !plan.contains("must be replaced"), "{plan}");
    ws.apply();
    assert_eq!(ready_replicas(&stack, &ns, "events-kafka"), "5/5");
    ws.assert_no_changes();

    // A configuration change rolls the brokers.
    let revision_before = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "statefulset",
        "events-kafka",
        "-o",
        "jsonpath={.status.updateRevision}",
    ]));
    let config = format!("{roll_checks}  config = {{\n    \"log.retention.hours\" = \"48\"\n  }}\n");
    ws.write(&format!("{base}{}{}", ensemble(3), cluster(5, &config)));
    ws.apply();
    let revision_after = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "statefulset",
        "events-kafka",
        "-o",
        "jsonpath={.status.updateRevision}",
    ]));
    assert_ne!(revision_before, revision_after, "the pod template changed");
    // The provider restarted every broker before the apply ended.
    let pods = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/instance=events-kafka",
        "-o",
        "jsonpath={range .items[*]}{.metadata.labels.controller-revision-hash}{\"\\n\"}{end}",
    ]));
    assert!(pods.lines().count() == 5 && pods.lines().all(|l| l == revision_after), "revisions after the roll: {pods}");
    ws.assert_no_changes();

    // Out-of-band edits: each shows in the plan, naming the object, and apply restores it.
    check(stack.kubectl(&["-n", &ns, "scale", "statefulset", "events-kafka", "--replicas=1"]), "kubectl scale");
    check(
        stack.kubectl(&[
            "-n",
            &ns,
            "patch",
            "configmap",
            "events-zookeeper",
            "--type",
            "merge",
            "-p",
            "{\"data\":{\"zoo.cfg\":\"tickTime=1\"}}",
        ]),
        "edit configmap",
    );
    check(stack.kubectl(&["-n", &ns, "delete", "service", "events-kafka-bootstrap"]), "delete service");
    let plan = ws.plan_with_changes();
    for expected in [
        "StatefulSet/events-kafka: spec.replicas is 1",
        "ConfigMap/events-zookeeper: data.zoo.cfg",
        "Service/events-kafka-bootstrap was deleted",
    ] {
        assert!(plan.contains(expected), "plan must name {expected:?}:\n{plan}");
    }
    ws.apply();
    wait_until("the brokers scaled back", || ready_replicas(&stack, &ns, "events-kafka") == "5/5");
    assert!(stack.kubectl(&["-n", &ns, "get", "service", "events-kafka-bootstrap"]).status.success());
    let zoo = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "configmap",
        "events-zookeeper",
        "-o",
        "jsonpath={.data.zoo\\.cfg}",
    ]));
    assert!(zoo.contains("tickTime=2000") && zoo.contains("reconfigEnabled=true"), "{zoo}");
    ws.assert_no_changes();

    // A release rolled back by hand shows its old values; apply brings the configuration back.
    check(stack.helm(&["-n", &ns, "rollback", "events-kafka", "1", "--wait"]), "helm rollback");
    let plan = ws.plan_with_changes();
    assert!(plan.contains("3 -> 5"), "the rolled-back broker count shows:\n{plan}");
    ws.apply();
    assert_eq!(ready_replicas(&stack, &ns, "events-kafka"), "5/5");
    ws.assert_no_changes();

    // A release uninstalled by hand is installed again.
    check(stack.helm(&["-n", &ns, "uninstall", "events-zookeeper", "--wait"]), "helm uninstall");
    let plan = ws.plan_with_changes();
    assert!(plan.contains("hikube_zookeeper_ensemble.zk will be created"), "{plan}");
    ws.apply();
    assert_eq!(ready_replicas(&stack, &ns, "events-zookeeper"), "3/3");
    ws.assert_no_changes();

    // Import both into another working directory and verify the plan is empty.
    let imported = Workspace::new(&stack);
    // `kafka` says how the provider reaches the brokers, not what the release runs: import cannot
    // read it back, so the imported configuration leaves it out.
    let imported_config = config.replacen(&roll_checks, "", 1);
    imported.write(&format!("{base}{}{}", ensemble(3), cluster(5, &imported_config)));
    check(
        imported.terraform(&["import", "-no-color", "hikube_zookeeper_ensemble.zk", &format!("{ns}/events")]),
        "import ensemble",
    );
    check(
        imported.terraform(&["import", "-no-color", "hikube_kafka_cluster.kafka", &format!("{ns}/events")]),
        "import cluster",
    );
    imported.assert_no_changes();

    // Deletion protection refuses the destroy; lifting it lets destroy remove both releases and
    // keep the volumes (the default policy).
    let refused = ws.expect_failure(&["destroy", "-auto-approve", "-no-color"]);
    assert!(refused.contains("Deletion protection is on") && refused.contains("deletion_protection"), "{refused}");
    assert!(release_status(&stack, &ns, "events-kafka").is_some(), "nothing was removed");
    ws.write(&format!("{base}{}{}", ensemble(3), cluster(5, &format!("{config}  deletion_protection = false\n"))));
    ws.apply();
    ws.destroy();
    assert!(
        release_status(&stack, &ns, "events-kafka").is_none()
            && release_status(&stack, &ns, "events-zookeeper").is_none()
    );
    let claims = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "pvc",
        "-l",
        "app.kubernetes.io/instance=events-kafka",
        "-o",
        "name",
    ]));
    assert_eq!(claims.lines().count(), 5, "volumes are kept by default:\n{claims}");
}

#[test]
fn delete_volumes_removes_the_claims_and_storage_grows_in_place() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-vol");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    let base = provider_in(&ns);
    ws.write(&format!("{base}{}", ensemble(1)));
    ws.apply();
    ws.write(&format!("{base}{}", ensemble(1).replace("replicas = 1", "replicas = 1\n  storage_size = \"8Gi\"")));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("\"5Gi\" -> \"8Gi\"") && !plan.contains("must be replaced"), "{plan}");
    ws.apply();
    let size = stdout(&stack.kubectl(&[
        "-n",
        &ns,
        "get",
        "pvc",
        "data-events-zookeeper-0",
        "-o",
        "jsonpath={.spec.resources.requests.storage}",
    ]));
    assert_eq!(size, "8Gi");
    assert_eq!(ready_replicas(&stack, &ns, "events-zookeeper"), "1/1");
    ws.assert_no_changes();
    ws.write(&format!("{base}{}", ensemble(1).replace("replicas = 1", "replicas = 1\n  storage_size = \"2Gi\"")));
    let refused = ws.expect_failure(&["plan", "-no-color"]);
    assert!(refused.contains("Volumes cannot shrink") && refused.contains("storage_size"), "{refused}");
    // A new class means new volumes, so a new release; under the same name its pods would claim
    // the kept volumes again, so the old release must delete them first.
    let with = |extra: &str| {
        format!(
            "{base}{}",
            ensemble(1).replace("replicas = 1", &format!("replicas = 1\n  storage_size = \"8Gi\"{extra}"))
        )
    };
    ws.write(&with("\n  storage_class = \"other\""));
    let refused = ws.expect_failure(&["plan", "-no-color"]);
    assert!(refused.contains("would reuse the old volumes") && refused.contains("delete_volumes"), "{refused}");
    ws.write(&with("\n  delete_volumes = true"));
    let plan = ws.plan_with_changes();
    assert!(plan.contains("delete_volumes") && !plan.contains("must be replaced"), "a state-only change:\n{plan}");
    ws.apply();
    ws.write(&with("\n  delete_volumes = true\n  storage_class = \"other\""));
    let plan = ws.plan_with_changes();
    assert!(
        plan.contains("must be replaced") && plan.contains("storage_class") && plan.contains("forces replacement"),
        "new volumes mean a new release:\n{plan}"
    );
    ws.write(&with("\n  delete_volumes = true"));

    let cluster_ws = Workspace::new(&stack);
    cluster_ws.write(&format!(
        "{base}\nresource \"hikube_kafka_cluster\" \"kafka\" {{\n  name = \"gone\"\n  replicas = 1\n  zookeeper = \"zk:2181\"\n  \
         deletion_protection = false\n  delete_volumes = true\n}}\n"
    ));
    cluster_ws.apply();
    cluster_ws.destroy();
    wait_until("the volume claims are deleted", || {
        stdout(&stack.kubectl(&["-n", &ns, "get", "pvc", "-l", "app.kubernetes.io/instance=gone-kafka", "-o", "name"]))
            .trim()
            .is_empty()
    });
    ws.destroy();
}

#[test]
fn refusals_at_plan_name_their_attribute() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-bad");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    let base = provider_in(&ns);
    let cases = [
        (ensemble(4), "ZooKeeper needs an odd number of members", "replicas"),
        (
            ensemble(3).replace("replicas = 3", "replicas = 3\n  resources_preset = \"huge\""),
            "Unknown preset",
            "resources_preset",
        ),
        (
            format!("{}{}", ensemble(3), cluster(3, "  external = true\n")),
            "External access needs a domain",
            "external_domain",
        ),
        (
            format!("{}{}", ensemble(3), cluster(3, "  config = {\n    \"a\" = \"1\\nb=2\"\n  }\n")),
            "Invalid broker setting",
            "config",
        ),
        (ensemble(3).replace("\"events\"", "\"Events_1\""), "Invalid name", "name"),
    ];
    for (resources, message, attribute) in cases {
        ws.write(&format!("{base}{resources}"));
        let text = ws.expect_failure(&["plan", "-no-color"]);
        assert!(text.contains(message) && text.contains(attribute), "expected {message:?} at {attribute}:\n{text}");
    }
    // Somebody else's Secret where the cluster's admin Secret would be made.
    check(stack.kubectl(&["create", "namespace", &ns]), "create namespace");
    let secret = ["-n", &ns, "create", "secret", "generic", "events-kafka-admin", "--from-literal=password=theirs"];
    check(stack.kubectl(&secret), "create secret");
    ws.write(&format!("{base}{}{}", ensemble(3), cluster(3, "")));
    let text = ws.expect_failure(&["plan", "-no-color"]);
    assert!(text.contains("is not this cluster's") && text.contains("name"), "{text}");
    let listed = stdout(&stack.helm(&["-n", &ns, "list", "-q"]));
    assert!(listed.trim().is_empty(), "nothing was installed: {listed}");
}

/// The cluster's brokers are fake pods on the stack, so the broker-count check is pointed at the
/// stack's real brokers (ids 0-2) through `kafka`: lowering to 2 would strand broker 2's replicas.
#[test]
fn lowering_the_broker_count_is_refused_while_brokers_to_remove_hold_replicas() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-shrink");
    let _cleanup = stack.namespace_cleanup(&ns);
    let topic = unique("shrink");
    let _topics = stack.topic_cleanup(&[&topic]);
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &[
                "--bootstrap-server",
                &stack.plain_bootstrap,
                "--create",
                "--topic",
                &topic,
                "--partitions",
                "3",
                "--replication-factor",
                "3",
            ],
        ),
        "create a replicated topic",
    );
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    let kafka = format!("  kafka = {{\n    bootstrap_servers = [{}]\n  }}\n", servers.join(", "));
    let ws = Workspace::new(&stack);
    let base = provider_in(&ns);
    ws.write(&format!("{base}{}{}", ensemble(1), cluster(3, &kafka)));
    ws.apply();
    ws.write(&format!("{base}{}{}", ensemble(1), cluster(2, &kafka)));
    let refused = ws.expect_failure(&["plan", "-no-color"]);
    assert!(
        refused.contains("Brokers to remove still hold data") && refused.contains("Broker 2 hold(s) replicas of"),
        "{refused}"
    );
    assert!(refused.contains("replicas"), "{refused}");
    assert_eq!(ready_replicas(&stack, &ns, "events-kafka"), "3/3", "nothing changed");
    ws.write(&format!("{base}{}{}", ensemble(1), cluster(3, &format!("{kafka}  deletion_protection = false\n"))));
    ws.apply();
    ws.destroy();
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--delete", "--topic", &topic],
        ),
        "delete topic",
    );
}

/// A helm upgrade by hand, killed: the release stays pending-upgrade. Nothing proves at once
/// that no helm works on it any more, so the next apply leaves it alone; once it is older than
/// the resource's timeout plus the minute the provider gives its own helm, apply recovers it.
#[test]
fn a_release_stuck_pending_is_recovered_once_provably_abandoned() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-pending");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    let base = provider_in(&ns);
    let ensemble = ensemble(3).replace("replicas = 3\n", "replicas = 3\n  timeout  = \"10s\"\n");
    ws.write(&format!("{base}{ensemble}"));
    ws.apply();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/zookeeper");
    let mut upgrade = std::process::Command::new(&stack.helm)
        .args([
            "--kubeconfig",
            stack.kubeconfig.to_str().unwrap(),
            "-n",
            &ns,
            "upgrade",
            "events-zookeeper",
            chart,
            "--reuse-values",
            "--set",
            "resourcesPreset=micro",
            "--wait",
            "--timeout",
            "5m",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("helm marks the release pending-upgrade", || {
        stdout(&stack.kubectl(&["-n", &ns, "get", "secret", "-l", "owner=helm,status=pending-upgrade", "-o", "name"]))
            .contains("events-zookeeper")
    });
    let pending_since = Instant::now();
    upgrade.kill().unwrap();
    upgrade.wait().unwrap();
    assert_eq!(release_status(&stack, &ns, "events-zookeeper").unwrap().0, "pending-upgrade");
    let plan = ws.plan_with_changes();
    assert!(plan.contains("Release events-zookeeper is pending-upgrade"), "{plan}");
    let refused = ws.expect_failure(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(refused.contains("another helm operation may still be running"), "{refused}");
    assert_eq!(release_status(&stack, &ns, "events-zookeeper").unwrap().0, "pending-upgrade", "left alone");
    // 10 s of timeout and the provider's 60 s of grace, with room for the clocks.
    std::thread::sleep(Duration::from_secs(75).saturating_sub(pending_since.elapsed()));
    ws.apply();
    assert_eq!(release_status(&stack, &ns, "events-zookeeper").unwrap().0, "deployed");
    wait_until("three members again", || ready_replicas(&stack, &ns, "events-zookeeper") == "3/3");
    ws.assert_no_changes();
    ws.destroy();
}

/// Cluster and topics in one configuration: the topic's connection comes from the cluster and is
/// unknown until the cluster exists. kwok's brokers are fake, so the expression maps the
/// cluster's output onto the stack's real brokers; on a real cluster the output is used as is.
#[test]
fn topics_take_their_connection_from_a_cluster_created_in_the_same_run() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-topics");
    let _cleanup = stack.namespace_cleanup(&ns);
    let topic = unique("same-run");
    let _topics = stack.topic_cleanup(&[&topic]);
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    let ws = Workspace::new(&stack);
    ws.write(&format!(
        "{}{}{}\nlocals {{\n  stack_brokers = [{}]\n}}\n\n\
         resource \"hikube_kafka_topic\" \"orders\" {{\n  name       = {topic:?}\n  partitions = 3\n  kafka = {{\n    \
         # Known only once the cluster is installed, as a real cluster's external addresses are.\n    \
         bootstrap_servers = hikube_kafka_cluster.kafka.revision > 0 ? local.stack_brokers : hikube_kafka_cluster.kafka.bootstrap_servers\n  }}\n}}\n",
        provider_in(&ns),
        ensemble(1),
        cluster(1, "  deletion_protection = false\n"),
        servers.join(", ")
    ));
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("3 to add"), "{plan}");
    let applied = ws.apply();
    let cluster_done = applied.find("hikube_kafka_cluster.kafka: Creation complete").expect("cluster created");
    let topic_started = applied.find("hikube_kafka_topic.orders: Creating").expect("topic created");
    assert!(cluster_done < topic_started, "the topic waits for its cluster:\n{applied}");
    let described = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--describe", "--topic", &topic],
        ),
        "describe topic",
    );
    assert!(described.contains("PartitionCount: 3"), "{described}");
    ws.assert_no_changes();
    ws.destroy();
}

/// An ensemble whose name comes from another resource: its very first apply used to fail with
/// "Provider produced inconsistent final plan ... connect_string: was null", since computed
/// values derived from the name were planned null, and a later change of that name planned an
/// in-place update instead of a replacement.
#[test]
fn a_name_known_only_at_apply_plans_unknown_outputs_and_a_replacement() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-unknown");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    let config = |name: &str| {
        format!(
            "{}\nresource \"terraform_data\" \"name\" {{\n  input = {name:?}\n}}\n\n\
             resource \"hikube_zookeeper_ensemble\" \"zk\" {{\n  name             = terraform_data.name.output\n  \
             replicas         = 1\n  resources_preset = \"nano\"\n  storage_size     = \"1Gi\"\n}}\n",
            provider_in(&ns)
        )
    };
    ws.write(&config("first"));
    ws.apply();
    let state = ws.resource("hikube_zookeeper_ensemble.zk");
    assert_eq!(state["connect_string"], format!("first-zookeeper.{ns}.svc.cluster.local:2181"));
    ws.write(&config("second"));
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("must be replaced") && plan.contains("forces replacement"), "{plan}");
    ws.apply();
    let state = ws.resource("hikube_zookeeper_ensemble.zk");
    assert_eq!(state["connect_string"], format!("second-zookeeper.{ns}.svc.cluster.local:2181"));
    assert!(release_status(&stack, &ns, "first-zookeeper").is_none(), "the old release is gone");
    ws.assert_no_changes();
    ws.destroy();
}

/// A provider block whose Kubernetes settings come from a resource is unknown at plan: the plan
/// used to fall back to KUBECONFIG and check releases against whatever cluster that named. Here
/// KUBECONFIG names no cluster at all: the plan defers its checks, and the apply uses the
/// settings the configuration gives.
#[test]
fn a_provider_block_known_only_at_apply_defers_and_never_falls_back_to_the_environment() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-deferred");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack).env("KUBECONFIG", "/nonexistent/kubeconfig");
    ws.write(&format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\n\
         resource \"terraform_data\" \"kubeconfig\" {{\n  input = {:?}\n}}\n\n\
         provider \"hikube\" {{\n  namespace  = {ns:?}\n  kubernetes = {{ config_path = terraform_data.kubeconfig.output }}\n}}\n\n\
         resource \"hikube_zookeeper_ensemble\" \"zk\" {{\n  name             = \"deferred\"\n  replicas         = 1\n  \
         resources_preset = \"nano\"\n  storage_size     = \"1Gi\"\n}}\n",
        stack.kubeconfig.display().to_string()
    ));
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(!plan.contains("nonexistent"), "the plan read KUBECONFIG:\n{plan}");
    ws.apply();
    assert_eq!(release_status(&stack, &ns, "deferred-zookeeper").unwrap().0, "deployed");
    ws.assert_no_changes();
    ws.destroy();
}

/// An ensemble's size change whose reconfiguration cannot run (kwok's pods take no `exec`):
/// helm's upgrade happened, so the apply fails naming the step and the permission it needs, the
/// state says the change is unfinished through every refresh, and each later apply tries that
/// step again instead of reporting nothing to do.
#[test]
fn a_resize_whose_reconfiguration_fails_stays_unfinished_until_an_apply_completes_it() {
    let Some(stack) = Stack::from_env() else { return };
    let ns = unique("hk-resize");
    let _cleanup = stack.namespace_cleanup(&ns);
    let ws = Workspace::new(&stack);
    ws.write(&format!("{}{}", provider_in(&ns), ensemble(1)));
    ws.apply();
    ws.write(&format!("{}{}", provider_in(&ns), ensemble(3)));
    let text = ws.expect_failure(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(
        text.contains("Changing the members of ensemble events-zookeeper failed")
            && text.contains("pods/exec")
            && text.contains("replicas"),
        "{text}"
    );
    assert_eq!(ready_replicas(&stack, &ns, "events-zookeeper"), "3/3", "helm's upgrade happened");
    let digest = ws.resource("hikube_zookeeper_ensemble.zk")["manifest_digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("unfinished:"), "{digest}");
    let text = ws.plan_with_changes();
    assert!(text.contains("is unfinished") && text.contains("manifest_digest"), "{text}");
    let text = ws.expect_failure(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(text.contains("Changing the members of ensemble events-zookeeper failed"), "tried again: {text}");
    // A shrink stops at its first step, before helm: going back to the size the state records
    // still plans the step again, since the ensemble may already have been reconfigured.
    ws.write(&format!("{}{}", provider_in(&ns), ensemble(1)));
    let text = ws.expect_failure(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert!(text.contains("Changing the members of ensemble events-zookeeper failed"), "{text}");
    assert_eq!(ready_replicas(&stack, &ns, "events-zookeeper"), "3/3", "helm did not run");
    ws.write(&format!("{}{}", provider_in(&ns), ensemble(3)));
    let text = ws.plan_with_changes();
    assert!(text.contains("is unfinished"), "{text}");
    ws.destroy();
}
