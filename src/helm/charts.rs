//! The charts shipped in `charts/`, compiled into the binary so the provider works offline,
//! and the other places a chart may come from.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// The embedded charts, written once per process to a private temporary directory.
fn embedded_dir() -> Result<&'static Path, Error> {
    static DIR: OnceLock<Result<PathBuf, Error>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("terraform-provider-hikube-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io(e.to_string()))?;
        CHARTS.extract(&dir).map_err(|e| Error::Io(e.to_string()))?;
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}
