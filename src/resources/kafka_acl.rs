//! `hikube_kafka_acl`: one ACL binding. Its attributes and import ID are those of Mongey's
//! `kafka_acl`, so that moving a configuration over renames the resource type and nothing else.
//! A binding has no identity beyond its fields: every field but the connection replaces it.

use super::framework::{Field, Plan, Resource, model, validators, with_attribute};
use super::kafka_connection::{self, KafkaConnection, Target};
use super::{Context, import_hint, kafka_diagnostic};
use crate::kafka::{AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType, Admin};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Block, Schema};
use crate::tfplugin::value::Value;
use crate::tfplugin::{ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, ReadRequest, ReadResponse};

pub struct KafkaAcl;

pub const TYPE_NAME: &str = "hikube_kafka_acl";

/// The name every `Cluster` ACL has: Kafka has one cluster resource.
const CLUSTER_NAME: &str = "kafka-cluster";

model! {
    pub struct Acl in acl_attr {
        id: String = computed(
            "`acl_principal|acl_host|acl_operation|acl_permission_type|resource_type|resource_name|resource_pattern_type_filter`, \
             the import ID."
        );
        resource_type: String = required(
            "What the ACL protects: `Topic`, `Group`, `Cluster`, `TransactionalID`, `DelegationToken` or `User`."
        )
        .requires_replace()
        .validate_str("Invalid resource type", validators::one_of(AclResourceType::NAMES));
        resource_name: String = required(
            "The resource's name, or with `resource_pattern_type_filter = \"Prefixed\"` the beginning of the names it \
             covers; `*` covers every resource of the type. A `Cluster` ACL names `kafka-cluster`."
        )
        .requires_replace()
        .validate_str("Invalid resource name", |name| match name.is_empty() {
            true => Err("The resource name is empty; use `*` for every resource of the type.".into()),
            false => Ok(()),
        });
        resource_pattern_type_filter: String = optional_computed("`Literal` (`Literal`) or `Prefixed`.")
            .with_default(Value::string("Literal"))
            .requires_replace()
            .validate_str("Invalid pattern type", validators::one_of(AclPatternType::NAMES));
        acl_principal: String = required("Who: `User:<name>` (a SCRAM or certificate user), or `User:*` for every user.")
            .requires_replace()
            .validate_str("Invalid principal", check_principal);
        acl_host: String = optional_computed("The client address the ACL applies to (`*`: any).")
            .with_default(Value::string("*"))
            .requires_replace()
            .validate_str("Invalid host", |host| match host.is_empty() || host.chars().any(char::is_whitespace) {
                true => Err(format!("{host:?} is not an address; use `*` for any.")),
                false => Ok(()),
            });
        acl_operation: String = required(
            "`All`, `Read`, `Write`, `Create`, `Delete`, `Alter`, `Describe`, `ClusterAction`, `DescribeConfigs`, \
             `AlterConfigs`, `IdempotentWrite`, `CreateTokens` or `DescribeTokens`."
        )
        .requires_replace()
        .validate_str("Invalid operation", validators::one_of(AclOperation::NAMES));
        acl_permission_type: String = required("`Allow` or `Deny`; a `Deny` wins over any `Allow`.")
            .requires_replace()
            .validate_str("Invalid permission type", validators::one_of(AclPermission::NAMES));
        kafka: KafkaConnection = optional(
            "Connection to the cluster holding the ACL, instead of the provider's `kafka`. It must authenticate as a \
             principal allowed to manage ACLs (a super user, or one with `Alter` on the cluster)."
        );
    }
}

fn check_principal(principal: &str) -> Result<(), String> {
    match principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() && !principal.contains('|') => Ok(()),
        _ => Err(format!(
            "{principal:?} is not a principal: write `User:<name>`, or `User:*` for every user (and no `|`, which \
             separates the parts of the import ID)."
        )),
    }
}

/// The operations Kafka checks on each resource type: an ACL naming another grants nothing.
fn operations_of(resource_type: AclResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match resource_type {
        AclResourceType::Topic => &[All, Read, Write, Create, Delete, Alter, Describe, DescribeConfigs, AlterConfigs],
        AclResourceType::Group => &[All, Read, Delete, Describe],
        AclResourceType::Cluster => {
            &[All, Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Alter, Describe]
        }
        AclResourceType::TransactionalId => &[All, Describe, Write],
        AclResourceType::DelegationToken => &[All, Describe],
        AclResourceType::User => &[All, CreateTokens, DescribeTokens],
    }
}

/// The binding a model stands for, once every field is known.
fn binding_of(acl: &Acl) -> Option<AclBinding> {
    Some(AclBinding {
        resource_type: AclResourceType::parse(acl.resource_type.known()?)?,
        resource_name: acl.resource_name.known()?.clone(),
        pattern_type: AclPatternType::parse(acl.resource_pattern_type_filter.known()?)?,
        principal: acl.acl_principal.known()?.clone(),
        host: acl.acl_host.known()?.clone(),
        operation: AclOperation::parse(acl.acl_operation.known()?)?,
        permission: AclPermission::parse(acl.acl_permission_type.known()?)?,
    })
}

fn id_of(b: &AclBinding) -> String {
    let (operation, permission) = (b.operation.name(), b.permission.name());
    let (resource_type, pattern) = (b.resource_type.name(), b.pattern_type.name());
    format!("{}|{}|{operation}|{permission}|{resource_type}|{}|{pattern}", b.principal, b.host, b.resource_name)
}

fn parse_id(id: &str) -> Result<AclBinding, String> {
    let parts: Vec<&str> = id.split('|').collect();
    let [principal, host, operation, permission, resource_type, resource_name, pattern] = parts[..] else {
        return Err(format!(
            "{id:?} has {} parts; the ID is \
             `principal|host|operation|permission|resource_type|resource_name|pattern_type`, for example \
             `User:alice|*|Read|Allow|Topic|orders|Literal`.",
            parts.len()
        ));
    };
    let named = |what: &str, text: &str, names: &[&str]| format!("{what} {text:?} is not one of {}.", names.join(", "));
    let binding = AclBinding {
        resource_type: AclResourceType::parse(resource_type)
            .ok_or_else(|| named("The resource type", resource_type, AclResourceType::NAMES))?,
        resource_name: resource_name.to_string(),
        pattern_type: AclPatternType::parse(pattern)
            .ok_or_else(|| named("The pattern type", pattern, AclPatternType::NAMES))?,
        principal: principal.to_string(),
        host: host.to_string(),
        operation: AclOperation::parse(operation)
            .ok_or_else(|| named("The operation", operation, AclOperation::NAMES))?,
        permission: AclPermission::parse(permission)
            .ok_or_else(|| named("The permission type", permission, AclPermission::NAMES))?,
    };
    check_principal(principal)?;
    Ok(binding)
}

fn the_state(binding: &AclBinding, kafka: Field<KafkaConnection>) -> Acl {
    let text = |s: &str| Field::Known(s.to_string());
    Acl {
        id: Field::Known(id_of(binding)),
        resource_type: text(binding.resource_type.name()),
        resource_name: text(&binding.resource_name),
        resource_pattern_type_filter: text(binding.pattern_type.name()),
        acl_principal: text(&binding.principal),
        acl_host: text(&binding.host),
        acl_operation: text(binding.operation.name()),
        acl_permission_type: text(binding.permission.name()),
        kafka,
    }
}

async fn target(ctx: &Context, acl: &Acl) -> Result<Target, Diagnostics> {
    kafka_connection::target(ctx, &acl.kafka, &AttrPath::root(acl_attr::kafka)).await
}

/// Whether the cluster holds exactly this binding.
async fn exists(ctx: &Context, cluster: &Admin, binding: &AclBinding) -> Result<bool, Diagnostics> {
    let found = ctx.cancellable(cluster.acls(&AclFilter::from(binding))).await;
    found.map(|bindings| !bindings.is_empty()).map_err(|e| {
        let summary = format!("Reading the ACLs of {} failed", cluster.describe());
        kafka_diagnostic(&summary, &e, None).into()
    })
}

/// A binding that exists already is somebody else's, as far as this configuration knows.
fn foreign(binding: &AclBinding, cluster: &Admin) -> Diagnostic {
    let id = id_of(binding);
    Diagnostic::error(
        "ACL already exists",
        format!(
            "This ACL exists at {} and this configuration did not create it, so it is left alone. {}",
            cluster.describe(),
            import_hint(&format!("'{id}'"))
        ),
    )
    .at(AttrPath::root(acl_attr::acl_principal))
}

#[tonic::async_trait]
impl Resource for KafkaAcl {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// Version 0 kept the connection's password and key in the state.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostic> {
        kafka_connection::upgrade_from_version_0(self.type_name(), version, state, acl_attr::kafka)
    }

    fn schema(&self) -> Schema {
        let description = "One Kafka ACL binding, managed through the Kafka admin protocol: a principal allowed or \
                           denied an operation on a topic, group, transactional ID or the cluster. The attributes and \
                           the import ID are those of Mongey's `kafka_acl`.";
        Schema { version: 1, block: Block { description: description.into(), attributes: Acl::attributes() } }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics =
            kafka_connection::check_in_state(config.attr(acl_attr::kafka), &AttrPath::root(acl_attr::kafka));
        let Ok(acl) = Acl::read(config) else { return diagnostics };
        let known = |field: &Field<String>| field.known().cloned();
        let resource_type = known(&acl.resource_type).as_deref().and_then(AclResourceType::parse);
        let name = known(&acl.resource_name);
        if resource_type == Some(AclResourceType::Cluster) && name.as_deref().is_some_and(|n| n != CLUSTER_NAME) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid cluster ACL",
                    format!("A Cluster ACL names the cluster `{CLUSTER_NAME}`; Kafka refuses any other name."),
                )
                .at(AttrPath::root(acl_attr::resource_name)),
            );
        }
        if known(&acl.resource_pattern_type_filter).as_deref() == Some("Prefixed") && name.as_deref() == Some("*") {
            diagnostics.push(
                Diagnostic::error(
                    "A prefix cannot be a wildcard",
                    "Kafka refuses a Prefixed ACL on `*`: use `Literal` with `*` for every resource of the type.",
                )
                .at(AttrPath::root(acl_attr::resource_pattern_type_filter)),
            );
        }
        if let (Some(resource_type), Some(operation)) =
            (resource_type, known(&acl.acl_operation).as_deref().and_then(AclOperation::parse))
            && !operations_of(resource_type).contains(&operation)
        {
            let allowed: Vec<&str> = operations_of(resource_type).iter().map(|o| o.name()).collect();
            diagnostics.push(
                Diagnostic::warning(
                    "An operation Kafka never checks on this resource",
                    format!(
                        "Kafka checks {} on a {}; an ACL for {} on it grants or denies nothing.",
                        allowed.join(", "),
                        resource_type.name(),
                        operation.name()
                    ),
                )
                .at(AttrPath::root(acl_attr::acl_operation)),
            );
        }
        diagnostics
    }

    /// The ID follows from the fields, so the plan knows it; a new binding that exists already
    /// is refused here, before anything is applied.
    async fn plan(&self, ctx: &Context, plan: &mut Plan) {
        let Ok(acl) = Acl::read(&plan.planned()) else { return };
        let Some(binding) = binding_of(&acl) else { return };
        plan.state.insert(acl_attr::id.into(), Value::string(id_of(&binding)));
        if !(plan.is_create() || plan.replaces()) || plan.diagnostics.has_errors() {
            return;
        }
        let cluster = match target(ctx, &acl).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return,
            Err(d) => return plan.diagnostics.extend(d),
        };
        match exists(ctx, &cluster, &binding).await {
            // A replacement deletes the old binding first only when it is this one.
            Ok(true) if binding_of(&Acl::read(&plan.prior).unwrap_or_default()).as_ref() != Some(&binding) => {
                plan.diagnostics.push(foreign(&binding, &cluster))
            }
            Ok(_) => {}
            Err(d) => plan.diagnostics.extend(d),
        }
    }

    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let failed = |diagnostics| ApplyResponse { diagnostics, ..Default::default() };
        let (cluster, binding) = match prepare(ctx, &request.planned_state).await {
            Ok(prepared) => prepared,
            Err(d) => return failed(d),
        };
        match exists(ctx, &cluster, &binding).await {
            Ok(false) => {}
            Ok(true) => return failed(foreign(&binding, &cluster).into()),
            Err(d) => return failed(d),
        }
        tracing::info!(acl = %id_of(&binding), "creating ACL");
        let created = ctx.cancellable(cluster.create_acls(std::slice::from_ref(&binding))).await;
        let state = with_attribute(request.planned_state, acl_attr::id, Value::string(id_of(&binding)));
        match created {
            Ok(()) => ApplyResponse { new_state: state, ..Default::default() },
            // Creating a binding again changes nothing: recorded, the next refresh tells whether
            // the lost answer was a success, and this configuration keeps it either way.
            Err(e) => ApplyResponse {
                new_state: if e.may_have_acted() { state } else { Value::Null },
                diagnostics: kafka_diagnostic(&format!("Creating ACL {} failed", id_of(&binding)), &e, None).into(),
                ..Default::default()
            },
        }
    }

    /// Only the connection changes in place, and it is no part of the binding.
    async fn update(&self, _ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        ApplyResponse { new_state: request.planned_state, ..Default::default() }
    }

    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let prior = request.prior_state;
        let (cluster, binding) = match prepare(ctx, &prior).await {
            Ok(prepared) => prepared,
            Err(diagnostics) => return ApplyResponse { new_state: prior, diagnostics, ..Default::default() },
        };
        tracing::info!(acl = %id_of(&binding), "deleting ACL");
        match ctx.cancellable(cluster.delete_acls(&[AclFilter::from(&binding)])).await {
            Ok(_) => ApplyResponse::default(),
            Err(e) => {
                let diagnostics =
                    kafka_diagnostic(&format!("Deleting ACL {} failed", id_of(&binding)), &e, None).into();
                ApplyResponse { new_state: prior, diagnostics, ..Default::default() }
            }
        }
    }

    /// A binding removed out of band leaves the state, so that the plan creates it again.
    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        let ReadRequest { current_state, private, .. } = request;
        let keep =
            |diagnostics| ReadResponse { new_state: current_state.clone(), private: private.clone(), diagnostics };
        let acl = match Acl::read(&current_state) {
            Ok(acl) => acl,
            Err(d) => return keep(d),
        };
        let Some(binding) = binding_of(&acl) else { return keep(Diagnostics::default()) };
        let cluster = match kafka_connection::read_target(ctx, &acl.kafka, &AttrPath::root(acl_attr::kafka)).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return keep(Diagnostics::default()),
            Err(d) => return keep(d),
        };
        // A broker learns of a binding made through another from ZooKeeper, moments later: an
        // absence is believed only when a second look, a second on, confirms it.
        let mut found = exists(ctx, &cluster, &binding).await;
        if matches!(found, Ok(false)) {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            found = exists(ctx, &cluster, &binding).await;
        }
        match found {
            Ok(true) => keep(Diagnostics::default()),
            Ok(false) => {
                tracing::info!(acl = %id_of(&binding), "ACL no longer exists; removing it from state");
                ReadResponse::default()
            }
            Err(d) => keep(d),
        }
    }

    /// Mongey's `kafka_acl` has the same attributes, and names its bindings as this resource does.
    fn move_state(&self, source: &MoveRequest) -> Option<Result<Value, Diagnostics>> {
        if !source.comes_from("mongey/kafka", "kafka_acl") {
            return None;
        }
        // Version 0 has no pattern type: it was always `Literal`, the default below.
        if source.source_version > 1 {
            let why =
                format!("Its state has schema version {}, which no Mongey/kafka release wrote.", source.source_version);
            return Some(Err(Diagnostic::error("Cannot move this kafka_acl", why).into()));
        }
        let text =
            |attribute: &str, default: &'static str| source.source_text(attribute).unwrap_or(default).to_string();
        let id = [
            text(acl_attr::acl_principal, ""),
            text(acl_attr::acl_host, "*"),
            text(acl_attr::acl_operation, ""),
            text(acl_attr::acl_permission_type, ""),
            text(acl_attr::resource_type, ""),
            text(acl_attr::resource_name, ""),
            text(acl_attr::resource_pattern_type_filter, "Literal"),
        ]
        .join("|");
        Some(match parse_id(&id) {
            Ok(binding) => Ok(the_state(&binding, Field::Null).to_value()),
            Err(why) => Err(Diagnostic::error("Cannot move this kafka_acl", why).into()),
        })
    }

    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        let failed = |diagnostics| ImportResponse { diagnostics, ..Default::default() };
        let binding = match parse_id(id) {
            Ok(binding) => binding,
            Err(why) => return failed(Diagnostic::error("Invalid import ID", why).into()),
        };
        let cluster = match kafka_connection::known_target(ctx, &Field::Null, &AttrPath::root(acl_attr::kafka)).await {
            Ok(cluster) => cluster,
            Err(d) => return failed(d),
        };
        match exists(ctx, &cluster, &binding).await {
            Ok(true) => ImportResponse::single(TYPE_NAME, the_state(&binding, Field::Null).to_value()),
            Ok(false) => failed(
                Diagnostic::error("ACL not found", format!("No ACL {id:?} exists at {}.", cluster.describe())).into(),
            ),
            Err(d) => failed(d),
        }
    }
}

/// The cluster and the binding of a state about to be applied.
async fn prepare(ctx: &Context, state: &Value) -> Result<(std::sync::Arc<Admin>, AclBinding), Diagnostics> {
    let acl = Acl::read(state)?;
    let unknown = |what: &str| Diagnostic::error(format!("{what} unknown at apply"), "It must be known by now.");
    let binding = binding_of(&acl).ok_or_else(|| unknown("A field of the ACL"))?;
    Ok((kafka_connection::known_target(ctx, &acl.kafka, &AttrPath::root(acl_attr::kafka)).await?, binding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_id_is_mongeys_and_reads_back() {
        let binding = parse_id("User:alice|*|Read|Allow|Topic|orders|Prefixed").unwrap();
        assert_eq!(binding.resource_type, AclResourceType::Topic);
        assert_eq!(binding.pattern_type, AclPatternType::Prefixed);
        assert_eq!(id_of(&binding), "User:alice|*|Read|Allow|Topic|orders|Prefixed");
        assert_eq!(binding_of(&the_state(&binding, Field::Null)), Some(binding.clone()));
        for bad in [
            "User:alice|*|Read|Allow|Topic|orders",
            "alice|*|Read|Allow|Topic|orders|Literal",
            "User:a|*|Reed|Allow|Topic|o|Literal",
        ] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_resource_type_checks_all() {
        for name in AclResourceType::NAMES {
            let resource_type = AclResourceType::parse(name).unwrap();
            assert!(operations_of(resource_type).contains(&AclOperation::All), "{name}");
        }
    }
}
