//! Helm: the CLI driven for install, upgrade, uninstall, rollback and template, with values
//! passed through a 0600 file and never on the command line; release state decoded from the
//! release Secret; the charts this provider ships, embedded in the binary.

mod charts;
mod driver;
mod release;

pub use charts::{ChartSource, EMBEDDED_CHART_VERSION, remove_extracted_charts};
pub use driver::{GRACE, Helm, InstallOptions};
pub use release::{Release, ReleaseStatus, decode_release_secret, manifest_objects};

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("helm {command} failed: {message}")]
    Command { command: String, message: String },
    /// helm's own "release: not found", told apart where helm's output is read.
    #[error("helm {command}: release not found")]
    ReleaseNotFound { command: String },
    #[error("could not run helm ({binary}): {reason}")]
    Spawn { binary: String, reason: String },
    #[error("helm {command} timed out after {seconds}s")]
    Timeout { command: String, seconds: u64 },
    #[error("release secret is not a Helm release: {0}")]
    BadRelease(String),
    #[error("I/O error preparing a helm call: {0}")]
    Io(String),
}
