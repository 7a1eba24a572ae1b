//! What every resource's plan does the same way, from what its schema declares: the defaults
//! fill what the configuration leaves null, then the attributes that require replacement are
//! compared with the prior state. The resource's own plan logic runs after, on the result.

use std::collections::BTreeMap;

use crate::tfplugin::diag::AttrPath;
use crate::tfplugin::schema::Block;
use crate::tfplugin::value::Value;

/// Applies the schema's defaults to `planned` and returns the attributes whose change replaces
/// the resource. A value not known until apply counts as a change: it may differ, and an
/// in-place update whose value then changes is an inconsistent plan that Terraform rejects.
pub fn plan_declared(
    block: &Block,
    prior: &Value,
    config: &Value,
    planned: &mut BTreeMap<String, Value>,
) -> Vec<AttrPath> {
    for attribute in &block.attributes {
        if let Some(default) = &attribute.default
            && config.attr(&attribute.name).is_null()
        {
            planned.insert(attribute.name.clone(), default.clone());
        }
    }
    if prior.is_null() {
        return Vec::new();
    }
    block
        .attributes
        .iter()
        .filter(|a| a.requires_replace)
        .filter(|a| {
            let after = planned.get(&a.name).unwrap_or(&Value::Null);
            !after.is_wholly_known() || after != prior.attr(&a.name)
        })
        .map(|a| AttrPath::root(&a.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::schema::Attribute;
    use crate::tfplugin::value::Type;

    fn block() -> Block {
        Block {
            attributes: vec![
                Attribute::required("name", Type::String, "").requires_replace(),
                Attribute::optional_computed("size", Type::String, "").with_default(Value::string("5Gi")),
                Attribute::optional("class", Type::String, "").requires_replace(),
            ],
            ..Default::default()
        }
    }

    fn object(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// The docs are the descriptions: one that names another default than the schema's would
    /// tell users something the plan does not do.
    #[test]
    fn every_declared_default_is_the_one_its_description_names() {
        for resource in crate::resources::all() {
            for attribute in resource.schema().block.attributes {
                let Some(default) = &attribute.default else { continue };
                let text = match default {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    other => other.as_i64().map(|n| n.to_string()).unwrap_or_else(|| format!("{other:?}")),
                };
                assert!(
                    attribute.description.contains(&text),
                    "{}.{}: the default is {text}, the description says: {}",
                    resource.type_name(),
                    attribute.name,
                    attribute.description
                );
            }
        }
    }

    #[test]
    fn a_default_fills_only_what_the_configuration_leaves_null() {
        let config = Value::Object(object(&[("name", Value::string("a")), ("size", Value::Null)]));
        let mut planned = object(&[("name", Value::string("a")), ("size", Value::Null)]);
        plan_declared(&block(), &Value::Null, &config, &mut planned);
        assert_eq!(planned["size"], Value::string("5Gi"));
        let config = Value::Object(object(&[("name", Value::string("a")), ("size", Value::string("9Gi"))]));
        let mut planned = object(&[("name", Value::string("a")), ("size", Value::string("9Gi"))]);
        plan_declared(&block(), &Value::Null, &config, &mut planned);
        assert_eq!(planned["size"], Value::string("9Gi"));
    }

    /// One rule for every resource: the topic and the releases each had their own, and the
    /// releases' once planned an in-place update for a name known only at apply, which
    /// Terraform rejected.
    #[test]
    fn an_unknown_or_changed_value_replaces_and_an_unchanged_one_does_not() {
        let prior = Value::Object(object(&[("name", Value::string("events")), ("class", Value::Null)]));
        let config = prior.clone();
        let replaces = |name: Value, class: Value| {
            let mut planned = object(&[("name", name), ("class", class)]);
            plan_declared(&block(), &prior, &config, &mut planned)
        };
        assert!(replaces(Value::string("events"), Value::Null).is_empty());
        assert_eq!(replaces(Value::unknown(), Value::Null), [AttrPath::root("name")]);
        assert_eq!(
            replaces(Value::string("other"), Value::string("fast")),
            [AttrPath::root("name"), AttrPath::root("class")]
        );
        let mut planned = object(&[("name", Value::unknown())]);
        assert!(plan_declared(&block(), &Value::Null, &config, &mut planned).is_empty(), "a create replaces nothing");
    }
}
