//! Streams to a pod's port through the API server, as `kubectl port-forward` makes them but
//! without a local port: how the provider reaches brokers whose advertised names resolve only
//! inside their cluster.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use super::{Error, Kube};

/// One forwarded port. The API server reports a port it cannot reach (nothing listens, the pod
/// went away) on a separate channel: a read or write after that fails with its message instead
/// of waiting for bytes that will never come.
pub struct PortStream {
    io: DuplexStream,
    error: Option<BoxFuture<'static, Option<String>>>,
    failure: Option<String>,
}

impl PortStream {
    fn check(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if let Some(error) = &mut self.error
            && let Poll::Ready(message) = error.poll_unpin(cx)
        {
            self.error = None;
            self.failure = message;
        }
        match &self.failure {
            Some(message) => Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, message.clone())),
            None => Ok(()),
        }
    }
}

impl AsyncRead for PortStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for PortStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Kube {
    /// A stream to `port` of what `name` designates in `namespace`: the pod of that name (a
    /// StatefulSet's broker advertises `<pod>.<service>.<namespace>...`), else a ready pod behind
    /// the Service of that name (a bootstrap address), `port` mapped to the pod's own. The name is
    /// looked up at every call, so a pod re-created under the same name is simply reached again.
    pub async fn port_stream(&self, namespace: &str, name: &str, port: u16) -> Result<PortStream, Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let (pod, port) = match pods.get_opt(name).await? {
            Some(_) => (name.to_string(), port),
            None => self.pod_behind_service(&pods, namespace, name, port).await?,
        };
        let mut forwarder = pods.portforward(&pod, &[port]).await?;
        let io = forwarder
            .take_stream(port)
            .ok_or_else(|| Error::Unexpected(format!("the port-forward to {namespace}/{pod} gave no stream")))?;
        let error = forwarder.take_error(port).map(FutureExt::boxed);
        tracing::debug!(namespace, pod, port, "port-forward opened");
        Ok(PortStream { io, error, failure: None })
    }

    async fn pod_behind_service(
        &self,
        pods: &Api<Pod>,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> Result<(String, u16), Error> {
        let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        let service = services
            .get_opt(name)
            .await?
            .ok_or_else(|| Error::Missing(format!("pod or Service {name} in namespace {namespace}")))?;
        let spec = service.spec.unwrap_or_default();
        let selector = spec.selector.unwrap_or_default();
        if selector.is_empty() {
            return Err(Error::Unexpected(format!("Service {namespace}/{name} selects no pods to forward to")));
        }
        let target = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.port == i32::from(port))
            .ok_or_else(|| Error::Unexpected(format!("Service {namespace}/{name} has no port {port}")))?
            .target_port;
        let labels = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut ready: Vec<Pod> = pods.list(&ListParams::default().labels(&labels)).await?.items;
        ready.retain(is_ready);
        ready.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let pod = ready
            .into_iter()
            .next()
            .ok_or_else(|| Error::Missing(format!("a ready pod behind Service {namespace}/{name}")))?;
        let port = match target {
            None => port,
            Some(IntOrString::Int(number)) => u16::try_from(number)
                .map_err(|_| Error::Unexpected(format!("Service {namespace}/{name} targets port {number}")))?,
            Some(IntOrString::String(port_name)) => container_port(&pod, &port_name).ok_or_else(|| {
                Error::Unexpected(format!(
                    "no container of the pods behind {namespace}/{name} has a port {port_name:?}"
                ))
            })?,
        };
        Ok((pod.metadata.name.unwrap_or_default(), port))
    }
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn container_port(pod: &Pod, name: &str) -> Option<u16> {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| u16::try_from(p.container_port).ok())
}

/// Brokers of one namespace reached through port-forwards: a broker's advertised host names its
/// pod (or a Service, for a bootstrap address) by its first label.
pub struct PodTunnel {
    pub kube: Kube,
    pub namespace: String,
}

impl crate::kafka::Tunnel for PodTunnel {
    fn open<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn crate::kafka::Stream>, crate::kafka::DialError>> {
        async move {
            let name = host.split('.').next().unwrap_or(host);
            let stream = self.kube.port_stream(&self.namespace, name, port).await.map_err(|e| {
                let namespace = &self.namespace;
                match e.is_forbidden() {
                    true => crate::kafka::DialError {
                        reason: format!(
                            "the provider's Kubernetes identity may not port-forward in namespace {namespace}: it \
                             needs `get` on pods and services and `create` on pods/portforward there ({e})"
                        ),
                        permanent: true,
                    },
                    false => crate::kafka::DialError {
                        reason: format!("port-forward to {name}:{port} in namespace {namespace}: {e}"),
                        permanent: false,
                    },
                }
            })?;
            Ok(Box::new(stream) as Box<dyn crate::kafka::Stream>)
        }
        .boxed()
    }
}
