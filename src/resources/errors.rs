//! Domain errors as Terraform shows them: the error's own text, then what to do about it,
//! chosen from its typed cause (a broker's refusal, a TLS alert, the API server's status).

use crate::tfplugin::diag::{AttrPath, Diagnostic};
use crate::{helm, k8s, kafka};

/// What to do about an object of the configured name that this configuration did not create.
pub(crate) fn import_hint(import_id: &str) -> String {
    format!("To manage it here, import it (terraform import <address> {import_id}), or choose another name.")
}

pub(crate) fn kafka_diagnostic(summary: &str, error: &kafka::Error, path: Option<AttrPath>) -> Diagnostic {
    use kafka::Error as E;
    let hint = match error {
        E::Authentication(_) => "Check the SASL mechanism, username and password of the Kafka connection.",
        E::Tls { .. } => {
            "Check that ca_cert holds the CA that signed the brokers' certificates, and the listener speaks TLS."
        }
        E::TlsConfig(_) => "Fix the TLS settings of the Kafka connection.",
        E::Connect { .. } | E::NoBroker { .. } => {
            "Check bootstrap_servers: the brokers must be reachable from where Terraform runs."
        }
        E::Timeout(_) => "The cluster did not answer in time; raise the timeout or check the brokers' health.",
        E::Cancelled => "Terraform was interrupted; run the command again.",
        _ => "",
    };
    at(Diagnostic::error(summary, error.to_string()).with_hint(hint), path)
}

pub(crate) fn helm_diagnostic(summary: String, error: &helm::Error) -> Diagnostic {
    let hint = match error {
        helm::Error::Spawn { .. } => "Install helm 3, or set the provider's helm_binary to where it is.",
        helm::Error::Timeout { .. } => {
            "Raise the resource's timeout, or look at the release's pods (kubectl describe) for what keeps them from \
             being Ready."
        }
        _ => "",
    };
    Diagnostic::error(summary, error.to_string()).with_hint(hint)
}

pub(crate) fn kube_diagnostic(summary: String, error: &k8s::Error) -> Diagnostic {
    let hint = if error.is_forbidden() {
        "The provider's Kubernetes identity lacks a permission this needs (the error names it); grant it with a Role."
    } else if matches!(error, k8s::Error::Api(kube::Error::Api(_))) {
        ""
    } else {
        "Check the provider's kubernetes settings: the API server must be reachable from where Terraform runs."
    };
    Diagnostic::error(summary, error.to_string()).with_hint(hint)
}

fn at(diagnostic: Diagnostic, path: Option<AttrPath>) -> Diagnostic {
    match path {
        Some(path) => diagnostic.at(path),
        None => diagnostic,
    }
}
