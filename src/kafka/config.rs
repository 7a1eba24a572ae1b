//! How to reach a Kafka cluster: bootstrap servers, TLS and SASL. Secrets are wrapped so that
//! no `Debug` or log line can print them.

use std::fmt;
use std::time::Duration;

use super::route::Route;

/// A secret string: compared and hashed by value, never printed.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub const NAMES: [&'static str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

    pub fn parse(name: &str) -> Option<SaslMechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Some(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Some(SaslMechanism::ScramSha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct TlsConfig {
    /// PEM bundle of the CAs to trust; the public web roots when absent.
    pub ca_pem: Option<String>,
    pub client_cert_pem: Option<String>,
    pub client_key_pem: Option<Secret>,
    pub insecure_skip_verify: bool,
    /// The name to check the brokers' certificates against, when not their advertised host.
    pub server_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionConfig {
    pub bootstrap_servers: Vec<String>,
    pub tls: Option<TlsConfig>,
    pub sasl: Option<SaslConfig>,
    /// Bounds each request and each connection attempt; operations retry within their own budget.
    pub request_timeout: Duration,
    pub route: Route,
}

impl ConnectionConfig {
    pub fn plaintext(bootstrap_servers: impl IntoIterator<Item = impl Into<String>>) -> ConnectionConfig {
        ConnectionConfig {
            bootstrap_servers: bootstrap_servers.into_iter().map(Into::into).collect(),
            tls: None,
            sasl: None,
            request_timeout: Duration::from_secs(30),
            route: Route::Direct,
        }
    }

    /// Setting up a connection (TCP, TLS, ApiVersions, SASL) is quick on any healthy broker; a
    /// broker that takes longer is skipped for the next, as Kafka's own clients do.
    pub fn connect_timeout(&self) -> Duration {
        self.request_timeout.min(Duration::from_secs(10))
    }

    /// The longest one send may take: setting up a connection, then the request itself.
    pub fn send_bound(&self) -> Duration {
        self.request_timeout.saturating_add(self.connect_timeout())
    }

    /// How long a read retries: long enough to fail over once after a broker that stopped
    /// answering held a request for its whole timeout.
    pub fn read_budget(&self) -> Duration {
        self.request_timeout.saturating_mul(2)
    }

    /// A short description for logs and diagnostics, without secrets.
    pub fn describe(&self) -> String {
        let security = match (&self.tls, &self.sasl) {
            (None, None) => "PLAINTEXT".to_string(),
            (Some(_), None) => "SSL".to_string(),
            (None, Some(s)) => format!("SASL_PLAINTEXT/{}", s.mechanism.name()),
            (Some(_), Some(s)) => format!("SASL_SSL/{}", s.mechanism.name()),
        };
        match &self.route {
            Route::Direct => format!("{} ({security})", self.bootstrap_servers.join(",")),
            route => format!("{} ({security}, {route:?})", self.bootstrap_servers.join(",")),
        }
    }
}
