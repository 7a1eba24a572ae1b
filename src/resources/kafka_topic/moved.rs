//! Topics that `moved` blocks bring from Mongey's `kafka_topic`: the topic stays as it is on the
//! brokers, only Terraform's record of it changes hands. Mongey's state has the same name,
//! partitions, replication factor and managed config keys as ours; the refresh that follows the
//! move reads the rest, as after an import.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::schema::Topic;
use crate::resources::framework::Field;
use crate::tfplugin::MoveRequest;
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::value::Value;

/// The topic's state from Mongey's (schema version 0, the only one its releases have written).
pub(super) fn from_mongey(source: &MoveRequest) -> Result<Value, Diagnostic> {
    let refused = |why: String| {
        Diagnostic::error(
            "Cannot move this kafka_topic",
            format!("{why} Remove the moved block and import the topic instead: import {{ id = \"<name>\" }}."),
        )
    };
    if source.source_version != 0 {
        return Err(refused(format!(
            "Its state has schema version {}, which no Mongey/kafka release this provider knows wrote.",
            source.source_version
        )));
    }
    let state = &source.source_state;
    let name =
        source.source_text("name").filter(|n| !n.is_empty()).ok_or_else(|| refused("Its state has no name.".into()))?;
    let whole = |key: &str| {
        state[key].as_i64().filter(|n| *n > 0).ok_or_else(|| refused(format!("Its state has no valid {key}.")))
    };
    let config = match &state["config"] {
        Json::Null => BTreeMap::new(),
        Json::Object(entries) => entries
            .iter()
            .map(|(key, value)| match value {
                Json::String(text) => Ok((key.clone(), text.clone())),
                _ => Err(refused(format!("Its config key {key:?} is not a string."))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(refused("Its config is not a map.".into())),
    };
    let topic = Topic {
        id: Field::Known(name.to_string()),
        name: Field::Known(name.to_string()),
        partitions: Field::Known(whole("partitions")?),
        replication_factor: Field::Known(whole("replication_factor")?),
        // Mongey's provider writes an empty map for a topic without config; a configuration
        // without `config` is null here.
        config: if config.is_empty() { Field::Null } else { Field::Known(config) },
        ..Topic::default()
    };
    Ok(topic.to_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(provider: &str, version: i64, state: Json) -> MoveRequest {
        MoveRequest {
            source_provider: provider.into(),
            source_type: "kafka_topic".into(),
            source_version: version,
            source_state: state,
            target_type: super::super::TYPE_NAME.into(),
        }
    }

    #[test]
    fn a_mongey_topic_moves_with_its_settings_and_nothing_else() {
        let state = serde_json::json!({
            "id": "orders", "name": "orders", "partitions": 6, "replication_factor": 3,
            "config": { "retention.ms": "3600000" }
        });
        let source = request("registry.terraform.io/mongey/kafka", 0, state);
        assert!(source.comes_from("mongey/kafka", "kafka_topic"));
        let moved = from_mongey(&source).unwrap();
        assert_eq!(moved.attr("id"), &Value::string("orders"));
        assert_eq!(moved.attr("partitions"), &Value::int(6));
        assert_eq!(moved.attr("replication_factor"), &Value::int(3));
        let Value::Map(config) = moved.attr("config") else { panic!("no config map") };
        assert_eq!(config.get("retention.ms"), Some(&Value::string("3600000")));
        assert!(moved.attr("kafka").is_null());

        let bare = serde_json::json!({ "name": "audit", "partitions": 1, "replication_factor": 1, "config": {} });
        assert!(from_mongey(&request("registry.terraform.io/Mongey/kafka", 0, bare)).unwrap().attr("config").is_null());
    }

    #[test]
    fn what_is_not_a_mongey_topic_of_a_known_version_is_refused() {
        let other = request("registry.terraform.io/confluentinc/confluent", 0, Json::Null);
        assert!(!other.comes_from("mongey/kafka", "kafka_topic"));
        let state = serde_json::json!({ "name": "orders", "partitions": 6, "replication_factor": 3 });
        assert!(from_mongey(&request("registry.terraform.io/mongey/kafka", 1, state.clone())).is_err());
        for broken in [
            serde_json::json!({ "partitions": 6, "replication_factor": 3 }),
            serde_json::json!({ "name": "orders", "partitions": "six", "replication_factor": 3 }),
            serde_json::json!({ "name": "orders", "partitions": 6, "replication_factor": 3, "config": { "a": 1 } }),
            Json::Null,
        ] {
            let refusal = from_mongey(&request("registry.terraform.io/mongey/kafka", 0, broken)).unwrap_err();
            assert!(refusal.detail.contains("import"), "{refusal:?}");
        }
    }
}
