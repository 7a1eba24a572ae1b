//! Planning a topic change: what is replaced, what is refused, and — when the cluster is
//! reachable — the broker's own verdict on the change, asked with validate-only requests.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

use super::schema::{Topic, attr};
use super::{Target, TopicSpec, path_for, target};
use crate::kafka::topic_config::{ConfigOp, kind_of, same_value};
use crate::kafka::{Admin, NewTopic};
use crate::resources::framework::Plan;
use crate::resources::{Context, kafka_diagnostic};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::{Refinements, Value};

pub(super) async fn plan(ctx: &Context, plan: &mut Plan) {
    let name = plan.state.get(attr::name).cloned().unwrap_or_default();
    // The id is the name: it changes only with a replacement (or a create).
    if plan.is_create() || plan.replaces() {
        plan.state.insert(attr::id.into(), if name.is_unknown() { not_null_unknown() } else { name });
    }
    if plan.state.get(attr::replication_factor).is_some_and(Value::is_unknown) {
        plan.state.insert(attr::replication_factor.into(), not_null_unknown());
    }
    if let (Some(before), Some(after)) =
        (plan.prior.attr(attr::partitions).as_i64(), plan.state.get(attr::partitions).and_then(Value::as_i64))
        && after < before
    {
        if plan.config.attr(attr::replace_on_partition_decrease).as_bool() == Some(true) {
            plan.requires_replace.push(AttrPath::root(attr::partitions));
        } else {
            plan.diagnostics.push(
                Diagnostic::error(
                    "Kafka cannot remove partitions",
                    format!(
                        "The topic has {before} partitions and the configuration asks for {after}. Kafka can only add partitions; \
                         lowering the count means deleting the topic and its data. Keep partitions at {before} or more, or set \
                         replace_on_partition_decrease = true to destroy and recreate the topic."
                    ),
                )
                .at(AttrPath::root(attr::partitions)),
            );
        }
    }
    let planned = plan.planned();
    // An unchanged topic has nothing to check against the cluster: refresh already read it.
    if !plan.diagnostics.has_errors() && planned != plan.prior {
        let checks = check_live(ctx, &plan.prior, &planned, plan.replaces()).await;
        plan.diagnostics.extend(checks);
    }
}

/// Computed values Terraform learns at apply, known never to be null.
fn not_null_unknown() -> Value {
    Value::Unknown(Refinements { null: Some(false), ..Default::default() })
}

/// The checks only the live cluster can answer: broker count, name collisions, config values
/// the broker refuses. Skipped when the connection or the values are not known yet.
async fn check_live(ctx: &Context, prior: &Value, planned: &Value, replacing: bool) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let Ok(topic) = Topic::read(planned) else { return diagnostics };
    let cluster = match target(ctx, &topic).await {
        Ok(Target::Cluster(cluster)) => cluster,
        Ok(Target::Unknown) => return diagnostics,
        Err(d) => return d,
    };
    let Ok(spec) = TopicSpec::from_model(&topic) else { return diagnostics };
    let budget = cluster.config().request_timeout;
    let brokers = match ctx.cancellable(cluster.brokers()).await {
        Ok(brokers) => brokers,
        Err(e) => {
            diagnostics.push(kafka_diagnostic(&format!("Cannot reach Kafka at {}", cluster.describe()), &e, None));
            return diagnostics;
        }
    };
    if let Some(rf) = spec.replication_factor
        && rf as usize > brokers.len()
    {
        diagnostics.push(
                Diagnostic::error(
                    "Replication factor above the broker count",
                    format!(
                        "replication_factor is {rf} but the cluster has {} live broker(s); each replica needs a broker of its own.",
                        brokers.len()
                    ),
                )
                .at(AttrPath::root(attr::replication_factor)),
            );
        return diagnostics;
    }
    let result = if prior.is_null() || replacing {
        match validate_create(ctx, &cluster, &spec, budget).await {
            // Terraform plans the create half of a replacement with no prior state, while the old
            // topic still exists: only apply can tell a replacement from a clash.
            Err((_, e)) if matches!(e.code(), Some(ResponseError::TopicAlreadyExists)) => {
                diagnostics.push(
                    Diagnostic::warning(
                        format!("Topic {} already exists", spec.name),
                        format!(
                            "Unless this plan replaces it, apply refuses to take it over: only a topic an interrupted apply \
                             of this configuration created, with exactly these partitions, replication factor and settings, is \
                             adopted. {}",
                            crate::resources::import_hint(&spec.name)
                        ),
                    )
                    .at(AttrPath::root(attr::name)),
                );
                Ok(())
            }
            other => other,
        }
    } else {
        validate_update(ctx, &cluster, prior, &spec, budget).await
    };
    if let Err((summary, e)) = result {
        diagnostics.push(kafka_diagnostic(summary, &e, path_for(&e)));
    }
    diagnostics
}

async fn validate_create(
    ctx: &Context,
    cluster: &std::sync::Arc<Admin>,
    spec: &TopicSpec,
    budget: std::time::Duration,
) -> Result<(), (&'static str, crate::kafka::Error)> {
    let topic = NewTopic {
        name: spec.name.clone(),
        partitions: spec.partitions,
        replication_factor: spec.replication_factor.unwrap_or(-1),
        configs: spec.config.clone().unwrap_or_default(),
    };
    ctx.cancellable(cluster.create_topic(&topic, true, budget)).await.map_err(|e| ("The cluster refuses this topic", e))
}

async fn validate_update(
    ctx: &Context,
    cluster: &std::sync::Arc<Admin>,
    prior: &Value,
    spec: &TopicSpec,
    budget: std::time::Duration,
) -> Result<(), (&'static str, crate::kafka::Error)> {
    if let Some(before) = prior.attr(attr::partitions).as_i64()
        && i64::from(spec.partitions) > before
    {
        ctx.cancellable(cluster.create_partitions(&spec.name, spec.partitions, true, budget))
            .await
            .map_err(|e| ("The cluster refuses the new partition count", e))?;
    }
    let ops = config_ops(
        &prior.attr(attr::config).as_string_map().unwrap_or_default(),
        &spec.config.clone().unwrap_or_default(),
    );
    if !ops.is_empty() {
        ctx.cancellable(cluster.alter_topic_configs(&spec.name, &ops, true, budget))
            .await
            .map_err(|e| ("The cluster refuses the configuration", e))?;
    }
    Ok(())
}

/// The incremental changes from one managed config map to another: values that differ (as the
/// broker compares them) are set, keys no longer managed are deleted.
pub(super) fn config_ops(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<ConfigOp> {
    let mut ops: Vec<ConfigOp> = after
        .iter()
        .filter(|(k, v)| {
            before.get(*k).is_none_or(|old| match kind_of(k) {
                Some(kind) => !same_value(kind, old, v),
                None => old != *v,
            })
        })
        .map(|(k, v)| ConfigOp::Set(k.clone(), v.clone()))
        .collect();
    ops.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| ConfigOp::Delete(k.clone())));
    ops
}
