//! Drift: every field a release manifest sets must hold the same value on the live object.
//! Fields the API server adds (defaults, status, bookkeeping) are not drift; a field the
//! manifest sets and someone changed, or an object someone deleted, is.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value as Json;

use super::Error;
use crate::helm::manifest_objects;

/// One difference between the release manifest and the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// `StatefulSet/events-kafka`
    pub object: String,
    /// `spec.replicas`; empty when the whole object is missing.
    pub field: String,
    pub expected: String,
    /// `None` when the field or the object is missing.
    pub actual: Option<String>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.actual, self.field.is_empty()) {
            (None, true) => write!(f, "{} was deleted", self.object),
            (None, false) => {
                write!(f, "{}: {} was removed (the release sets {})", self.object, self.field, self.expected)
            }
            (Some(actual), _) => {
                write!(f, "{}: {} is {actual}, the release sets {}", self.object, self.field, self.expected)
            }
        }
    }
}

/// Compares each object of `manifest` with its live counterpart.
pub async fn live_drift(client: kube::Client, namespace: &str, manifest: &str) -> Result<Vec<Drift>, Error> {
    let mut drifts = Vec::new();
    for object in manifest_objects(manifest)? {
        let (Some(api_version), Some(kind), Some(name)) =
            (object["apiVersion"].as_str(), object["kind"].as_str(), object["metadata"]["name"].as_str())
        else {
            continue;
        };
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let object_namespace = object["metadata"]["namespace"].as_str().unwrap_or(namespace);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), object_namespace, &resource);
        let label = format!("{kind}/{name}");
        match api.get_opt(name).await? {
            None => {
                drifts.push(Drift { object: label, field: String::new(), expected: "present".into(), actual: None })
            }
            Some(live) => {
                let live = serde_json::to_value(&live).map_err(|e| Error::Unexpected(e.to_string()))?;
                let mut expected = object.clone();
                // Identity and bookkeeping are Helm's business, not the release's content.
                if let Some(metadata) = expected.get_mut("metadata").and_then(Json::as_object_mut) {
                    metadata.retain(|k, _| k == "labels" || k == "annotations");
                }
                for (field, want, got) in subset_differences(&expected, &live) {
                    drifts.push(Drift { object: label.clone(), field, expected: want, actual: got });
                }
            }
        }
    }
    Ok(drifts)
}

/// Where `actual` does not hold what `expected` sets, as (path, expected, actual).
pub fn subset_differences(expected: &Json, actual: &Json) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    walk(expected, Some(actual), String::new(), &mut out);
    out
}

fn walk(expected: &Json, actual: Option<&Json>, path: String, out: &mut Vec<(String, String, Option<String>)>) {
    let Some(actual) = actual else {
        out.push((path, short(expected), None));
        return;
    };
    match (expected, actual) {
        (Json::Object(want), Json::Object(got)) => {
            for (key, value) in want {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                if value.is_null() {
                    continue;
                }
                walk(value, got.get(key), child, out);
            }
        }
        (Json::Array(want), Json::Array(got)) if want.len() == got.len() => {
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                walk(w, Some(g), format!("{path}[{i}]"), out);
            }
        }
        (want, got) if same_scalar(want, got) => {}
        (want, got) => out.push((path, short(want), Some(short(got)))),
    }
}

/// Scalars compare as the API server stores them: numbers and their text, and quantities in
/// any spelling (`0.5` and `500m`, `1024Mi` and `1Gi`).
fn same_scalar(a: &Json, b: &Json) -> bool {
    if a == b {
        return true;
    }
    let text = |v: &Json| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (text(a), text(b)) {
        (Some(x), Some(y)) => {
            x == y
                || matches!((quantity(&x), quantity(&y)), (Some(p), Some(q)) if (p - q).abs() < 1e-9 * p.abs().max(1.0))
        }
        _ => false,
    }
}

fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 11] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) =
        SUFFIXES.iter().find_map(|(s, f)| text.strip_suffix(s).map(|n| (n, *f))).unwrap_or((text, 1.0));
    number.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| n * factor)
}

fn short(value: &Json) -> String {
    let text = match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.len() > 80 { format!("{}…", &text[..text.floor_char_boundary(80)]) } else { text }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn added_fields_are_not_drift_changed_ones_are() {
        let expected = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "k", "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}}}]}}}});
        let live = json!({"spec": {"replicas": 1, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [{"name": "k", "imagePullPolicy": "IfNotPresent", "resources": {"limits": {"cpu": "500m", "memory": "1024Mi"}}}]}}}, "status": {}});
        assert_eq!(
            subset_differences(&expected, &live),
            vec![("spec.replicas".to_string(), "3".to_string(), Some("1".to_string()))]
        );
    }

    #[test]
    fn a_removed_field_or_entry_is_drift() {
        let expected =
            json!({"data": {"server.properties": "a=1"}, "spec": {"ports": [{"port": 9092}, {"port": 9093}]}});
        let live = json!({"data": {}, "spec": {"ports": [{"port": 9092}]}});
        let fields: Vec<String> = subset_differences(&expected, &live).into_iter().map(|d| d.0).collect();
        assert_eq!(fields, ["data.server.properties", "spec.ports"]);
    }
}
