//! What the admin client reads and writes: brokers, topics and their partitions, reassignments.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPartition {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Ordered by partition id.
    pub partitions: Vec<TopicPartition>,
}

impl TopicInfo {
    /// The replica count most partitions have: during a reassignment some briefly have more.
    pub fn replication_factor(&self) -> usize {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for p in &self.partitions {
            *counts.entry(p.replicas.len()).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(len, n)| (*n, *len)).map_or(0, |(len, _)| len)
    }

    pub fn assignment(&self) -> BTreeMap<i32, Vec<i32>> {
        self.partitions.iter().map(|p| (p.id, p.replicas.clone())).collect()
    }

    pub(crate) fn is_ready(&self) -> bool {
        !self.partitions.is_empty() && self.partitions.iter().all(|p| p.leader >= 0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}
