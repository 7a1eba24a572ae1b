//! The charts' pods running on the stack's real node, through the real terraform: a ZooKeeper
//! ensemble that forms one quorum, brokers registered in the cluster's own chroot, acknowledged
//! records kept while a broker pod is deleted, while a configuration change rolls every broker
//! and while the ensemble grows from three members to five and back (one leader throughout, no
//! member restarted), Kafka's metadata kept over a restart of the whole ensemble, and volumes
//! kept or deleted as `delete_volumes` says. The cluster authenticates every client (the
//! default): Terraform and the tools sign in as its admin, from the Secret the provider made, and
//! a client without credentials is refused on the plaintext and the TLS listener; an application
//! user made in the same apply writes where its ACL allows, at its quota, and nowhere else.
//!
//! One deployment serves every step, one after the other: a 3 + 3 cluster takes most of this
//! 2-core machine, so nothing else of this file runs beside it.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::deployed::{Deployed, scram_settings};
use support::terraform::{Workspace, provider_in};
use support::{Stack, check, unique};

/// An ensemble and a cluster of three, sized for this machine, with one topic whose records
/// must never be lost (replication factor 3, min.insync.replicas 2).
fn config(namespace: &str, broker_config: &str, delete_volumes: bool, tls: bool) -> String {
    config_with_members(namespace, 3, broker_config, delete_volumes, tls)
}

fn config_with_members(namespace: &str, members: u32, broker_config: &str, delete_volumes: bool, tls: bool) -> String {
    let tls = if tls { r#"tls_secret_name = "events-tls""# } else { "" };
    format!(
        r#"{provider}

resource "hikube_zookeeper_ensemble" "zk" {{
  name           = "events"
  replicas       = {members}
  storage_class  = "hikube-local"
  storage_size   = "1Gi"
  resources      = {{ cpu = "150m", memory = "256Mi" }}
  delete_volumes = {delete_volumes}
}}

resource "hikube_kafka_cluster" "kafka" {{
  name                = "events"
  replicas            = 3
  zookeeper           = hikube_zookeeper_ensemble.zk.connect_string
  storage_class       = "hikube-local"
  storage_size        = "2Gi"
  resources           = {{ cpu = "250m", memory = "1Gi" }}
  config              = {{ {broker_config} }}
  deletion_protection = false
  delete_volumes      = {delete_volumes}
  {tls}
}}

variable "app_password" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

locals {{
  kafka = {{
    bootstrap_servers = hikube_kafka_cluster.kafka.bootstrap_servers
    sasl              = {{ credentials_secret = hikube_kafka_cluster.kafka.admin_secret }}
    tunnel            = {{ namespace = "{namespace}" }}
  }}
}}

# The application: it may write to "metered" only, at 20 kB/s at most. A quota holds on each
# broker: one partition keeps the application on one.
resource "hikube_kafka_user" "app" {{
  name                = "app"
  password_wo         = var.app_password
  password_wo_version = 1
  kafka               = local.kafka
}}

resource "hikube_kafka_acl" "app_writes_metered" {{
  resource_type       = "Topic"
  resource_name       = "metered"
  acl_principal       = "User:app"
  acl_operation       = "Write"
  acl_permission_type = "Allow"
  kafka               = local.kafka
}}

resource "hikube_kafka_quota" "app" {{
  entity_type = "user"
  entity_name = hikube_kafka_user.app.name
  config      = {{ "producer_byte_rate" = "20000" }}
  kafka       = local.kafka
}}

resource "hikube_kafka_topic" "metered" {{
  name               = "metered"
  partitions         = 1
  replication_factor = 3
  kafka              = local.kafka
}}

resource "hikube_kafka_topic" "acked" {{
  name               = "acked"
  partitions         = 6
  replication_factor = 3
  config             = {{ "min.insync.replicas" = "2" }}
  kafka              = local.kafka
}}
"#,
        provider = provider_in(namespace)
    )
}

impl Deployed<'_> {
    fn all_ready(&self) {
        self.members_ready(3);
    }
    fn members_ready(&self, members: u32) {
        let want = format!("{members}/{members}");
        self.wait_until(
            &format!("{want} ZooKeeper members and 3/3 brokers are Ready"),
            Duration::from_secs(300),
            || self.ready("events-zookeeper") == want && self.ready("events-kafka") == "3/3",
        );
    }
    /// Each member's role, as `srvr` reports it inside the pod, sorted.
    fn zookeeper_modes(&self, members: u32) -> Vec<String> {
        let mut modes: Vec<String> = (0..members)
            .map(|i| {
                self.kubectl(&[
                    "exec",
                    &format!("events-zookeeper-{i}"),
                    "--",
                    "bash",
                    "-c",
                    "exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && grep Mode <&3",
                ])
                .trim()
                .to_string()
            })
            .collect();
        modes.sort();
        modes
    }
    /// The voting members, as the ensemble's first member reports them (`server.N=...` lines).
    fn voting_members(&self) -> Vec<String> {
        let out = self.kubectl(&["exec", "events-zookeeper-0", "--", "bash", "/conf/members.sh", "current"]);
        out.lines().map(|l| l.split('=').next().unwrap_or_default().to_string()).collect()
    }
    /// Each pod of the ensemble with the time its container started: a restart changes it.
    fn member_starts(&self) -> BTreeSet<String> {
        self.kubectl(&[
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/instance=events-zookeeper",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}@{.status.containerStatuses[0].state.running.startedAt}{\"\\n\"}{end}",
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }
    fn registered_brokers(&self) -> String {
        let chroot = format!("/hikube/{}/events/brokers/ids", self.namespace);
        check(
            support::run(&mut self.tool(
                "org.apache.zookeeper.ZooKeeperMain",
                &["-server", &format!("events-zookeeper.{}.svc.cluster.local:2181", self.namespace), "ls", &chroot],
            )),
            "ZooKeeperMain ls",
        )
    }
    fn claims(&self) -> usize {
        self.kubectl(&["get", "pvc", "-o", "name"]).lines().filter(|l| !l.is_empty()).count()
    }
}

#[test]
fn a_deployed_cluster_forms_its_quorum_keeps_acknowledged_records_and_its_metadata() {
    let Some(stack) = Stack::from_env() else { return };
    let namespace = unique("real");
    let _cleanup = stack.namespace_cleanup(&namespace);
    stack.real_namespace(&namespace);
    let app_password = unique("app-password");
    // Terraform reaches the brokers through the API server: it runs without the cluster's DNS.
    let ws = Workspace::new(&stack).env("TF_VAR_app_password", &app_password);
    ws.write(&config(&namespace, "", false, false));
    let started = Instant::now();
    ws.apply();
    let deployed = Deployed {
        stack: &stack,
        bootstrap: format!("events-kafka-bootstrap.{namespace}.svc.cluster.local:9092"),
        namespace: namespace.clone(),
        client: tempfile::tempdir().unwrap(),
    };
    deployed.all_ready();
    eprintln!("ensemble, cluster and topic deployed and Ready in {:?}", started.elapsed());

    // Only the admin's credentials get in: none, or a wrong password, are refused.
    deployed.sign_in();
    assert!(deployed.topics().contains("acked"), "the admin lists the topics");
    assert!(!deployed.lists_topics(&deployed.bootstrap, ""), "a client without credentials got in on 9092");
    let wrong = scram_settings("SASL_PLAINTEXT", "hikube-admin", "wrong");
    assert!(!deployed.lists_topics(&deployed.bootstrap, &wrong), "a wrong password got in");

    // The application user writes where its ACL allows, at its quota, and nowhere else.
    let app = deployed.client.path().join("app.properties");
    std::fs::write(&app, scram_settings("SASL_PLAINTEXT", "app", &app_password)).unwrap();
    let app = app.to_str().unwrap();
    let free = deployed.produced_rate(&deployed.client_config(), "metered", 500);
    // Kafka measures a rate over at least ten seconds: 800 kB take long enough for the quota to
    // show.
    let limited = deployed.produced_rate(app, "metered", 800);
    eprintln!(
        "on the real node: the admin produced {free:.0} B/s, the app user {limited:.0} B/s under its 20000 B/s quota"
    );
    assert!(limited < 40_000.0, "the quota did not throttle the app user: {limited:.0} B/s");
    assert!(free > 80_000.0, "the admin's producer is too slow to tell: {free:.0} B/s");
    let denied = deployed
        .tool(
            "org.apache.kafka.tools.VerifiableProducer",
            &[
                "--bootstrap-server",
                &deployed.bootstrap,
                "--topic",
                "acked",
                "--max-messages",
                "5",
                "--producer.config",
                app,
            ],
        )
        .output()
        .expect("VerifiableProducer");
    let events = String::from_utf8_lossy(&denied.stdout);
    assert!(
        !events.contains("producer_send_success") && events.contains("TopicAuthorization"),
        "the app user wrote to a topic no ACL gives it: {events}"
    );

    let modes = deployed.zookeeper_modes(3);
    assert_eq!(modes, ["Mode: follower", "Mode: follower", "Mode: leader"], "one quorum of three");
    let registered = deployed.registered_brokers();
    assert!(registered.contains("[0, 1, 2]"), "brokers in the cluster's chroot: {registered}");

    // A broker pod deleted while records are produced.
    let producer = deployed.start_producer("1", "acked", 3000, 100);
    std::thread::sleep(Duration::from_secs(8));
    deployed.kubectl(&["delete", "pod", "events-kafka-1", "--wait=false"]);
    let acked = Deployed::acknowledged(producer);
    // Read once the broker is back: a consumer that finds its group's coordinator moving for
    // longer than its idle timeout gives up before reading anything.
    deployed.all_ready();
    deployed.assert_kept("a broker pod deleted", "acked", &acked);

    // A configuration change rolls every broker, while records are produced.
    ws.write(&config(&namespace, r#""log.retention.hours" = "72""#, false, false));
    let producer = deployed.start_producer("2", "acked", 100_000, 100);
    let rolled = Instant::now();
    ws.apply();
    let revisions =
        deployed.kubectl(&["get", "statefulset", "events-kafka", "-o", "jsonpath={.status.updatedReplicas}"]);
    assert_eq!(revisions, "3", "every broker runs the new configuration");
    eprintln!("the roll of 3 brokers took {:?}", rolled.elapsed());
    producer.stop();
    let produced = Deployed::produced(producer);
    produced.assert_unharmed("every broker rolled");
    deployed.assert_kept("every broker rolled", "acked", &produced.acknowledged);
    ws.assert_no_changes();

    // The whole ensemble restarted at once: Kafka's metadata (the topic created minutes ago, so
    // only in the transaction log, not yet in a snapshot) is still there.
    // `kubectl delete --wait` once waited forever for pods its StatefulSet had already replaced
    // under the same names: the members' new UIDs tell instead.
    let members = ["-l", "app.kubernetes.io/instance=events-zookeeper"];
    let uids = || deployed.kubectl(&["get", "pod", members[0], members[1], "-o", "jsonpath={.items[*].metadata.uid}"]);
    let before = uids();
    deployed.kubectl(&["delete", "pod", members[0], members[1], "--wait=false"]);
    deployed.wait_until("every member replaced", Duration::from_secs(120), || {
        let now = uids();
        now.split(' ').count() == 3 && now.split(' ').all(|uid| !before.contains(uid))
    });
    deployed.all_ready();
    deployed.wait_until("the brokers serve again", Duration::from_secs(120), || deployed.topics().contains("acked"));
    ws.assert_no_changes();

    // The ensemble grows to five members and shrinks back to three while records are produced:
    // by reconfiguration, so that no member restarts, there is one leader throughout, and
    // Kafka's metadata and records stay.
    let starts = deployed.member_starts();
    let producer = deployed.start_producer("4", "acked", 100_000, 100);
    let resized = Instant::now();
    ws.write(&config_with_members(&namespace, 5, r#""log.retention.hours" = "72""#, false, false));
    ws.apply();
    deployed.members_ready(5);
    eprintln!("the ensemble grew from 3 to 5 members in {:?}", resized.elapsed());
    assert_eq!(deployed.voting_members(), ["server.1", "server.2", "server.3", "server.4", "server.5"]);
    let modes = deployed.zookeeper_modes(5);
    assert_eq!(modes.iter().filter(|m| *m == "Mode: leader").count(), 1, "one leader of five: {modes:?}");
    assert_eq!(modes.iter().filter(|m| *m == "Mode: follower").count(), 4, "four followers: {modes:?}");
    assert!(deployed.member_starts().is_superset(&starts), "a member restarted while growing");
    // Each new member joined with the running ensemble's list and itself (a non-voting follower
    // until added), not with a voting list of five of its own.
    for (pod, other) in [("events-zookeeper-3", "server.5="), ("events-zookeeper-4", "server.4=")] {
        let seed = deployed.kubectl(&["exec", pod, "--", "cat", "/data/conf/zoo.cfg.dynamic.seed"]);
        assert!(seed.contains("server.1=") && !seed.contains(other), "{pod} joined with {seed}");
    }
    ws.assert_no_changes();
    let resized = Instant::now();
    ws.write(&config(&namespace, r#""log.retention.hours" = "72""#, false, false));
    let log = ws.clone_with_env("TF_LOG_PROVIDER", "info").apply_logged();
    // The members leave the voting set before helm deletes their pods.
    let reconfigured = log.find("reconfiguring the ensemble's voting members").expect("a reconfiguration");
    let upgraded = log.find("installing or upgrading release").expect("an upgrade");
    assert!(reconfigured < upgraded, "the shrink reconfigured after the upgrade:\n{log}");
    deployed.wait_until("the removed members' pods are gone", Duration::from_secs(120), || {
        deployed.member_starts().len() == 3
    });
    eprintln!("the ensemble shrank from 5 to 3 members in {:?}", resized.elapsed());
    assert_eq!(deployed.voting_members(), ["server.1", "server.2", "server.3"]);
    assert_eq!(deployed.zookeeper_modes(3), ["Mode: follower", "Mode: follower", "Mode: leader"]);
    assert_eq!(deployed.member_starts(), starts, "a member restarted while shrinking");
    deployed.wait_until("the removed members' volumes are deleted", Duration::from_secs(60), || deployed.claims() == 6);
    producer.stop();
    deployed.assert_kept("the ensemble grown and shrunk", "acked", &Deployed::acknowledged(producer));
    let registered = deployed.registered_brokers();
    assert!(registered.contains("[0, 1, 2]"), "brokers in the cluster's chroot after resizing: {registered}");
    assert!(deployed.topics().contains("acked"), "the topic's metadata is kept");
    ws.assert_no_changes();

    // The TLS listener, with a Secret made here: a client that checks the brokers' certificates
    // against this CA and their in-cluster names reads the records over it.
    let pki = tempfile::tempdir().unwrap();
    make_tls_secret(&deployed, pki.path());
    ws.write(&config(&namespace, r#""log.retention.hours" = "72""#, false, true));
    ws.apply();
    let tls_bootstrap =
        ws.resource("hikube_kafka_cluster.kafka")["tls_bootstrap_servers"][0].as_str().unwrap().to_string();
    std::fs::copy(pki.path().join("ca.crt"), deployed.client.path().join("ca.crt")).unwrap();
    deployed.sign_in();
    let client = deployed.client.path().join("admin-tls.properties");
    let tls_only = format!(
        "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n",
        pki.path().join("ca.crt").display()
    );
    assert!(!deployed.lists_topics(&tls_bootstrap, &tls_only), "a client without credentials got in on 9093");
    let over_tls = deployed
        .tool(
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            &[
                "--bootstrap-server",
                &tls_bootstrap,
                "--consumer.config",
                client.to_str().unwrap(),
                "--topic",
                "acked",
                "--from-beginning",
                "--max-messages",
                "100",
                "--timeout-ms",
                "60000",
            ],
        )
        .output()
        .expect("ConsoleConsumer over TLS");
    let read = String::from_utf8_lossy(&over_tls.stdout).lines().count();
    assert_eq!(read, 100, "records read over TLS: {}", String::from_utf8_lossy(&over_tls.stderr));
    ws.assert_no_changes();

    // Terraform over TLS through the tunnel: the brokers' certificates are checked against their
    // advertised names, so a name they do not carry is refused.
    let ca = pki.path().join("ca.crt");
    let through_tunnel = |server_name: &str| {
        let reader = Workspace::new(&stack);
        reader.write(&tls_reader_config(&namespace, &tls_bootstrap, &ca, server_name));
        reader.terraform(&["plan", "-no-color", "-input=false"])
    };
    let read = through_tunnel("");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let wrong = through_tunnel(r#"server_name = "elsewhere.example""#);
    let refusal = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success() && refusal.contains("elsewhere.example"), "{refusal}");

    // Volumes: kept by default, so a cluster of the same name finds its data again; deleted with
    // delete_volumes. A topic outside Terraform carries the data across.
    check(
        support::run(&mut deployed.tool(
            "org.apache.kafka.tools.TopicCommand",
            &[
                "--bootstrap-server",
                &deployed.bootstrap,
                "--create",
                "--topic",
                "kept",
                "--replication-factor",
                "3",
                "--command-config",
                &deployed.client_config(),
            ],
        )),
        "create topic kept",
    );
    let kept = Deployed::acknowledged(deployed.start_producer("3", "kept", 500, 500));
    ws.destroy();
    assert_eq!(deployed.claims(), 6, "the volumes are kept by default");
    assert_eq!(
        deployed.kubectl(&["get", "secret", "events-kafka-admin", "--ignore-not-found", "-o", "name"]),
        "",
        "the admin Secret is deleted with the cluster"
    );
    ws.apply();
    deployed.all_ready();
    deployed.sign_in();
    deployed.assert_kept("the cluster destroyed and created again on its kept volumes", "kept", &kept);
    ws.write(&config(&namespace, r#""log.retention.hours" = "72""#, true, true));
    ws.apply();
    ws.destroy();
    deployed.wait_until("the claims are deleted", Duration::from_secs(30), || deployed.claims() == 0);
}

/// A configuration that reads the topic `acked` over the TLS listener, through the tunnel,
/// trusting `ca`; `server_name` is a line of the `tls` block, or empty.
fn tls_reader_config(namespace: &str, bootstrap: &str, ca: &std::path::Path, server_name: &str) -> String {
    format!(
        r#"{provider}

data "hikube_kafka_topic" "acked" {{
  name = "acked"
  kafka = {{
    bootstrap_servers = ["{bootstrap}"]
    tls               = {{
      ca_cert = file("{ca}")
      {server_name}
    }}
    sasl   = {{ credentials_secret = "events-kafka-admin" }}
    tunnel = {{}}
  }}
}}
"#,
        provider = provider_in(namespace),
        ca = ca.display()
    )
}

/// A CA and a certificate for every broker's in-cluster names, as the Secret `events-tls` the
/// chart's TLS listener takes (`tls.crt`, `tls.key`, `ca.crt`). Made here, not by the chart, so
/// it outlives the cluster's destroy.
fn make_tls_secret(deployed: &Deployed, dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        check(support::run(std::process::Command::new("openssl").args(args).current_dir(dir)), "openssl");
    };
    if !dir.join("tls.crt").exists() {
        let ns = &deployed.namespace;
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=real-node test CA",
        ]);
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "tls.key"]);
        let sans = format!(
            "subjectAltName=DNS:*.events-kafka-headless.{ns}.svc.cluster.local,DNS:events-kafka-bootstrap.{ns}.svc.cluster.local"
        );
        std::fs::write(dir.join("ext.cnf"), format!("{sans}\nextendedKeyUsage=serverAuth,clientAuth\n")).unwrap();
        openssl(&["req", "-new", "-key", "tls.key", "-subj", "/CN=events-kafka", "-out", "tls.csr"]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "tls.crt",
        ]);
    }
    let file = |name: &str| format!("--from-file={name}={}", dir.join(name).display());
    deployed.kubectl(&["delete", "secret", "events-tls", "--ignore-not-found"]);
    check(
        deployed.stack.kubectl(&[
            "-n",
            &deployed.namespace,
            "create",
            "secret",
            "generic",
            "events-tls",
            &file("tls.crt"),
            &file("tls.key"),
            &file("ca.crt"),
        ]),
        "kubectl create secret",
    );
}
