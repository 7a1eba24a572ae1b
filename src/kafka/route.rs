//! How a connection reaches a broker's address: straight over TCP, or through a tunnel the
//! caller provides (the Kubernetes API server's port-forward, for brokers whose advertised names
//! resolve only inside their cluster). Either way the address stays the advertised one, so TLS
//! checks the broker's own name, never the tunnel's.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to one broker.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Why a tunnel could not open a stream.
#[derive(Debug, Clone)]
pub struct DialError {
    pub reason: String,
    /// Nothing changes by trying again (a permission missing, a broker of another namespace):
    /// the operation fails now instead of retrying until its timeout.
    pub permanent: bool,
}

/// Opens streams to brokers by their advertised `host` and `port`.
pub trait Tunnel: Send + Sync {
    fn open<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, Result<Box<dyn Stream>, DialError>>;
}

#[derive(Clone, Default)]
pub enum Route {
    #[default]
    Direct,
    Tunnel {
        /// Says where the tunnel goes (for logs) and tells tunnels apart: two routes with the same
        /// description are the same route, so connections through them are shared.
        description: String,
        tunnel: Arc<dyn Tunnel>,
    },
}

impl Route {
    fn description(&self) -> Option<&str> {
        match self {
            Route::Direct => None,
            Route::Tunnel { description, .. } => Some(description),
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            None => f.write_str("direct"),
            Some(description) => f.write_str(description),
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.description() == other.description()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.description().hash(state);
    }
}
