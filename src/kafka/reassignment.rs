//! The pure planners of partition moves: which brokers each partition's replicas move to for a
//! replication-factor change, to spread replicas over brokers that joined, and to drain brokers
//! that are about to leave.

use std::collections::{BTreeMap, BTreeSet};

use super::types::BrokerInfo;

/// New replica lists that give every partition `replication_factor` replicas, keeping the
/// replicas each partition has (the preferred leader first) and adding the least-loaded brokers,
/// preferring racks the partition does not use yet. Only partitions that change are returned.
pub fn plan_reassignment(
    current: &BTreeMap<i32, Vec<i32>>,
    brokers: &[BrokerInfo],
    replication_factor: usize,
) -> Result<BTreeMap<i32, Vec<i32>>, String> {
    if replication_factor == 0 || replication_factor > brokers.len() {
        return Err(format!(
            "replication factor {replication_factor} needs as many live brokers; the cluster has {}",
            brokers.len()
        ));
    }
    let live: BTreeSet<i32> = brokers.iter().map(|b| b.id).collect();
    let rack = |id: i32| brokers.iter().find(|b| b.id == id).and_then(|b| b.rack.clone());
    let mut load: BTreeMap<i32, usize> = live.iter().map(|b| (*b, 0)).collect();
    let mut target: BTreeMap<i32, Vec<i32>> = current
        .iter()
        .map(|(p, replicas)| {
            let kept: Vec<i32> =
                replicas.iter().copied().filter(|b| live.contains(b)).take(replication_factor).collect();
            (*p, kept)
        })
        .collect();
    for replicas in target.values() {
        for b in replicas {
            *load.entry(*b).or_default() += 1;
        }
    }
    for replicas in target.values_mut() {
        while replicas.len() < replication_factor {
            let used_racks: BTreeSet<Option<String>> = replicas.iter().map(|b| rack(*b)).collect();
            let pick = live
                .iter()
                .copied()
                .filter(|b| !replicas.contains(b))
                .min_by_key(|b| {
                    let rack_reused = rack(*b).is_some() && used_racks.contains(&rack(*b));
                    (rack_reused, load[b], *b)
                })
                .expect("enough live brokers, checked above");
            replicas.push(pick);
            *load.get_mut(&pick).expect("live broker") += 1;
        }
    }
    Ok(target.into_iter().filter(|(p, replicas)| current.get(p) != Some(replicas)).collect())
}

/// Every partition's replica list, by topic and partition.
pub type Assignment = BTreeMap<String, BTreeMap<i32, Vec<i32>>>;

/// Moves that even out the replicas each broker holds (to within one), so that brokers that just
/// joined take their share. Each move swaps one replica in place, from the broker holding the
/// most to the one holding the fewest, and keeps a partition's replicas on distinct racks when it
/// had them; a preferred leader that moves makes the new broker the preferred leader, which is
/// how leadership reaches new brokers too. Only partitions that change are returned.
pub fn spread(current: &Assignment, brokers: &[BrokerInfo]) -> Assignment {
    let mut placement = Placement::new(current, brokers);
    'moves: loop {
        let mut by_load: Vec<i32> = placement.load.keys().copied().collect();
        by_load.sort_by_key(|b| (placement.load[b], *b));
        for &to in &by_load {
            for &from in by_load.iter().rev() {
                if placement.load[&from] < placement.load[&to] + 2 {
                    break;
                }
                if let Some((topic, partition, slot)) = placement.movable(from, to) {
                    placement.assign(&topic, partition, slot, to);
                    continue 'moves;
                }
            }
        }
        return placement.changed(current);
    }
}

/// Moves that take every replica off the `leaving` brokers, each to the least-loaded remaining
/// broker the partition does not use yet, on a rack it does not use yet when there is one. Only
/// partitions that change are returned; an error names a partition with more replicas than
/// remaining brokers.
pub fn drain(current: &Assignment, brokers: &[BrokerInfo], leaving: &BTreeSet<i32>) -> Result<Assignment, String> {
    let staying: Vec<BrokerInfo> = brokers.iter().filter(|b| !leaving.contains(&b.id)).cloned().collect();
    let mut placement = Placement::new(current, &staying);
    for (topic, partitions) in current {
        for (partition, replicas) in partitions {
            for (slot, broker) in replicas.iter().enumerate() {
                if !leaving.contains(broker) {
                    continue;
                }
                let to = placement.least_loaded_for(topic, *partition, slot).ok_or_else(|| {
                    format!(
                        "partition {topic}-{partition} has {} replicas and only {} brokers would remain",
                        replicas.len(),
                        staying.len()
                    )
                })?;
                placement.assign(topic, *partition, slot, to);
            }
        }
    }
    Ok(placement.changed(current))
}

/// Replica lists being rearranged, with how many replicas each counted broker holds, in all
/// and of each topic.
struct Placement<'a> {
    brokers: &'a [BrokerInfo],
    assignment: Assignment,
    load: BTreeMap<i32, usize>,
    topic_load: BTreeMap<String, BTreeMap<i32, usize>>,
}

impl<'a> Placement<'a> {
    fn new(current: &Assignment, brokers: &'a [BrokerInfo]) -> Self {
        let mut load: BTreeMap<i32, usize> = brokers.iter().map(|b| (b.id, 0)).collect();
        let mut topic_load: BTreeMap<String, BTreeMap<i32, usize>> = BTreeMap::new();
        for (topic, partitions) in current {
            let of_topic = topic_load.entry(topic.clone()).or_default();
            for b in partitions.values().flatten() {
                *of_topic.entry(*b).or_default() += 1;
                if let Some(n) = load.get_mut(b) {
                    *n += 1;
                }
            }
        }
        Placement { brokers, assignment: current.clone(), load, topic_load }
    }

    fn rack(&self, id: i32) -> Option<&str> {
        self.brokers.iter().find(|b| b.id == id).and_then(|b| b.rack.as_deref())
    }

    /// Whether `to` may take `slot` of these replicas: not already one of them, and not on a
    /// rack another of them uses unless the replica it replaces was on that rack too.
    fn fits(&self, replicas: &[i32], slot: usize, to: i32) -> bool {
        if replicas.contains(&to) {
            return false;
        }
        match self.rack(to) {
            None => true,
            Some(rack) => {
                self.rack(replicas[slot]) == Some(rack)
                    || !replicas.iter().enumerate().any(|(i, b)| i != slot && self.rack(*b) == Some(rack))
            }
        }
    }

    /// A replica on `from` that `to` may take, of the topic `from` holds the most more of than
    /// `to` does: every topic gets its share of the new brokers, not the first ones by name.
    fn movable(&self, from: i32, to: i32) -> Option<(String, i32, usize)> {
        let surplus = |topic: &String| {
            let held = |b: i32| self.topic_load.get(topic).and_then(|l| l.get(&b)).copied().unwrap_or(0) as i64;
            held(from) - held(to)
        };
        let mut topics: Vec<&String> = self.assignment.keys().filter(|t| surplus(t) > 0).collect();
        topics.sort_by_key(|t| std::cmp::Reverse(surplus(t)));
        topics.into_iter().find_map(|topic| {
            self.assignment[topic].iter().find_map(|(partition, replicas)| {
                let slot = replicas.iter().position(|b| *b == from)?;
                self.fits(replicas, slot, to).then(|| (topic.clone(), *partition, slot))
            })
        })
    }

    /// The least-loaded counted broker that may take `slot` of the partition: on a new rack for
    /// it when one is free, else anywhere it is not yet.
    fn least_loaded_for(&self, topic: &str, partition: i32, slot: usize) -> Option<i32> {
        let replicas = &self.assignment[topic][&partition];
        let free = |b: &i32| !replicas.contains(b);
        let by_load = |b: &i32| (self.load[b], *b);
        let on_new_rack = self.load.keys().copied().filter(|b| self.fits(replicas, slot, *b)).min_by_key(by_load);
        on_new_rack.or_else(|| self.load.keys().copied().filter(free).min_by_key(by_load))
    }

    fn assign(&mut self, topic: &str, partition: i32, slot: usize, to: i32) {
        let replicas = self.assignment.get_mut(topic).and_then(|p| p.get_mut(&partition)).expect("a known partition");
        let from = replicas[slot];
        replicas[slot] = to;
        if let Some(n) = self.load.get_mut(&from) {
            *n -= 1;
        }
        *self.load.entry(to).or_default() += 1;
        let of_topic = self.topic_load.entry(topic.to_string()).or_default();
        if let Some(n) = of_topic.get_mut(&from) {
            *n -= 1;
        }
        *of_topic.entry(to).or_default() += 1;
    }

    fn changed(self, current: &Assignment) -> Assignment {
        self.assignment
            .into_iter()
            .filter_map(|(topic, partitions)| {
                let before = &current[&topic];
                let moved: BTreeMap<i32, Vec<i32>> =
                    partitions.into_iter().filter(|(p, replicas)| before.get(p) != Some(replicas)).collect();
                (!moved.is_empty()).then_some((topic, moved))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(racks: &[Option<&str>]) -> Vec<BrokerInfo> {
        racks
            .iter()
            .enumerate()
            .map(|(i, r)| BrokerInfo { id: i as i32, host: "h".into(), port: 1, rack: r.map(Into::into) })
            .collect()
    }

    #[test]
    fn raising_the_replication_factor_spreads_evenly_and_keeps_leaders() {
        let current: BTreeMap<i32, Vec<i32>> = (0..6).map(|p| (p, vec![p % 3])).collect();
        let target = plan_reassignment(&current, &brokers(&[None, None, None]), 3).unwrap();
        assert_eq!(target.len(), 6);
        for (p, replicas) in &target {
            assert_eq!(replicas[0], p % 3, "preferred leader kept");
            assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), 3);
        }
    }

    #[test]
    fn new_replicas_go_to_unused_racks_first() {
        let current = BTreeMap::from([(0, vec![0])]);
        let b = brokers(&[Some("a"), Some("a"), Some("b")]);
        let target = plan_reassignment(&current, &b, 2).unwrap();
        assert_eq!(target[&0], vec![0, 2]);
    }

    #[test]
    fn lowering_keeps_the_first_replicas_and_refuses_too_many() {
        let current = BTreeMap::from([(0, vec![2, 0, 1])]);
        assert_eq!(plan_reassignment(&current, &brokers(&[None, None, None]), 1).unwrap()[&0], vec![2]);
        assert!(plan_reassignment(&current, &brokers(&[None, None, None]), 4).is_err());
        assert!(plan_reassignment(&current, &brokers(&[None, None, None]), 3).unwrap().is_empty());
    }

    fn three_way(topics: &[(&str, usize)]) -> Assignment {
        topics
            .iter()
            .map(|(name, n)| {
                let partitions = (0..*n as i32).map(|p| (p, (0..3).map(|i| (p + i) % 3).collect())).collect();
                (name.to_string(), partitions)
            })
            .collect()
    }

    fn loads(assignment: &Assignment, moved: &Assignment) -> BTreeMap<i32, usize> {
        let mut after = assignment.clone();
        for (topic, partitions) in moved {
            after.get_mut(topic).unwrap().extend(partitions.clone());
        }
        let mut load = BTreeMap::new();
        for replicas in after.values().flat_map(BTreeMap::values) {
            assert_eq!(replicas.iter().collect::<BTreeSet<_>>().len(), replicas.len(), "distinct replicas");
            for b in replicas {
                *load.entry(*b).or_insert(0) += 1;
            }
        }
        load
    }

    #[test]
    fn spreading_over_new_brokers_evens_the_load_and_moves_no_more_than_needed() {
        let current = three_way(&[("orders", 6), ("payments", 3)]);
        let moved = spread(&current, &brokers(&[None; 5]));
        let load = loads(&current, &moved);
        assert_eq!(load.values().sum::<usize>(), 27);
        assert!(load.values().all(|n| (5..=6).contains(n)), "{load:?}");
        let moves: usize = moved
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, r)| (t, p, r)))
            .map(|(t, p, r)| r.iter().zip(&current[t][p]).filter(|(a, b)| a != b).count())
            .sum();
        assert_eq!(moves, 10, "brokers 3 and 4 get 5 each, nothing else moves");
        let after = loads_as_assignment(&current, &moved);
        for (topic, partitions) in &after {
            let on_new = partitions.values().flatten().filter(|b| **b >= 3).count();
            assert!(on_new >= 2, "{topic} has its share on the new brokers: {partitions:?}");
        }
        assert!(spread(&loads_as_assignment(&current, &moved), &brokers(&[None; 5])).is_empty(), "stable");
    }

    fn loads_as_assignment(current: &Assignment, moved: &Assignment) -> Assignment {
        let mut after = current.clone();
        for (topic, partitions) in moved {
            after.get_mut(topic).unwrap().extend(partitions.clone());
        }
        after
    }

    #[test]
    fn spreading_keeps_partitions_across_racks() {
        let current = three_way(&[("orders", 6)]);
        let racks = brokers(&[Some("a"), Some("b"), Some("c"), Some("a"), Some("b")]);
        let moved = spread(&current, &racks);
        assert!(!moved.is_empty());
        for replicas in loads_as_assignment(&current, &moved).values().flat_map(BTreeMap::values) {
            let used: BTreeSet<_> = replicas.iter().map(|b| racks[*b as usize].rack.clone()).collect();
            assert_eq!(used.len(), 3, "one replica per rack: {replicas:?}");
        }
    }

    #[test]
    fn draining_empties_the_leaving_brokers_and_refuses_too_few_left() {
        let current = loads_as_assignment(
            &three_way(&[("orders", 6)]),
            &spread(&three_way(&[("orders", 6)]), &brokers(&[None; 5])),
        );
        let leaving = BTreeSet::from([3, 4]);
        let moved = drain(&current, &brokers(&[None; 5]), &leaving).unwrap();
        let after = loads_as_assignment(&current, &moved);
        assert!(after.values().flat_map(BTreeMap::values).flatten().all(|b| !leaving.contains(b)));
        assert_eq!(loads(&current, &moved).values().copied().collect::<Vec<_>>(), [6, 6, 6]);
        assert!(
            drain(&current, &brokers(&[None; 5]), &BTreeSet::from([2, 3, 4])).unwrap_err().contains("only 2 brokers")
        );
    }
}
