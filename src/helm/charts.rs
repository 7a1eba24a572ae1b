//! The charts shipped in `charts/`, compiled into the binary so the provider works offline,
//! and the other places a chart may come from.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use include_dir::{Dir, include_dir};

use super::Error;

static CHARTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/charts");

/// The version of both embedded charts (their Chart.yaml says the same).
pub const EMBEDDED_CHART_VERSION: &str = "0.1.0";

/// Where a release's chart comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChartSource {
    /// `charts/<name>` of this provider.
    Embedded(&'static str),
    /// A local directory or archive, a `repo/chart` name, or an `oci://` reference, with an
    /// optional version.
    Reference { chart: String, version: Option<String>, repository: Option<String> },
}

impl ChartSource {
    /// The arguments that name the chart on a helm command line.
    pub fn args(&self) -> Result<Vec<String>, Error> {
        match self {
            ChartSource::Embedded(name) => Ok(vec![embedded_dir()?.join(name).display().to_string()]),
            ChartSource::Reference { chart, version, repository } => {
                let mut args = vec![chart.clone()];
                if let Some(repository) = repository {
                    args.extend(["--repo".to_string(), repository.clone()]);
                }
                if let Some(version) = version {
                    args.extend(["--version".to_string(), version.clone()]);
                }
                Ok(args)
            }
        }
    }
}

/// The embedded charts, written once per process to a private temporary directory (0700, files
/// 0600) that `remove_extracted_charts` deletes when the provider stops.
static EXTRACTED: Mutex<Option<tempfile::TempDir>> = Mutex::new(None);

fn embedded_dir() -> Result<PathBuf, Error> {
    let mut extracted = EXTRACTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(dir) = extracted.as_ref() {
        return Ok(dir.path().to_path_buf());
    }
    let io = |e: std::io::Error| Error::Io(e.to_string());
    let dir = tempfile::Builder::new().prefix("terraform-provider-hikube-charts-").tempdir().map_err(io)?;
    CHARTS.extract(dir.path()).map_err(io)?;
    restrict(dir.path()).map_err(io)?;
    let path = dir.path().to_path_buf();
    *extracted = Some(dir);
    Ok(path)
}

fn restrict(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        if path.is_dir() {
            restrict(&path)?;
        }
    }
    Ok(())
}

/// Deletes the charts written for helm, if any were.
pub fn remove_extracted_charts() {
    EXTRACTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
}
