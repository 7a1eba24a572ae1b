//! The `kafka` connection attribute, shared by the provider block (the default connection) and
//! each resource and data source (an override, for a cluster created in the same configuration).
//!
//! A password or private key written in a resource's `kafka` would be kept in the state with
//! it: there, credentials come only by reference (a Kubernetes Secret, an environment variable),
//! read whenever the provider connects, so refresh and destroy keep working after a rotation
//! (`credentials`). `check` holds what the validators cannot see.

mod check;
mod credentials;

pub use check::{check, check_in_state};
pub use credentials::{read_target, upgrade_from_version_0, without_kept_secrets};

use std::sync::Arc;
use std::time::Duration;

use super::framework::{Field, model, validators};
use super::kafka_tunnel::PodTunnel;
use super::provider_config::is_dns_label;
use super::{Context, duration};
use crate::kafka::{Admin, ConnectionConfig, Route, SaslConfig, SaslMechanism, Secret, TlsConfig};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

model! {
    /// The `kafka` attribute: [`parse`] turns it into connection settings.
    pub struct KafkaConnection in connection_attr {
        bootstrap_servers: Vec<String> = required(
            "Brokers to start from, as `host:port`. The client learns the rest of the cluster from them."
        );
        tls: Tls = optional("Connect with TLS. Leave out for a plaintext listener.");
        sasl: Sasl = optional("Authenticate with SASL.");
        tunnel: KubernetesTunnel = optional(
            "Reach the brokers through the Kubernetes API server (port-forwards, as `kubectl port-forward` makes \
             them), for brokers whose advertised names resolve only inside their cluster: from wherever the \
             provider's `kubernetes` settings work. Each broker is reached at the pod its advertised host names by \
             its first label; a bootstrap address may name a Service instead."
        );
        request_timeout: String = optional(&format!(
            "Bound on each request to a broker, e.g. `{}` (the default).",
            duration::format(DEFAULT_REQUEST_TIMEOUT)
        ))
        .validate_str("Invalid timeout", validators::timeout);
    }
}

model! {
    pub struct Tls in tls_attr {
        ca_cert: String = optional(
            "PEM bundle of the CAs that signed the brokers' certificates. The public web roots when unset."
        )
        .validate_str("Invalid CA certificate", |ca| match ca.contains("-----BEGIN CERTIFICATE-----") {
            true => Ok(()),
            false => Err("ca_cert must hold PEM certificates (-----BEGIN CERTIFICATE-----); use file(\"ca.pem\") to \
                          read one."
                .into()),
        });
        client_cert: String = optional("PEM client certificate, for brokers that require mutual TLS.");
        client_key: String = optional(
            "PEM private key of `client_cert`. In the provider block only (Terraform keeps no provider setting): a \
             resource or data source would keep it in the state, so there use `client_key_env`."
        )
        .sensitive();
        client_key_env: String = optional(
            "Name of an environment variable holding the PEM private key of `client_cert`, read when the provider \
             connects: the key enters no plan and no state."
        )
        .validate_str("Invalid environment variable name", credentials::env_name);
        insecure_skip_verify: bool = optional("Accept any broker certificate. For tests only.");
        server_name: String = optional(
            "Name to check the brokers' certificates against, when it differs from their address."
        );
    }
}

model! {
    pub struct KubernetesTunnel in tunnel_attr {
        namespace: String = optional("The brokers' namespace; the provider's when unset.")
            .validate_str("Invalid namespace", |namespace| match is_dns_label(namespace) {
                true => Ok(()),
                false => Err(format!("{namespace:?} is not a namespace name (a DNS label).")),
            });
    }
}

model! {
    pub struct Sasl in sasl_attr {
        mechanism: String = optional(
            "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`. Required with `username`; with `credentials_secret`, the \
             Secret's `mechanism` (else SCRAM-SHA-512) when unset."
        )
        .validate_str("Unsupported SASL mechanism", |name| mechanism(name).map(drop));
        username: String = optional(
            "SASL username; set it with `password` or `password_env`, or use `credentials_secret`."
        );
        password: String = optional(
            "SASL password. In the provider block only (Terraform keeps no provider setting): a resource or data \
             source would keep it in the state, so there use `password_env` or `credentials_secret`."
        )
        .sensitive();
        password_env: String = optional(
            "Name of an environment variable holding the password (the provider inherits Terraform's environment), \
             read when the provider connects: the password enters no plan and no state, and a rotated one is used as \
             soon as the variable holds it."
        )
        .validate_str("Invalid environment variable name", credentials::env_name);
        credentials_secret: String = optional(
            "`namespace/name` (or `name`, in the provider's namespace) of a Kubernetes Secret with `username`, \
             `password` and optionally `mechanism`, such as `hikube_kafka_cluster.<name>.admin_secret`: read when the \
             provider connects, so the password enters no plan and no state. Instead of `username` and `password`."
        )
        .validate_str("Invalid Secret reference", |reference| match secret_reference(reference) {
            Some(_) => Ok(()),
            None => Err(format!("{reference:?} is not `namespace/name` or `name` of a Secret.")),
        });
    }
}

/// A Secret that holds a connection's SASL credentials: resolved when the provider connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsSecret {
    /// The provider's namespace when `None`.
    pub namespace: Option<String>,
    pub name: String,
    /// Overrides the Secret's own `mechanism`.
    pub mechanism: Option<SaslMechanism>,
}

/// Environment variables of the provider's process that hold a connection's secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvSecrets {
    pub password: Option<String>,
    pub client_key: Option<String>,
}

/// A connection as configured: settings, and where its credentials come from when a Secret or
/// the environment holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionSpec {
    pub config: ConnectionConfig,
    pub credentials_secret: Option<CredentialsSecret>,
    pub env_secrets: EnvSecrets,
    /// Through the Kubernetes API server, to the brokers of this namespace (the provider's when
    /// `None`).
    pub tunnel: Option<Option<String>>,
}

impl From<ConnectionConfig> for ConnectionSpec {
    fn from(config: ConnectionConfig) -> ConnectionSpec {
        ConnectionSpec { config, credentials_secret: None, env_secrets: EnvSecrets::default(), tunnel: None }
    }
}

fn secret_reference(reference: &str) -> Option<(Option<&str>, &str)> {
    let (namespace, name) = match reference.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, reference),
    };
    let name_ok = !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns_label);
    (name_ok && namespace.is_none_or(is_dns_label)).then_some((namespace, name))
}

fn mechanism(name: &str) -> Result<SaslMechanism, String> {
    SaslMechanism::parse(name).ok_or_else(|| format!("{name:?} is not one of {}.", SaslMechanism::NAMES.join(", ")))
}

pub enum Connection {
    /// Not configured here.
    Absent,
    /// Some part is only known after apply (a cluster created in the same run).
    Unknown,
    Known(Box<ConnectionSpec>),
}

/// The cluster a resource works on: its own `kafka` connection, else the provider's.
pub enum Target {
    Cluster(Arc<Admin>),
    /// The connection is not known until apply.
    Unknown,
}

/// The cluster of a resource whose `kafka` attribute, at `path`, is `field`.
pub async fn target(ctx: &Context, field: &Field<KafkaConnection>, path: &AttrPath) -> Result<Target, Diagnostics> {
    match parse_field(field, path)? {
        Connection::Known(spec) => Ok(Target::Cluster(admin(ctx, &spec, path).await?)),
        Connection::Unknown => Ok(Target::Unknown),
        Connection::Absent if ctx.config.is_deferred("kafka") => Ok(Target::Unknown),
        Connection::Absent => match &ctx.config.kafka {
            Some(spec) => Ok(Target::Cluster(admin(ctx, spec, &AttrPath::root("kafka")).await?)),
            None => Err(Diagnostic::error(
                "No Kafka connection",
                "Set `kafka` in the provider block (or HIKUBE_KAFKA_BOOTSTRAP_SERVERS), or on this resource.",
            )
            .at(path.clone())
            .into()),
        },
    }
}

/// The client of a connection: through its tunnel when it has one, its credentials read from
/// their Secret when one holds them. `path` is the connection attribute's.
pub async fn admin(ctx: &Context, spec: &ConnectionSpec, path: &AttrPath) -> Result<Arc<Admin>, Diagnostics> {
    let mut config = spec.config.clone();
    if let Some(namespace) = &spec.tunnel {
        let namespace = namespace.clone().unwrap_or_else(|| ctx.config.namespace.clone());
        let kube = ctx.kube().await.map_err(|d| Diagnostics::from(d.at(path.clone().attr(connection_attr::tunnel))))?;
        let description = format!("through the Kubernetes API server {} to namespace {namespace}", kube.cluster_url());
        config.route = Route::Tunnel { description, tunnel: Arc::new(PodTunnel { kube: kube.clone(), namespace }) };
    }
    if let Some(secret) = &spec.credentials_secret {
        config.sasl = Some(credentials::from_secret(ctx, secret, config.tls.is_some(), path).await?);
    }
    credentials::from_env(&spec.env_secrets, &mut config, path)?;
    Ok(ctx.kafka_pool.admin(&config))
}

/// The cluster of an operation that cannot wait for a connection known only after apply.
pub async fn known_target(
    ctx: &Context,
    field: &Field<KafkaConnection>,
    path: &AttrPath,
) -> Result<Arc<Admin>, Diagnostics> {
    match target(ctx, field, path).await? {
        Target::Cluster(cluster) => Ok(cluster),
        Target::Unknown => Err(Diagnostic::error(
            "Kafka connection not known yet",
            "The Kafka connection comes from resources not applied yet: apply them first.",
        )
        .at(path.clone())
        .into()),
    }
}

/// The connection a model field holds.
pub fn parse_field(field: &Field<KafkaConnection>, path: &AttrPath) -> Result<Connection, Diagnostics> {
    match field {
        Field::Null => Ok(Connection::Absent),
        Field::Unknown => Ok(Connection::Unknown),
        Field::Known(connection) => parse(&connection.to_value(), path),
    }
}

/// Turns the attribute's value into connection settings. Every error names its attribute.
pub fn parse(value: &Value, path: &AttrPath) -> Result<Connection, Diagnostics> {
    if value.is_null() {
        return Ok(Connection::Absent);
    } else if !value.is_wholly_known() {
        return Ok(Connection::Unknown);
    }
    let connection = KafkaConnection::read_at(value, path)?;
    // Before the checks, which would call such a stored connection merely incomplete.
    if let Some(missing) = credentials::not_kept(&connection, path) {
        return Err(missing.into());
    }
    let diagnostics = check::together(&connection, path, false);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let tls = connection.tls.known().map(|tls| TlsConfig {
        ca_pem: tls.ca_cert.known().cloned(),
        client_cert_pem: tls.client_cert.known().cloned(),
        client_key_pem: tls.client_key.known().cloned().map(Secret::new),
        insecure_skip_verify: tls.insecure_skip_verify.known() == Some(&true),
        server_name: tls.server_name.known().cloned(),
    });
    // What the validators refuse, should it get here, is an error all the same.
    let refused = |summary: &str, why: String, steps: &[&str]| {
        Diagnostics::from(Diagnostic::error(summary, why).at(steps.iter().fold(path.clone(), |p, s| p.attr(s))))
    };
    let sasl_mechanism = |sasl: &Sasl| match sasl.mechanism.as_deref() {
        None => Ok(None),
        Some(name) => mechanism(name)
            .map(Some)
            .map_err(|why| refused("Unsupported SASL mechanism", why, &[connection_attr::sasl, sasl_attr::mechanism])),
    };
    let (sasl, credentials_secret) = match connection.sasl.known() {
        None => (None, None),
        Some(sasl) => match sasl.credentials_secret.as_deref().and_then(secret_reference) {
            Some((namespace, name)) => (
                None,
                Some(CredentialsSecret {
                    namespace: namespace.map(str::to_string),
                    name: name.to_string(),
                    mechanism: sasl_mechanism(sasl)?,
                }),
            ),
            None => (
                Some(SaslConfig {
                    mechanism: sasl_mechanism(sasl)?.unwrap_or(SaslMechanism::ScramSha512),
                    username: sasl.username.known().cloned().unwrap_or_default(),
                    // One from the environment is read when the provider connects.
                    password: Secret::new(sasl.password.known().cloned().unwrap_or_default()),
                }),
                None,
            ),
        },
    };
    let env_secrets = EnvSecrets {
        password: connection.sasl.known().and_then(|sasl| sasl.password_env.known().cloned()),
        client_key: connection.tls.known().and_then(|tls| tls.client_key_env.known().cloned()),
    };
    let request_timeout = match connection.request_timeout.as_deref() {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(text) => {
            duration::parse(text).map_err(|why| refused("Invalid timeout", why, &[connection_attr::request_timeout]))?
        }
    };
    let bootstrap_servers = connection.bootstrap_servers.known().cloned().unwrap_or_default();
    let config = ConnectionConfig { bootstrap_servers, tls, sasl, request_timeout, route: Route::Direct };
    let tunnel = connection.tunnel.known().map(|tunnel| tunnel.namespace.known().cloned());
    Ok(Connection::Known(Box::new(ConnectionSpec { config, credentials_secret, env_secrets, tunnel })))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn connection(sasl: &str, tls: &str) -> Value {
        let mut object =
            BTreeMap::from([("bootstrap_servers".to_string(), Value::List(vec![Value::string("kafka-0:9093")]))]);
        if !sasl.is_empty() {
            object.insert(
                "sasl".into(),
                Value::Object(BTreeMap::from([
                    ("mechanism".to_string(), Value::string(sasl)),
                    ("username".to_string(), Value::string("u")),
                    ("password".to_string(), Value::string("p")),
                ])),
            );
        }
        match tls {
            "" => {}
            "verified" => {
                object.insert("tls".into(), Value::Object(BTreeMap::new()));
            }
            _ => {
                object.insert(
                    "tls".into(),
                    Value::Object(BTreeMap::from([("insecure_skip_verify".to_string(), Value::Bool(true))])),
                );
            }
        }
        Value::Object(object)
    }

    #[test]
    fn plain_needs_tls_and_unverified_tls_with_credentials_is_a_warning() {
        let path = AttrPath::root("kafka");
        let plain_clear = check(&connection("PLAIN", ""), &path);
        assert!(plain_clear.has_errors(), "{plain_clear:?}");
        assert!(!check(&connection("PLAIN", "verified"), &path).has_errors());
        let unverified = check(&connection("SCRAM-SHA-512", "skip"), &path);
        assert!(!unverified.has_errors() && !unverified.is_empty(), "{unverified:?}");
        assert!(check(&connection("", "skip"), &path).is_empty(), "no credentials, nothing to hand over");
    }

    fn sasl(fields: &[(&str, &str)]) -> Value {
        let sasl = fields.iter().map(|(k, v)| (k.to_string(), Value::string(*v))).collect();
        Value::Object(BTreeMap::from([
            ("bootstrap_servers".to_string(), Value::List(vec![Value::string("kafka-0:9092")])),
            ("sasl".to_string(), Value::Object(sasl)),
        ]))
    }

    #[test]
    fn credentials_come_whole_from_the_attributes_or_from_a_secret() {
        let path = AttrPath::root("kafka");
        let errors_at = |value: Value| -> Vec<String> {
            check(&value, &path)
                .0
                .iter()
                .filter(|d| d.severity == crate::tfplugin::diag::Severity::Error)
                .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
                .collect()
        };
        assert_eq!(errors_at(sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u")])), ["kafka.sasl.password"]);
        assert!(errors_at(sasl(&[("credentials_secret", "data/events-kafka-admin")])).is_empty());
        assert_eq!(
            errors_at(sasl(&[("credentials_secret", "events-kafka-admin"), ("password", "p")])),
            ["kafka.sasl.password"]
        );

        let parsed = |value: Value| match parse(&value, &path) {
            Ok(Connection::Known(spec)) => spec,
            _ => panic!("not a known connection"),
        };
        let spec = parsed(sasl(&[("credentials_secret", "data/events-kafka-admin"), ("mechanism", "SCRAM-SHA-256")]));
        assert!(spec.config.sasl.is_none(), "no password until the Secret is read");
        assert_eq!(
            spec.credentials_secret,
            Some(CredentialsSecret {
                namespace: Some("data".into()),
                name: "events-kafka-admin".into(),
                mechanism: Some(SaslMechanism::ScramSha256),
            })
        );
        assert_eq!(parsed(sasl(&[("credentials_secret", "admin")])).credentials_secret.unwrap().namespace, None);
        assert_eq!(
            errors_at(sasl(&[
                ("mechanism", "SCRAM-SHA-512"),
                ("username", "u"),
                ("password", "p"),
                ("password_env", "P")
            ])),
            ["kafka.sasl.password_env"]
        );
        let from_env = parsed(sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u"), ("password_env", "KAFKA_PW")]));
        assert_eq!(from_env.env_secrets.password.as_deref(), Some("KAFKA_PW"));
        for bad in ["a/b/c", "Admin", "", "ns/", "/name"] {
            assert!(secret_reference(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_tunnel_goes_to_its_namespace_or_the_providers() {
        let path = AttrPath::root("kafka");
        let with_tunnel = |tunnel: Value| {
            let mut value = sasl(&[("credentials_secret", "admin")]);
            if let Value::Object(fields) = &mut value {
                fields.insert("tunnel".into(), tunnel);
            }
            match parse(&value, &path) {
                Ok(Connection::Known(spec)) => spec.tunnel,
                _ => panic!("not a known connection"),
            }
        };
        assert_eq!(with_tunnel(Value::Null), None);
        assert_eq!(with_tunnel(Value::Object(BTreeMap::new())), Some(None), "the provider's namespace");
        let named = Value::Object(BTreeMap::from([("namespace".to_string(), Value::string("data"))]));
        assert_eq!(with_tunnel(named), Some(Some("data".into())));
    }

    #[test]
    fn a_resource_takes_credentials_by_reference_only() {
        let path = AttrPath::root("kafka");
        let refused = |value: &Value| -> Vec<String> {
            check_in_state(value, &path)
                .0
                .iter()
                .filter(|d| d.severity == crate::tfplugin::diag::Severity::Error)
                .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
                .collect()
        };
        assert_eq!(
            refused(&sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u"), ("password", "p")])),
            ["kafka.sasl.password"]
        );
        assert!(refused(&sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u"), ("password_env", "P")])).is_empty());
        assert!(
            check(&sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u"), ("password", "p")]), &path).is_empty()
        );
        assert!(refused(&Value::unknown()).is_empty(), "an unknown connection may hold references only");
        assert_eq!(
            refused(&sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u")])),
            ["kafka.sasl.password_env"],
            "a resource's missing password is one to set by reference"
        );
        assert!(credentials::env_name("KAFKA_PASSWORD").is_ok());
        for bad in ["", "1PW", "KAFKA-PW", "pw word"] {
            assert!(credentials::env_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_upgrade_takes_the_kept_secrets_out_and_the_connection_says_what_to_do() {
        let path = AttrPath::root("kafka");
        let mut kafka = sasl(&[("mechanism", "SCRAM-SHA-512"), ("username", "u"), ("password", "p")]);
        if let Value::Object(fields) = &mut kafka {
            let tls = [("client_cert", "CERT"), ("client_key", "KEY")];
            fields.insert(
                "tls".into(),
                Value::Object(tls.iter().map(|(k, v)| (k.to_string(), Value::string(*v))).collect()),
            );
        }
        let state = Value::Object(BTreeMap::from([
            ("name".to_string(), Value::string("orders")),
            ("kafka".to_string(), kafka),
        ]));
        let upgraded = without_kept_secrets(state, "kafka");
        assert!(upgraded.attr("kafka").attr("sasl").attr("password").is_null());
        assert!(upgraded.attr("kafka").attr("tls").attr("client_key").is_null());
        assert_eq!(upgraded.attr("kafka").attr("sasl").attr("username"), &Value::string("u"));
        assert_eq!(upgraded.attr("name"), &Value::string("orders"));
        let Err(diagnostics) = parse(upgraded.attr("kafka"), &path) else {
            panic!("a connection without its password")
        };
        assert_eq!(diagnostics.0[0].path.as_ref().unwrap().to_string(), "kafka.sasl.password_env");
        assert_eq!(without_kept_secrets(Value::Null, "kafka"), Value::Null);
    }
}
