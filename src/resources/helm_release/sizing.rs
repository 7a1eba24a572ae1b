//! Hikube's sizing vocabulary, shared by the ensemble and the cluster: presets, explicit
//! resources, storage, and the member count.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::resources::framework::{Field, model, validators};
use crate::resources::provider_config::is_dns_subdomain;
use crate::tfplugin::schema::Attribute;
use crate::tfplugin::value::Value;

const PRESETS: &[&str] = &["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"];

model! {
    /// Hikube's sizing fields, shared by ensembles and clusters; each kind gives the defaults
    /// (see [`sizing_attributes`]).
    pub struct Sizing in sizing_attr {
        storage_size: String = optional_computed(
            "Volume size of each member. Growing it resizes the volumes in place; shrinking is refused."
        )
        .validate_str("Invalid storage size", |size| match storage_bytes(size) {
            Some(_) => Ok(()),
            None => Err(format!("{size:?} is not a size such as \"10Gi\" or \"500Mi\".")),
        });
        storage_class: String = optional(
            "Storage class of the volumes; the cluster's default when unset. Changing it replaces the release (new volumes)."
        )
        .requires_replace()
        .validate_str("Invalid storage class name", dns_name("storage class name"));
        resources_preset: String = optional_computed(
            "Hikube's sizes (CPU / memory limit): nano 250m/128Mi, micro 500m/256Mi, small 1/512Mi, medium 1/1Gi, \
             large 2/2Gi, xlarge 4/4Gi, 2xlarge 8/8Gi. `resources` overrides it."
        )
        .validate_str("Unknown preset", validators::one_of(PRESETS));
        resources: Resources = optional("Explicit CPU and memory, instead of the preset.");
        image: String = optional_computed("Container image.").validate_str("Invalid image", |image| {
            if image.is_empty() || image.contains(char::is_whitespace) {
                Err(format!("{image:?} is not an image reference such as \"docker.io/library/zookeeper:3.8.4\"."))
            } else {
                Ok(())
            }
        });
    }
}

model! {
    pub struct Resources in resources_attr {
        cpu: String = optional("CPU, e.g. `2` or `500m`.").validate_str("Invalid CPU", |cpu| {
            match cpu.strip_suffix('m').unwrap_or(cpu).parse::<f64>() {
                Ok(c) if c > 0.0 => Ok(()),
                _ => Err(format!("{cpu:?} is not a CPU amount such as \"2\" or \"500m\".")),
            }
        });
        memory: String = optional("Memory, e.g. `4Gi` or `768Mi`; the JVM heap is derived from it.")
            .validate_str("Invalid memory", |memory| {
                let binary = memory.ends_with("Mi") || memory.ends_with("Gi");
                match storage_bytes(memory) {
                    Some(bytes) if binary && bytes >= 128 << 20 => Ok(()),
                    _ => Err(format!("{memory:?} must be at least 128Mi, in Mi or Gi (e.g. \"768Mi\", \"4Gi\").")),
                }
            });
    }
}

/// The sizing attributes with one kind's defaults, each named in its description.
pub fn sizing_attributes(default_size: &str, default_preset: &str, default_image: &str) -> Vec<Attribute> {
    let defaults = [
        (sizing_attr::storage_size, default_size),
        (sizing_attr::resources_preset, default_preset),
        (sizing_attr::image, default_image),
    ];
    Sizing::attributes()
        .into_iter()
        .map(|attribute| match defaults.iter().find(|(name, _)| *name == attribute.name) {
            Some((_, default)) => Attribute {
                description: format!("{} Default `{default}`.", attribute.description),
                ..attribute.with_default(Value::string(*default))
            },
            None => attribute,
        })
        .collect()
}

/// A Kubernetes object or DNS name that would otherwise only fail inside the cluster.
pub fn dns_name(what: &'static str) -> impl Fn(&str) -> Result<(), String> {
    move |name| {
        if is_dns_subdomain(name) {
            Ok(())
        } else {
            Err(format!(
                "{name:?} is not a valid {what}: lowercase letters, digits, '-' and '.', such as \"fast-ssd\"."
            ))
        }
    }
}

/// Bytes of a Kubernetes quantity in binary units (`10Gi`).
pub fn storage_bytes(size: &str) -> Option<u64> {
    let units = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)];
    let (number, factor) = units.iter().find_map(|(s, f)| size.strip_suffix(s).map(|n| (n, *f)))?;
    number.parse::<u64>().ok().filter(|n| *n > 0).and_then(|n| n.checked_mul(factor))
}

pub fn sizing_values(planned: &Value) -> Json {
    let sizing = Sizing::read(planned).unwrap_or_default();
    let resources = sizing.resources.known().cloned().unwrap_or_default();
    let resources: serde_json::Map<String, Json> = [("cpu", resources.cpu), ("memory", resources.memory)]
        .into_iter()
        .filter_map(|(k, v)| v.known().map(|v| (k.to_string(), Json::String(v.clone()))))
        .collect();
    serde_json::json!({
        "image": sizing.image.known(),
        "resourcesPreset": sizing.resources_preset.known(),
        "resources": resources,
        "storage": {
            "size": sizing.storage_size.known(),
            "storageClass": sizing.storage_class.known().cloned().unwrap_or_default(),
        },
    })
}

/// A chart value that holds a string, as an attribute: an empty string is no value.
pub fn text_field(value: &Json) -> Field<String> {
    value.as_str().filter(|s| !s.is_empty()).map_or(Field::Null, |s| Field::Known(s.to_string()))
}

pub fn sizing_from_values(values: &Json) -> BTreeMap<String, Value> {
    let resources = &values["resources"];
    let sizing = Sizing {
        image: text_field(&values["image"]),
        resources_preset: text_field(&values["resourcesPreset"]),
        storage_size: text_field(&values["storage"]["size"]),
        storage_class: text_field(&values["storage"]["storageClass"]),
        resources: if resources.as_object().is_none_or(|r| r.is_empty()) {
            Field::Null
        } else {
            Field::Known(Resources { cpu: text_field(&resources["cpu"]), memory: text_field(&resources["memory"]) })
        },
    };
    let mut attributes = BTreeMap::new();
    sizing.write(&mut attributes);
    attributes
}
