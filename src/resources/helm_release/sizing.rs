//! Hikube's sizing vocabulary, shared by the ensemble and the cluster: presets, explicit
//! resources, storage, and the member count.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::text;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Nesting};
use crate::tfplugin::value::{Type, Value};

const PRESETS: [&str; 7] = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"];

/// Hikube's sizing fields, shared by ensembles and clusters.
pub fn sizing_attributes(default_size: &str, default_preset: &str, default_image: &str) -> Vec<Attribute> {
    vec![
        Attribute::optional_computed(
            "storage_size",
            Type::String,
            &format!(
                "Volume size of each member, e.g. `{default_size}` (the default). Growing it resizes the volumes in place; shrinking is refused."
            ),
        )
        .with_default(Value::string(default_size)),
        Attribute::optional(
            "storage_class",
            Type::String,
            "Storage class of the volumes; the cluster's default when unset. Changing it replaces the release (new volumes).",
        )
        .requires_replace(),
        Attribute::optional_computed(
            "resources_preset",
            Type::String,
            &format!(
                "Hikube's sizes (CPU / memory limit): nano 250m/128Mi, micro 500m/256Mi, small 1/512Mi, medium 1/1Gi, large 2/2Gi, xlarge 4/4Gi, 2xlarge 8/8Gi. Default `{default_preset}`; `resources` overrides it."
            ),
        )
        .with_default(Value::string(default_preset)),
        Attribute::nested(
            "resources",
            Nesting::Single,
            vec![
                Attribute::optional("cpu", Type::String, "CPU, e.g. `2` or `500m`."),
                Attribute::optional(
                    "memory",
                    Type::String,
                    "Memory, e.g. `4Gi` or `768Mi`; the JVM heap is derived from it.",
                ),
            ],
            "Explicit CPU and memory, instead of the preset.",
        ),
        Attribute::optional_computed("image", Type::String, &format!("Container image (`{default_image}`)."))
            .with_default(Value::string(default_image)),
    ]
}

/// The member count: a whole number within `range`, or `None` (with an error) when it is not.
pub fn replicas(config: &Value, range: std::ops::RangeInclusive<i64>, diagnostics: &mut Diagnostics) -> Option<i64> {
    let value = config.attr("replicas");
    if !matches!(value, Value::Number(_)) {
        return None;
    }
    match value.as_i64() {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid member count",
                    format!(
                        "replicas must be a whole number from {} to {}, not {}.",
                        range.start(),
                        range.end(),
                        match &value {
                            Value::Number(n) => n.to_string(),
                            _ => String::new(),
                        }
                    ),
                )
                .at(AttrPath::root("replicas")),
            );
            None
        }
    }
}

/// Kubernetes object and DNS names that would otherwise only fail inside the cluster.
pub fn validate_names(config: &Value, attributes: &[(&str, &str)]) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    for (attribute, what) in attributes {
        if let Some(name) = config.attr(attribute).as_str()
            && !crate::resources::provider_config::is_dns_subdomain(name)
        {
            diagnostics.push(
                Diagnostic::error(
                    format!("Invalid {what}"),
                    format!(
                        "{name:?} is not a valid {what}: lowercase letters, digits, '-' and '.', such as \"fast-ssd\"."
                    ),
                )
                .at(AttrPath::root(attribute)),
            );
        }
    }
    diagnostics
}

pub fn validate_sizing(config: &Value) -> Diagnostics {
    let mut diagnostics = validate_names(config, &[("storage_class", "storage class name")]);
    if let Some(image) = config.attr("image").as_str()
        && (image.is_empty() || image.contains(char::is_whitespace))
    {
        diagnostics.push(
            Diagnostic::error(
                "Invalid image",
                format!("{image:?} is not an image reference such as \"docker.io/library/zookeeper:3.8.4\"."),
            )
            .at(AttrPath::root("image")),
        );
    }
    if let Some(preset) = config.attr("resources_preset").as_str()
        && !PRESETS.contains(&preset)
    {
        diagnostics.push(
            Diagnostic::error("Unknown preset", format!("{preset:?} is not one of {}.", PRESETS.join(", ")))
                .at(AttrPath::root("resources_preset")),
        );
    }
    if let Some(size) = config.attr("storage_size").as_str()
        && storage_bytes(size).is_none()
    {
        diagnostics.push(
            Diagnostic::error("Invalid storage size", format!("{size:?} is not a size such as \"10Gi\" or \"500Mi\"."))
                .at(AttrPath::root("storage_size")),
        );
    }
    let resources = config.attr("resources");
    if let Some(cpu) = resources.attr("cpu").as_str() {
        let ok = cpu.strip_suffix('m').unwrap_or(cpu).parse::<f64>().is_ok_and(|c| c > 0.0);
        if !ok {
            diagnostics.push(
                Diagnostic::error("Invalid CPU", format!("{cpu:?} is not a CPU amount such as \"2\" or \"500m\"."))
                    .at(AttrPath::root("resources").attr("cpu")),
            );
        }
    }
    if let Some(memory) = resources.attr("memory").as_str() {
        let ok =
            (memory.ends_with("Mi") || memory.ends_with("Gi")) && storage_bytes(memory).is_some_and(|b| b >= 128 << 20);
        if !ok {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid memory",
                    format!("{memory:?} must be at least 128Mi, in Mi or Gi (e.g. \"768Mi\", \"4Gi\")."),
                )
                .at(AttrPath::root("resources").attr("memory")),
            );
        }
    }
    diagnostics
}

/// Bytes of a Kubernetes quantity in binary units (`10Gi`).
pub fn storage_bytes(size: &str) -> Option<u64> {
    let units = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)];
    let (number, factor) = units.iter().find_map(|(s, f)| size.strip_suffix(s).map(|n| (n, *f)))?;
    number.parse::<u64>().ok().filter(|n| *n > 0).and_then(|n| n.checked_mul(factor))
}

pub fn sizing_values(planned: &Value) -> Json {
    let resources: serde_json::Map<String, Json> = ["cpu", "memory"]
        .into_iter()
        .filter_map(|k| planned.attr("resources").attr(k).as_str().map(|v| (k.to_string(), Json::String(v.into()))))
        .collect();
    serde_json::json!({
        "image": text(planned, "image"),
        "resourcesPreset": text(planned, "resources_preset"),
        "resources": resources,
        "storage": {
            "size": text(planned, "storage_size"),
            "storageClass": text(planned, "storage_class").unwrap_or_default(),
        },
    })
}

pub fn sizing_from_values(values: &Json) -> BTreeMap<String, Value> {
    let mut attributes = BTreeMap::new();
    let string = |v: &Json| v.as_str().filter(|s| !s.is_empty()).map(Value::string).unwrap_or(Value::Null);
    attributes.insert("image".into(), string(&values["image"]));
    attributes.insert("resources_preset".into(), string(&values["resourcesPreset"]));
    attributes.insert("storage_size".into(), string(&values["storage"]["size"]));
    attributes.insert("storage_class".into(), string(&values["storage"]["storageClass"]));
    let resources = &values["resources"];
    attributes.insert(
        "resources".into(),
        if resources.as_object().is_none_or(|r| r.is_empty()) {
            Value::Null
        } else {
            Value::Object(BTreeMap::from([
                ("cpu".into(), string(&resources["cpu"])),
                ("memory".into(), string(&resources["memory"])),
            ]))
        },
    );
    attributes
}
