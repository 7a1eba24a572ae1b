//! `hikube_kafka_user`: a SCRAM credential of one user for one mechanism. The password is a
//! write-only attribute: Terraform sends it with the configuration and keeps it in no plan and
//! no state, so the provider sets it when the user is created and whenever
//! `password_wo_version` changes; the brokers keep only a salted hash of it.

use std::sync::Arc;

use super::framework::{Field, Plan, Resource, model, validators, with_attribute};
use super::kafka_cluster::ADMIN_USERNAME;
use super::kafka_connection::{self, KafkaConnection, Target};
use super::{Context, import_hint, kafka_diagnostic};
use crate::kafka::{Admin, SaslMechanism, Secret};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Block, Schema};
use crate::tfplugin::value::Value;
use crate::tfplugin::{ApplyRequest, ApplyResponse, ImportResponse, ReadRequest, ReadResponse};

pub struct KafkaUser;

pub const TYPE_NAME: &str = "hikube_kafka_user";

const MECHANISMS: &[&str] = &["SCRAM-SHA-512", "SCRAM-SHA-256"];

model! {
    pub struct User in user_attr {
        id: String = computed("`<name>|<mechanism>`, the import ID.");
        name: String = required(
            "The user name clients authenticate with; ACLs name it as the principal `User:<name>`."
        )
        .requires_replace()
        .validate_str("Invalid user name", |name| {
            if name.is_empty() || name.contains(['|', ',', '=']) {
                Err(format!("{name:?} is not a SCRAM user name: it is empty or holds `|`, `,` or `=`."))
            } else if RESERVED_NAMES.contains(&name) {
                Err(format!(
                    "{name:?} is reserved: ANONYMOUS is the principal of unauthenticated connections, and {ADMIN_USERNAME} \
                     is the admin of the clusters this provider deploys (its password is in their admin Secret)."
                ))
            } else {
                Ok(())
            }
        });
        mechanism: String = optional_computed("`SCRAM-SHA-512` (`SCRAM-SHA-512`) or `SCRAM-SHA-256`.")
            .with_default(Value::string("SCRAM-SHA-512"))
            .requires_replace()
            .validate_str("Invalid mechanism", validators::one_of(MECHANISMS));
        iterations: i64 = optional_computed(
            "SCRAM iterations, from 4096 to 16384 (`8192`); a change sets the password again."
        )
        .with_default(Value::int(8192))
        .validate("Invalid iteration count", validators::whole_number("iterations", 4096..=16384));
        password_wo: String = required(
            "The password. Write-only (Terraform 1.11 or later): sent with each plan and apply, kept in no plan and no \
             state. It is set when the user is created and whenever `password_wo_version` changes."
        )
        .sensitive()
        .write_only()
        .validate_str("Invalid password", |password| match password.chars().count() < 8 {
            true => Err("The password has fewer than 8 characters.".into()),
            false => Ok(()),
        });
        password_wo_version: i64 = optional(
            "Raise it to set a new `password_wo`: a change of the password itself cannot show in a plan."
        );
        kafka: KafkaConnection = optional(
            "Connection to the cluster, instead of the provider's `kafka`. It must authenticate as a principal \
             allowed to alter the cluster (a super user, or one with `Alter` on it)."
        );
    }
}

fn mechanism_of(user: &User) -> Option<SaslMechanism> {
    SaslMechanism::parse(user.mechanism.known()?).filter(|m| *m != SaslMechanism::Plain)
}

fn id_of(name: &str, mechanism: SaslMechanism) -> String {
    format!("{name}|{}", mechanism.name())
}

/// A credential under either name would take over a principal that is not an application's.
const RESERVED_NAMES: [&str; 2] = ["ANONYMOUS", ADMIN_USERNAME];

async fn target(ctx: &Context, user: &User) -> Result<Target, Diagnostics> {
    kafka_connection::target(ctx, &user.kafka, &AttrPath::root(user_attr::kafka)).await
}

/// The iteration count of the user's credential for this mechanism, if it has one.
async fn credential(
    ctx: &Context,
    cluster: &Admin,
    name: &str,
    mechanism: SaslMechanism,
) -> Result<Option<i32>, Diagnostics> {
    let users = [name.to_string()];
    let found = ctx.cancellable(cluster.scram_credentials(Some(&users))).await.map_err(|e| {
        Diagnostics::from(kafka_diagnostic(&format!("Reading the credentials of {name} failed"), &e, None))
    })?;
    let credentials = found.get(name).into_iter().flatten();
    Ok(credentials.filter(|c| c.mechanism == mechanism).map(|c| c.iterations).next())
}

fn foreign(name: &str, mechanism: SaslMechanism, cluster: &Admin) -> Diagnostic {
    Diagnostic::error(
        "User already exists",
        format!(
            "{name} has a {} credential at {} and this configuration did not create it, so it is left alone. {}",
            mechanism.name(),
            cluster.describe(),
            import_hint(&format!("'{}'", id_of(name, mechanism)))
        ),
    )
    .at(AttrPath::root(user_attr::name))
}

/// What an apply needs: the cluster, the user's name and mechanism, and the configuration.
struct Change {
    cluster: Arc<Admin>,
    name: String,
    mechanism: SaslMechanism,
    user: User,
}

async fn prepare(ctx: &Context, state: &Value) -> Result<Change, Diagnostics> {
    let user = User::read(state)?;
    let unknown = |what: &str| Diagnostic::error(format!("{what} unknown at apply"), "It must be known by now.");
    let name = user.name.known().cloned().ok_or_else(|| unknown("The user name"))?;
    let mechanism = mechanism_of(&user).ok_or_else(|| unknown("The mechanism"))?;
    let cluster = kafka_connection::known_target(ctx, &user.kafka, &AttrPath::root(user_attr::kafka)).await?;
    Ok(Change { cluster, name, mechanism, user })
}

/// Sets the configured password; it comes from the configuration only, never from a state.
async fn set_password(ctx: &Context, change: &Change, config: &Value) -> Result<(), Diagnostics> {
    let password = config.attr(user_attr::password_wo).as_str().map(Secret::new).ok_or_else(|| {
        Diagnostic::error("No password", "Set password_wo; Terraform sends it at apply.")
            .at(AttrPath::root(user_attr::password_wo))
    })?;
    let iterations = change.user.iterations.known().copied().unwrap_or(8192);
    let set = change.cluster.set_scram_credential(&change.name, change.mechanism, iterations as u32, &password);
    ctx.cancellable(set).await.map_err(|e| {
        let path = AttrPath::root(user_attr::iterations);
        kafka_diagnostic(&format!("Setting the password of {} failed", change.name), &e, Some(path)).into()
    })
}

#[tonic::async_trait]
impl Resource for KafkaUser {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// Version 0 kept the connection's password and key in the state.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostic> {
        kafka_connection::upgrade_from_version_0(self.type_name(), version, state, user_attr::kafka)
    }

    fn schema(&self) -> Schema {
        let description = "A Kafka user's SCRAM credential, managed through the Kafka admin protocol: clients \
                           authenticate with its name and password over a SASL listener. The password is write-only \
                           (Terraform 1.11 or later) and reaches neither the plan nor the state; the brokers keep a \
                           salted hash of it.";
        Schema { version: 1, block: Block { description: description.into(), attributes: User::attributes() } }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        kafka_connection::check_in_state(config.attr(user_attr::kafka), &AttrPath::root(user_attr::kafka))
    }

    /// The ID follows from the name and mechanism; a credential that exists already is refused
    /// here.
    async fn plan(&self, ctx: &Context, plan: &mut Plan) {
        let Ok(user) = User::read(&plan.planned()) else { return };
        let (Some(name), Some(mechanism)) = (user.name.known().cloned(), mechanism_of(&user)) else { return };
        plan.state.insert(user_attr::id.into(), Value::string(id_of(&name, mechanism)));
        if !(plan.is_create() || plan.replaces()) || plan.diagnostics.has_errors() {
            return;
        }
        let cluster = match target(ctx, &user).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return,
            Err(d) => return plan.diagnostics.extend(d),
        };
        // A replacement deletes the old credential first: only the same one would be ours.
        let prior = User::read(&plan.prior).unwrap_or_default();
        let ours = prior.name.known() == Some(&name) && mechanism_of(&prior) == Some(mechanism);
        match credential(ctx, &cluster, &name, mechanism).await {
            Ok(Some(_)) if !ours => plan.diagnostics.push(foreign(&name, mechanism, &cluster)),
            Ok(_) => {}
            Err(d) => plan.diagnostics.extend(d),
        }
    }

    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let failed = |diagnostics| ApplyResponse { diagnostics, ..Default::default() };
        let change = match prepare(ctx, &request.planned_state).await {
            Ok(change) => change,
            Err(d) => return failed(d),
        };
        match credential(ctx, &change.cluster, &change.name, change.mechanism).await {
            Ok(None) => {}
            Ok(Some(_)) => return failed(foreign(&change.name, change.mechanism, &change.cluster).into()),
            Err(d) => return failed(d),
        }
        tracing::info!(user = %change.name, mechanism = change.mechanism.name(), "creating SCRAM credential");
        match set_password(ctx, &change, &request.config).await {
            Ok(()) => {
                let id = Value::string(id_of(&change.name, change.mechanism));
                ApplyResponse {
                    new_state: with_attribute(request.planned_state, user_attr::id, id),
                    ..Default::default()
                }
            }
            Err(d) => failed(d),
        }
    }

    /// The password is set again when its version or the iteration count changed; a change of
    /// the connection alone touches nothing.
    async fn update(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let keep =
            |diagnostics| ApplyResponse { new_state: request.prior_state.clone(), diagnostics, ..Default::default() };
        let change = match prepare(ctx, &request.planned_state).await {
            Ok(change) => change,
            Err(d) => return keep(d),
        };
        let before = User::read(&request.prior_state).unwrap_or_default();
        if before.iterations != change.user.iterations || before.password_wo_version != change.user.password_wo_version
        {
            tracing::info!(user = %change.name, mechanism = change.mechanism.name(), "setting the password again");
            if let Err(d) = set_password(ctx, &change, &request.config).await {
                return keep(d);
            }
        }
        ApplyResponse { new_state: request.planned_state, ..Default::default() }
    }

    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let prior = request.prior_state;
        let change = match prepare(ctx, &prior).await {
            Ok(change) => change,
            Err(diagnostics) => return ApplyResponse { new_state: prior, diagnostics, ..Default::default() },
        };
        tracing::info!(user = %change.name, mechanism = change.mechanism.name(), "deleting SCRAM credential");
        match ctx.cancellable(change.cluster.delete_scram_credential(&change.name, change.mechanism)).await {
            Ok(()) => ApplyResponse::default(),
            Err(e) => {
                let diagnostics =
                    kafka_diagnostic(&format!("Deleting the credential of {} failed", change.name), &e, None).into();
                ApplyResponse { new_state: prior, diagnostics, ..Default::default() }
            }
        }
    }

    /// The iteration count as the brokers have it; a credential deleted out of band leaves the
    /// state, so that the plan creates it again with the configured password.
    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        let ReadRequest { current_state, private, .. } = request;
        let keep =
            |diagnostics| ReadResponse { new_state: current_state.clone(), private: private.clone(), diagnostics };
        let user = match User::read(&current_state) {
            Ok(user) => user,
            Err(d) => return keep(d),
        };
        let (Some(name), Some(mechanism)) = (user.name.known().cloned(), mechanism_of(&user)) else {
            return keep(Diagnostics::default());
        };
        let cluster = match kafka_connection::read_target(ctx, &user.kafka, &AttrPath::root(user_attr::kafka)).await {
            Ok(Target::Cluster(cluster)) => cluster,
            Ok(Target::Unknown) => return keep(Diagnostics::default()),
            Err(d) => return keep(d),
        };
        match credential(ctx, &cluster, &name, mechanism).await {
            Ok(Some(iterations)) => {
                let state = User { iterations: Field::Known(iterations.into()), ..user };
                ReadResponse { new_state: state.to_value(), private, diagnostics: Diagnostics::default() }
            }
            Ok(None) => {
                tracing::info!(user = %name, "SCRAM credential no longer exists; removing it from state");
                ReadResponse::default()
            }
            Err(d) => keep(d),
        }
    }

    /// `<name>|<mechanism>`, and `|<password_wo_version>` to record the version the
    /// configuration has, so that the plan after the import is empty.
    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        let failed = |diagnostics| ImportResponse { diagnostics, ..Default::default() };
        let parts: Vec<&str> = id.split('|').collect();
        let parsed = match parts[..] {
            [name, mechanism] => Some((name, mechanism, None)),
            [name, mechanism, version] => version.parse::<i64>().ok().map(|v| (name, mechanism, Some(v))),
            _ => None,
        };
        let Some((name, mechanism, version)) = parsed.and_then(|(n, m, v)| {
            SaslMechanism::parse(m).filter(|m| *m != SaslMechanism::Plain).map(|m| (n.to_string(), m, v))
        }) else {
            let why = format!(
                "{id:?} is not a user ID: `<name>|<mechanism>` or `<name>|<mechanism>|<password_wo_version>`, for \
                 example `orders-service|SCRAM-SHA-512|1`."
            );
            return failed(Diagnostic::error("Invalid import ID", why).into());
        };
        let cluster = match kafka_connection::known_target(ctx, &Field::Null, &AttrPath::root(user_attr::kafka)).await {
            Ok(cluster) => cluster,
            Err(d) => return failed(d),
        };
        let iterations = match credential(ctx, &cluster, &name, mechanism).await {
            Ok(Some(iterations)) => iterations,
            Ok(None) => {
                let why = format!("{name} has no {} credential at {}.", mechanism.name(), cluster.describe());
                return failed(Diagnostic::error("User not found", why).into());
            }
            Err(d) => return failed(d),
        };
        let state = User {
            id: Field::Known(id_of(&name, mechanism)),
            name: Field::Known(name),
            mechanism: Field::Known(mechanism.name().to_string()),
            iterations: Field::Known(iterations.into()),
            password_wo: Field::Null,
            password_wo_version: version.map_or(Field::Null, Field::Known),
            kafka: Field::Null,
        };
        ImportResponse::single(TYPE_NAME, state.to_value())
    }
}
