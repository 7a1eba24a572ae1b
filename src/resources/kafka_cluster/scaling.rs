//! A broker count that changes. Growing adds empty brokers; with `rebalance_on_scale`, once they
//! are Ready, replicas spread over them. Shrinking is refused at plan while the brokers to remove
//! hold replicas; with `rebalance_on_scale`, their replicas move to the brokers that stay first,
//! and the brokers go only once they hold nothing. Moves are throttled (`rebalance_throttle`)
//! and awaited like a replication-factor change; one that outlasts the timeout goes on, and the
//! next apply waits for it and removes the throttle. The plan names what moves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{POLL, cluster, cluster_attr, own_admin};
use crate::kafka::{self, Admin, Assignment, BrokerInfo, TopicInfo};
use crate::resources::helm_release::{Change, PlannedChange};
use crate::resources::kafka_diagnostic;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;

const DRAIN_HINT: &str = "Keep more brokers, or lower that topic's replication factor first.";

/// The plan's checks and notices: brokers to remove that hold replicas (refused, or drained with
/// `rebalance_on_scale`), and the replicas that spread over brokers to add.
pub async fn check(change: PlannedChange<'_>) -> Diagnostics {
    let PlannedChange { ctx, release, namespace, prior, planned, .. } = change;
    let (Some(&before), Some(&after)) = (cluster(prior).replicas.known(), cluster(planned).replicas.known()) else {
        return Diagnostics::default();
    };
    let rebalance = rebalances(planned);
    if after == before || (after > before && !rebalance) {
        return Diagnostics::default();
    }
    let path = AttrPath::root(cluster_attr::replicas);
    let reach = async {
        let admin = own_admin(ctx, release, namespace, &cluster(planned)).await?;
        let read = async {
            Ok::<_, kafka::Error>((admin.all_topics().await?, admin.brokers().await?, admin.ongoing_moves().await?))
        };
        ctx.cancellable(read).await.map_err(|e| kafka_diagnostic("Cannot check the brokers to remove", &e, None))
    };
    let (topics, brokers, ongoing) = match reach.await {
        Ok(found) => found,
        Err(d) if after < before => {
            let why = format!(
                "Going from {before} to {after} brokers removes brokers {after} to {}; the provider must see which \
                 partition replicas they hold first. {}",
                before - 1,
                d.detail
            );
            return Diagnostic::error("Cannot check the brokers to remove", why).at(path).into();
        }
        Err(d) => {
            let why = format!("Which replicas move to the new brokers is decided at apply. {}", d.detail);
            return Diagnostic::warning("Cannot tell which partitions will move", why).into();
        }
    };
    if rebalance && !ongoing.is_empty() {
        // While replicas move, a partition lists both its old and its new ones: what moves next
        // is decided once they are done.
        let moving = partition_names(&ongoing);
        return Diagnostic::warning(
            format!("Partitions of {release} are still moving"),
            format!(
                "{} partition(s) are still moving ({}): the apply waits for them, then moves what is left for {after} \
                 brokers.",
                moving.len(),
                shown(&moving)
            ),
        )
        .at(path)
        .into();
    }
    let current = assignment(&topics);
    if after > before {
        let joining: Vec<BrokerInfo> =
            (before..after).map(|id| BrokerInfo { id: id as i32, host: String::new(), port: 0, rack: None }).collect();
        let everyone: Vec<BrokerInfo> = brokers.into_iter().chain(joining).collect();
        let moves = kafka::spread(&current, &everyone);
        if moves.is_empty() {
            return Diagnostics::default();
        }
        return Diagnostic::warning(
            format!("Partitions move to the brokers {release} gains"),
            format!(
                "Once brokers {before} to {} are Ready, about {} replica(s) move to them ({}), throttled; the moves \
                 are chosen then, from the replicas each broker holds.",
                after - 1,
                moved_replicas(&current, &moves),
                partitions(&moves)
            ),
        )
        .at(path)
        .into();
    }
    let leaving: BTreeSet<i32> = (after as i32..before as i32).collect();
    let removed =
        if after == before - 1 { format!("Broker {after}") } else { format!("Brokers {after} to {}", before - 1) };
    if !rebalance {
        let stranded = stranded(&current, &leaving);
        if stranded.is_empty() {
            return Diagnostics::default();
        }
        return Diagnostic::error(
            "Brokers to remove still hold data",
            format!(
                "{removed} hold(s) replicas of {} partition(s): {}. Move them to brokers 0 to {} first (lower the \
                 topics' replication factor or reassign them), or set rebalance_on_scale = true to have them moved, \
                 then lower replicas.",
                stranded.len(),
                shown(&stranded),
                after - 1
            ),
        )
        .at(path)
        .into();
    }
    match kafka::drain(&current, &brokers, &leaving) {
        Err(why) => Diagnostic::error("Brokers to remove cannot be drained", format!("{removed}: {why}."))
            .with_hint(DRAIN_HINT)
            .at(path)
            .into(),
        Ok(moves) if moves.is_empty() => Diagnostics::default(),
        Ok(moves) => Diagnostic::warning(
            format!("Partitions move off the brokers {release} loses"),
            format!(
                "{removed} hold(s) {} replica(s): they move to brokers 0 to {} ({}), throttled, before the brokers go.",
                moved_replicas(&current, &moves),
                after - 1,
                partitions(&moves)
            ),
        )
        .at(path)
        .into(),
    }
}

/// Before a shrink with `rebalance_on_scale`: every replica off the brokers to remove, awaited.
pub async fn drain(change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    let Change { ctx, release, namespace, prior, planned, .. } = change;
    let (Some(&before), Some(&after)) = (cluster(prior).replicas.known(), cluster(planned).replicas.known()) else {
        return Ok(());
    };
    if after >= before || !rebalances(planned) {
        return Ok(());
    }
    let admin = own_admin(ctx, release, namespace, &cluster(planned)).await?;
    finish_moves(&admin, change, deadline).await?;
    let leaving: BTreeSet<i32> = (after as i32..before as i32).collect();
    let (topics, brokers) = read(&admin, release).await?;
    let current = assignment(&topics);
    let moves = kafka::drain(&current, &brokers, &leaving).map_err(|why| {
        Diagnostic::error("Brokers to remove cannot be drained", why)
            .with_hint(DRAIN_HINT)
            .at(AttrPath::root(cluster_attr::replicas))
    })?;
    if !moves.is_empty() {
        tracing::info!(release, partitions = count(&moves), "moving replicas off the brokers to remove");
        start(&admin, change, (&current, &brokers), &moves, deadline).await?;
        finish_moves(&admin, change, deadline).await?;
    }
    let (topics, _) = read(&admin, release).await?;
    let left = stranded(&assignment(&topics), &leaving);
    if left.is_empty() {
        // The brokers that received replicas are Ready again (in sync) before the others go, so
        // that the bootstrap Service always has brokers to route to.
        return super::roll::all_ready(change, deadline).await;
    }
    Err(Diagnostic::error(
        format!("The brokers {release} loses still hold data"),
        format!("After the move, {} partition(s) still have replicas there: {}.", left.len(), shown(&left)),
    )
    .with_hint("Partitions created during the move land anywhere: apply again to move them too."))
}

/// After a growth with `rebalance_on_scale`, once the brokers are Ready and the moves under way
/// are done ([`await_moves`]): replicas spread over them, awaited. An apply that resumes a
/// stopped one spreads again only while a broker holds no replica.
pub async fn spread(change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    let Change { ctx, release, namespace, planned, .. } = change;
    if !spreads(change) {
        return Ok(());
    }
    let admin = own_admin(ctx, release, namespace, &cluster(planned)).await?;
    let (topics, brokers) = read(&admin, release).await?;
    let current = assignment(&topics);
    let empty = brokers.iter().any(|b| !current.values().flat_map(|p| p.values()).flatten().any(|r| *r == b.id));
    if !grows(change) && !empty {
        return Ok(());
    }
    let moves = kafka::spread(&current, &brokers);
    if moves.is_empty() {
        return Ok(());
    }
    tracing::info!(release, partitions = count(&moves), "spreading replicas over the new brokers");
    start(&admin, change, (&current, &brokers), &moves, deadline).await?;
    finish_moves(&admin, change, deadline).await
}

/// Whether a change of `replicas` moves the data. At plan, an unknown value counts as moving
/// it: a shrink is checked as a drain rather than refused for what may be allowed.
pub(super) fn rebalances(planned: &Value) -> bool {
    cluster(planned).rebalance_on_scale.or(false).unwrap_or(true)
}

fn grows(change: Change<'_>) -> bool {
    match (cluster(change.prior).replicas.known(), cluster(change.planned).replicas.known()) {
        (Some(before), Some(after)) => after > before,
        _ => false,
    }
}

/// Whether this upgrade ends with a spread: a growth with `rebalance_on_scale`, or the resumption
/// of an apply that stopped part-way, which may have been one.
fn spreads(change: Change<'_>) -> bool {
    rebalances(change.planned) && (grows(change) || change.resumes_unfinished())
}

/// Before a spread, waits for the moves under way (an earlier apply's, or another tool's), and
/// removes the throttle: the brokers receiving them are not Ready before, and a partition lists
/// both its old and its new replicas until then.
pub async fn await_moves(change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    if !spreads(change) {
        return Ok(());
    }
    let admin = own_admin(change.ctx, change.release, change.namespace, &cluster(change.planned)).await?;
    finish_moves(&admin, change, deadline).await
}

async fn read(admin: &Admin, release: &str) -> Result<(Vec<TopicInfo>, Vec<BrokerInfo>), Diagnostic> {
    let found = async { Ok::<_, kafka::Error>((admin.all_topics().await?, admin.brokers().await?)) }.await;
    found.map_err(|e| kafka_diagnostic(&format!("Reading the partitions of {release} failed"), &e, None))
}

async fn start(
    admin: &Admin,
    change: Change<'_>,
    (current, brokers): (&Assignment, &[BrokerInfo]),
    moves: &Assignment,
    deadline: Instant,
) -> Result<(), Diagnostic> {
    let throttle = cluster(change.planned).rebalance_throttle.known().map(|rate| *rate as u64);
    let budget = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
    let brokers: Vec<i32> = brokers.iter().map(|b| b.id).collect();
    admin.start_moves(current, moves, &brokers, throttle, budget).await.map_err(|e| {
        kafka_diagnostic(&format!("Moving partitions of {} failed", change.release), &e, None)
            .with_hint("The next apply waits for the moves already started, then moves what is still to move.")
    })
}

/// Waits for every partition move of the cluster to end, then removes the throttle.
async fn finish_moves(admin: &Arc<Admin>, change: Change<'_>, deadline: Instant) -> Result<(), Diagnostic> {
    let release = change.release;
    let failed =
        |e: &kafka::Error| kafka_diagnostic(&format!("Following the partition moves of {release} failed"), e, None);
    let started = Instant::now();
    loop {
        let ongoing = admin.ongoing_moves().await.map_err(|e| failed(&e))?;
        let moving = partition_names(&ongoing);
        if moving.is_empty() {
            break;
        }
        if Instant::now() + POLL >= deadline {
            return Err(Diagnostic::error(
                format!("Partitions of {release} are still moving"),
                format!(
                    "The timeout ran out with {} partition(s) still moving: {}. The moves go on, throttled; the next \
                     apply waits for them and then removes the throttle.",
                    moving.len(),
                    shown(&moving)
                ),
            )
            .with_hint("Raise `timeout` or `rebalance_throttle`, and apply again."));
        }
        tracing::debug!(release, partitions = moving.len(), "partitions still moving");
        tokio::time::sleep(POLL).await;
    }
    tracing::info!(release, seconds = started.elapsed().as_secs(), "partition moves done");
    let (topics, brokers) = read(admin, release).await?;
    let brokers: Vec<i32> = brokers.iter().map(|b| b.id).collect();
    let budget = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(10));
    admin.clear_throttle(&brokers, topics.iter().map(|t| t.name.as_str()), budget).await.map_err(|e| {
        kafka_diagnostic(&format!("Removing the replication throttle of {release} failed"), &e, None)
            .with_hint("The next apply removes it.")
    })
}

fn assignment(topics: &[TopicInfo]) -> Assignment {
    topics.iter().map(|t| (t.name.clone(), t.assignment())).collect()
}

fn stranded(current: &Assignment, leaving: &BTreeSet<i32>) -> Vec<String> {
    current
        .iter()
        .flat_map(|(t, ps)| {
            ps.iter().filter(|(_, r)| r.iter().any(|b| leaving.contains(b))).map(move |(p, _)| format!("{t}-{p}"))
        })
        .collect()
}

fn count(moves: &Assignment) -> usize {
    moves.values().map(|p| p.len()).sum()
}

fn moved_replicas(current: &Assignment, moves: &Assignment) -> usize {
    moves
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |(p, r)| (t, p, r)))
        .map(|(t, p, r)| r.iter().filter(|b| !current[t][p].contains(b)).count())
        .sum()
}

fn partitions(moves: &Assignment) -> String {
    shown(&partition_names(moves))
}

/// `topic-partition` for every partition of a by-topic map (moves, ongoing reassignments).
fn partition_names<V>(by_topic: &BTreeMap<String, BTreeMap<i32, V>>) -> Vec<String> {
    by_topic.iter().flat_map(|(t, ps)| ps.keys().map(move |p| format!("{t}-{p}"))).collect()
}

pub(super) fn shown(names: &[String]) -> String {
    let more = if names.len() > 10 { format!(" and {} more", names.len() - 10) } else { String::new() };
    format!("{}{more}", names.iter().take(10).cloned().collect::<Vec<_>>().join(", "))
}
