//! The `kafka` connection attribute, shared by the provider block (the default connection) and
//! each topic (an override, for a cluster created in the same configuration).

use std::time::Duration;

use super::duration;
use super::framework::{Field, FieldType};
use crate::kafka::{ConnectionConfig, SaslConfig, SaslMechanism, Secret, TlsConfig};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, AttributeType, Nesting};
use crate::tfplugin::value::{Type, Value};

pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `kafka` attribute's value, as a model field holds it: [`parse`] reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionBlock(pub Value);

impl FieldType for ConnectionBlock {
    fn attribute_type() -> AttributeType {
        AttributeType::Nested(Nesting::Single, attributes())
    }
    fn decode(value: &Value) -> Option<Self> {
        Some(ConnectionBlock(value.clone()))
    }
    fn encode(&self) -> Value {
        self.0.clone()
    }
}

pub fn attribute(name: &str, description: &str) -> Attribute {
    Attribute::optional(name, ConnectionBlock::attribute_type(), description)
}

fn attributes() -> Vec<Attribute> {
    vec![
        Attribute::required(
            "bootstrap_servers",
            Type::list(Type::String),
            "Brokers to start from, as `host:port`. The client learns the rest of the cluster from them.",
        ),
        Attribute::nested(
            "tls",
            Nesting::Single,
            vec![
                Attribute::optional(
                    "ca_cert",
                    Type::String,
                    "PEM bundle of the CAs that signed the brokers' certificates. The public web roots when unset.",
                ),
                Attribute::optional(
                    "client_cert",
                    Type::String,
                    "PEM client certificate, for brokers that require mutual TLS.",
                ),
                Attribute::optional("client_key", Type::String, "PEM private key of `client_cert`.").sensitive(),
                Attribute::optional(
                    "insecure_skip_verify",
                    Type::Bool,
                    "Accept any broker certificate. For tests only.",
                ),
                Attribute::optional(
                    "server_name",
                    Type::String,
                    "Name to check the brokers' certificates against, when it differs from their address.",
                ),
            ],
            "Connect with TLS. Leave out for a plaintext listener.",
        ),
        Attribute::nested(
            "sasl",
            Nesting::Single,
            vec![
                Attribute::required("mechanism", Type::String, "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`."),
                Attribute::required("username", Type::String, "SASL username."),
                Attribute::required("password", Type::String, "SASL password.").sensitive(),
            ],
            "Authenticate with SASL.",
        ),
        Attribute::optional(
            "request_timeout",
            Type::String,
            "Bound on each request to a broker, e.g. `30s` (the default).",
        ),
    ]
}

pub enum Connection {
    /// Not configured here.
    Absent,
    /// Some part is only known after apply (a cluster created in the same run).
    Unknown,
    Known(ConnectionConfig),
}

/// The connection a model field holds.
pub fn parse_field(field: &Field<ConnectionBlock>, path: &AttrPath) -> Result<Connection, Diagnostics> {
    match field {
        Field::Null => Ok(Connection::Absent),
        Field::Unknown => Ok(Connection::Unknown),
        Field::Known(block) => parse(&block.0, path),
    }
}

/// Turns the attribute's value into connection settings; every error names its attribute.
pub fn parse(value: &Value, path: &AttrPath) -> Result<Connection, Diagnostics> {
    match value {
        Value::Null => return Ok(Connection::Absent),
        v if !v.is_wholly_known() => return Ok(Connection::Unknown),
        _ => {}
    }
    let mut diagnostics = Diagnostics::default();
    let servers: Vec<String> = value
        .attr("bootstrap_servers")
        .elements()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    if servers.is_empty() {
        diagnostics.push(
            Diagnostic::error("No bootstrap servers", "List at least one broker address as \"host:port\".")
                .at(path.clone().attr("bootstrap_servers")),
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
                .at(path.clone().attr("bootstrap_servers").index(i as i64)),
            );
        }
    }
    let tls_value = value.attr("tls");
    let tls = (!tls_value.is_null()).then(|| {
        let text = |name: &str| tls_value.attr(name).as_str().map(str::to_string);
        TlsConfig {
            ca_pem: text("ca_cert"),
            client_cert_pem: text("client_cert"),
            client_key_pem: text("client_key").map(Secret::new),
            insecure_skip_verify: tls_value.attr("insecure_skip_verify").as_bool().unwrap_or(false),
            server_name: text("server_name"),
        }
    });
    if let Some(tls) = &tls {
        if tls.client_cert_pem.is_some() != tls.client_key_pem.is_some() {
            diagnostics.push(
                Diagnostic::error("Incomplete client certificate", "Set both client_cert and client_key, or neither.")
                    .at(path.clone().attr("tls").attr(if tls.client_cert_pem.is_some() {
                        "client_key"
                    } else {
                        "client_cert"
                    })),
            );
        }
        if let Some(ca) = &tls.ca_pem
            && !ca.contains("-----BEGIN CERTIFICATE-----")
        {
            diagnostics.push(
                    Diagnostic::error("Invalid CA certificate", "ca_cert must hold PEM certificates (-----BEGIN CERTIFICATE-----); use file(\"ca.pem\") to read one.")
                        .at(path.clone().attr("tls").attr("ca_cert")),
                );
        }
    }
    let sasl_value = value.attr("sasl");
    let sasl = if sasl_value.is_null() {
        None
    } else {
        let mechanism_name = sasl_value.attr("mechanism").as_str().unwrap_or_default();
        match SaslMechanism::parse(mechanism_name) {
            Some(mechanism) => Some(SaslConfig {
                mechanism,
                username: sasl_value.attr("username").as_str().unwrap_or_default().to_string(),
                password: Secret::new(sasl_value.attr("password").as_str().unwrap_or_default()),
            }),
            None => {
                diagnostics.push(
                    Diagnostic::error(
                        "Unsupported SASL mechanism",
                        format!("{mechanism_name:?} is not one of {}.", SaslMechanism::NAMES.join(", ")),
                    )
                    .at(path.clone().attr("sasl").attr("mechanism")),
                );
                None
            }
        }
    };
    if let Some(sasl) = &sasl
        && sasl.mechanism == SaslMechanism::Plain
        && tls.is_none()
    {
        diagnostics.push(
            Diagnostic::error(
                "SASL PLAIN without TLS",
                "PLAIN sends the password as it is: over a plaintext listener anyone on the path reads it. Add a `tls` \
                 block (a SASL_SSL listener), or use SCRAM-SHA-512.",
            )
            .at(path.clone().attr("sasl").attr("mechanism")),
        );
    }
    let request_timeout = match value.attr("request_timeout").as_str() {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(text) => duration::parse(text).unwrap_or_else(|e| {
            diagnostics.push(Diagnostic::error("Invalid timeout", e).at(path.clone().attr("request_timeout")));
            DEFAULT_REQUEST_TIMEOUT
        }),
    };
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok(Connection::Known(ConnectionConfig { bootstrap_servers: servers, tls, sasl, request_timeout }))
}

/// Everything [`parse`] refuses, and the warnings of a connection it accepts: credentials sent
/// to a broker whose certificate is not checked can be handed to anyone in between.
pub fn check(value: &Value, path: &AttrPath) -> Diagnostics {
    match parse(value, path) {
        Err(errors) => errors,
        Ok(Connection::Known(config))
            if config.sasl.is_some() && config.tls.as_ref().is_some_and(|t| t.insecure_skip_verify) =>
        {
            Diagnostic::warning(
                "Credentials sent to an unverified broker",
                "With insecure_skip_verify, whoever answers in the brokers' place receives the SASL exchange. Trust the \
                 brokers' CA with ca_cert instead.",
            )
            .at(path.clone().attr("tls").attr("insecure_skip_verify"))
            .into()
        }
        Ok(_) => Diagnostics::default(),
    }
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
