//! Applying a planned topic change, one step at a time. A step that fails leaves the state at
//! what was done so far, so Terraform knows exactly what exists.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::plan::config_ops;
use super::schema::{Topic, attr};
use super::{Target, TopicSpec, path_for, target};
use crate::kafka::{self, Admin, NewTopic, TopicInfo, plan_reassignment};
use crate::resources::framework::Field;
use crate::resources::{Context, kafka_diagnostic};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::Value;
use crate::tfplugin::{ApplyRequest, ApplyResponse};

/// What the provider remembers between runs without showing it: a reassignment it started
/// that was still moving data when the timeout hit, so the next apply waits for it instead of
/// starting another.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Private {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_replication_factor: Option<i16>,
}

impl Private {
    pub(super) fn decode(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        if *self == Private::default() {
            Vec::new()
        } else {
            serde_json::to_vec(self).expect("private state serializes")
        }
    }
}

/// The cluster and the spec of a topic about to change.
async fn prepare(ctx: &Context, state: &Value) -> Result<(Arc<Admin>, TopicSpec), Diagnostics> {
    let topic = Topic::read(state)?;
    match target(ctx, &topic).await? {
        Target::Cluster(cluster) => Ok((cluster, TopicSpec::from_model(&topic)?)),
        Target::Unknown => Err(Diagnostic::error(
            "Kafka connection unknown at apply",
            "The topic's kafka connection must be known by now.",
        )
        .at(AttrPath::root(attr::kafka))
        .into()),
    }
}

pub(super) async fn delete(ctx: &Context, request: ApplyRequest) -> ApplyResponse {
    let ApplyRequest { prior_state: prior, planned_private: private, .. } = request;
    let (cluster, spec) = match prepare(ctx, &prior).await {
        Ok(prepared) => prepared,
        Err(diagnostics) => return ApplyResponse { new_state: prior, diagnostics, private },
    };
    tracing::info!(topic = %spec.name, "deleting topic");
    match ctx.cancellable(cluster.delete_topic(&spec.name, spec.timeout)).await {
        Ok(()) => ApplyResponse::default(),
        Err(e) => {
            let diagnostics = kafka_diagnostic(&format!("Deleting topic {} failed", spec.name), &e, None).into();
            ApplyResponse { new_state: prior, diagnostics, private }
        }
    }
}

/// The journal's name for a topic: the cluster as configured and the topic's name.
fn intent_target(cluster: &Admin, name: &str) -> String {
    format!("{}/{name}", cluster.describe())
}

pub(super) async fn create(ctx: &Context, request: ApplyRequest) -> ApplyResponse {
    let planned = request.planned_state;
    let (cluster, spec) = match prepare(ctx, &planned).await {
        Ok(prepared) => prepared,
        Err(diagnostics) => return ApplyResponse { diagnostics, ..Default::default() },
    };
    let (cluster, spec) = (&cluster, &spec);
    tracing::info!(topic = %spec.name, partitions = spec.partitions, replication_factor = ?spec.replication_factor, "creating topic");
    let topic = NewTopic {
        name: spec.name.clone(),
        partitions: spec.partitions,
        replication_factor: spec.replication_factor.unwrap_or(-1),
        configs: spec.config.clone().unwrap_or_default(),
    };
    let target = intent_target(cluster, &spec.name);
    // Read before this create writes its own intent over it.
    let left_behind = ctx.journal.left_behind(INTENT_KIND, &target);
    let intent = ctx.journal.begin(INTENT_KIND, &target);
    let (response, settled) = create_recorded(ctx, cluster, spec, &topic, planned, left_behind).await;
    // A create whose answer was lost (a timeout, a broken connection, a stop) may have made the
    // topic with no state to hold it: only then does the record stay, for the next apply to
    // recognise it once this process is gone. A refusal made nothing, and proves nothing later.
    if let Some(intent) = intent
        && settled
    {
        intent.finish();
    }
    response
}

const INTENT_KIND: &str = "kafka-topic";

async fn create_recorded(
    ctx: &Context,
    cluster: &Arc<Admin>,
    spec: &TopicSpec,
    topic: &NewTopic,
    planned: Value,
    left_behind: Option<crate::resources::intents::LeftBehind>,
) -> (ApplyResponse, bool) {
    let created = ctx.cancellable(cluster.create_topic(topic, false, spec.timeout)).await;
    let response = respond_to_create(ctx, cluster, spec, planned, left_behind, created.clone()).await;
    let settled = !response.new_state.is_null() || created.as_ref().err().is_none_or(|e| !e.may_have_acted());
    (response, settled)
}

async fn respond_to_create(
    ctx: &Context,
    cluster: &Arc<Admin>,
    spec: &TopicSpec,
    planned: Value,
    left_behind: Option<crate::resources::intents::LeftBehind>,
    created: Result<(), kafka::Error>,
) -> ApplyResponse {
    // An earlier try of this very create failed, yet the topic exists: that try made it, unless
    // it differs from what was asked (then it is somebody else's, made meanwhile).
    if let Err(kafka::Error::ExistsAfterFailedTry(_)) = &created
        && ctx.cancellable(matches_exactly(cluster, spec)).await.unwrap_or(false)
    {
        return adopt(ctx, cluster, spec, planned, "An earlier try of this create failed, yet made the topic").await;
    }
    if let Err(e) = &created
        && (matches!(e.code(), Some(kafka_protocol::error::ResponseError::TopicAlreadyExists))
            || matches!(e, kafka::Error::ExistsAfterFailedTry(_)))
    {
        return match left_behind {
            Some(left) if ctx.cancellable(matches_exactly(cluster, spec)).await.unwrap_or(false) => {
                left.clear();
                adopt(
                    ctx,
                    cluster,
                    spec,
                    planned,
                    "An earlier apply of this configuration created it and was interrupted before Terraform recorded it",
                )
                .await
            }
            _ => ApplyResponse {
                new_state: Value::Null,
                diagnostics: Diagnostic::error(
                    format!("Topic {} already exists", spec.name),
                    format!(
                        "A topic of this name exists at {} and this configuration did not create it, so it is left \
                         alone: no state is recorded for it. {}",
                        cluster.describe(),
                        crate::resources::import_hint(&spec.name)
                    ),
                )
                .at(AttrPath::root(attr::name))
                .into(),
                ..Default::default()
            },
        };
    }
    let live = ctx.cancellable(cluster.describe_topic(&spec.name)).await;
    match (created, live) {
        (Ok(()), Ok(Some(info))) => {
            ApplyResponse { new_state: created_state(planned, Some(&info)), ..Default::default() }
        }
        // The broker may have created the topic even though the call failed (a timeout while it
        // was still assigning leaders): record it, so it is not orphaned.
        (Err(e), Ok(Some(info))) => ApplyResponse {
            new_state: created_state(planned, Some(&info)),
            diagnostics: kafka_diagnostic(&format!("Creating topic {} did not complete", spec.name), &e, path_for(&e))
                .into(),
            ..Default::default()
        },
        (Err(e), _) => ApplyResponse {
            new_state: Value::Null,
            diagnostics: kafka_diagnostic(&format!("Creating topic {} failed", spec.name), &e, path_for(&e)).into(),
            ..Default::default()
        },
        (Ok(()), Ok(None)) => ApplyResponse {
            new_state: Value::Null,
            diagnostics: Diagnostic::error(
                format!("Topic {} vanished", spec.name),
                "The broker created the topic but it was deleted right after, outside Terraform.",
            )
            .into(),
            ..Default::default()
        },
        (Ok(()), Err(e)) => ApplyResponse {
            new_state: planned,
            diagnostics: kafka_diagnostic(
                &format!("Topic {} was created but could not be read back", spec.name),
                &e,
                None,
            )
            .into(),
            ..Default::default()
        },
    }
}

/// Takes into the state a topic this configuration made without Terraform hearing of it (`how`).
async fn adopt(ctx: &Context, cluster: &Arc<Admin>, spec: &TopicSpec, planned: Value, how: &str) -> ApplyResponse {
    tracing::warn!(topic = %spec.name, how, "adopting a topic this configuration created");
    let info = ctx.cancellable(cluster.describe_topic(&spec.name)).await.ok().flatten();
    let mut response = ApplyResponse { new_state: created_state(planned, info.as_ref()), ..Default::default() };
    response.diagnostics.push(Diagnostic::warning(
        format!("Topic {} adopted", spec.name),
        format!("{how}; it has exactly these partitions, replication factor and settings, so it is now in the state unchanged."),
    ));
    response
}

/// Whether an existing topic is exactly what `spec` would create: the same partition count and
/// replication factor, and the same topic-level overrides, no more and no fewer.
async fn matches_exactly(cluster: &Arc<Admin>, spec: &TopicSpec) -> Result<bool, kafka::Error> {
    let (info, configs) = tokio::try_join!(cluster.describe_topic(&spec.name), cluster.topic_configs(&spec.name))?;
    let (Some(info), Some(configs)) = (info, configs) else { return Ok(false) };
    let wanted = spec.config.clone().unwrap_or_default();
    let overrides: Vec<_> = configs.iter().filter(|c| c.is_setting()).collect();
    let same_configs = overrides.len() == wanted.len()
        && overrides.iter().all(|c| {
            wanted
                .get(&c.name)
                .is_some_and(|w| c.value.as_deref().is_some_and(|v| kafka::topic_config::same_value(c.kind, w, v)))
        });
    Ok(info.partitions.len() == spec.partitions as usize
        && spec.replication_factor.is_none_or(|rf| info.replication_factor() == rf as usize)
        && same_configs)
}

/// The state of a created topic: the plan with its id, and the replication factor the cluster
/// chose where the plan left it to the cluster.
fn created_state(planned: Value, info: Option<&TopicInfo>) -> Value {
    let Ok(mut topic) = Topic::read(&planned) else { return planned };
    topic.id = topic.name.clone();
    if let (Field::Unknown, Some(info)) = (&topic.replication_factor, info) {
        topic.replication_factor = Field::Known(info.replication_factor() as i64);
    }
    topic.to_value()
}

pub(super) async fn update(ctx: &Context, request: ApplyRequest) -> ApplyResponse {
    let ApplyRequest { prior_state: prior, planned_state: planned, planned_private, .. } = request;
    let (cluster, spec) = match prepare(ctx, &planned).await {
        Ok(prepared) => prepared,
        Err(diagnostics) => return ApplyResponse { new_state: prior, diagnostics, private: planned_private },
    };
    let (planned, before) = match (Topic::read(&planned), Topic::read(&prior)) {
        (Ok(planned), Ok(before)) => (planned, before),
        (Err(diagnostics), _) | (_, Err(diagnostics)) => {
            return ApplyResponse { new_state: prior, private: planned_private, diagnostics };
        }
    };
    // Start from the plan with the three live properties as they were; each is set as it is done.
    let mut state = Topic {
        partitions: before.partitions.clone(),
        config: before.config.clone(),
        replication_factor: before.replication_factor.clone(),
        ..planned.clone()
    };
    let mut private = Private::decode(&planned_private);
    let steps = update_steps(ctx, &cluster, &spec, &before, &planned, &mut state, &mut private).await;
    ApplyResponse {
        new_state: state.to_value(),
        private: private.encode(),
        diagnostics: steps.err().map(Diagnostics::from).unwrap_or_default(),
    }
}

/// The changes of an update in order; `state` follows each one done, so that a failure leaves
/// what was done so far.
async fn update_steps(
    ctx: &Context,
    cluster: &Arc<Admin>,
    spec: &TopicSpec,
    before: &Topic,
    planned: &Topic,
    state: &mut Topic,
    private: &mut Private,
) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + spec.timeout;
    let failed = |what: &str, path: &'static str| {
        let summary = format!("{what} topic {} failed", spec.name);
        move |e: kafka::Error| kafka_diagnostic(&summary, &e, (!path.is_empty()).then(|| AttrPath::root(path)))
    };
    if let Some(&partitions) = before.partitions.known()
        && i64::from(spec.partitions) > partitions
    {
        tracing::info!(topic = %spec.name, from = partitions, to = spec.partitions, "adding partitions");
        ctx.cancellable(cluster.create_partitions(&spec.name, spec.partitions, false, spec.timeout))
            .await
            .map_err(failed("Adding partitions to", attr::partitions))?;
    }
    state.partitions = planned.partitions.clone();
    let ops = config_ops(&before.config.known().cloned().unwrap_or_default(), &spec.config.clone().unwrap_or_default());
    if !ops.is_empty() {
        tracing::info!(topic = %spec.name, changes = ops.len(), "altering topic configuration");
        ctx.cancellable(cluster.alter_topic_configs(&spec.name, &ops, false, spec.timeout))
            .await
            .map_err(failed("Changing the configuration of", attr::config))?;
    }
    state.config = planned.config.clone();
    let live_rf = match ctx.cancellable(cluster.describe_topic(&spec.name)).await.map_err(failed("Reading", ""))? {
        Some(info) => info.replication_factor() as i16,
        None => {
            return Err(Diagnostic::error(
                format!("Topic {} disappeared", spec.name),
                "It was deleted outside Terraform during the apply; apply again to recreate it.",
            ));
        }
    };
    state.replication_factor = Field::Known(live_rf.into());
    let Some(rf) = spec.replication_factor.filter(|rf| *rf != live_rf || private.pending_replication_factor.is_some())
    else {
        return Ok(());
    };
    let resume = private.pending_replication_factor == Some(rf);
    match change_replication_factor(ctx, cluster, &spec.name, rf, resume, deadline).await {
        Ok(()) => {
            private.pending_replication_factor = None;
            state.replication_factor = Field::Known(rf.into());
            Ok(())
        }
        Err(ReassignError::StillRunning) => {
            private.pending_replication_factor = Some(rf);
            Err(Diagnostic::error(
                format!("Reassignment of topic {} still running", spec.name),
                format!(
                    "Kafka is still copying replicas to reach replication factor {rf} after {:?}. Nothing is lost: the move goes on in \
                     the cluster. Run `terraform apply` again to wait for it (it will not be started twice), or raise `timeout`.",
                    spec.timeout
                ),
            )
            .at(AttrPath::root(attr::replication_factor)))
        }
        Err(ReassignError::Refused(d)) => Err(d),
        Err(ReassignError::Kafka(e)) => Err(failed("Changing the replication factor of", attr::replication_factor)(e)),
    }
}

enum ReassignError {
    StillRunning,
    Refused(Diagnostic),
    Kafka(kafka::Error),
}

impl From<kafka::Error> for ReassignError {
    fn from(e: kafka::Error) -> Self {
        ReassignError::Kafka(e)
    }
}

/// Moves replicas until every partition has `rf` of them. A reassignment this provider started
/// earlier (`resume`) or anyone started is awaited, not restarted.
async fn change_replication_factor(
    ctx: &Context,
    cluster: &Arc<Admin>,
    name: &str,
    rf: i16,
    resume: bool,
    deadline: Instant,
) -> Result<(), ReassignError> {
    let ongoing = ctx.cancellable(cluster.ongoing_reassignments(name)).await?;
    if ongoing.is_empty() {
        let info = ctx
            .cancellable(cluster.describe_topic(name))
            .await?
            .ok_or_else(|| kafka::Error::Protocol(format!("topic {name} disappeared")))?;
        if info.replication_factor() != rf as usize {
            let brokers = ctx.cancellable(cluster.brokers()).await?;
            let target = plan_reassignment(&info.assignment(), &brokers, rf as usize).map_err(|why| {
                ReassignError::Refused(
                    Diagnostic::error("Replication factor not possible", why)
                        .at(AttrPath::root(attr::replication_factor)),
                )
            })?;
            tracing::info!(
                topic = name,
                replication_factor = rf,
                partitions = target.len(),
                "starting partition reassignment"
            );
            let budget = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(5));
            ctx.cancellable(cluster.reassign_partitions(name, &target, budget)).await?;
        }
    } else {
        tracing::info!(
            topic = name,
            resume,
            partitions = ongoing.len(),
            "waiting for a reassignment already under way"
        );
    }
    let mut pause = Duration::from_millis(200);
    loop {
        let ongoing = ctx.cancellable(cluster.ongoing_reassignments(name)).await?;
        if ongoing.is_empty() {
            let info = ctx.cancellable(cluster.describe_topic(name)).await?;
            if info.is_some_and(|i| i.partitions.iter().all(|p| p.replicas.len() == rf as usize)) {
                return Ok(());
            }
        }
        if Instant::now() + pause > deadline {
            return Err(ReassignError::StillRunning);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
