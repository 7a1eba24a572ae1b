//! The declared steps of every plan, in a fixed order: defaults fill what the configuration
//! leaves null; on a create or a change, computed values the configuration does not set become
//! unknown; then the plan modifiers: use-state-for-unknown keeps the prior value of those that
//! declare it, and requires-replace compares with the prior state. The resource's own plan
//! logic runs after, on the result.

use std::collections::BTreeMap;

use crate::tfplugin::diag::AttrPath;
use crate::tfplugin::schema::Block;
use crate::tfplugin::value::Value;

/// The planned object and the attributes whose change replaces the resource. A value not known
/// until apply counts as a change: it may differ, and an in-place update whose value then
/// changes is an inconsistent plan that Terraform rejects.
pub fn plan_declared(
    block: &Block,
    prior: &Value,
    config: &Value,
    mut planned: BTreeMap<String, Value>,
) -> (BTreeMap<String, Value>, Vec<AttrPath>) {
    for attribute in &block.attributes {
        if let Some(default) = &attribute.default
            && config.attr(&attribute.name).is_null()
        {
            planned.insert(attribute.name.clone(), default.clone());
        }
    }
    let changed = match prior {
        Value::Object(prior) => *prior != planned,
        _ => true,
    };
    for attribute in
        block.attributes.iter().filter(|a| a.computed && a.default.is_none() && config.attr(&a.name).is_null())
    {
        let prior_value = prior.attr(&attribute.name);
        let value = if !changed {
            continue;
        } else if attribute.use_state_for_unknown && !prior.is_null() {
            prior_value.clone()
        } else {
            Value::unknown()
        };
        planned.insert(attribute.name.clone(), value);
    }
    if prior.is_null() {
        return (planned, Vec::new());
    }
    let replaced = block
        .attributes
        .iter()
        .filter(|a| a.requires_replace)
        .filter(|a| {
            let after = planned.get(&a.name).unwrap_or(&Value::Null);
            !after.is_wholly_known() || after != prior.attr(&a.name)
        })
        .map(|a| AttrPath::root(&a.name))
        .collect();
    (planned, replaced)
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
                Attribute::computed("id", Type::String, "").use_state_for_unknown(),
                Attribute::computed("status", Type::String, ""),
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
        let (planned, _) = plan_declared(&block(), &Value::Null, &config, object(&[("size", Value::Null)]));
        assert_eq!(planned["size"], Value::string("5Gi"));
        let config = Value::Object(object(&[("name", Value::string("a")), ("size", Value::string("9Gi"))]));
        let (planned, _) = plan_declared(&block(), &Value::Null, &config, object(&[("size", Value::string("9Gi"))]));
        assert_eq!(planned["size"], Value::string("9Gi"));
    }

    /// Computed values are unknown on a create and on a change, unless they keep their state;
    /// a plan that changes nothing leaves them as they were.
    #[test]
    fn computed_values_are_unknown_when_something_changes_unless_they_keep_their_state() {
        let prior = object(&[
            ("name", Value::string("a")),
            ("size", Value::string("5Gi")),
            ("class", Value::Null),
            ("id", Value::string("ns/a")),
            ("status", Value::string("deployed")),
        ]);
        let config = Value::Object(object(&[("name", Value::string("a"))]));
        let (planned, _) = plan_declared(&block(), &Value::Null, &config, prior.clone());
        assert!(planned["id"].is_unknown() && planned["status"].is_unknown(), "a create");
        let (planned, _) = plan_declared(&block(), &Value::Object(prior.clone()), &config, prior.clone());
        assert_eq!(planned, prior, "no change");
        let mut resized = prior.clone();
        resized.insert("size".into(), Value::string("9Gi"));
        let config = Value::Object(object(&[("name", Value::string("a")), ("size", Value::string("9Gi"))]));
        let (planned, _) = plan_declared(&block(), &Value::Object(prior), &config, resized);
        assert_eq!(planned["id"], Value::string("ns/a"));
        assert!(planned["status"].is_unknown());
    }

    /// One rule for every resource: the topic and the releases each had their own, and the
    /// releases' once planned an in-place update for a name known only at apply, which
    /// Terraform rejected.
    #[test]
    fn an_unknown_or_changed_value_replaces_and_an_unchanged_one_does_not() {
        let prior = Value::Object(object(&[("name", Value::string("events")), ("class", Value::Null)]));
        let config = prior.clone();
        let replaces = |name: Value, class: Value| {
            plan_declared(&block(), &prior, &config, object(&[("name", name), ("class", class)])).1
        };
        assert!(replaces(Value::string("events"), Value::Null).is_empty());
        assert_eq!(replaces(Value::unknown(), Value::Null), [AttrPath::root("name")]);
        assert_eq!(
            replaces(Value::string("other"), Value::string("fast")),
            [AttrPath::root("name"), AttrPath::root("class")]
        );
        let (_, replaced) = plan_declared(&block(), &Value::Null, &config, object(&[("name", Value::unknown())]));
        assert!(replaced.is_empty(), "a create replaces nothing");
    }
}
