//! What the connection attribute's validators cannot see.

use super::{KafkaConnection, connection_attr, mechanism, sasl_attr, tls_attr};
use crate::kafka::SaslMechanism;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

/// What the attribute's validators cannot see, each looking at one attribute: the brokers'
/// addresses one by one, and the settings that only make sense together.
pub fn check(value: &Value, path: &AttrPath) -> Diagnostics {
    checked(value, path, false)
}

fn checked(value: &Value, path: &AttrPath, in_state: bool) -> Diagnostics {
    match KafkaConnection::read_at(value, path) {
        Ok(connection) if !value.is_null() && value.is_wholly_known() => together(&connection, path, in_state),
        Ok(_) => Diagnostics::default(),
        Err(diagnostics) => diagnostics,
    }
}

/// [`check`] for a connection Terraform keeps in the state (a resource's or a data source's):
/// a password or key written in it would be kept there too, so only references are taken.
pub fn check_in_state(value: &Value, path: &AttrPath) -> Diagnostics {
    let mut diagnostics = checked(value, path, true);
    let kept = [
        (connection_attr::sasl, sasl_attr::password, "password_env (an environment variable) or credentials_secret"),
        (connection_attr::tls, tls_attr::client_key, "client_key_env (an environment variable)"),
    ];
    for (block, secret, instead) in kept {
        // An unknown whole block is not refused: it may hold references only.
        if matches!(value.attr(block), Value::Object(_)) && !value.attr(block).attr(secret).is_null() {
            diagnostics.push(
                Diagnostic::error(
                    "Secret would be kept in the state",
                    format!(
                        "Terraform keeps a resource's and a data source's attributes in its state, where whoever \
                         reads the state would read this {secret}. Use {instead} here, which the provider reads when \
                         it connects; or leave kafka out to use the provider block's connection, which may hold it."
                    ),
                )
                .at(path.clone().attr(block).attr(secret)),
            );
        }
    }
    diagnostics
}

/// `in_state`: the connection is a resource's or a data source's, where a missing password or
/// key is one to set by reference, and the diagnostic points there.
pub(super) fn together(connection: &KafkaConnection, path: &AttrPath, in_state: bool) -> Diagnostics {
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
    if let Some(tls) = tls {
        let key_sources = [(&tls.client_key, tls_attr::client_key), (&tls.client_key_env, tls_attr::client_key_env)];
        let keys: Vec<&str> = key_sources.iter().filter(|(f, _)| !f.is_null()).map(|(_, a)| *a).collect();
        if tls.client_cert.is_null() != keys.is_empty() {
            let missing = match (keys.is_empty(), in_state) {
                (true, true) => tls_attr::client_key_env,
                (true, false) => tls_attr::client_key,
                (false, _) => tls_attr::client_cert,
            };
            diagnostics.push(
                Diagnostic::error(
                    "Incomplete client certificate",
                    "Set client_cert and its key (client_key in the provider block, client_key_env anywhere), or \
                     neither.",
                )
                .at(at(&[connection_attr::tls, missing])),
            );
        } else if keys.len() > 1 {
            diagnostics.push(
                Diagnostic::error("Two sources of the client key", "Set client_key or client_key_env, not both.")
                    .at(at(&[connection_attr::tls, tls_attr::client_key_env])),
            );
        }
    }
    let Some(sasl) = connection.sasl.known() else { return diagnostics };
    let sasl_at = |attribute: &str| at(&[connection_attr::sasl, attribute]);
    let fields = [&sasl.mechanism, &sasl.username, &sasl.password, &sasl.password_env, &sasl.credentials_secret];
    if fields.iter().all(|f| f.is_null()) {
        diagnostics.push(
            Diagnostic::error(
                "Empty SASL settings",
                "Set credentials_secret, or mechanism, username and password_env (or password in the provider block); \
                 or leave sasl out for a listener without authentication (a cluster with authentication = \"none\" has \
                 no admin_secret).",
            )
            .at(at(&[connection_attr::sasl])),
        );
    } else if sasl.credentials_secret.is_null() {
        for (field, attribute) in [(&sasl.mechanism, sasl_attr::mechanism), (&sasl.username, sasl_attr::username)] {
            if field.is_null() {
                diagnostics.push(
                    Diagnostic::error(
                        "Incomplete SASL credentials",
                        format!(
                            "Set mechanism, username and a password (password_env, or password in the provider \
                             block), or credentials_secret instead; {attribute} is missing."
                        ),
                    )
                    .at(sasl_at(attribute)),
                );
            }
        }
        match (sasl.password.is_null(), sasl.password_env.is_null()) {
            (true, true) => diagnostics.push(
                Diagnostic::error(
                    "Incomplete SASL credentials",
                    "Set password_env (an environment variable holding the password), or password in the provider \
                     block, or credentials_secret instead; the password is missing.",
                )
                .at(sasl_at(if in_state { sasl_attr::password_env } else { sasl_attr::password })),
            ),
            (false, false) => diagnostics.push(
                Diagnostic::error("Two sources of the SASL password", "Set password or password_env, not both.")
                    .at(sasl_at(sasl_attr::password_env)),
            ),
            _ => {}
        }
    } else {
        for (field, attribute) in [
            (&sasl.username, sasl_attr::username),
            (&sasl.password, sasl_attr::password),
            (&sasl.password_env, sasl_attr::password_env),
        ] {
            if !field.is_null() {
                diagnostics.push(
                    Diagnostic::error(
                        "Two sources of SASL credentials",
                        format!("{attribute} is set beside credentials_secret: keep one of them."),
                    )
                    .at(sasl_at(attribute)),
                );
            }
        }
    }
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
