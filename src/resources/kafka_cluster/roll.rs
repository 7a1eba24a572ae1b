//! The brokers restart one at a time, driven by the provider, never by the StatefulSet
//! controller (the chart's `updateStrategy` is `OnDelete`): the controller would move on as soon
//! as a restarted broker's readiness probe passes, before it has caught up, and the next restart
//! would take partitions below `min.insync.replicas`. Here a broker restarts only when no
//! partition of the cluster is under-replicated, the next only once the restarted one is back in
//! sync everywhere it is a replica, and the active controller last, so that the controller role
//! moves once. A roll that cannot go on within the timeout stops, naming the partitions that hold
//! it; the next apply resumes it with the brokers still on the old revision, and restarts none
//! twice.

use tokio::time::Instant;

use serde_json::Value as Json;

use super::{POLL, cluster, own_admin};
use crate::helm::manifest_objects;
use crate::k8s::OutdatedPod;
use crate::resources::helm_release::{Change, PlannedChange};
use crate::resources::{kafka_diagnostic, kube_diagnostic};
use crate::tfplugin::diag::Diagnostic;
use crate::tfplugin::value::Value;

/// Restarts, safely, every broker pod still on an older revision of the StatefulSet, before
/// `deadline`.
pub async fn roll(change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    let Change { kube, release, namespace, planned, .. } = change;
    let outdated = kube
        .outdated_pods(namespace, release, deadline)
        .await
        .map_err(|e| kube_diagnostic(format!("Reading the broker pods of {release} failed"), &e))?;
    if outdated.is_empty() {
        return Ok(());
    }
    let admin = own_admin(change.ctx, release, namespace, &cluster(planned)).await?;
    let mut pending = outdated;
    tracing::info!(release, brokers = pending.len(), "rolling brokers one at a time");
    while !pending.is_empty() {
        let controller = admin.controller().await.map_err(|e| stopped(release, "finding the controller", &e))?;
        let pod = pending.remove(next_to_restart(&pending, controller));
        let broker = pod.ordinal;
        if pod.ready {
            wait_for(release, deadline, &format!("before restarting broker {broker}"), || admin.restart_blockers())
                .await?;
        }
        tracing::info!(release, broker, pod = %pod.name, "restarting broker");
        let restarted = Instant::now();
        kube.restart_pod(namespace, &pod.name, deadline).await.map_err(|e| {
            kube_diagnostic(format!("Restarting broker {broker} of {release} failed"), &e)
                .with_hint("The next apply resumes the roll with the brokers not restarted yet.")
        })?;
        wait_for(release, deadline, &format!("broker {broker} to catch up"), || admin.lagging_partitions(broker))
            .await?;
        // In sync, so its readiness probe passes at its next run: the Services route to it again.
        kube.wait_pod_ready(namespace, &pod.name, deadline).await.map_err(|e| {
            kube_diagnostic(format!("Broker {broker} of {release} is in sync but not Ready"), &e)
                .with_hint("`kubectl describe pod` on it says why; the next apply resumes the roll.")
        })?;
        tracing::info!(release, broker, seconds = restarted.elapsed().as_secs(), "broker back in sync");
    }
    Ok(())
}

/// Which pending pod restarts next. A broker that is not Ready goes first, unchecked: its own
/// partitions are what holds the others, and only its new revision may fix it (a configuration
/// that crashed it, for one). The controller goes last, so that its role moves once.
fn next_to_restart(pending: &[OutdatedPod], controller: Option<i32>) -> usize {
    pending
        .iter()
        .position(|pod| !pod.ready)
        .or_else(|| pending.iter().position(|pod| Some(pod.ordinal) != controller))
        .unwrap_or(0)
}

/// Waits for every broker the StatefulSet wants to be Ready: helm's wait skips the pods of an
/// `OnDelete` StatefulSet.
pub async fn all_ready(change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    let Change { kube, release, namespace, .. } = change;
    kube.wait_ready(namespace, release, deadline).await.map_err(|e| {
        kube_diagnostic(format!("The brokers of {release} are not Ready"), &e)
            .with_hint("`kubectl describe pod` on the brokers that are not Ready says why.")
    })
}

/// Waits until `blockers` finds nothing, asking again every few seconds until the deadline.
async fn wait_for<F, Fut>(release: &str, deadline: Instant, what: &str, blockers: F) -> Result<(), Diagnostic>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<String>, crate::kafka::Error>>,
{
    loop {
        let found = match blockers().await {
            Ok(found) if found.is_empty() => return Ok(()),
            Ok(found) => found,
            // A broker just restarted may refuse connections for a moment: ask again.
            Err(e) if e.is_retriable() && Instant::now() + POLL < deadline => {
                tracing::debug!(release, error = %e, "brokers not answering; asking again");
                tokio::time::sleep(POLL).await;
                continue;
            }
            Err(e) => return Err(stopped(release, what, &e)),
        };
        if Instant::now() + POLL >= deadline {
            let shown = super::scaling::shown(&found);
            return Err(Diagnostic::error(
                format!("The roll of {release} stopped: partitions out of sync"),
                format!(
                    "Waiting {what}, the timeout ran out with {} partition(s) not fully in sync: {shown}. No \
                     broker restarts while one is, so that no partition drops below min.insync.replicas.",
                    found.len()
                ),
            )
            .with_hint(
                "Find why the replicas lag (a broker down, a full disk, a throttle), or raise `timeout`; the next apply \
                 resumes the roll where it stopped.",
            ));
        }
        tracing::debug!(release, waiting = what, partitions = found.len(), "partitions not in sync yet");
        tokio::time::sleep(POLL).await;
    }
}

fn stopped(release: &str, what: &str, error: &crate::kafka::Error) -> Diagnostic {
    kafka_diagnostic(&format!("The roll of {release} stopped: asking the brokers failed ({what})"), error, None)
        .with_hint("The next apply resumes the roll with the brokers not restarted yet.")
}

/// What the plan says about restarts: how many brokers a change restarts and what in their pod
/// template changes, from the release's live manifest and the one the plan renders; or that an
/// earlier roll stopped and goes on.
pub async fn restart_notice(change: PlannedChange<'_>) -> Option<Diagnostic> {
    let PlannedChange { ctx, release, namespace, prior, planned, manifest } = change;
    let resumed = change.resumes_unfinished().then(|| {
        Diagnostic::warning(
            format!("The last change to {release} goes on"),
            "An earlier apply stopped part-way: the brokers still on the old pod template restart, one at a time, and \
             partition moves still running are awaited, before this change is made.",
        )
    });
    let Ok(kube) = ctx.kube().await else { return resumed };
    let Some(live) = kube.latest_release(namespace, release).await.ok().flatten() else { return resumed };
    let (Some(before), Some(after)) =
        (pod_template(&live.manifest, release), manifest.and_then(|m| pod_template(m, release)))
    else {
        return resumed;
    };
    if before == after {
        return resumed;
    }
    let count = |state: &Value| cluster(state).replicas.or(3).unwrap_or(3);
    let running = count(prior).min(count(planned));
    Some(Diagnostic::warning(
        format!("{running} broker(s) of {release} restart"),
        format!(
            "The brokers' pod template changes ({}): they restart one at a time, each only when no partition is \
             under-replicated and the next once it is back in sync, the active controller last.",
            template_changes(&before, &after).join(", ")
        ),
    ))
}

/// The pod template of the release's StatefulSet in a rendered manifest.
fn pod_template(manifest: &str, release: &str) -> Option<Json> {
    manifest_objects(manifest).ok()?.into_iter().find_map(|mut object| {
        (object["kind"] == "StatefulSet" && object["metadata"]["name"] == release)
            .then(|| object["spec"]["template"].take())
    })
}

/// What differs between two pod templates, in the words of the cluster's attributes.
fn template_changes(before: &Json, after: &Json) -> Vec<&'static str> {
    let container = |t: &Json| t["spec"]["containers"][0].clone();
    let (old, new) = (container(before), container(after));
    let mut changes = Vec::new();
    let config = |t: &Json| t["metadata"]["annotations"]["checksum/config"].clone();
    if config(before) != config(after) {
        changes.push("broker settings");
    }
    if old["image"] != new["image"] {
        changes.push("image");
    }
    if old["resources"] != new["resources"] || old["env"] != new["env"] {
        changes.push("resources");
    }
    let mut rest = (before.clone(), after.clone());
    for t in [&mut rest.0, &mut rest.1] {
        if let Some(annotations) = t.pointer_mut("/metadata/annotations").and_then(Json::as_object_mut) {
            annotations.remove("checksum/config");
        }
        if let Some(first) = t.pointer_mut("/spec/containers/0").and_then(Json::as_object_mut) {
            for field in ["image", "resources", "env"] {
                first.remove(field);
            }
        }
    }
    if rest.0 != rest.1 {
        changes.push("the chart's pod layout");
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ordinal: i32, ready: bool) -> OutdatedPod {
        OutdatedPod { ordinal, name: format!("events-kafka-{ordinal}"), ready }
    }

    #[test]
    fn a_broker_down_goes_first_and_the_controller_last() {
        let all_ready = [pod(0, true), pod(1, true), pod(2, true)];
        assert_eq!(next_to_restart(&all_ready, Some(0)), 1);
        assert_eq!(next_to_restart(&all_ready, Some(2)), 0);
        assert_eq!(next_to_restart(&all_ready[..1], Some(0)), 0, "the controller, once it is the last");
        let one_down = [pod(0, true), pod(1, true), pod(2, false)];
        assert_eq!(next_to_restart(&one_down, Some(2)), 2, "down, even as the controller");
        assert_eq!(next_to_restart(&all_ready, None), 0);
    }

    #[test]
    fn the_plan_names_what_in_the_pod_template_changes() {
        let template = |checksum: &str, image: &str, memory: &str| {
            serde_json::json!({
                "metadata": {"annotations": {"checksum/config": checksum}},
                "spec": {"containers": [{"image": image, "resources": {"limits": {"memory": memory}}}]},
            })
        };
        let before = template("a", "kafka:1", "1Gi");
        assert!(template_changes(&before, &before).is_empty());
        assert_eq!(template_changes(&before, &template("b", "kafka:1", "1Gi")), ["broker settings"]);
        assert_eq!(template_changes(&before, &template("a", "kafka:2", "2Gi")), ["image", "resources"]);
        let mut moved = before.clone();
        moved["spec"]["terminationGracePeriodSeconds"] = 60.into();
        assert_eq!(template_changes(&before, &moved), ["the chart's pod layout"]);
        let bare = serde_json::json!({"spec": {}});
        assert_eq!(
            template_changes(&bare, &before),
            ["broker settings", "image", "resources", "the chart's pod layout"]
        );
    }
}
