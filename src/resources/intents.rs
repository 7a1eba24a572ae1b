//! What this provider started creating but Terraform may not have recorded yet.
//!
//! Terraform learns what a create made only from its answer. A provider killed in between (a
//! CI job cancelled, Ctrl-C twice) leaves a topic or release that no state holds, and the next
//! apply finds it "already existing". That must not be confused with somebody else's topic of the
//! same name, which this provider must never take over. So before each create the provider writes
//! an intent, next to the configuration in `.terraform/hikube-intents/`, and removes it once the
//! answer is on its way to Terraform. An intent still there, written by a process that is gone,
//! is the proof that an earlier apply of this configuration started the object.
//!
//! An intent is cleared only once Terraform will hold what the create made; one whose create
//! failed stays, since the object may exist anyway (a timeout after the broker acted). Records
//! older than a day are ignored: by then a stranger may have made an object of that name.
//!
//! A missing or unwritable journal only means nothing is adopted: the safe side.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug)]
pub struct Journal {
    dir: Option<PathBuf>,
}

impl Default for Journal {
    /// The journal of the configuration and workspace Terraform runs: Terraform starts providers
    /// in the configuration's directory, and workspaces of one directory share `.terraform/`.
    fn default() -> Self {
        let dir = std::env::current_dir().ok().map(|cwd| {
            let workspace = std::env::var("TF_WORKSPACE")
                .ok()
                .or_else(|| std::fs::read_to_string(cwd.join(".terraform/environment")).ok())
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty() && !w.contains('/'))
                .unwrap_or_else(|| "default".into());
            cwd.join(".terraform").join("hikube-intents").join(workspace)
        });
        Journal { dir }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    kind: String,
    target: String,
    pid: u32,
    started: u64,
}

/// An intent of this process, written before its create.
#[must_use = "an intent is finished once Terraform has the create's outcome"]
pub struct Intent {
    path: PathBuf,
}

impl Intent {
    /// The outcome goes to Terraform now: the record has served.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A record of a create whose process is gone before it could answer Terraform.
#[derive(Debug)]
pub struct LeftBehind {
    path: PathBuf,
    pub started: SystemTime,
}

impl LeftBehind {
    /// The object it stood for is recovered or adopted.
    pub fn clear(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Journal {
    pub fn at(dir: impl Into<PathBuf>) -> Journal {
        Journal { dir: Some(dir.into()) }
    }

    fn path(&self, kind: &str, target: &str) -> Option<PathBuf> {
        let digest = Sha256::digest(format!("{kind}\0{target}").as_bytes());
        Some(self.dir.as_ref()?.join(format!("{digest:x}.json")))
    }

    /// Records that this process is about to create `target`. `None` when the journal cannot be
    /// written, which only costs the adoption of what a crash would leave.
    pub fn begin(&self, kind: &str, target: &str) -> Option<Intent> {
        let path = self.path(kind, target)?;
        let record = Record {
            kind: kind.into(),
            target: target.into(),
            pid: std::process::id(),
            started: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        };
        match write_private(&path, &serde_json::to_vec(&record).expect("an intent serializes")) {
            Ok(()) => Some(Intent { path }),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "could not record the intent; a crash now would leave an object to import");
                None
            }
        }
    }

    /// Drops whatever record `target` has: the object is gone (destroyed), so nothing of an
    /// earlier attempt can be recovered any more.
    pub fn forget(&self, kind: &str, target: &str) {
        if let Some(path) = self.path(kind, target) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The record an interrupted create of `target` left, if its process is gone.
    pub fn left_behind(&self, kind: &str, target: &str) -> Option<LeftBehind> {
        let path = self.path(kind, target)?;
        let record: Record = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let started = UNIX_EPOCH.checked_add(Duration::from_secs(record.started))?;
        let fresh = SystemTime::now().duration_since(started).is_ok_and(|age| age < MAX_AGE);
        if record.kind != kind || record.target != target || !fresh || provider_alive(record.pid) {
            return None;
        }
        Some(LeftBehind { path, started })
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Whether `pid` is a provider process still running (this one included): its create may still
/// be under way. A pid reused by another program does not count.
fn provider_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("terraform-provider-hikube"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(journal: &Journal, target: &str, pid: u32) {
        let path = journal.path("topic", target).unwrap();
        let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 60;
        let record = Record { kind: "topic".into(), target: target.into(), pid, started };
        write_private(&path, &serde_json::to_vec(&record).unwrap()).unwrap();
    }

    #[test]
    fn a_record_of_a_provider_still_running_is_not_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        let mut provider = std::process::Command::new("bash")
            .args(["-c", "exec -a terraform-provider-hikube sleep 30"])
            .spawn()
            .unwrap();
        // Until the child has exec'd, its command line is this test binary's: wait for that.
        let named = std::time::Instant::now() + Duration::from_secs(10);
        while !provider_alive(provider.id()) && std::time::Instant::now() < named {
            std::thread::sleep(Duration::from_millis(5));
        }
        record(&journal, "c/orders", provider.id());
        assert!(journal.left_behind("topic", "c/orders").is_none(), "its create may still be under way");
        provider.kill().unwrap();
        provider.wait().unwrap();
        assert!(journal.left_behind("topic", "c/orders").is_some(), "gone: what it left is this configuration's");
    }

    #[test]
    fn finishing_or_forgetting_removes_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        // This test binary is no provider process, so its own record counts as left behind.
        journal.begin("topic", "c/orders").unwrap().finish();
        assert!(journal.left_behind("topic", "c/orders").is_none());
        let _kept = journal.begin("topic", "c/orders").unwrap();
        journal.forget("topic", "c/orders");
        assert!(journal.left_behind("topic", "c/orders").is_none());
    }

    #[test]
    fn only_the_same_kind_and_target_match() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        record(&journal, "c/orders", u32::MAX);
        assert!(journal.left_behind("topic", "c/payments").is_none());
        assert!(journal.left_behind("release", "c/orders").is_none());
        let left = journal.left_behind("topic", "c/orders").expect("a dead process's record");
        left.clear();
        assert!(journal.left_behind("topic", "c/orders").is_none());
    }

    #[test]
    fn a_record_older_than_a_day_proves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        let path = journal.path("topic", "c/old").unwrap();
        let record = Record { kind: "topic".into(), target: "c/old".into(), pid: u32::MAX, started: 1 };
        write_private(&path, &serde_json::to_vec(&record).unwrap()).unwrap();
        assert!(journal.left_behind("topic", "c/old").is_none());
    }

    #[test]
    fn records_are_private_and_an_unwritable_journal_adopts_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path().join("intents"));
        let _intent = journal.begin("topic", "c/t").unwrap();
        let file = std::fs::read_dir(dir.path().join("intents")).unwrap().next().unwrap().unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let nowhere = Journal { dir: None };
        assert!(nowhere.begin("topic", "c/t").is_none());
        assert!(nowhere.left_behind("topic", "c/t").is_none());
    }
}
