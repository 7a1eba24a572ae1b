//! Reading a topic back from the cluster: what Terraform compares with the configuration to
//! show drift. Only managed config keys are reported, in the user's own spelling while the
//! broker's value means the same thing.

use std::collections::BTreeMap;

use super::apply::Private;
use super::schema::{Topic, attr};
use super::{Target, target};
use crate::kafka::topic_config::{self, same_value};
use crate::resources::framework::Field;
use crate::resources::{Context, kafka_connection, kafka_diagnostic};
use crate::tfplugin::diag::{AttrPath, Diagnostic};
use crate::tfplugin::value::Value;
use crate::tfplugin::{ImportResponse, ReadRequest, ReadResponse};

pub(super) async fn read(ctx: &Context, request: ReadRequest) -> ReadResponse {
    let ReadRequest { current_state, private, .. } = request;
    let keep = |diagnostics| ReadResponse { new_state: current_state.clone(), private: private.clone(), diagnostics };
    let topic = match Topic::read(&current_state) {
        Ok(topic) => topic,
        Err(d) => return keep(d),
    };
    let cluster = match kafka_connection::read_target(ctx, &topic.kafka, &AttrPath::root(attr::kafka)).await {
        Ok(Target::Cluster(cluster)) => cluster,
        Ok(Target::Unknown) => return keep(Default::default()),
        Err(d) => return keep(d),
    };
    let Some(name) = topic.name.known().cloned() else { return keep(Default::default()) };
    let (info, configs) = match ctx.cancellable(cluster.read_topic(&name)).await {
        Ok(found) => found,
        Err(e) => return keep(kafka_diagnostic(&format!("Reading topic {name} failed"), &e, None).into()),
    };
    let Some(info) = info else {
        tracing::info!(topic = %name, "topic no longer exists; removing it from state");
        return ReadResponse::default();
    };
    let live: BTreeMap<String, (Option<String>, crate::kafka::topic_config::ConfigKind)> =
        configs.unwrap_or_default().into_iter().map(|c| (c.name, (c.value, c.kind))).collect();
    let config = match current_state.attr(attr::config) {
        Value::Map(managed) => Value::Map(
            managed
                .iter()
                .map(|(key, recorded)| {
                    let reported = match (live.get(key), recorded.as_str()) {
                        (Some((Some(value), kind)), Some(recorded)) if !same_value(*kind, recorded, value) => {
                            Value::string(value)
                        }
                        _ => recorded.clone(),
                    };
                    (key.clone(), reported)
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let mut private = Private::decode(&private);
    let mut replication_factor = info.replication_factor();
    let recorded = topic.replication_factor.known().map(|rf| *rf as usize);
    if private.pending_replication_factor.is_some() || recorded.is_some_and(|rf| rf != replication_factor) {
        // While replicas are still being added, metadata already lists them: until the copy is
        // done, the topic has only the replicas that are not being added. That is so of a
        // replication-factor change, and of replicas moved to other brokers (a cluster that
        // grows or shrinks) while they move.
        match ctx.cancellable(cluster.ongoing_reassignments(&name)).await {
            Ok(ongoing) if ongoing.is_empty() => private.pending_replication_factor = None,
            Ok(ongoing) => {
                replication_factor = settled_replication_factor(&ongoing).unwrap_or(replication_factor);
            }
            Err(e) => {
                return keep(
                    kafka_diagnostic(&format!("Reading reassignments of topic {name} failed"), &e, None).into(),
                );
            }
        }
    }
    let Value::Object(mut state) = current_state.clone() else { return keep(Default::default()) };
    state.insert(attr::partitions.into(), Value::int(info.partitions.len() as i64));
    state.insert(attr::replication_factor.into(), Value::int(replication_factor as i64));
    state.insert(attr::config.into(), config);
    ReadResponse { new_state: Value::Object(state), private: private.encode(), diagnostics: Default::default() }
}

/// The replicas each partition has while a reassignment adds more: metadata already lists the
/// ones being added. Counts come from the broker, so a replica listed as added but not as a
/// replica must not underflow.
fn settled_replication_factor(ongoing: &BTreeMap<i32, crate::kafka::OngoingReassignment>) -> Option<usize> {
    ongoing.values().map(|r| r.replicas.iter().filter(|b| !r.adding.contains(b)).count()).max()
}

/// Imports a topic by name through the provider's connection. Every override set on the topic
/// becomes managed configuration, so a configuration written to match plans no change.
pub(super) async fn import(ctx: &Context, id: &str) -> ImportResponse {
    let cluster = match target(ctx, &Topic::default()).await {
        Ok(Target::Cluster(cluster)) => cluster,
        Ok(Target::Unknown) => {
            return ImportResponse {
                diagnostics: Diagnostic::error(
                    "Kafka connection not known yet",
                    "The provider's kafka settings come from resources not applied yet; apply them, then import.",
                )
                .at(crate::tfplugin::diag::AttrPath::root(attr::kafka))
                .into(),
                ..Default::default()
            };
        }
        Err(d) => return ImportResponse { diagnostics: d, ..Default::default() },
    };
    let (info, configs) = match ctx.cancellable(cluster.read_topic(id)).await {
        Ok(found) => found,
        Err(e) => {
            return ImportResponse {
                diagnostics: kafka_diagnostic(&format!("Reading topic {id} failed"), &e, None).into(),
                ..Default::default()
            };
        }
    };
    let Some(info) = info else {
        return ImportResponse {
            diagnostics: Diagnostic::error(
                "Topic not found",
                format!("No topic named {id:?} exists at {}. Import takes the topic name.", cluster.describe()),
            )
            .into(),
            ..Default::default()
        };
    };
    let overrides = topic_config::overrides(configs.unwrap_or_default());
    let state = Topic {
        id: Field::Known(id.to_string()),
        name: Field::Known(id.to_string()),
        partitions: Field::Known(info.partitions.len() as i64),
        replication_factor: Field::Known(info.replication_factor() as i64),
        config: if overrides.is_empty() { Field::Null } else { Field::Known(overrides) },
        ..Default::default()
    }
    .to_value();
    ImportResponse::single(super::TYPE_NAME, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::OngoingReassignment;

    #[test]
    fn a_broker_answer_with_more_added_than_listed_replicas_does_not_underflow() {
        let odd =
            BTreeMap::from([(0, OngoingReassignment { replicas: vec![1], adding: vec![2, 3], removing: vec![] })]);
        assert_eq!(settled_replication_factor(&odd), Some(1));
        let moving =
            BTreeMap::from([(0, OngoingReassignment { replicas: vec![1, 2, 3], adding: vec![3], removing: vec![] })]);
        assert_eq!(settled_replication_factor(&moving), Some(2));
    }
}
