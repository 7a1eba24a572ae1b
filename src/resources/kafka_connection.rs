//! The `kafka` connection attribute, shared by the provider block (the default connection) and
//! each topic (an override, for a cluster created in the same configuration).

use std::sync::Arc;
use std::time::Duration;

use super::framework::{Field, model, validators};
use super::{Context, duration};
use crate::kafka::{Admin, ConnectionConfig, SaslConfig, SaslMechanism, Secret, TlsConfig};
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
        client_key: String = optional("PEM private key of `client_cert`.").sensitive();
        insecure_skip_verify: bool = optional("Accept any broker certificate. For tests only.");
        server_name: String = optional(
            "Name to check the brokers' certificates against, when it differs from their address."
        );
    }
}

model! {
    pub struct Sasl in sasl_attr {
        mechanism: String = required("`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.")
            .validate_str("Unsupported SASL mechanism", |name| mechanism(name).map(drop));
        username: String = required("SASL username.");
        password: String = required("SASL password.").sensitive();
    }
}

fn mechanism(name: &str) -> Result<SaslMechanism, String> {
    SaslMechanism::parse(name).ok_or_else(|| format!("{name:?} is not one of {}.", SaslMechanism::NAMES.join(", ")))
}

pub enum Connection {
    /// Not configured here.
    Absent,
    /// Some part is only known after apply (a cluster created in the same run).
    Unknown,
    Known(ConnectionConfig),
}

/// The cluster a resource works on: its own `kafka` connection, else the provider's.
pub enum Target {
    Cluster(Arc<Admin>),
    /// The connection is not known until apply.
    Unknown,
}

/// The cluster of a resource whose `kafka` attribute, at `path`, is `field`.
pub fn target(ctx: &Context, field: &Field<KafkaConnection>, path: &AttrPath) -> Result<Target, Diagnostics> {
    match parse_field(field, path)? {
        Connection::Known(config) => Ok(Target::Cluster(ctx.kafka_pool.admin(&config))),
        Connection::Unknown => Ok(Target::Unknown),
        Connection::Absent if ctx.config.is_deferred("kafka") => Ok(Target::Unknown),
        Connection::Absent => match &ctx.config.kafka {
            Some(config) => Ok(Target::Cluster(ctx.kafka_pool.admin(config))),
            None => Err(Diagnostic::error(
                "No Kafka connection",
                "Set `kafka` in the provider block (or HIKUBE_KAFKA_BOOTSTRAP_SERVERS), or on this resource.",
            )
            .at(path.clone())
            .into()),
        },
    }
}

/// The cluster of an operation that cannot wait for a connection known only after apply.
pub fn known_target(ctx: &Context, field: &Field<KafkaConnection>, path: &AttrPath) -> Result<Arc<Admin>, Diagnostics> {
    match target(ctx, field, path)? {
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
    let diagnostics = check_together(&connection, path);
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
    let sasl = match connection.sasl.known() {
        None => None,
        Some(sasl) => Some(SaslConfig {
            mechanism: mechanism(sasl.mechanism.as_deref().unwrap_or_default()).map_err(|why| {
                refused("Unsupported SASL mechanism", why, &[connection_attr::sasl, sasl_attr::mechanism])
            })?,
            username: sasl.username.known().cloned().unwrap_or_default(),
            password: Secret::new(sasl.password.known().cloned().unwrap_or_default()),
        }),
    };
    let request_timeout = match connection.request_timeout.as_deref() {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(text) => {
            duration::parse(text).map_err(|why| refused("Invalid timeout", why, &[connection_attr::request_timeout]))?
        }
    };
    let bootstrap_servers = connection.bootstrap_servers.known().cloned().unwrap_or_default();
    Ok(Connection::Known(ConnectionConfig { bootstrap_servers, tls, sasl, request_timeout }))
}

/// What the attribute's validators cannot see, each looking at one attribute: the brokers'
/// addresses one by one, and the settings that only make sense together.
pub fn check(value: &Value, path: &AttrPath) -> Diagnostics {
    match KafkaConnection::read_at(value, path) {
        Ok(connection) if !value.is_null() && value.is_wholly_known() => check_together(&connection, path),
        Ok(_) => Diagnostics::default(),
        Err(diagnostics) => diagnostics,
    }
}

fn check_together(connection: &KafkaConnection, path: &AttrPath) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let at = |steps: &[&str]| steps.iter().fold(path.clone(), |p, s| p.attr(s));
    let servers = connection.bootstrap_servers.known().cloned().unwrap_or_default();
    if servers.is_empty() {
        diagnostics.push(
            Diagnostic::error("No bootstrap servers", "List at least one broker address as \"host:port\".")
                .at(at(&[connection_attr::bootstrap_servers])),
        );
    }
    for (i, server) in servers.iter().enumerate() {
        let port_ok = server
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid bootstrap server",
                    format!("{server:?} is not \"host:port\" (for example \"kafka-0.kafka:9092\")."),
                )
                .at(at(&[connection_attr::bootstrap_servers]).index(i as i64)),
            );
        }
    }
    let tls = connection.tls.known();
    if let Some(tls) = tls
        && tls.client_cert.is_null() != tls.client_key.is_null()
    {
        let missing = if tls.client_key.is_null() { tls_attr::client_key } else { tls_attr::client_cert };
        diagnostics.push(
            Diagnostic::error("Incomplete client certificate", "Set both client_cert and client_key, or neither.")
                .at(at(&[connection_attr::tls, missing])),
        );
    }
    let Some(sasl) = connection.sasl.known() else { return diagnostics };
    if sasl.mechanism.as_deref().map(mechanism) == Some(Ok(SaslMechanism::Plain)) && tls.is_none() {
        diagnostics.push(
            Diagnostic::error(
                "SASL PLAIN without TLS",
                "PLAIN sends the password as it is: over a plaintext listener anyone on the path reads it. Add a `tls` \
                 block (a SASL_SSL listener), or use SCRAM-SHA-512.",
            )
            .at(at(&[connection_attr::sasl, sasl_attr::mechanism])),
        );
    }
    // Credentials sent to a broker whose certificate is not checked go to whoever answers.
    if tls.is_some_and(|tls| tls.insecure_skip_verify.known() == Some(&true)) {
        diagnostics.push(
            Diagnostic::warning(
                "Credentials sent to an unverified broker",
                "With insecure_skip_verify, whoever answers in the brokers' place receives the SASL exchange. Trust \
                 the brokers' CA with ca_cert instead.",
            )
            .at(at(&[connection_attr::tls, tls_attr::insecure_skip_verify])),
        );
    }
    diagnostics
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
}
