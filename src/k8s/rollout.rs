//! A StatefulSet whose pods the provider restarts itself (`updateStrategy: OnDelete`): which pods
//! still run an older revision, and the restart of one pod, awaited until its successor is Ready.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Preconditions};
use tokio::time::Instant;

use super::{Error, Kube};

/// How often the StatefulSet and a restarted pod are looked at: a broker takes tens of seconds.
const POLL: Duration = Duration::from_secs(2);

/// A pod of the StatefulSet still on an older revision of its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutdatedPod {
    pub ordinal: i32,
    pub name: String,
    pub ready: bool,
}

impl Kube {
    /// The pods of `statefulset` that run an older revision of its template than the current
    /// one, by ordinal. Waits, until `deadline`, for the StatefulSet controller to have seen the
    /// newest spec: helm returns at once with `OnDelete`, and before that the revision it reports
    /// is the old one, which would find every pod up to date.
    pub async fn outdated_pods(
        &self,
        namespace: &str,
        statefulset: &str,
        deadline: Instant,
    ) -> Result<Vec<OutdatedPod>, Error> {
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
        let set = loop {
            let set = sets.get(statefulset).await?;
            let observed = set.status.as_ref().and_then(|s| s.observed_generation);
            if observed >= set.metadata.generation {
                break set;
            }
            if Instant::now() + POLL > deadline {
                return Err(Error::Unexpected(format!(
                    "the StatefulSet controller did not take in the new spec of {namespace}/{statefulset}"
                )));
            }
            tokio::time::sleep(POLL).await;
        };
        let Some(current) = set.status.as_ref().and_then(|s| s.update_revision.clone()) else { return Ok(Vec::new()) };
        let labels = set.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let prefix = format!("{statefulset}-");
        let mut outdated: Vec<OutdatedPod> = pods
            .list(&super::pods_matching(&labels))
            .await?
            .items
            .into_iter()
            .filter(|pod| {
                let revision = pod.metadata.labels.as_ref().and_then(|l| l.get("controller-revision-hash"));
                revision.is_some_and(|r| *r != current)
            })
            .filter_map(|pod| {
                let ready = super::is_ready(&pod);
                let name = pod.metadata.name?;
                let ordinal = name.strip_prefix(&prefix)?.parse().ok()?;
                Some(OutdatedPod { ordinal, name, ready })
            })
            .collect();
        outdated.sort_by_key(|pod| pod.ordinal);
        Ok(outdated)
    }

    /// Waits, until `deadline`, for every pod `statefulset` wants to be Ready: what helm's own
    /// wait does for a StatefulSet of the default update strategy, and skips for `OnDelete`.
    pub async fn wait_ready(&self, namespace: &str, statefulset: &str, deadline: Instant) -> Result<(), Error> {
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
        loop {
            let set = sets.get(statefulset).await?;
            let wanted = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = set.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
            if ready >= wanted {
                return Ok(());
            }
            if Instant::now() + POLL > deadline {
                return Err(Error::Unexpected(format!(
                    "{ready} of the {wanted} pods of {namespace}/{statefulset} were Ready when the timeout ran out"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Deletes `pod` and waits, until `deadline`, for the pod its StatefulSet makes in its place
    /// to run. Whether it becomes Ready is the caller's to wait for: the caller may know better
    /// what holds it, and say so.
    pub async fn restart_pod(&self, namespace: &str, pod: &str, deadline: Instant) -> Result<(), Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let old = pods.get(pod).await?.metadata.uid;
        // The uid: a pod replaced since it was looked at is not deleted a second time.
        let precondition = Preconditions { uid: old.clone(), resource_version: None };
        pods.delete(pod, &DeleteParams { preconditions: Some(precondition), ..Default::default() }).await?;
        self.wait_pod(namespace, pod, deadline, "running again", |now| {
            now.metadata.uid != old && now.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await
    }

    /// Waits, until `deadline`, for `pod` to be Ready.
    pub async fn wait_pod_ready(&self, namespace: &str, pod: &str, deadline: Instant) -> Result<(), Error> {
        self.wait_pod(namespace, pod, deadline, "Ready", super::is_ready).await
    }

    async fn wait_pod(
        &self,
        namespace: &str,
        pod: &str,
        deadline: Instant,
        what: &str,
        done: impl Fn(&Pod) -> bool,
    ) -> Result<(), Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        loop {
            if pods.get_opt(pod).await?.is_some_and(|now| done(&now)) {
                return Ok(());
            }
            if Instant::now() + POLL > deadline {
                return Err(Error::Unexpected(format!("pod {namespace}/{pod} was not {what} before the timeout")));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
