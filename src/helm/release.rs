//! Helm's record of a release, as stored in its Secret (`helm.sh/release.v1`): base64 of gzip
//! of JSON, with the user values, the rendered manifest and the status.

use std::io::Read;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value as Json;

use super::Error;

/// Bigger release payloads than this are refused rather than inflated.
const MAX_RELEASE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseStatus {
    Deployed,
    Failed,
    /// pending-install, pending-upgrade or pending-rollback: an operation that never finished.
    Pending(String),
    Other(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: i64,
    pub status: ReleaseStatus,
    /// The values the user supplied (not merged with the chart's defaults).
    pub values: Json,
    pub manifest: String,
    pub chart_name: String,
    pub chart_version: String,
    /// When this revision's record was written, as the cluster's store says (not part of the
    /// payload); it tells how long a pending operation has been under way.
    pub recorded_at: Option<std::time::SystemTime>,
}

#[derive(Deserialize)]
struct Raw {
    name: String,
    namespace: String,
    version: i64,
    #[serde(default)]
    info: RawInfo,
    #[serde(default)]
    config: Option<Json>,
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    chart: Option<RawChart>,
}

#[derive(Deserialize, Default)]
struct RawInfo {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct RawChart {
    metadata: RawMetadata,
}

#[derive(Deserialize)]
struct RawMetadata {
    name: String,
    #[serde(default)]
    version: String,
}

/// Decodes the `release` field of a release Secret's data (already base64-decoded once by the
/// Kubernetes API client: what remains is Helm's own base64 of gzip of JSON).
pub fn decode_release_secret(payload: &[u8]) -> Result<Release, Error> {
    let bad = |what: &str| Error::BadRelease(what.to_string());
    let gzipped =
        base64::engine::general_purpose::STANDARD.decode(payload.trim_ascii()).map_err(|_| bad("not base64"))?;
    let mut json = Vec::new();
    let reader = if gzipped.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(&gzipped[..])) as Box<dyn Read>
    } else {
        Box::new(&gzipped[..]) as Box<dyn Read>
    };
    reader.take(MAX_RELEASE_BYTES + 1).read_to_end(&mut json).map_err(|_| bad("not gzip"))?;
    if json.len() as u64 > MAX_RELEASE_BYTES {
        return Err(bad("larger than 64 MiB"));
    }
    let raw: Raw = serde_json::from_slice(&json).map_err(|e| Error::BadRelease(format!("not a release: {e}")))?;
    let status = match raw.info.status.as_str() {
        "deployed" => ReleaseStatus::Deployed,
        "failed" => ReleaseStatus::Failed,
        s if s.starts_with("pending-") => ReleaseStatus::Pending(s.to_string()),
        s => ReleaseStatus::Other(s.to_string()),
    };
    let (chart_name, chart_version) = raw.chart.map(|c| (c.metadata.name, c.metadata.version)).unwrap_or_default();
    Ok(Release {
        name: raw.name,
        namespace: raw.namespace,
        revision: raw.version,
        status,
        values: raw.config.unwrap_or(Json::Object(Default::default())),
        manifest: raw.manifest,
        chart_name,
        chart_version,
        recorded_at: None,
    })
}

/// The objects of a rendered manifest, as JSON, skipping empty documents.
pub fn manifest_objects(manifest: &str) -> Result<Vec<Json>, Error> {
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(manifest) {
        let value = Json::deserialize(document).map_err(|e| Error::BadRelease(format!("manifest is not YAML: {e}")))?;
        if value.is_object() {
            objects.push(value);
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn encode(json: &str) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap()).into_bytes()
    }

    #[test]
    fn decodes_a_release() {
        let payload = encode(
            r#"{"name":"events","namespace":"kafka","version":3,"info":{"status":"pending-upgrade"},
                "config":{"replicas":5},"manifest":"---\nkind: A\n---\n# empty\n---\nkind: B\n",
                "chart":{"metadata":{"name":"kafka","version":"0.1.0"}}}"#,
        );
        let release = decode_release_secret(&payload).unwrap();
        assert_eq!(release.revision, 3);
        assert_eq!(release.status, ReleaseStatus::Pending("pending-upgrade".into()));
        assert_eq!(release.values["replicas"], 5);
        assert_eq!(manifest_objects(&release.manifest).unwrap().len(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for payload in [&b"%%%"[..], b"aGVsbG8=", b"H4sI"] {
            assert!(decode_release_secret(payload).is_err());
        }
    }
}
