//! What a careful roll asks the brokers before and after restarting one of them, as Strimzi's
//! roller does: whether the restart would leave a partition without enough in-sync replicas for
//! `acks=all` producers, and whether the restarted broker has caught up again.

use super::types::TopicInfo;
use super::{Admin, Error};

impl Admin {
    /// Why no broker may restart now; empty when one may. Any under-replicated partition blocks:
    /// a broker is still catching up, and a restart could take one of its partitions below
    /// `min.insync.replicas`. With every partition fully in sync, restarting one broker leaves
    /// each partition of a replication factor above its `min.insync.replicas` enough in-sync
    /// replicas for `acks=all` producers (the others cannot stay writable through any restart).
    pub async fn restart_blockers(&self) -> Result<Vec<String>, Error> {
        Ok(under_replicated(&self.all_topics().await?))
    }

    /// The partitions that list `broker` as a replica but not as in sync: empty once a restarted
    /// broker has caught up.
    pub async fn lagging_partitions(&self, broker: i32) -> Result<Vec<String>, Error> {
        Ok(lagging(&self.all_topics().await?, broker))
    }
}

fn under_replicated(topics: &[TopicInfo]) -> Vec<String> {
    topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| p.isr.len() < p.replicas.len())
                .map(move |p| format!("{}-{} (in sync {:?} of {:?})", t.name, p.id, p.isr, p.replicas))
        })
        .collect()
}

fn lagging(topics: &[TopicInfo], broker: i32) -> Vec<String> {
    topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| p.replicas.contains(&broker) && !p.isr.contains(&broker))
                .map(move |p| format!("{}-{}", t.name, p.id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::TopicPartition;

    fn topic(name: &str, partitions: &[(&[i32], &[i32])]) -> TopicInfo {
        TopicInfo {
            name: name.into(),
            partitions: partitions
                .iter()
                .enumerate()
                .map(|(id, (replicas, isr))| TopicPartition {
                    id: id as i32,
                    leader: isr.first().copied().unwrap_or(-1),
                    replicas: replicas.to_vec(),
                    isr: isr.to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn any_partition_out_of_sync_blocks_a_restart() {
        let in_sync = [topic("acked", &[(&[0, 1, 2], &[0, 1, 2])]), topic("loose", &[(&[1], &[1])])];
        assert!(under_replicated(&in_sync).is_empty());
        let catching_up = [topic("acked", &[(&[0, 1, 2], &[0, 1])]), topic("other", &[(&[0, 1], &[0, 1])])];
        assert_eq!(under_replicated(&catching_up), ["acked-0 (in sync [0, 1] of [0, 1, 2])"]);
    }

    #[test]
    fn a_restarted_broker_lags_until_it_is_in_sync_everywhere_it_is_a_replica() {
        let topics = [topic("a", &[(&[0, 1, 2], &[0, 2]), (&[0, 2], &[0, 2])]), topic("b", &[(&[1], &[])])];
        assert_eq!(lagging(&topics, 1), ["a-0", "b-0"]);
        assert!(lagging(&topics, 2).is_empty());
    }
}
