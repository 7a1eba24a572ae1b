//! The Kafka admin client, on the `kafka-protocol` crate: connections with TLS and SASL,
//! routing to the controller with retries, request coalescing and read-ahead, and typed
//! operations. It knows nothing of Terraform.
//!
//! Dependencies go one way: `admin` (typed operations, owning the coalescers of `batch` and
//! the `read_ahead`) sends through `cluster` (the transport: connections, topology, routing,
//! retries), which speaks through `conn`; `types`, the pure `reassignment` planner and `wire`
//! (requests built and answers read) depend on nothing of the client.

mod admin;
mod availability;
mod batch;
mod cluster;
pub mod config;
mod conn;
pub use conn::{APIS, decode_any_response};
#[cfg(test)]
mod fake_broker;
mod moves;
mod read_ahead;
mod reassignment;
mod route;
mod sasl;
mod security;
pub mod topic_config;
mod types;
mod wire;

pub use admin::{Admin, Pool};
pub use config::{ConnectionConfig, SaslConfig, SaslMechanism, Secret, TlsConfig};
pub use moves::THROTTLED_REPLICAS;
pub use reassignment::{Assignment, drain, plan_reassignment, spread};
pub use route::{DialError, Route, Stream, Tunnel};
pub use security::*;
pub use types::*;

use kafka_protocol::error::ResponseError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to broker {address}: {reason}")]
    Connect { address: String, reason: String },
    /// `cause`: what rustls said, when it said something (a certificate it refused, an alert
    /// the broker sent), so that the hint can name what to change.
    #[error("TLS handshake with {address} failed: {reason}")]
    Tls { address: String, reason: String, cause: Option<rustls::Error> },
    /// The tunnel to the broker cannot open, and trying again will not change that.
    #[error("cannot reach broker {address} through the tunnel: {reason}")]
    Tunnel { address: String, reason: String },
    #[error("invalid TLS settings: {0}")]
    TlsConfig(String),
    #[error("SASL authentication failed: {0}")]
    Authentication(String),
    #[error("I/O error talking to broker {address}: {reason}")]
    Io { address: String, kind: std::io::ErrorKind, reason: String },
    #[error("connection to broker {0} closed")]
    Disconnected(String),
    #[error("request timed out: {0}")]
    Timeout(String),
    #[error("broker {address} does not support the {api} API")]
    Unsupported { api: String, address: String },
    #[error("Kafka protocol error: {0}")]
    Protocol(String),
    #[error("no broker reachable; tried {tried}: {last_error}")]
    NoBroker { tried: String, last_error: String },
    #[error("{operation}: {message}")]
    Broker { operation: String, code: i16, message: String },
    /// The cluster is still finishing an earlier change (a topic of the same name being
    /// deleted); worth retrying.
    #[error("{0}")]
    Busy(String),
    #[error("operation cancelled")]
    Cancelled,
    /// A create found its topic existing after an earlier try of the same call failed: that
    /// try may have created it before its answer went wrong.
    #[error("topic {0} exists, after an earlier try to create it failed")]
    ExistsAfterFailedTry(String),
}

impl Error {
    pub(crate) fn broker(operation: impl Into<String>, code: i16, message: Option<&str>) -> Error {
        let kind = ResponseError::try_from_code(code);
        let name = kind.map_or_else(|| format!("error code {code}"), |k| format!("{k:?}"));
        let message = match message.filter(|m| !m.is_empty()) {
            Some(m) => format!("{name}: {m}"),
            None => kind.map_or(name.clone(), |k| format!("{name}: {k}")),
        };
        Error::Broker { operation: operation.into(), code, message }
    }

    pub(crate) fn io(address: &str, error: &std::io::Error) -> Error {
        Error::Io { address: address.into(), kind: error.kind(), reason: error.to_string() }
    }

    pub fn code(&self) -> Option<ResponseError> {
        match self {
            Error::Broker { code, .. } => ResponseError::try_from_code(*code),
            _ => None,
        }
    }

    /// The broker behind the connection may be gone or frozen: try another, and reconnect.
    pub fn is_connection_failure(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::Io { .. } | Error::Disconnected(_) | Error::Timeout(_))
    }

    /// The broker may have done what was asked even though the answer says otherwise: the
    /// request was sent, then the connection broke or the wait ran out.
    pub fn may_have_acted(&self) -> bool {
        self.is_connection_failure()
            || matches!(self, Error::Cancelled)
            || self.code() == Some(ResponseError::RequestTimedOut)
    }

    /// Worth trying again after a pause: connections that broke, and broker answers Kafka marks
    /// retriable (a controller or leader moving, for instance).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Io { .. }
            | Error::Disconnected(_)
            | Error::Timeout(_)
            | Error::NoBroker { .. }
            | Error::Busy(_) => true,
            Error::Broker { code, .. } => ResponseError::try_from_code(*code)
                .is_some_and(|e| e.is_retriable() || e == ResponseError::NotController),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_states_are_retried_and_refusals_are_not() {
        assert!(Error::Busy("deleting".into()).is_retriable());
        assert!(Error::broker("x", ResponseError::NotController.code(), None).is_retriable());
        assert!(!Error::broker("x", ResponseError::TopicAlreadyExists.code(), None).is_retriable());
        assert!(!Error::Authentication("no".into()).is_retriable());
    }
}
