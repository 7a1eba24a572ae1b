//! What the end-to-end tests share: the local stack's coordinates (from `scripts/stack env`)
//! and small helpers to run its real tools.
#![allow(dead_code)]

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
    pub fn from_env() -> Stack {
        Stack {
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
        }
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
        run(Command::new("java")
            .args(["-Xmx96m", "-XX:TieredStopAtLevel=1", "-cp", &self.kafka_classpath])
            .arg(format!("-Dlog4j.configuration=file:{}/tools-log4j.properties", var("HIKUBE_STATE_DIR")))
            .arg(class)
            .args(args))
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
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}
