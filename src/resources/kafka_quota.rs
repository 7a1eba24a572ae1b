//! `hikube_kafka_quota`: client quotas of one entity (a user, a client ID, a user's client ID or
//! an IP address), with the attributes of Mongey's `kafka_quota`. Only the keys in `config` are
//! managed: others set on the same entity are left as they are.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::framework::{Field, Plan, Resource, model, validators, with_attribute};
use super::kafka_connection::{self, KafkaConnection, Target};
use super::{Context, import_hint, kafka_diagnostic};
use crate::kafka::{Admin, QuotaEntity};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Block, Schema};
use crate::tfplugin::value::Value;
use crate::tfplugin::{ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, ReadRequest, ReadResponse};

pub struct KafkaQuota;

pub const TYPE_NAME: &str = "hikube_kafka_quota";

const ENTITY_TYPES: &[&str] = &["user", "client-id", "ip"];

/// How Kafka's tools write the default entity of a type, in IDs.
const DEFAULT_ENTITY: &str = "<default>";

/// The keys Kafka knows for each entity type.
fn keys_of(entity_type: &str) -> &'static [&'static str] {
    match entity_type {
        "ip" => &["connection_creation_rate"],
        _ => &["producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"],
    }
}

model! {
    pub struct Quota in quota_attr {
        id: String = computed(
            "The entity as `type|name` pairs joined by `|`, `<default>` for a default entity: `user|alice`, \
             `user|alice|client-id|app`, `client-id|<default>`. The import ID."
        );
        entity_type: String = required("`user`, `client-id` or `ip`.")
            .requires_replace()
            .validate_str("Invalid entity type", validators::one_of(ENTITY_TYPES));
        entity_name: String = optional(
            "The user name (without `User:`), client ID or IP address; unset for the type's default, which applies \
             to every entity of the type without a quota of its own."
        )
        .requires_replace()
        .validate_str("Invalid entity name", |name| match name.is_empty() || name.contains('|') {
            true => Err(format!("{name:?} is not an entity name: it is empty or holds `|`.")),
            false => Ok(()),
        });
        client_id: String = optional(
            "With `entity_type = \"user\"`: the quota of this user's clients with this client ID only."
        )
        .requires_replace()
        .validate_str("Invalid client ID", |id| match id.is_empty() || id.contains('|') {
            true => Err(format!("{id:?} is not a client ID: it is empty or holds `|`.")),
            false => Ok(()),
        });
        config: BTreeMap<String, String> = required(
            "Quota values by key: `producer_byte_rate` and `consumer_byte_rate` (bytes per second, per broker), \
             `request_percentage` (percent of one I/O thread), `controller_mutation_rate` (partitions created or \
             deleted per second); `connection_creation_rate` for an IP. Only these keys are managed."
        )
        .validate("Invalid quota", validators::no_null_values);
        kafka: KafkaConnection = optional(
            "Connection to the cluster, instead of the provider's `kafka`. It must authenticate as a principal \
             allowed to alter the cluster's configuration."
        );
    }
}

/// The entity a model names, once its fields are known.
fn entity_of(quota: &Quota) -> Option<QuotaEntity> {
    let entity_type = quota.entity_type.known()?.clone();
    let mut entity = QuotaEntity::from([(entity_type, quota.entity_name.known().cloned())]);
    if let Field::Known(client_id) = &quota.client_id {
        entity.insert("client-id".into(), Some(client_id.clone()));
    }
    (!quota.entity_name.is_unknown() && !quota.client_id.is_unknown()).then_some(entity)
}

/// The user first, as Kafka's tools name a user's client ID.
fn id_of(entity: &QuotaEntity) -> String {
    let mut kinds: Vec<&String> = entity.keys().collect();
    kinds.sort_by_key(|kind| (*kind != "user", *kind));
    let parts: Vec<String> =
        kinds.into_iter().map(|kind| format!("{kind}|{}", entity[kind].as_deref().unwrap_or(DEFAULT_ENTITY))).collect();
    parts.join("|")
}

fn parse_id(id: &str) -> Result<QuotaEntity, String> {
    let parts: Vec<&str> = id.split('|').collect();
    let entity: QuotaEntity = parts
        .chunks(2)
        .filter_map(|pair| match pair {
            [kind, name] => Some((kind.to_string(), (*name != DEFAULT_ENTITY).then(|| name.to_string()))),
            _ => None,
        })
        .collect();
    let valid = parts.len().is_multiple_of(2)
        && entity.len() == parts.len() / 2
        && entity.keys().all(|kind| ENTITY_TYPES.contains(&kind.as_str()))
        // A user's quota for the default client ID is Kafka's, but the attributes cannot say it.
        && (entity.len() == 1
            || (entity.len() == 2 && entity.contains_key("user") && entity.get("client-id").is_some_and(Option::is_some)));
    if !valid {
        return Err(format!(
            "{id:?} is not a quota ID: `type|name`, or `user|<name>|client-id|<id>`, with `<default>` for a default \
             entity; for example `user|alice` or `client-id|<default>`."
        ));
    }
    Ok(entity)
}

/// The configuration's values as numbers. Validation refused the others.
fn rates(config: &BTreeMap<String, String>) -> BTreeMap<String, f64> {
    config.iter().filter_map(|(k, v)| Some((k.clone(), v.trim().parse().ok()?))).collect()
}

/// A value as the configuration would write it: whole numbers without a fraction.
fn text_of(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { value.to_string() }
}

async fn target(ctx: &Context, quota: &Quota) -> Result<Target, Diagnostics> {
    kafka_connection::target(ctx, &quota.kafka, &AttrPath::root(quota_attr::kafka)).await
}

async fn live(ctx: &Context, cluster: &Admin, entity: &QuotaEntity) -> Result<BTreeMap<String, f64>, Diagnostics> {
    ctx.cancellable(cluster.quotas(entity))
        .await
        .map_err(|e| kafka_diagnostic(&format!("Reading the quotas of {} failed", id_of(entity)), &e, None).into())
}

/// Values this configuration would set that the entity has already: somebody else's.
fn foreign(
    entity: &QuotaEntity,
    live: &BTreeMap<String, f64>,
    config: &BTreeMap<String, String>,
) -> Option<Diagnostic> {
    let taken: Vec<&str> = config.keys().filter(|k| live.contains_key(*k)).map(String::as_str).collect();
    (!taken.is_empty()).then(|| {
        Diagnostic::error(
            "Quota already set",
            format!(
                "{} already has {} set, and this configuration did not set it, so it is left alone. {}",
                id_of(entity),
                taken.join(", "),
                import_hint(&format!("'{}'", id_of(entity)))
            ),
        )
        .at(AttrPath::root(quota_attr::config))
    })
}

#[tonic::async_trait]
impl Resource for KafkaQuota {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// Version 0 kept the connection's password and key in the state.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostic> {
        kafka_connection::upgrade_from_version_0(self.type_name(), version, state, quota_attr::kafka)
    }

    fn schema(&self) -> Schema {
        let description = "Client quotas of one user, client ID, user's client ID or IP address, managed through the \
                           Kafka admin protocol: byte rates, request time and mutation rates that the brokers enforce \
                           by throttling. The attributes are those of Mongey's `kafka_quota`.";
        Schema { version: 1, block: Block { description: description.into(), attributes: Quota::attributes() } }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics =
            kafka_connection::check_in_state(config.attr(quota_attr::kafka), &AttrPath::root(quota_attr::kafka));
        let Ok(quota) = Quota::read(config) else { return diagnostics };
        let entity_type = quota.entity_type.known().cloned();
        if !quota.client_id.is_null() && entity_type.as_deref().is_some_and(|t| t != "user") {
            diagnostics.push(
                Diagnostic::error(
                    "A client ID narrows a user's quota only",
                    "Set client_id with entity_type = \"user\"; for a client ID's own quota, use entity_type = \
                     \"client-id\" and entity_name.",
                )
                .at(AttrPath::root(quota_attr::client_id)),
            );
        }
        let keys = keys_of(entity_type.as_deref().unwrap_or("user"));
        for (key, value) in quota.config.known().into_iter().flatten() {
            let path = AttrPath::root(quota_attr::config).key(key);
            if entity_type.is_some() && !keys.contains(&key.as_str()) {
                let why = format!("{key:?} is not a quota of this entity type: use {}.", keys.join(", "));
                diagnostics.push(Diagnostic::error("Invalid quota", why).at(path));
            } else if !value.trim().parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0) {
                let why = format!("{key} = {value:?} must be a number above zero.");
                diagnostics.push(Diagnostic::error("Invalid quota", why).at(path));
            }
        }
        if quota.config.known().is_some_and(BTreeMap::is_empty) {
            diagnostics.push(
                Diagnostic::error("No quota", "Set at least one key in config.").at(AttrPath::root(quota_attr::config)),
            );
        }
        diagnostics
    }

    /// The ID follows from the entity. Keys this configuration would newly set that the entity
    /// has already are somebody else's, refused here; the brokers check the rest with a
    /// validate-only request.
    async fn plan(&self, ctx: &Context, plan: &mut Plan) {
        let Ok(quota) = Quota::read(&plan.planned()) else { return };
        let Some(entity) = entity_of(&quota) else { return };
        plan.state.insert(quota_attr::id.into(), Value::string(id_of(&entity)));
        let Some(config) = quota.config.known() else { return };
        if plan.diagnostics.has_errors() || plan.planned() == plan.prior {
            return;
        }
        let cluster = match target(ctx, &quota).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return,
            Err(d) => return plan.diagnostics.extend(d),
        };
        // A replacement's entity is another one, all of whose keys are new to this configuration.
        let managed = match plan.is_create() || plan.replaces() {
            true => BTreeMap::new(),
            false => Quota::read(&plan.prior).unwrap_or_default().config.known().cloned().unwrap_or_default(),
        };
        let new_keys: BTreeMap<String, String> =
            config.iter().filter(|(k, _)| !managed.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if !new_keys.is_empty() {
            match live(ctx, &cluster, &entity).await {
                Ok(values) => {
                    plan.diagnostics.extend(foreign(&entity, &values, &new_keys).into_iter().collect::<Diagnostics>())
                }
                Err(d) => return plan.diagnostics.extend(d),
            }
        }
        if !plan.diagnostics.has_errors()
            && let Err(e) = ctx.cancellable(cluster.alter_quotas(&entity, &rates(config), &[], true)).await
        {
            plan.diagnostics.extend(quota_diagnostic(&entity, &e));
        }
    }

    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let failed = |diagnostics| ApplyResponse { diagnostics, ..Default::default() };
        let Change { cluster, entity, config } = match prepare(ctx, &request.planned_state).await {
            Ok(prepared) => prepared,
            Err(d) => return failed(d),
        };
        match live(ctx, &cluster, &entity).await {
            Ok(values) => {
                if let Some(d) = foreign(&entity, &values, &config) {
                    return failed(d.into());
                }
            }
            Err(d) => return failed(d),
        }
        tracing::info!(entity = %id_of(&entity), keys = config.len(), "setting quotas");
        let altered = ctx.cancellable(cluster.alter_quotas(&entity, &rates(&config), &[], false)).await;
        let state = with_attribute(request.planned_state, quota_attr::id, Value::string(id_of(&entity)));
        match altered {
            Ok(()) => ApplyResponse { new_state: state, ..Default::default() },
            // Setting the same values again changes nothing: recorded, the next refresh tells
            // what the lost answer did.
            Err(e) => ApplyResponse {
                new_state: if e.may_have_acted() { state } else { Value::Null },
                diagnostics: quota_diagnostic(&entity, &e),
                ..Default::default()
            },
        }
    }

    async fn update(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let keep =
            |diagnostics| ApplyResponse { new_state: request.prior_state.clone(), diagnostics, ..Default::default() };
        let Change { cluster, entity, config } = match prepare(ctx, &request.planned_state).await {
            Ok(prepared) => prepared,
            Err(d) => return keep(d),
        };
        let before = Quota::read(&request.prior_state).unwrap_or_default().config.known().cloned().unwrap_or_default();
        let removed: Vec<String> = before.keys().filter(|k| !config.contains_key(*k)).cloned().collect();
        tracing::info!(entity = %id_of(&entity), set = config.len(), removed = removed.len(), "changing quotas");
        match ctx.cancellable(cluster.alter_quotas(&entity, &rates(&config), &removed, false)).await {
            Ok(()) => ApplyResponse { new_state: request.planned_state, ..Default::default() },
            Err(e) => keep(quota_diagnostic(&entity, &e)),
        }
    }

    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let prior = request.prior_state;
        let Change { cluster, entity, config } = match prepare(ctx, &prior).await {
            Ok(prepared) => prepared,
            Err(diagnostics) => return ApplyResponse { new_state: prior, diagnostics, ..Default::default() },
        };
        tracing::info!(entity = %id_of(&entity), "removing quotas");
        let keys: Vec<String> = config.into_keys().collect();
        match ctx.cancellable(cluster.alter_quotas(&entity, &BTreeMap::new(), &keys, false)).await {
            Ok(()) => ApplyResponse::default(),
            Err(e) => {
                ApplyResponse { new_state: prior, diagnostics: quota_diagnostic(&entity, &e), ..Default::default() }
            }
        }
    }

    /// Each managed key as the brokers have it, in the configuration's spelling while the
    /// number is the same; a quota whose keys are all gone leaves the state.
    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        let ReadRequest { current_state, private, .. } = request;
        let keep =
            |diagnostics| ReadResponse { new_state: current_state.clone(), private: private.clone(), diagnostics };
        let quota = match Quota::read(&current_state) {
            Ok(quota) => quota,
            Err(d) => return keep(d),
        };
        let (Some(entity), Some(managed)) = (entity_of(&quota), quota.config.known()) else {
            return keep(Diagnostics::default());
        };
        let at = AttrPath::root(quota_attr::kafka);
        let cluster = match kafka_connection::read_target(ctx, &quota.kafka, &at).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return keep(Diagnostics::default()),
            Err(d) => return keep(d),
        };
        let values = match live(ctx, &cluster, &entity).await {
            Ok(values) => values,
            Err(d) => return keep(d),
        };
        let config: BTreeMap<String, String> = managed
            .iter()
            .filter_map(|(key, recorded)| {
                let value = *values.get(key)?;
                let same = recorded.trim().parse::<f64>().is_ok_and(|r| r == value);
                Some((key.clone(), if same { recorded.clone() } else { text_of(value) }))
            })
            .collect();
        if config.is_empty() {
            tracing::info!(entity = %id_of(&entity), "quotas no longer set; removing them from state");
            return ReadResponse::default();
        }
        let state = Quota { config: Field::Known(config), ..quota };
        ReadResponse { new_state: state.to_value(), private, diagnostics: Diagnostics::default() }
    }

    /// Mongey's `kafka_quota` names an entity by type and name and holds its keys as strings.
    fn move_state(&self, source: &MoveRequest) -> Option<Result<Value, Diagnostics>> {
        if !source.comes_from("mongey/kafka", "kafka_quota") {
            return None;
        }
        let refused = |why: String| Diagnostics::from(Diagnostic::error("Cannot move this kafka_quota", why));
        if source.source_version != 0 {
            let why =
                format!("Its state has schema version {}, which no Mongey/kafka release wrote.", source.source_version);
            return Some(Err(refused(why)));
        }
        let entity_type = source.source_text(quota_attr::entity_type).unwrap_or_default();
        // Mongey's provider records a default entity's name as empty.
        let entity_name =
            source.source_text(quota_attr::entity_name).filter(|name| !name.is_empty()).unwrap_or(DEFAULT_ENTITY);
        let entity = match parse_id(&format!("{entity_type}|{entity_name}")) {
            Ok(entity) => entity,
            Err(why) => return Some(Err(refused(why))),
        };
        let config: Option<BTreeMap<String, String>> =
            source.source_state[quota_attr::config].as_object().map(|keys| {
                // Its schema declares numbers; states have held them as JSON numbers and as strings.
                let text = |value: &serde_json::Value| match value {
                    serde_json::Value::String(text) => Some(text.clone()),
                    serde_json::Value::Number(_) => value.as_f64().map(text_of),
                    _ => None,
                };
                keys.iter().filter_map(|(key, value)| Some((key.clone(), text(value)?))).collect()
            });
        let Some(config) = config.filter(|config| !config.is_empty()) else {
            return Some(Err(refused("Its state has no quota keys.".into())));
        };
        let state = Quota {
            id: Field::Known(id_of(&entity)),
            entity_type: Field::Known(entity_type.to_string()),
            entity_name: entity.get(entity_type).cloned().flatten().map_or(Field::Null, Field::Known),
            client_id: Field::Null,
            config: Field::Known(config),
            kafka: Field::Null,
        };
        Some(Ok(state.to_value()))
    }

    /// Every quota key the entity has becomes managed.
    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        let failed = |diagnostics| ImportResponse { diagnostics, ..Default::default() };
        let entity = match parse_id(id) {
            Ok(entity) => entity,
            Err(why) => return failed(Diagnostic::error("Invalid import ID", why).into()),
        };
        let cluster = match kafka_connection::known_target(ctx, &Field::Null, &AttrPath::root(quota_attr::kafka)).await
        {
            Ok(cluster) => cluster,
            Err(d) => return failed(d),
        };
        let values = match live(ctx, &cluster, &entity).await {
            Ok(values) if values.is_empty() => {
                let why = format!("{} has no quota at {}.", id_of(&entity), cluster.describe());
                return failed(Diagnostic::error("Quota not found", why).into());
            }
            Ok(values) => values,
            Err(d) => return failed(d),
        };
        let (entity_type, entity_name) = match entity.get("user") {
            Some(name) => ("user".to_string(), name.clone()),
            None => entity.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default(),
        };
        let client_id = entity.contains_key("user").then(|| entity.get("client-id").cloned().flatten()).flatten();
        let state = Quota {
            id: Field::Known(id_of(&entity)),
            entity_type: Field::Known(entity_type),
            entity_name: entity_name.map_or(Field::Null, Field::Known),
            client_id: client_id.map_or(Field::Null, Field::Known),
            config: Field::Known(values.into_iter().map(|(k, v)| (k, text_of(v))).collect()),
            kafka: Field::Null,
        };
        ImportResponse::single(TYPE_NAME, state.to_value())
    }
}

/// What an apply works on: the cluster, the entity and the configured values.
struct Change {
    cluster: Arc<Admin>,
    entity: QuotaEntity,
    config: BTreeMap<String, String>,
}

async fn prepare(ctx: &Context, state: &Value) -> Result<Change, Diagnostics> {
    let quota = Quota::read(state)?;
    let unknown = |what: &str| Diagnostic::error(format!("{what} unknown at apply"), "It must be known by now.");
    let entity = entity_of(&quota).ok_or_else(|| unknown("The quota's entity"))?;
    let config = quota.config.known().cloned().ok_or_else(|| unknown("The quota's config"))?;
    let cluster = kafka_connection::known_target(ctx, &quota.kafka, &AttrPath::root(quota_attr::kafka)).await?;
    Ok(Change { cluster, entity, config })
}

fn quota_diagnostic(entity: &QuotaEntity, error: &crate::kafka::Error) -> Diagnostics {
    let path = AttrPath::root(quota_attr::config);
    kafka_diagnostic(&format!("Setting the quotas of {} failed", id_of(entity)), error, Some(path)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_user_first_and_read_back() {
        for id in [
            "user|alice",
            "user|alice|client-id|app",
            "client-id|<default>",
            "user|<default>|client-id|app",
            "ip|10.0.0.1",
        ] {
            assert_eq!(id_of(&parse_id(id).unwrap()), id);
        }
        let entity = parse_id("client-id|app|user|alice").unwrap();
        assert_eq!(id_of(&entity), "user|alice|client-id|app");
        for bad in ["user", "user|a|b", "group|g", "ip|1|client-id|2", "user|a|user|b", "user|a|client-id|<default>"] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_numbers_are_written_without_a_fraction() {
        assert_eq!(text_of(1048576.0), "1048576");
        assert_eq!(text_of(12.5), "12.5");
    }

    #[test]
    fn a_mongey_quota_moves_with_its_keys_and_a_default_entity_stays_the_default() {
        let moved = |name: serde_json::Value, config: serde_json::Value| {
            let source = MoveRequest {
                source_provider: "registry.terraform.io/mongey/kafka".into(),
                source_type: "kafka_quota".into(),
                source_version: 0,
                source_state: serde_json::json!({ "entity_type": "user", "entity_name": name, "config": config }),
                target_type: TYPE_NAME.into(),
            };
            KafkaQuota.move_state(&source).expect("a Mongey quota")
        };
        let state = moved("alice".into(), serde_json::json!({ "producer_byte_rate": 4000000.0 })).unwrap();
        assert_eq!(state.attr(quota_attr::id), &Value::string("user|alice"));
        let Value::Map(config) = state.attr(quota_attr::config) else { panic!("no config") };
        assert_eq!(config.get("producer_byte_rate"), Some(&Value::string("4000000")));
        let default = moved("".into(), serde_json::json!({ "consumer_byte_rate": "100" })).unwrap();
        assert_eq!(default.attr(quota_attr::id), &Value::string("user|<default>"));
        assert!(default.attr(quota_attr::entity_name).is_null());
        assert!(moved("alice".into(), serde_json::json!({})).is_err(), "no keys, nothing to manage");
    }
}
