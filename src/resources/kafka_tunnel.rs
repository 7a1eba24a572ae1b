//! A `kafka` connection's `tunnel`: each broker reached through a port-forward to the pod its
//! advertised address names, in the tunnel's namespace.

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::k8s::Kube;
use crate::kafka::{DialError, Stream, Tunnel};

pub struct PodTunnel {
    pub kube: Kube,
    pub namespace: String,
}

/// The object and the namespace an advertised host names: `<pod>.<service>.<namespace>.svc…`
/// (a StatefulSet's broker) or `<service>.<namespace>.svc…` (a bootstrap Service); any other
/// host by its first label, in no namespace of its own.
fn target(host: &str) -> (&str, Option<&str>) {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.iter().position(|label| *label == "svc") {
        Some(3) => (labels[0], Some(labels[2])),
        Some(2) => (labels[0], Some(labels[1])),
        _ => (labels[0], None),
    }
}

impl Tunnel for PodTunnel {
    fn open<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, Result<Box<dyn Stream>, DialError>> {
        async move {
            let namespace = &self.namespace;
            let (name, named_namespace) = target(host);
            // Another namespace's broker of the same name must never be reached instead.
            if let Some(other) = named_namespace.filter(|other| other != namespace) {
                return Err(DialError {
                    reason: format!(
                        "{host} is in namespace {other}, and the tunnel goes to namespace {namespace}: set \
                         tunnel.namespace = \"{other}\""
                    ),
                    permanent: true,
                });
            }
            let stream = self.kube.port_stream(namespace, name, port).await.map_err(|e| {
                let refused = e.is_forbidden() || e.status_code() == Some(401);
                DialError {
                    reason: match refused {
                        true => format!(
                            "the provider's Kubernetes identity may not port-forward in namespace {namespace}: it \
                             needs `get` on pods and services, `list` on pods and `create` on pods/portforward there \
                             ({e})"
                        ),
                        false => format!("port-forward to {name}:{port} in namespace {namespace}: {e}"),
                    },
                    permanent: refused,
                }
            })?;
            Ok(Box::new(stream) as Box<dyn Stream>)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advertised_host_names_its_pod_or_service_and_their_namespace() {
        assert_eq!(
            target("events-kafka-1.events-kafka-headless.data.svc.cluster.local"),
            ("events-kafka-1", Some("data"))
        );
        assert_eq!(target("events-kafka-bootstrap.data.svc.cluster.local"), ("events-kafka-bootstrap", Some("data")));
        assert_eq!(target("events-kafka-bootstrap.data.svc"), ("events-kafka-bootstrap", Some("data")));
        assert_eq!(target("my-kafka-0.my-kafka-brokers.kafka.svc"), ("my-kafka-0", Some("kafka")));
        assert_eq!(target("events-kafka-0"), ("events-kafka-0", None));
        assert_eq!(target("kafka-0.example.com"), ("kafka-0", None));
    }
}
