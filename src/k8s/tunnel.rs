//! Streams to a pod's port through the API server, as `kubectl port-forward` makes them but
//! without a local port: how the provider reaches brokers whose advertised names resolve only
//! inside their cluster.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::Api;
use tokio::io::DuplexStream;

use super::{Error, Kube};

impl Kube {
    /// A stream to `port` of what `name` designates in `namespace`: the pod of that name (a
    /// StatefulSet's broker advertises `<pod>.<service>.<namespace>...`), else a ready pod behind
    /// the Service of that name (a bootstrap address), `port` mapped to the pod's own. The name is
    /// looked up at every call, so a pod re-created under the same name is simply reached again.
    pub async fn port_stream(&self, namespace: &str, name: &str, port: u16) -> Result<DuplexStream, Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let (pod, port) = match pods.get_opt(name).await? {
            Some(_) => (name.to_string(), port),
            None => self.pod_behind_service(&pods, namespace, name, port).await?,
        };
        let mut forwarder = pods.portforward(&pod, &[port]).await?;
        let io = forwarder
            .take_stream(port)
            .ok_or_else(|| Error::Unexpected(format!("the port-forward to {namespace}/{pod} gave no stream")))?;
        let error = forwarder.take_error(port);
        // The API server reports a port it cannot reach (nothing listens, the pod went away) on a
        // channel of its own, while the stream just stops: ending the forward closes the stream,
        // so that its reader and writer both see it, and the reason goes to the log.
        let target = format!("{namespace}/{pod}:{port}");
        tokio::spawn(async move {
            if let Some(error) = error
                && let Some(reason) = error.await
            {
                tracing::warn!(target = %target, reason = %reason, "port-forward failed");
                forwarder.abort();
            }
        });
        tracing::debug!(namespace, pod, port, "port-forward opened");
        Ok(io)
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
        let mut ready: Vec<Pod> = pods.list(&super::pods_matching(&selector)).await?.items;
        ready.retain(super::is_ready);
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

fn container_port(pod: &Pod, name: &str) -> Option<u16> {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| u16::try_from(p.container_port).ok())
}
