//! Domain errors as Terraform shows them: the error's own text, then what to do about it,
//! chosen from its typed cause (a broker's refusal, a TLS alert, the API server's status).

use std::io::ErrorKind;

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
        E::Tls { cause, .. } => tls_hint(cause.as_ref()),
        E::TlsConfig(_) => "Fix the TLS settings of the Kafka connection.",
        E::Connect { .. } | E::NoBroker { .. } => {
            "Check bootstrap_servers: the brokers must be reachable from where Terraform runs."
        }
        E::Timeout(_) => "The cluster did not answer in time; raise the timeout or check the brokers' health.",
        E::Io { kind: ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof, .. } => {
            "The broker closed the connection: it may be restarting, or its listener speaks another security \
             protocol than this connection (TLS, SASL)."
        }
        E::Cancelled => "Terraform was interrupted; run the command again.",
        E::Broker { .. } => broker_hint(error.code()),
        _ => "",
    };
    at(Diagnostic::error(summary, error.to_string()).with_hint(hint), path)
}

/// What to change, from a broker's refusal where its own message does not say.
fn broker_hint(code: Option<kafka_protocol::error::ResponseError>) -> &'static str {
    use kafka_protocol::error::ResponseError as R;
    match code {
        Some(R::SecurityDisabled) => {
            "The cluster has no authorizer (authorizer.class.name), so it keeps no ACLs: enable one on the brokers."
        }
        Some(R::ClusterAuthorizationFailed) => {
            "The connection's principal may not do this: use a super user, or grant it Alter (ACLs, quotas and \
             credentials) or Describe on the cluster."
        }
        _ => "",
    }
}

/// What to change, from what rustls refused or what the broker answered.
fn tls_hint(cause: Option<&rustls::Error>) -> &'static str {
    use rustls::{AlertDescription as A, CertificateError as C, Error as R};
    match cause {
        Some(R::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => {
            "The brokers' certificate is not signed by a CA in tls.ca_cert: set ca_cert to the CA that signed it."
        }
        Some(R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
            "The brokers' certificate does not name the address dialled: set tls.server_name to a name it holds."
        }
        Some(R::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        )) => "The brokers' certificate is outside its validity period: renew it, or check this machine's clock.",
        Some(R::AlertReceived(A::CertificateRequired | A::BadCertificate | A::UnknownCA | A::HandshakeFailure)) => {
            "The broker refused this client: it wants a client certificate it trusts (tls.client_cert and client_key)."
        }
        _ => "Check that ca_cert holds the CA that signed the brokers' certificates, and the listener speaks TLS.",
    }
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
    let hint = match error {
        e if e.is_forbidden() => {
            "The provider's Kubernetes identity lacks a permission this needs (the error names it); grant it with a \
             Role."
        }
        // No answer from the API server at all, as opposed to an answer that refuses.
        k8s::Error::Api(_) if error.status_code().is_none() => {
            "Check the provider's kubernetes settings: the API server must be reachable from where Terraform runs."
        }
        k8s::Error::Config(_) => "Fix the provider's kubernetes settings (or the kubeconfig they point to).",
        _ => "",
    };
    Diagnostic::error(summary, error.to_string()).with_hint(hint)
}

fn at(diagnostic: Diagnostic, path: Option<AttrPath>) -> Diagnostic {
    match path {
        Some(path) => diagnostic.at(path),
        None => diagnostic,
    }
}
