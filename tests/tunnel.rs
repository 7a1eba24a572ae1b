//! Brokers reached through the Kubernetes API server, through the real terraform, from a process
//! that cannot resolve their advertised names: one apply creates an ensemble, a cluster and its
//! topics; a change made inside the cluster shows in the next plan; fifty topics converge while a
//! broker pod is deleted under the apply; an identity without `pods/portforward` is told what it
//! lacks; destroy removes everything.

mod support;

use std::time::{Duration, Instant};

use support::deployed::Deployed;
use support::terraform::{Workspace, provider_in};
use support::{Stack, check, stdout, unique};

/// One ZooKeeper member and three brokers, sized for this machine, and the topics of a bus,
/// `bulk` more beside them; every connection goes through the API server.
fn config(namespace: &str, bulk: u32) -> String {
    format!(
        r#"{provider}

resource "hikube_zookeeper_ensemble" "zk" {{
  name           = "events"
  replicas       = 1
  storage_class  = "hikube-local"
  storage_size   = "1Gi"
  resources      = {{ cpu = "150m", memory = "256Mi" }}
  delete_volumes = true
}}

resource "hikube_kafka_cluster" "kafka" {{
  name                = "events"
  replicas            = 3
  zookeeper           = hikube_zookeeper_ensemble.zk.connect_string
  storage_class       = "hikube-local"
  storage_size        = "1Gi"
  resources           = {{ cpu = "250m", memory = "1Gi" }}
  deletion_protection = false
  delete_volumes      = true
}}

locals {{
  kafka = {{
    bootstrap_servers = hikube_kafka_cluster.kafka.bootstrap_servers
    sasl              = {{ credentials_secret = hikube_kafka_cluster.kafka.admin_secret }}
    tunnel            = {{ namespace = hikube_kafka_cluster.kafka.namespace }}
  }}
}}

resource "hikube_kafka_topic" "bus" {{
  for_each           = toset(["orders", "payments", "notifications"])
  name               = each.key
  partitions         = 3
  replication_factor = 3
  config             = {{ "min.insync.replicas" = "2" }}
  kafka              = local.kafka
}}

resource "hikube_kafka_topic" "bulk" {{
  count              = {bulk}
  name               = "bulk-${{count.index}}"
  partitions         = 1
  replication_factor = 3
  kafka              = local.kafka
}}
"#,
        provider = provider_in(namespace)
    )
}

/// Whether this process's resolver finds `name`.
fn resolves(name: &str) -> bool {
    std::net::ToSocketAddrs::to_socket_addrs(&(name, 9092)).is_ok_and(|mut found| found.next().is_some())
}

/// A token of a ServiceAccount that may read pods, Services and Secrets of `namespace`, but not
/// port-forward to them.
fn token_without_portforward(stack: &Stack, namespace: &str) -> String {
    let kubectl = |args: &[&str], what: &str| {
        let mut all = vec!["-n", namespace];
        all.extend(args);
        check(stack.kubectl(&all), what)
    };
    kubectl(&["create", "serviceaccount", "reader"], "create serviceaccount");
    kubectl(&["create", "role", "reader", "--verb=get,list", "--resource=pods,services,secrets"], "create role");
    kubectl(
        &["create", "rolebinding", "reader", "--role=reader", &format!("--serviceaccount={namespace}:reader")],
        "create rolebinding",
    );
    kubectl(&["create", "token", "reader", "--duration=1h"], "create token").trim().to_string()
}

#[test]
fn a_cluster_and_its_topics_through_the_api_server_alone() {
    let Some(stack) = Stack::from_env() else { return };
    let namespace = unique("tunnel");
    let _cleanup = stack.namespace_cleanup(&namespace);
    stack.real_namespace(&namespace);
    let bootstrap = format!("events-kafka-bootstrap.{namespace}.svc.cluster.local:9092");
    let ws = Workspace::new(&stack);
    ws.write(&config(&namespace, 0));
    let started = Instant::now();
    ws.apply();
    eprintln!("ensemble, cluster and 3 topics applied through the tunnel in {:?}", started.elapsed());
    let deployed =
        Deployed { stack: &stack, namespace: namespace.clone(), bootstrap, client: tempfile::tempdir().unwrap() };
    deployed.sign_in();
    // The names the brokers advertise resolve with the cluster's DNS, where the tools run, and not
    // where terraform ran.
    let broker = format!("events-kafka-0.events-kafka-headless.{namespace}.svc.cluster.local");
    assert!(!resolves(&broker), "{broker} resolves outside the cluster: the test would prove nothing");
    assert!(deployed.topics().is_superset(&["notifications", "orders", "payments"].map(String::from).into()));
    ws.assert_no_changes();

    // A change made inside the cluster shows in the plan, and apply undoes it.
    let mut altered = deployed.tool(
        "kafka.admin.ConfigCommand",
        &[
            "--bootstrap-server",
            &deployed.bootstrap,
            "--command-config",
            &deployed.client_config(),
            "--entity-type",
            "topics",
            "--entity-name",
            "orders",
            "--alter",
            "--add-config",
            "min.insync.replicas=1",
        ],
    );
    check(support::run(&mut altered), "kafka-configs --alter");
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "the change made inside the cluster is not in the plan:\n{plan}");
    assert!(plan.contains("min.insync.replicas"), "{plan}");
    ws.apply();
    ws.assert_no_changes();

    // An identity that may read the pods but not port-forward to them is told which permission
    // it lacks, at plan.
    let token = token_without_portforward(&stack, &namespace);
    let server =
        stdout(&stack.kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]));
    let kube_ca = std::path::Path::new(&std::env::var("HIKUBE_STATE_DIR").unwrap()).join("pki/kube-ca.crt");
    let limited = Workspace::new(&stack);
    limited.write(&format!(
        r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

provider "hikube" {{
  namespace  = "{namespace}"
  kubernetes = {{
    host                   = "{server}"
    token                  = "{token}"
    cluster_ca_certificate = file("{ca}")
  }}
}}

data "hikube_kafka_topic" "orders" {{
  name = "orders"
  kafka = {{
    bootstrap_servers = ["{bootstrap}"]
    sasl              = {{ credentials_secret = "events-kafka-admin" }}
    tunnel            = {{}}
  }}
}}
"#,
        ca = kube_ca.display(),
        bootstrap = deployed.bootstrap,
    ));
    let refused = Instant::now();
    let denied = limited.expect_failure(&["plan", "-no-color"]);
    assert!(denied.contains("pods/portforward"), "the diagnostic does not name the permission:\n{denied}");
    assert!(refused.elapsed() < Duration::from_secs(60), "a refusal was retried for {:?}", refused.elapsed());

    // A tunnel to another namespace than the one the brokers' names say is refused at once,
    // rather than reaching a broker of the same name there.
    let elsewhere = Workspace::new(&stack);
    elsewhere.write(&format!(
        r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

data "hikube_kafka_topic" "orders" {{
  name = "orders"
  kafka = {{
    bootstrap_servers = ["{bootstrap}"]
    sasl              = {{ credentials_secret = "{namespace}/events-kafka-admin" }}
    tunnel            = {{ namespace = "default" }}
  }}
}}
"#,
        bootstrap = deployed.bootstrap,
    ));
    let refused = Instant::now();
    // Terraform wraps long lines.
    let wrong_namespace =
        elsewhere.expect_failure(&["plan", "-no-color"]).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(wrong_namespace.contains(&format!("set tunnel.namespace = \"{namespace}\"")), "{wrong_namespace}");
    assert!(refused.elapsed() < Duration::from_secs(60), "a refusal was retried for {:?}", refused.elapsed());

    // Fifty topics while a broker pod is deleted under the apply: this run or the next converges,
    // and nothing made before is lost.
    ws.write(&config(&namespace, 50));
    let uid =
        || deployed.kubectl(&["get", "pod", "events-kafka-1", "--ignore-not-found", "-o", "jsonpath={.metadata.uid}"]);
    let deleted = uid();
    let apply = ws.spawn_apply();
    std::thread::sleep(Duration::from_secs(4));
    deployed.kubectl(&["delete", "pod", "events-kafka-1", "--wait=false"]);
    let first = apply.wait_with_output().expect("terraform apply");
    eprintln!("the apply of 50 topics with a broker deleted under it succeeded: {}", first.status.success());
    if !first.status.success() {
        // What the brokers refused while one was away; the next run, once it is back, converges.
        eprintln!("{}", String::from_utf8_lossy(&first.stderr));
        // Its successor, not the deleted pod whose Ready status lingers for a moment.
        deployed.wait_until("the broker is back", Duration::from_secs(180), || {
            let now = uid();
            let ready = r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#;
            !now.is_empty()
                && now != deleted
                && deployed.kubectl(&["get", "pod", "events-kafka-1", "-o", ready]).trim() == "True"
        });
        ws.apply();
    }
    ws.assert_no_changes();
    let topics = deployed.topics();
    let bulk = topics.iter().filter(|t| t.starts_with("bulk-")).count();
    assert_eq!(bulk, 50, "topics: {topics:?}");
    assert!(topics.contains("orders") && topics.contains("payments") && topics.contains("notifications"));

    // Destroy removes the topics, then the cluster, the ensemble and their volumes.
    ws.destroy();
    let releases = stdout(&stack.helm(&["list", "-n", &namespace, "-q"]));
    assert!(releases.trim().is_empty(), "releases left: {releases}");
    deployed.wait_until("the pods are gone", Duration::from_secs(120), || {
        deployed.kubectl(&["get", "pods", "-o", "name"]).trim().is_empty()
    });
    assert!(deployed.kubectl(&["get", "pvc", "-o", "name"]).trim().is_empty(), "volumes left behind");
}
