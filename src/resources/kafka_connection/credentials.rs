//! Where a connection's credentials come from when they are not written in it: a Kubernetes
//! Secret or the provider's environment, read at each connection. And what became of states
//! written when a resource's `kafka` could hold a password: upgrades take it out, and until an
//! apply records where it comes from now, a refresh leaves the resource as it was.

use super::{CredentialsSecret, EnvSecrets, KafkaConnection, Target, connection_attr, sasl_attr, target, tls_attr};
use crate::kafka::{ConnectionConfig, SaslConfig, SaslMechanism, Secret};
use crate::resources::Context;
use crate::resources::framework::{Field, unsupported_state_version};
use crate::resources::kube_diagnostic;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

/// The SASL credentials the Secret of a connection holds.
pub(super) async fn from_secret(
    ctx: &Context,
    secret: &CredentialsSecret,
    over_tls: bool,
    path: &AttrPath,
) -> Result<SaslConfig, Diagnostics> {
    let at = path.clone().attr(connection_attr::sasl).attr(sasl_attr::credentials_secret);
    let namespace = secret.namespace.as_deref().unwrap_or(&ctx.config.namespace);
    let reference = format!("{namespace}/{}", secret.name);
    let kube = ctx.kube().await.map_err(|d| Diagnostics::from(d.at(at.clone())))?;
    let data = kube.secret_data(namespace, &secret.name).await.map_err(|e| {
        Diagnostics::from(
            kube_diagnostic(format!("Reading the credentials Secret {reference} failed"), &e).at(at.clone()),
        )
    })?;
    let incomplete =
        |why: String| Diagnostics::from(Diagnostic::error("Unusable credentials Secret", why).at(at.clone()));
    let field = |key: &str| {
        data.get(key).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
            incomplete(format!("Secret {reference} has no `{key}`: it needs `username` and `password`."))
        })
    };
    let mechanism = match (secret.mechanism, data.get("mechanism")) {
        (Some(mechanism), _) => mechanism,
        (None, Some(name)) => SaslMechanism::parse(name).ok_or_else(|| {
            incomplete(format!(
                "Secret {reference} names mechanism {name:?}, not one of {}.",
                SaslMechanism::NAMES.join(", ")
            ))
        })?,
        (None, None) => SaslMechanism::ScramSha512,
    };
    if mechanism == SaslMechanism::Plain && !over_tls {
        return Err(incomplete(format!(
            "Secret {reference} asks for PLAIN, which would send its password in the clear: add a `tls` block or use \
             SCRAM-SHA-512."
        )));
    }
    Ok(SaslConfig { mechanism, username: field("username")?, password: Secret::new(field("password")?) })
}

/// Fills in the secrets a connection names environment variables for.
pub(super) fn from_env(env: &EnvSecrets, config: &mut ConnectionConfig, path: &AttrPath) -> Result<(), Diagnostics> {
    if let (Some(name), Some(sasl)) = (&env.password, config.sasl.as_mut()) {
        let at = path.clone().attr(connection_attr::sasl).attr(sasl_attr::password_env);
        sasl.password = Secret::new(env_value(name, at)?);
    }
    if let (Some(name), Some(tls)) = (&env.client_key, config.tls.as_mut()) {
        let at = path.clone().attr(connection_attr::tls).attr(tls_attr::client_key_env);
        tls.client_key_pem = Some(Secret::new(env_value(name, at)?));
    }
    Ok(())
}

fn env_value(name: &str, at: AttrPath) -> Result<String, Diagnostics> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(Diagnostic::error(
            "Credential not in the environment",
            format!(
                "The environment variable {name} is not set (or blank, or not UTF-8). The provider inherits \
                 Terraform's environment: export {name} where terraform runs (in CI, from its secret variables)."
            ),
        )
        .at(at)
        .into()),
    }
}

/// An environment variable's name, as shells and CI systems accept it.
pub(super) fn env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    match first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        true => Ok(()),
        false => Err(format!(
            "{name:?} is not an environment variable name (letters, digits and _, not starting with a digit)."
        )),
    }
}

/// The secret a stored connection lacks because an upgrade took it out of the state: a username
/// without a password, or a client certificate without its key, from no other source.
pub(super) fn not_kept(connection: &KafkaConnection, path: &AttrPath) -> Option<Diagnostic> {
    let sasl_missing = connection.sasl.known().is_some_and(|sasl| {
        !sasl.username.is_null()
            && sasl.password.is_null()
            && sasl.password_env.is_null()
            && sasl.credentials_secret.is_null()
    });
    let key_missing = connection
        .tls
        .known()
        .is_some_and(|tls| !tls.client_cert.is_null() && tls.client_key.is_null() && tls.client_key_env.is_null());
    let at = match (sasl_missing, key_missing) {
        (true, _) => path.clone().attr(connection_attr::sasl).attr(sasl_attr::password_env),
        (false, true) => path.clone().attr(connection_attr::tls).attr(tls_attr::client_key_env),
        (false, false) => return None,
    };
    Some(
        Diagnostic::error(
            "Connection credentials no longer in the state",
            "This resource's state was written by a provider version that kept the connection's password or key in \
             it; this version took it out. Set `sasl.password_env` or `sasl.credentials_secret` (`tls.client_key_env` \
             for a key) on this resource's `kafka` and apply: the plan shows it as an update of `kafka` alone, and \
             refresh and destroy work again afterwards.",
        )
        .at(at),
    )
}

/// The cluster a refresh reads from. A stored connection whose credentials an upgrade took out
/// cannot be used: the resource is left as the state has it, with a warning, until an apply
/// records where the credentials come from now.
pub async fn read_target(
    ctx: &Context,
    field: &Field<KafkaConnection>,
    path: &AttrPath,
) -> Result<Target, Diagnostics> {
    if let Field::Known(connection) = field
        && let Some(missing) = not_kept(connection, path)
    {
        let skipped = Diagnostic::warning(
            "Not refreshed: connection credentials no longer in the state",
            format!("{} Until then, changes made outside Terraform to this resource do not show.", missing.detail),
        );
        return Err(match missing.path {
            Some(at) => skipped.at(at),
            None => skipped,
        }
        .into());
    }
    target(ctx, field, path).await
}

/// The state upgrade of a resource whose version 0 kept its connection's secrets, at `attribute`.
pub fn upgrade_from_version_0(
    type_name: &str,
    version: i64,
    state: Value,
    attribute: &str,
) -> Result<Value, Diagnostic> {
    match version {
        0 => Ok(without_kept_secrets(state, attribute)),
        _ => Err(unsupported_state_version(type_name, version)),
    }
}

/// A stored state's `kafka` attribute (at `attribute`) without the password and private key
/// that earlier provider versions kept in it.
pub fn without_kept_secrets(state: Value, attribute: &str) -> Value {
    let Value::Object(mut fields) = state else { return state };
    if let Some(Value::Object(connection)) = fields.get_mut(attribute) {
        for (block, secret) in
            [(connection_attr::sasl, sasl_attr::password), (connection_attr::tls, tls_attr::client_key)]
        {
            if let Some(Value::Object(settings)) = connection.get_mut(block) {
                settings.insert(secret.to_string(), Value::Null);
            }
        }
    }
    Value::Object(fields)
}
