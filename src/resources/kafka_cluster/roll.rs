//! The brokers restart one at a time, driven by the provider, never by the StatefulSet
//! controller (the chart's `updateStrategy` is `OnDelete`): the controller would move on as soon
//! as a restarted broker's readiness probe passes, before it has caught up, and the next restart
//! would take partitions below `min.insync.replicas`. Here a broker restarts only when no
//! partition of the cluster is under-replicated, the next only once the restarted one is back in
//! sync everywhere it is a replica, and the active controller last, so that the controller role
//! moves once. A roll that cannot go on within the timeout stops, naming the partitions that hold
//! it; the next apply resumes it with the brokers still on the old revision, and restarts none
//! twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{ClusterState, NO_AUTHENTICATION, admin_secret_name, cluster, cluster_attr};
use crate::k8s::OutdatedPod;
use crate::kafka::{Admin, ConnectionConfig};
use crate::resources::helm_release::Change;
use crate::resources::kafka_connection::{self, Connection, ConnectionSpec, CredentialsSecret};
use crate::resources::{kafka_diagnostic, kube_diagnostic};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics, Severity};

/// How often the brokers are asked again while a roll waits on them.
const POLL: Duration = Duration::from_secs(3);

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
    let admin = admin(change, &cluster(planned)).await?;
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
            let shown = found.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
            let more = if found.len() > 10 { format!(" and {} more", found.len() - 10) } else { String::new() };
            return Err(Diagnostic::error(
                format!("The roll of {release} stopped: partitions out of sync"),
                format!(
                    "Waiting {what}, the timeout ran out with {} partition(s) not fully in sync: {shown}{more}. No \
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

/// The brokers as the cluster's `kafka` reaches them; without it, the cluster's own brokers
/// through the API server, signed in as its admin from its Secret, so that the roll needs no
/// route to the pods: the same connection a `kafka` block with a `tunnel` and a
/// `credentials_secret` makes.
async fn admin(change: Change<'_>, cluster: &ClusterState) -> Result<Arc<Admin>, Diagnostic> {
    let Change { ctx, release, namespace, .. } = change;
    let path = AttrPath::root(cluster_attr::kafka);
    let first = |d: Diagnostics| {
        d.0.into_iter().find(|d| d.severity == Severity::Error).unwrap_or_else(|| {
            Diagnostic::error("Unusable `kafka` connection", "The roll cannot reach the brokers.").at(path.clone())
        })
    };
    match kafka_connection::parse_field(&cluster.kafka, &path).map_err(first)? {
        Connection::Known(spec) => return kafka_connection::admin(ctx, &spec, &path).await.map_err(first),
        Connection::Absent | Connection::Unknown => {}
    }
    let credentials_secret = match cluster.authentication.as_deref() {
        Some(NO_AUTHENTICATION) => None,
        _ => Some(CredentialsSecret {
            namespace: Some(namespace.to_string()),
            name: admin_secret_name(release),
            mechanism: None,
        }),
    };
    let own = ConnectionSpec {
        config: ConnectionConfig::plaintext([format!("{release}-bootstrap.{namespace}.svc.cluster.local:9092")]),
        credentials_secret,
        tunnel: Some(Some(namespace.to_string())),
    };
    // Not the configuration's `kafka`, which is unset: the error belongs to no attribute.
    kafka_connection::admin(ctx, &own, &path).await.map_err(|d| Diagnostic { path: None, ..first(d) })
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
}
