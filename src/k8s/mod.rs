//! Kubernetes, as the Helm-backed resources need it: the connection, a release's record from
//! its Secret, the comparison of live objects with the release manifest that reveals changes
//! made behind Terraform's back, commands run in a pod (an ensemble's reconfiguration), the
//! Secrets of credentials the provider makes or reads, port-forwards to brokers, and the pods
//! of a StatefulSet the provider restarts itself.
//! Named `k8s` so that the `kube` crate it builds on keeps its name.

mod drift;
mod rollout;
mod secrets;
mod tunnel;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::io::AsyncReadExt;

pub use drift::{Drift, live_drift, subset_differences};
pub use rollout::OutdatedPod;
pub use secrets::Ensured;

use crate::helm::{Release, decode_release_secret};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Kubernetes connection settings: {0}")]
    Config(String),
    /// The API server's answer or the way to it, with kube's cause (its status among them).
    #[error("Kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    /// An object that does not read as the provider expects (a release Secret without data).
    #[error("unexpected object: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Release(#[from] crate::helm::Error),
    #[error("`{command}` in pod {pod} failed: {detail}")]
    Exec { pod: String, command: String, detail: String },
    /// An object the provider expects is not there.
    #[error("{0} not found")]
    Missing(String),
    /// An object of the name the provider would use belongs to somebody else.
    #[error("{0}")]
    Foreign(String),
    #[error("`{command}` in pod {pod} did not end within {seconds} s")]
    ExecTimeout { pod: String, command: String, seconds: u64 },
}

impl Error {
    /// The API server's status code, when it answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Api(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404) || matches!(self, Error::Missing(_))
    }

    /// The provider's identity may not do this: its RBAC, not the request, needs a change.
    pub fn is_forbidden(&self) -> bool {
        self.status_code() == Some(403)
    }
}

/// How to reach the API server: a kubeconfig (path and context) or a host with a token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Connection {
    pub config_path: Option<std::path::PathBuf>,
    pub context: Option<String>,
    pub host: Option<String>,
    pub token: Option<String>,
    pub ca_pem: Option<String>,
    pub insecure: bool,
}

#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    cluster_url: String,
}

impl Kube {
    pub async fn connect(connection: &Connection) -> Result<Kube, Error> {
        let config = client_config(connection).await?;
        let cluster_url = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Kube { client, cluster_url })
    }

    /// The API server this client talks to: which cluster, whatever named it.
    pub fn cluster_url(&self) -> &str {
        &self.cluster_url
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The newest revision of a release, straight from Helm's Secrets; `None` when there is none.
    pub async fn latest_release(&self, namespace: &str, name: &str) -> Result<Option<Release>, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let list = secrets.list(&ListParams::default().labels(&format!("owner=helm,name={name}"))).await?;
        let newest =
            list.items.into_iter().filter(|s| s.type_.as_deref() == Some("helm.sh/release.v1")).max_by_key(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("version"))
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0)
            });
        let Some(secret) = newest else { return Ok(None) };
        let payload = secret
            .data
            .as_ref()
            .and_then(|d| d.get("release"))
            .ok_or_else(|| Error::Unexpected(format!("release secret of {name} has no release data")))?;
        let mut release = decode_release_secret(&payload.0)?;
        release.recorded_at = secret.metadata.creation_timestamp.as_ref().map(|t| std::time::SystemTime::from(t.0));
        Ok(Some(release))
    }

    /// The last revision that reached `deployed` or `superseded`, for getting out of a pending one.
    pub async fn last_good_revision(&self, namespace: &str, name: &str) -> Result<Option<i64>, Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let list = secrets.list(&ListParams::default().labels(&format!("owner=helm,name={name}"))).await?;
        Ok(list
            .items
            .iter()
            .filter_map(|s| s.metadata.labels.as_ref())
            .filter(|l| matches!(l.get("status").map(String::as_str), Some("deployed" | "superseded")))
            .filter_map(|l| l.get("version").and_then(|v| v.parse::<i64>().ok()))
            .max())
    }

    /// Grows the volumes of a release's pods to `size`: the claims are resized in place, and the
    /// StatefulSet, whose claim template cannot change, is deleted without its pods so that the
    /// upgrade that follows re-creates it around them.
    pub async fn grow_volumes(
        &self,
        namespace: &str,
        instance: &str,
        statefulset: &str,
        size: &str,
    ) -> Result<usize, Error> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let found =
            claims.list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={instance}"))).await?;
        let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
        for claim in &found.items {
            let name = claim.metadata.name.as_deref().unwrap_or_default();
            claims.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
        let orphan = DeleteParams { propagation_policy: Some(PropagationPolicy::Orphan), ..Default::default() };
        absent_is_fine(sets.delete(statefulset, &orphan).await.map(drop))?;
        Ok(found.items.len())
    }

    /// Runs a command in a pod's container, as `kubectl exec` does, and returns what it wrote to
    /// its standard output; a non-zero exit is an error carrying its standard error. Nothing
    /// secret may be passed: the command line reaches the API server's audit log.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[&str],
        timeout: std::time::Duration,
    ) -> Result<String, Error> {
        let failed = |detail: String| Error::Exec { pod: pod.into(), command: command.join(" "), detail };
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let run = async {
            let params = AttachParams::default().container(container).stdout(true).stderr(true);
            let mut process =
                pods.exec(pod, command.iter().copied(), &params).await.map_err(|e| failed(e.to_string()))?;
            let (mut stdout, mut stderr) = (String::new(), String::new());
            let mut out = process.stdout().ok_or_else(|| failed("no standard output".into()))?;
            let mut err = process.stderr().ok_or_else(|| failed("no standard error".into()))?;
            let status = process.take_status().ok_or_else(|| failed("no exit status".into()))?;
            let (read_out, read_err) = tokio::join!(out.read_to_string(&mut stdout), err.read_to_string(&mut stderr));
            read_out.and(read_err).map_err(|e| failed(e.to_string()))?;
            let status = status.await;
            process.join().await.map_err(|e| failed(e.to_string()))?;
            match status {
                Some(status) if status.status.as_deref() == Some("Success") => Ok(stdout),
                Some(status) => Err(failed(match stderr.trim() {
                    "" => status.message.unwrap_or_else(|| "it exited with an error".into()),
                    stderr => stderr.to_string(),
                })),
                None => Err(failed("the API server gave no exit status".into())),
            }
        };
        tokio::time::timeout(timeout, run).await.unwrap_or_else(|_| {
            Err(Error::ExecTimeout { pod: pod.into(), command: command.join(" "), seconds: timeout.as_secs() })
        })
    }

    /// Deletes the volume claims of a release's pods (Helm leaves them behind on uninstall).
    pub async fn delete_volume_claims(&self, namespace: &str, instance: &str) -> Result<usize, Error> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let selector = format!("app.kubernetes.io/instance={instance}");
        let found = claims.list(&ListParams::default().labels(&selector)).await?;
        claims.delete_collection(&DeleteParams::default(), &ListParams::default().labels(&selector)).await?;
        Ok(found.items.len())
    }
}

/// The client settings for a connection: host and token, or an entry of a kubeconfig, the
/// same one helm is given.
pub async fn client_config(connection: &Connection) -> Result<kube::Config, Error> {
    let config = if let Some(host) = &connection.host {
        let mut config = kube::Config::new(host.parse().map_err(|_| Error::Config(format!("{host:?} is not a URL")))?);
        config.auth_info.token = connection.token.clone().map(Into::into);
        config.accept_invalid_certs = connection.insecure;
        if let Some(pem) = &connection.ca_pem {
            let certs = rustls_pki_types_from_pem(pem)?;
            config.root_cert = Some(certs);
        }
        config
    } else {
        let options = KubeConfigOptions { context: connection.context.clone(), ..Default::default() };
        match (&connection.config_path, &connection.context) {
            (Some(path), _) => {
                let path = expand_home(path);
                let kubeconfig = Kubeconfig::read_from(&path)
                    .map_err(|e| Error::Config(format!("reading kubeconfig {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::Config(e.to_string()))?
            }
            // A context names an entry of the default kubeconfig, the one helm reads too
            // (KUBECONFIG, else ~/.kube/config); inferring would take its current context.
            (None, Some(_)) => {
                kube::Config::from_kubeconfig(&options).await.map_err(|e| Error::Config(e.to_string()))?
            }
            (None, None) => kube::Config::infer().await.map_err(|e| Error::Config(e.to_string()))?,
        }
    };
    Ok(config)
}

/// The pods whose labels include every one of `labels`: what a Service or a StatefulSet
/// selects.
fn pods_matching(labels: &std::collections::BTreeMap<String, String>) -> ListParams {
    let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    ListParams::default().labels(&selector)
}

/// Whether the pod passes its readiness probe: what Services and the roll go by.
fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A deletion whose object is already gone did what it was for; any other refusal (a 403
/// above all) is an error the caller must see.
fn absent_is_fine(result: Result<(), kube::Error>) -> Result<(), Error> {
    match result.map_err(Error::from) {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn expand_home(path: &std::path::Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

fn rustls_pki_types_from_pem(pem: &str) -> Result<Vec<Vec<u8>>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()).map_err(|e| Error::Config(format!("cluster_ca_certificate: {e}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str) -> kube::Error {
        let status = kube::core::Status::failure(reason, reason).with_code(code);
        kube::Error::Api(Box::new(status))
    }

    /// grow_volumes used to swallow every API error, 403 included: an apply reported the
    /// volumes grown while the provider was not allowed to touch the StatefulSet.
    #[test]
    fn only_a_missing_object_counts_as_deleted() {
        assert!(absent_is_fine(Err(api_error(404, "NotFound"))).is_ok());
        let forbidden = absent_is_fine(Err(api_error(403, "Forbidden"))).unwrap_err();
        assert!(forbidden.is_forbidden() && !forbidden.is_not_found());
        assert!(absent_is_fine(Ok(())).is_ok());
    }
}
