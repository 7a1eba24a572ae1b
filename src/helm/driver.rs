//! Running the helm CLI. Values go through a 0600 temporary file, credentials through helm's
//! environment variables: nothing secret ever appears in a process's arguments.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::process::Command;

use super::{ChartSource, Error};

/// How the provider reaches the cluster, handed to helm.
#[derive(Clone, Debug, Default)]
pub struct Helm {
    pub binary: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `HELM_KUBEAPISERVER`, `HELM_KUBETOKEN`, ... for a connection given by host and token.
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug)]
pub struct InstallOptions {
    pub wait: bool,
    pub timeout: Duration,
    /// Roll back by itself when the upgrade fails.
    pub atomic: bool,
}

/// Extra time helm gets beyond its own `--timeout` before the provider gives up on it (and
/// kills it): past a release's timeout and this, no helm of this provider still works on it.
pub const GRACE: Duration = Duration::from_secs(60);

impl Helm {
    fn command(&self, namespace: &str) -> Command {
        let mut command = Command::new(&self.binary);
        // A helm left running by a provider that was killed would go on installing behind the
        // next apply's back: it dies with the provider, leaving a pending release the next apply
        // recovers.
        // SAFETY: prctl is async-signal-safe and touches nothing of the parent's state.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        if let Some(context) = &self.context {
            command.args(["--kube-context", context]);
        }
        command.args(["--namespace", namespace]);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // The provider giving up on helm (its own timeout, a cancelled call) ends helm too,
        // rather than leave it working on the release behind the next operation.
        command.kill_on_drop(true);
        command
    }

    async fn run(&self, command: Command, name: &str, timeout: Duration) -> Result<String, Error> {
        self.run_within(command, name, timeout.saturating_add(GRACE)).await
    }

    async fn run_within(&self, mut command: Command, name: &str, bound: Duration) -> Result<String, Error> {
        // Arguments only: the environment carries the API server token.
        let arguments: Vec<_> = command.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        tracing::debug!(binary = %self.binary.display(), arguments = %arguments.join(" "), "running helm");
        let started = std::time::Instant::now();
        let child = command
            .spawn()
            .map_err(|e| Error::Spawn { binary: self.binary.display().to_string(), reason: e.to_string() })?;
        let output = tokio::time::timeout(bound, child.wait_with_output())
            .await
            .map_err(|_| Error::Timeout { command: name.to_string(), seconds: bound.as_secs() })?
            .map_err(|e| Error::Spawn { binary: self.binary.display().to_string(), reason: e.to_string() })?;
        // The benchmark sums these to tell helm's share of a plan from the provider's own.
        let helm_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(command = name, helm_ms, success = output.status.success(), "helm finished");
        if !output.status.success() {
            let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
            // Every command ends its message so ("Error: release: not found", or for uninstall
            // "Error: uninstall: Release not loaded: NAME: release: not found").
            if message.ends_with("release: not found") {
                return Err(Error::ReleaseNotFound { command: name.to_string() });
            }
            return Err(Error::Command { command: name.to_string(), message });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `helm upgrade --install`: installs the release or upgrades it to these values.
    pub async fn upgrade_install(
        &self,
        release: &str,
        namespace: &str,
        chart: &ChartSource,
        values: &Json,
        options: InstallOptions,
    ) -> Result<(), Error> {
        let values_file = values_file(values)?;
        let mut command = self.command(namespace);
        command.args(["upgrade", "--install", release]).args(chart.args()?);
        command.arg("--values").arg(values_file.path());
        command.args([
            "--create-namespace",
            "--history-max",
            "10",
            "--timeout",
            &format!("{}s", options.timeout.as_secs()),
        ]);
        if options.wait {
            command.arg("--wait");
        }
        if options.atomic {
            command.arg("--atomic");
        }
        self.run(command, "upgrade --install", options.timeout).await.map(drop)
    }

    /// Renders the chart as the cluster would receive it, without touching the cluster.
    pub async fn template(
        &self,
        release: &str,
        namespace: &str,
        chart: &ChartSource,
        values: &Json,
    ) -> Result<String, Error> {
        let values_file = values_file(values)?;
        let mut command = self.command(namespace);
        command.args(["template", release]).args(chart.args()?);
        command.arg("--values").arg(values_file.path());
        self.run(command, "template", Duration::from_secs(60)).await
    }

    pub async fn uninstall(&self, release: &str, namespace: &str, wait: bool, timeout: Duration) -> Result<(), Error> {
        let mut command = self.command(namespace);
        command.args(["uninstall", release, "--timeout", &format!("{}s", timeout.as_secs())]);
        if wait {
            // Foreground: the StatefulSet goes only once its pods have, so that brokers finish
            // their controlled shutdown while the ensemble a later step removes is still there.
            command.args(["--wait", "--cascade", "foreground"]);
        }
        match self.run(command, "uninstall", timeout).await {
            Err(Error::ReleaseNotFound { .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Returns the release to an earlier revision; the way out of an interrupted upgrade.
    pub async fn rollback(
        &self,
        release: &str,
        namespace: &str,
        revision: i64,
        timeout: Duration,
    ) -> Result<(), Error> {
        let mut command = self.command(namespace);
        command.args([
            "rollback",
            release,
            &revision.to_string(),
            "--wait",
            "--timeout",
            &format!("{}s", timeout.as_secs()),
        ]);
        self.run(command, "rollback", timeout).await.map(drop)
    }
}

/// A private temporary file holding the values as JSON (which YAML readers accept).
fn values_file(values: &Json) -> Result<tempfile::NamedTempFile, Error> {
    // tempfile creates files readable by their owner only (0600).
    let mut file = tempfile::Builder::new()
        .prefix("hikube-values-")
        .suffix(".json")
        .tempfile()
        .map_err(|e| Error::Io(e.to_string()))?;
    file.write_all(values.to_string().as_bytes()).map_err(|e| Error::Io(e.to_string()))?;
    file.flush().map_err(|e| Error::Io(e.to_string()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// helm used to be left running when the provider's own timeout fired: it went on changing
    /// the release behind the next operation's back.
    #[tokio::test]
    async fn helm_is_killed_when_the_provider_stops_waiting_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let fake = dir.path().join("helm");
        std::fs::write(&fake, format!("#!/bin/sh\necho $$ > {}\nexec sleep 30\n", pid_file.display())).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let helm = Helm { binary: fake, ..Default::default() };
        let ran = helm.run_within(helm.command("default"), "upgrade", Duration::from_millis(500)).await;
        assert!(matches!(ran, Err(Error::Timeout { .. })), "{ran:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie waiting to be reaped: either way no longer running.
        let running = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        };
        while running() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!running(), "helm (pid {pid}) still runs");
    }

    #[test]
    fn values_files_are_private() {
        let file = values_file(&serde_json::json!({"password": "x"})).unwrap();
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
