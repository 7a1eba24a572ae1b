//! Moving partition replicas between brokers: the reassignment itself, the replication
//! throttle that keeps the copy from starving clients (as `kafka-reassign-partitions
//! --throttle` sets it), and what is still moving.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use kafka_protocol::messages::{AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest};

use super::reassignment::Assignment;
use super::topic_config::ConfigOp;
use super::types::OngoingReassignment;
use super::wire::*;
use super::{Admin, Error};

/// The broker resource of IncrementalAlterConfigs, named by the broker's id.
const BROKER_RESOURCE: i8 = 4;
/// The replication rates of a throttle, per broker, in bytes per second.
const THROTTLE_RATES: [&str; 2] = ["leader.replication.throttled.rate", "follower.replication.throttled.rate"];
/// The replicas a throttle applies to, per topic: those copied from and those copied to.
pub const THROTTLED_REPLICAS: [&str; 2] =
    ["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"];

impl Admin {
    /// Starts moving replicas from `current` to `target` (partitions that change only). With a
    /// `throttle` (bytes per second), each of `brokers` copies the moved replicas no faster than
    /// that; the throttle stays until [`Admin::clear_throttle`]. Returns once the controller has
    /// accepted every topic's moves; [`Admin::ongoing_moves`] tells when the data has moved.
    pub async fn start_moves(
        &self,
        current: &Assignment,
        target: &Assignment,
        brokers: &[i32],
        throttle: Option<u64>,
        budget: Duration,
    ) -> Result<(), Error> {
        if let Some(rate) = throttle {
            let rates: Vec<ConfigOp> =
                THROTTLE_RATES.iter().map(|k| ConfigOp::Set(k.to_string(), rate.to_string())).collect();
            // Each broker is told its own rate, as kafka-reassign-partitions does: older brokers
            // apply a rate only when it is set on themselves, never the cluster-wide default.
            for broker in brokers {
                let resources = [(BROKER_RESOURCE, broker.to_string(), rates.clone())];
                self.alter_configs("throttling replication", Some(*broker), &resources, false, budget).await?;
            }
            let resources: Vec<_> = target
                .iter()
                .map(|(topic, partitions)| {
                    let (from, to) = throttled_replicas(&current[topic], partitions);
                    let ops = vec![
                        ConfigOp::Set(THROTTLED_REPLICAS[0].to_string(), from),
                        ConfigOp::Set(THROTTLED_REPLICAS[1].to_string(), to),
                    ];
                    (TOPIC_RESOURCE, topic.clone(), ops)
                })
                .collect();
            self.alter_configs("throttling the replicas to move", None, &resources, false, budget).await?;
        }
        let operation = format!("reassigning the partitions of {} topic(s)", target.len());
        self.reassign(&operation, target, budget).await
    }

    /// Removes the throttle [`Admin::start_moves`] set: the rates of `brokers`, and the
    /// throttled replicas of `topics`.
    pub async fn clear_throttle<'a>(
        &self,
        brokers: &[i32],
        topics: impl IntoIterator<Item = &'a str>,
        budget: Duration,
    ) -> Result<(), Error> {
        let delete = |keys: &[&str]| keys.iter().map(|k| ConfigOp::Delete(k.to_string())).collect::<Vec<_>>();
        for broker in brokers {
            let resources = [(BROKER_RESOURCE, broker.to_string(), delete(&THROTTLE_RATES))];
            self.alter_configs("removing the replication throttle", Some(*broker), &resources, false, budget).await?;
        }
        let resources: Vec<_> =
            topics.into_iter().map(|t| (TOPIC_RESOURCE, t.to_string(), delete(&THROTTLED_REPLICAS))).collect();
        self.alter_configs("removing the throttled replicas", None, &resources, false, budget).await
    }

    /// Starts moving partitions to the given replica lists. Returns once the controller has
    /// accepted; [`Admin::ongoing_reassignments`] tells when the data has moved.
    pub async fn reassign_partitions(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        budget: Duration,
    ) -> Result<(), Error> {
        let target = Assignment::from([(name.to_string(), assignment.clone())]);
        self.reassign(&format!("reassigning partitions of topic {name}"), &target, budget).await
    }

    /// Every topic's moves in one request: the controller takes them all or says which
    /// partition it refused, so that an apply never stops with half of them started. Sending
    /// the same target again while it moves changes nothing.
    async fn reassign(&self, operation: &str, target: &Assignment, budget: Duration) -> Result<(), Error> {
        self.read_ahead.invalidate();
        let topics = target
            .iter()
            .map(|(name, partitions)| {
                let partitions = partitions
                    .iter()
                    .map(|(p, replicas)| {
                        ReassignablePartition::default()
                            .with_partition_index(*p)
                            .with_replicas(Some(replicas.iter().map(|b| BrokerId(*b)).collect()))
                    })
                    .collect();
                ReassignableTopic::default().with_name(topic_name(name)).with_partitions(partitions)
            })
            .collect();
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(budget))
            .with_topics(topics);
        self.cluster
            .retry(operation, budget, || async {
                let response = self.cluster.send_to_controller(&request, 0).await?;
                first_refusal(operation, [(response.error_code, response.error_message.as_deref())])?;
                for topic in &response.responses {
                    for p in &topic.partitions {
                        if p.error_code != 0 {
                            return Err(Error::broker(
                                format!("{operation} ({}-{})", topic.name.0, p.partition_index),
                                p.error_code,
                                p.error_message.as_deref(),
                            ));
                        }
                    }
                }
                Ok(())
            })
            .await
    }

    /// Reassignments of this topic's partitions still moving data, by partition.
    pub async fn ongoing_reassignments(&self, name: &str) -> Result<BTreeMap<i32, OngoingReassignment>, Error> {
        let mut all = self.ongoing_moves().await?;
        Ok(all.remove(name).unwrap_or_default())
    }

    /// Every reassignment in the cluster still moving data, by topic and partition.
    pub async fn ongoing_moves(&self) -> Result<BTreeMap<String, BTreeMap<i32, OngoingReassignment>>, Error> {
        let request = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.broker_wait_ms(self.cluster.config.request_timeout))
            .with_topics(None);
        let operation = "listing partition reassignments";
        let response = self
            .cluster
            .retry(operation, self.cluster.config.request_timeout, || async {
                let response = self.cluster.send_to_controller(&request, 0).await?;
                first_refusal(operation, [(response.error_code, response.error_message.as_deref())])?;
                Ok(response)
            })
            .await?;
        Ok(response
            .topics
            .into_iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let ids = |brokers: Vec<BrokerId>| brokers.into_iter().map(|b| b.0).collect();
                        let moving = OngoingReassignment {
                            replicas: ids(p.replicas),
                            adding: ids(p.adding_replicas),
                            removing: ids(p.removing_replicas),
                        };
                        (p.partition_index, moving)
                    })
                    .collect();
                (t.name.0.to_string(), partitions)
            })
            .collect())
    }
}

/// A topic's throttled replicas for moving `current` to `target`, in Kafka's `partition:broker`
/// lists: every current replica of a moving partition may send (leader side), and the replicas
/// that are new receive (follower side).
fn throttled_replicas(current: &BTreeMap<i32, Vec<i32>>, target: &BTreeMap<i32, Vec<i32>>) -> (String, String) {
    let mut from = Vec::new();
    let mut to = Vec::new();
    for (partition, replicas) in target {
        let before: BTreeSet<i32> = current.get(partition).into_iter().flatten().copied().collect();
        from.extend(before.iter().map(|b| format!("{partition}:{b}")));
        to.extend(replicas.iter().filter(|b| !before.contains(b)).map(|b| format!("{partition}:{b}")));
    }
    (from.join(","), to.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_covers_the_replicas_copied_from_and_those_copied_to() {
        let current = BTreeMap::from([(0, vec![0, 1, 2]), (1, vec![1, 2, 0]), (2, vec![2, 0, 1])]);
        let target = BTreeMap::from([(0, vec![3, 1, 2]), (2, vec![2, 4, 1])]);
        let (from, to) = throttled_replicas(&current, &target);
        assert_eq!(from, "0:0,0:1,0:2,2:0,2:1,2:2");
        assert_eq!(to, "0:3,2:4");
    }
}
