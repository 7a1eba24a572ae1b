//! The pure planner of a replication-factor change: which brokers each partition's replicas
//! move to.

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
}
