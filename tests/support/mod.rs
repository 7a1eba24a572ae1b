//! What the end-to-end tests share: the local stack's coordinates (from `scripts/stack env`)
//! and small helpers to run its real tools.
#![allow(dead_code)]

pub mod deployed;
pub mod terraform;

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Stack {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub helm: PathBuf,
    pub terraform: PathBuf,
    pub zookeeper_connect: String,
    pub plain_bootstrap: String,
    pub sasl_bootstrap: String,
    pub kafka_ca: PathBuf,
    pub sasl_username: String,
    pub sasl_password_file: PathBuf,
    pub sasl_client_properties: PathBuf,
    pub kafka_classpath: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests run against the local stack. Run `scripts/test`, or \
             `scripts/stack up && eval \"$(scripts/stack env)\"` before `cargo test`."
        )
    })
}

impl Stack {
    /// The local stack that `scripts/stack env` describes. Without one, an end-to-end test is
    /// skipped with a line saying so (the way `TF_ACC` gates acceptance tests), so that `cargo
    /// test` on any machine runs every other test; `HIKUBE_REQUIRE_STACK` (set by `scripts/test`)
    /// makes a missing stack a failure instead.
    pub fn from_env() -> Option<Stack> {
        // HIKUBE_KUBECTL is set by `scripts/stack env` only (HIKUBE_STATE_DIR may be set by hand).
        if std::env::var_os("HIKUBE_KUBECTL").is_none() && std::env::var_os("HIKUBE_REQUIRE_STACK").is_none() {
            use std::io::Write;
            let test = std::thread::current().name().unwrap_or("a test").to_string();
            // Written past the test harness's capture, so that the skip shows in a passing run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: it needs the local stack (`scripts/stack up && eval \"$(scripts/stack env)\"`)"
            );
            return None;
        }
        Some(Stack {
            kubeconfig: var("KUBECONFIG").into(),
            kubectl: var("HIKUBE_KUBECTL").into(),
            helm: var("HIKUBE_HELM").into(),
            terraform: var("TF_CLI").into(),
            zookeeper_connect: var("HIKUBE_ZOOKEEPER_CONNECT"),
            plain_bootstrap: var("HIKUBE_KAFKA_BOOTSTRAP"),
            sasl_bootstrap: var("HIKUBE_KAFKA_SASL_BOOTSTRAP"),
            kafka_ca: var("HIKUBE_KAFKA_CA").into(),
            sasl_username: var("HIKUBE_KAFKA_SASL_USERNAME"),
            sasl_password_file: var("HIKUBE_KAFKA_SASL_PASSWORD_FILE").into(),
            sasl_client_properties: var("HIKUBE_KAFKA_CLIENT_SASL_PROPERTIES").into(),
            kafka_classpath: var("HIKUBE_KAFKA_CLASSPATH"),
        })
    }

    /// Deletes a test's namespace, and with it the releases, pods and claims in it, when the
    /// test ends, failing or not: a failed end-to-end test used to leave its pods running.
    pub fn namespace_cleanup(&self, namespace: &str) -> NamespaceCleanup<'_> {
        NamespaceCleanup { stack: self, namespace: namespace.to_string() }
    }

    /// Deletes the topics whose names begin with one of `prefixes` when the test ends, failing
    /// or not, so that a failed test leaves no topic on the stack's brokers.
    pub fn topic_cleanup(&self, prefixes: &[&str]) -> TopicCleanup {
        let prefixes = prefixes.iter().map(|p| p.to_string()).collect();
        TopicCleanup { bootstrap: self.plain_bootstrap.clone(), prefixes }
    }

    pub fn sasl_password(&self) -> String {
        std::fs::read_to_string(&self.sasl_password_file).expect("SASL password file").trim().to_string()
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        run(Command::new(&self.kubectl).arg("--kubeconfig").arg(&self.kubeconfig).args(args))
    }

    pub fn helm(&self, args: &[&str]) -> Output {
        run(Command::new(&self.helm).arg("--kubeconfig").arg(&self.kubeconfig).args(args))
    }

    /// Runs one of Kafka's own command-line tools (a class on the Kafka classpath).
    pub fn kafka_tool(&self, class: &str, args: &[&str]) -> Output {
        run(&mut self.kafka_tool_command(false, class, args))
    }

    /// A Kafka tool's command line; with `cluster_dns`, run through `scripts/stack cluster-dns`
    /// so that it reaches a cluster deployed on the real node by its in-cluster names.
    pub fn kafka_tool_command(&self, cluster_dns: bool, class: &str, args: &[&str]) -> Command {
        let mut command = if cluster_dns {
            let mut command = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/stack"));
            command.args(["cluster-dns", "java"]);
            command
        } else {
            Command::new("java")
        };
        command
            .args(["-Xmx96m", "-XX:TieredStopAtLevel=1", "-cp", &self.kafka_classpath])
            .arg(format!("-Dlog4j.configuration=file:{}/tools-log4j.properties", var("HIKUBE_STATE_DIR")))
            .arg(class)
            .args(args);
        command
    }
}

/// Faults: processes of the stack killed outright, and the stack's own command to bring them back.
impl Stack {
    fn pid(&self, daemon: &str) -> i32 {
        let file = PathBuf::from(var("HIKUBE_STATE_DIR")).join("pids").join(format!("{daemon}.pid"));
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().parse().unwrap()
    }

    /// SIGKILL to a daemon of the stack (`kafka-1`, `zookeeper-0`, `kube-apiserver`) and its
    /// process group: no shutdown hook, no controlled shutdown.
    pub fn kill(&self, daemon: &str) {
        let pid = self.pid(daemon);
        run(Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]));
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{daemon} (pid {pid}) survived SIGKILL");
    }

    /// SIGSTOP to a daemon of the stack: it keeps its sockets, the kernel keeps accepting TCP
    /// for it, and it answers nothing, as a broker in a long GC or out of heap does. The guard
    /// sends SIGCONT when dropped, failed assertions included.
    pub fn freeze(&self, daemon: &str) -> Frozen {
        let pid = self.pid(daemon);
        check(run(Command::new("kill").args(["-STOP", &pid.to_string()])), "kill -STOP");
        Frozen { pid }
    }

    /// A namespace whose pods run on the stack's real node (`scripts/stack real-namespace`).
    pub fn real_namespace(&self, name: &str) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/stack");
        check(run(Command::new(script).args(["real-namespace", name])), "scripts/stack real-namespace");
    }

    /// `scripts/stack up`: starts again whatever is not running, and waits for it.
    pub fn bring_up(&self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/stack");
        check(run(Command::new(script).arg("up")), "scripts/stack up");
    }

    /// The ZooKeeper member that leads the ensemble now, as its daemon name.
    pub fn zookeeper_leader(&self) -> Option<String> {
        use std::io::{Read, Write};
        self.zookeeper_connect.split(',').enumerate().find_map(|(i, address)| {
            let mut stream = std::net::TcpStream::connect(address).ok()?;
            stream.write_all(b"srvr").ok()?;
            let mut reply = String::new();
            stream.read_to_string(&mut reply).ok()?;
            reply.contains("Mode: leader").then(|| format!("zookeeper-{i}"))
        })
    }

    /// Produces `count` records with acks=all through Kafka's VerifiableProducer; returns the
    /// values the brokers acknowledged.
    pub fn produce(&self, topic: &str, count: usize) -> std::collections::BTreeSet<String> {
        let output = check(
            self.kafka_tool(
                "org.apache.kafka.tools.VerifiableProducer",
                &[
                    "--bootstrap-server",
                    &self.plain_bootstrap,
                    "--topic",
                    topic,
                    "--max-messages",
                    &count.to_string(),
                    "--acks",
                    "-1",
                ],
            ),
            "VerifiableProducer",
        );
        output
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|event| event["name"] == "producer_send_success")
            .filter_map(|event| event["value"].as_str().map(str::to_string))
            .collect()
    }

    /// Every record value of a topic, read from the beginning by Kafka's console consumer.
    pub fn consume(&self, topic: &str, at_least: usize) -> std::collections::BTreeSet<String> {
        // Fewer records than asked for end in a timeout and a non-zero exit: what was read is
        // the answer either way.
        let output = stdout(&self.kafka_tool(
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            &[
                "--bootstrap-server",
                &self.plain_bootstrap,
                "--topic",
                topic,
                "--from-beginning",
                "--max-messages",
                &at_least.to_string(),
                "--timeout-ms",
                "30000",
            ],
        ));
        output.lines().map(str::to_string).collect()
    }
}

/// A frozen daemon, thawed when this is dropped.
pub struct Frozen {
    pid: i32,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.pid.to_string()]).status();
    }
}

pub struct NamespaceCleanup<'a> {
    stack: &'a Stack,
    namespace: String,
}

impl Drop for NamespaceCleanup<'_> {
    fn drop(&mut self) {
        self.stack.kubectl(&["delete", "namespace", &self.namespace, "--wait=false", "--ignore-not-found"]);
    }
}

pub struct TopicCleanup {
    bootstrap: String,
    prefixes: Vec<String>,
}

impl Drop for TopicCleanup {
    /// On a thread of its own: the test may be running on a runtime, where another cannot start.
    fn drop(&mut self) {
        use terraform_provider_hikube::kafka::{Admin, ConnectionConfig};
        let (bootstrap, prefixes) = (self.bootstrap.clone(), std::mem::take(&mut self.prefixes));
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else { return };
            let mut config = ConnectionConfig::plaintext(bootstrap.split(','));
            config.request_timeout = std::time::Duration::from_secs(10);
            let admin = std::sync::Arc::new(Admin::new(config));
            runtime.block_on(async {
                let Ok(topics) = admin.all_topics().await else { return };
                for topic in topics.iter().filter(|t| prefixes.iter().any(|p| t.name.starts_with(p.as_str()))) {
                    let _ = admin.delete_topic(&topic.name, std::time::Duration::from_secs(30)).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("could not run {command:?}: {e}"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Panics with the command's output unless it succeeded.
pub fn check(output: Output, what: &str) -> String {
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout(&output)
}

/// A name no earlier run used, so tests never trip over leftovers.
/// Asks `done` every `every` until it says yes; fails the test after `timeout`.
pub fn wait_until(
    what: &str,
    timeout: std::time::Duration,
    every: std::time::Duration,
    mut done: impl FnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(every);
    }
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}
