//! A cluster deployed on the real node by a test: the `events` ensemble and cluster in a
//! namespace of the test's own, looked at with kubectl and Kafka's own tools, which run with the
//! cluster's DNS and sign in as its admin.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::{Stack, check, stdout};

/// A Kafka client's settings for a SCRAM-SHA-512 user over `protocol`.
pub fn scram_settings(protocol: &str, username: &str, password: &str) -> String {
    format!(
        "security.protocol={protocol}\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=\
         org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{username}\" password=\"{password}\";\n"
    )
}

/// What a background producer did.
pub struct Produced {
    pub acknowledged: BTreeSet<String>,
    pub failed: usize,
    pub first_failure: Option<String>,
    /// The longest time between two acknowledgements.
    pub stall: Duration,
}

impl Produced {
    /// No send failed and no stall came near the client's delivery timeout (120 s), as an
    /// application would need of a change to a running cluster.
    pub fn assert_unharmed(&self, what: &str) {
        assert_eq!(self.failed, 0, "{what}: {} sends failed, first: {:?}", self.failed, self.first_failure);
        assert!(self.stall < Duration::from_secs(60), "{what}: producers stalled for {:?}", self.stall);
    }
}

/// A Kafka tool running in the background, its output read as it comes: a tool whose output
/// pipe fills blocks (a producer's callbacks print on its network thread, so it would stop
/// sending and look stalled).
pub struct Background {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Background {
    fn spawn(command: &mut std::process::Command) -> Background {
        use std::io::BufRead;
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("a Kafka tool");
        let output = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Background { child, lines }
    }

    /// Asks the tool to stop (SIGTERM: it reports what it did before it exits).
    pub fn stop(&self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// Every line the tool printed, once it has exited.
    fn all_lines(mut self) -> Vec<String> {
        let _ = self.child.wait();
        self.lines.iter().collect()
    }
}

pub struct Deployed<'a> {
    pub stack: &'a Stack,
    pub namespace: String,
    pub bootstrap: String,
    /// The tools' settings: SCRAM as the cluster's admin (see `sign_in`), in a private directory.
    pub client: tempfile::TempDir,
}

impl Deployed<'_> {
    pub fn client_config(&self) -> String {
        self.client.path().join("admin.properties").display().to_string()
    }

    /// The tools sign in as the admin, with the password of the admin Secret as it now is (a
    /// cluster destroyed and created again has a new one).
    pub fn sign_in(&self) {
        let field = |key: &str| {
            let encoded =
                self.kubectl(&["get", "secret", "events-kafka-admin", "-o", &format!("jsonpath={{.data.{key}}}")]);
            String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).unwrap(),
            )
            .unwrap()
        };
        let (username, password) = (field("username"), field("password"));
        for (file, protocol) in [("admin.properties", "SASL_PLAINTEXT"), ("admin-tls.properties", "SASL_SSL")] {
            let mut text = scram_settings(protocol, &username, &password);
            if protocol == "SASL_SSL" {
                text += &format!(
                    "ssl.truststore.type=PEM\nssl.truststore.location={}\nssl.endpoint.identification.algorithm=https\n",
                    self.client.path().join("ca.crt").display()
                );
            }
            std::fs::write(self.client.path().join(file), text).unwrap();
        }
    }

    /// The rate Kafka's producer benchmark reached with the client settings `config`, in bytes
    /// per second, sending `records` of 1 kB to `topic`.
    pub fn produced_rate(&self, config: &str, topic: &str, records: u32) -> f64 {
        let records = records.to_string();
        let args = [
            "--topic",
            topic,
            "--record-size",
            "1000",
            "--throughput",
            "-1",
            "--num-records",
            &records,
            "--producer-props",
            &format!("bootstrap.servers={}", self.bootstrap),
            "acks=1",
            "--producer.config",
            config,
        ];
        let output = check(
            super::run(&mut self.tool("org.apache.kafka.tools.ProducerPerformance", &args)),
            "producer benchmark",
        );
        // The summary line: "N records sent, R records/sec (M MB/sec), ...".
        let summary = output.lines().rev().find(|l| l.contains("records sent")).expect("a summary line");
        let per_second: f64 = summary.split(", ").nth(1).and_then(|f| f.split(' ').next()).unwrap().parse().unwrap();
        per_second * 1000.0
    }

    /// Whether a client with `settings` (and nothing else) may list the topics at `bootstrap`.
    pub fn lists_topics(&self, bootstrap: &str, settings: &str) -> bool {
        let file = self.client.path().join("probe.properties");
        std::fs::write(&file, format!("request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n{settings}")).unwrap();
        let mut list = self.tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", bootstrap, "--list", "--command-config", file.to_str().unwrap()],
        );
        super::run(&mut list).status.success()
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend(args);
        stdout(&self.stack.kubectl(&all))
    }

    pub fn ready(&self, statefulset: &str) -> String {
        self.kubectl(&["get", "statefulset", statefulset, "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}"])
    }

    /// Each look runs kubectl or a JVM tool: every 2 s is often enough.
    pub fn wait_until(&self, what: &str, timeout: Duration, done: impl FnMut() -> bool) {
        super::wait_until(what, timeout, Duration::from_secs(2), done);
    }

    pub fn tool(&self, class: &str, args: &[&str]) -> std::process::Command {
        self.stack.kafka_tool_command(true, class, args)
    }

    /// A producer with acks=all sending `count` records at `per_second`, in the background; the
    /// values carry the number `step` (a whole number: the tool refuses anything else), so that
    /// what each step acknowledged is told apart. It retries as a Kafka client does by default
    /// (the tool itself sets `retries=0`, so that any leader change would fail a send), with
    /// idempotence, within the default delivery timeout of 120 s.
    pub fn start_producer(&self, step: &str, topic: &str, count: usize, per_second: usize) -> Background {
        let settings = self.client.path().join("producer.properties");
        let admin = std::fs::read_to_string(self.client_config()).expect("signed in");
        std::fs::write(&settings, format!("{admin}retries=2147483647\nenable.idempotence=true\n")).unwrap();
        Background::spawn(&mut self.tool(
            "org.apache.kafka.tools.VerifiableProducer",
            &[
                "--bootstrap-server",
                &self.bootstrap,
                "--topic",
                topic,
                "--max-messages",
                &count.to_string(),
                "--throughput",
                &per_second.to_string(),
                "--acks",
                "-1",
                "--value-prefix",
                step,
                "--producer.config",
                settings.to_str().unwrap(),
            ],
        ))
    }

    /// What the producer did, once it is done: the records acknowledged, how many sends failed
    /// (and the first reason), and the longest time between two acknowledgements, which is how
    /// long producers stalled.
    pub fn produced(producer: Background) -> Produced {
        let events: Vec<serde_json::Value> =
            producer.all_lines().iter().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).collect();
        let succeeded: Vec<&serde_json::Value> =
            events.iter().filter(|event| event["name"] == "producer_send_success").collect();
        let failed: Vec<&serde_json::Value> =
            events.iter().filter(|event| event["name"] == "producer_send_error").collect();
        let mut times: Vec<i64> = succeeded.iter().filter_map(|event| event["timestamp"].as_i64()).collect();
        times.sort_unstable();
        let stall = Duration::from_millis(times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as u64);
        let produced = Produced {
            acknowledged: succeeded.iter().filter_map(|event| event["value"].as_str().map(str::to_string)).collect(),
            failed: failed.len(),
            first_failure: failed.first().map(|e| e["message"].to_string()),
            stall,
        };
        eprintln!(
            "producer: {} acknowledged, {} failed{}, longest time between acknowledgements {:?}",
            produced.acknowledged.len(),
            produced.failed,
            produced.first_failure.as_ref().map(|m| format!(" (first: {m})")).unwrap_or_default(),
            produced.stall
        );
        produced
    }

    /// The records the producer had acknowledged, once it is done.
    pub fn acknowledged(producer: Background) -> BTreeSet<String> {
        Self::produced(producer).acknowledged
    }

    /// A consumer reading the topic from its beginning, in the background, until
    /// [`Deployed::consumed`] stops it: an application reading throughout a change.
    pub fn start_consumer(&self, topic: &str) -> Background {
        Background::spawn(&mut self.console_consumer(topic, &[]))
    }

    /// Kafka's console consumer of the topic from its beginning, signed in as the admin.
    fn console_consumer(&self, topic: &str, extra: &[&str]) -> std::process::Command {
        let config = self.client_config();
        let mut args = vec!["--bootstrap-server", &self.bootstrap, "--topic", topic, "--from-beginning"];
        args.extend(extra);
        args.extend(["--consumer.config", &config]);
        self.tool("org.apache.kafka.tools.consumer.ConsoleConsumer", &args)
    }

    /// What a consumer of [`Deployed::start_consumer`] read, once it has read every record of
    /// `expected` (or two minutes passed): it is stopped then.
    pub fn consumed(consumer: Background, expected: &BTreeSet<String>) -> BTreeSet<String> {
        let mut read = BTreeSet::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !expected.is_subset(&read) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match consumer.lines.recv_timeout(left) {
                Ok(line) => {
                    read.insert(line);
                }
                Err(_) => break,
            }
        }
        consumer.stop();
        read.extend(consumer.all_lines());
        read
    }

    /// Every record of the topic: the consumer stops once nothing new came for 20 s.
    pub fn consume(&self, topic: &str) -> BTreeSet<String> {
        let output = self.console_consumer(topic, &["--timeout-ms", "20000"]).output().expect("ConsoleConsumer");
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
    }

    pub fn assert_kept(&self, what: &str, topic: &str, acked: &BTreeSet<String>) {
        assert!(acked.len() > 100, "{what}: only {} records were acknowledged", acked.len());
        let read = self.consume(topic);
        let lost: Vec<&String> = acked.difference(&read).collect();
        assert!(
            lost.is_empty(),
            "{what}: {} of {} acknowledged records lost, e.g. {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
        eprintln!("{what}: {} acknowledged records, all read back", acked.len());
    }

    pub fn topics(&self) -> BTreeSet<String> {
        let config = self.client_config();
        let mut list = self.tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &self.bootstrap, "--list", "--command-config", &config],
        );
        stdout(&super::run(&mut list)).lines().map(str::to_string).collect()
    }
}
