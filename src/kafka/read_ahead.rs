//! Read-ahead for large refreshes. Terraform refreshes resources at most `-parallelism` at a
//! time and waits for each answer, so coalescing alone still costs one round trip per ten
//! topics: a hundred round trips for a thousand, which a distant cluster makes seconds. Once a
//! refresh has read enough topics that describing the whole cluster costs no more than a few
//! times what it has already read, the cluster is described once (one Metadata and one
//! DescribeConfigs) and the remaining reads are answered from that snapshot.
//!
//! A snapshot is what a read taken a moment earlier in the same command would have seen; it is
//! dropped when this process changes any topic and after [`LIFETIME`]. A topic it does not list
//! is read live, so a topic deleted or created out of band is seen as it is now.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Error;
use super::topic_config::ConfigEntry;
use super::types::TopicInfo;

/// Below this many reads a configuration is small, and per-batch reads are cheap enough.
const FIRST_ATTEMPT: usize = 64;
/// A snapshot may describe at most this many topics per topic read so far.
const TOPICS_PER_READ: usize = 8;
/// Long enough for a refresh of thousands of topics, short enough to stay one command's view.
const LIFETIME: Duration = Duration::from_secs(30);

pub(crate) type TopicState = (TopicInfo, Vec<ConfigEntry>);

struct Snapshot {
    taken: Instant,
    generation: u64,
    topics: BTreeMap<String, TopicState>,
}

struct State {
    reads: usize,
    next_attempt: usize,
    /// Bumped by every change to a topic: a snapshot from an older generation is stale.
    generation: u64,
    snapshot: Option<Arc<Snapshot>>,
}

pub(crate) struct ReadAhead {
    state: Mutex<State>,
    /// One snapshot at a time; reads arriving meanwhile wait for it rather than go live.
    taking: tokio::sync::Mutex<()>,
}

impl Default for ReadAhead {
    fn default() -> Self {
        ReadAhead {
            state: Mutex::new(State { reads: 0, next_attempt: FIRST_ATTEMPT, generation: 0, snapshot: None }),
            taking: tokio::sync::Mutex::new(()),
        }
    }
}

/// Whether describing `topics` topics is worth it after `reads` reads.
fn worth_it(reads: usize, topics: usize) -> bool {
    topics <= reads.saturating_mul(TOPICS_PER_READ)
}

impl State {
    fn fresh(&self) -> Option<&Snapshot> {
        self.snapshot.as_deref().filter(|s| s.generation == self.generation && s.taken.elapsed() < LIFETIME)
    }

    fn wants_snapshot(&self) -> bool {
        self.reads >= self.next_attempt && self.fresh().is_none()
    }
}

impl ReadAhead {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("read-ahead state")
    }

    /// Forgets the snapshot: this process is about to change a topic. Reads that follow changes
    /// must add up again before the next snapshot, so that alternating writes and reads cannot
    /// describe the cluster once per read.
    pub(crate) fn invalidate(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.snapshot = None;
        state.next_attempt = state.next_attempt.max(state.reads + FIRST_ATTEMPT);
    }

    /// A failed snapshot (a broker error, topics this principal may not describe) is tried again
    /// only after as many reads again.
    fn back_off(&self, reads: usize) {
        let mut state = self.state();
        state.next_attempt = state.next_attempt.max(reads.saturating_mul(2));
    }

    fn cached(&self, name: &str) -> Option<TopicState> {
        self.state().fresh()?.topics.get(name).cloned()
    }

    /// Counts one read of `name` and answers it from a snapshot if there is one, first taking
    /// one (with `list` and `describe`) when the refresh has grown large enough. `None`: read it
    /// live.
    pub(crate) async fn lookup<L, LF, D, DF>(&self, name: &str, list: L, describe: D) -> Option<TopicState>
    where
        L: FnOnce() -> LF,
        LF: Future<Output = Result<BTreeMap<String, Result<TopicInfo, Error>>, Error>>,
        D: FnOnce(Vec<String>) -> DF,
        DF: Future<Output = Result<BTreeMap<String, Result<Vec<ConfigEntry>, Error>>, Error>>,
    {
        let wants_snapshot = {
            let mut state = self.state();
            state.reads += 1;
            state.wants_snapshot()
        };
        if wants_snapshot {
            self.take_snapshot(list, describe).await;
        }
        self.cached(name)
    }

    /// Describes the whole cluster if it is worth it now. A failure only means reading live.
    async fn take_snapshot<L, LF, D, DF>(&self, list: L, describe: D)
    where
        L: FnOnce() -> LF,
        LF: Future<Output = Result<BTreeMap<String, Result<TopicInfo, Error>>, Error>>,
        D: FnOnce(Vec<String>) -> DF,
        DF: Future<Output = Result<BTreeMap<String, Result<Vec<ConfigEntry>, Error>>, Error>>,
    {
        let _taking = self.taking.lock().await;
        let (reads, generation) = {
            let state = self.state();
            if !state.wants_snapshot() {
                return;
            }
            (state.reads, state.generation)
        };
        let started = Instant::now();
        // A topic the cluster cannot describe now is left out, and so read live.
        let topics: BTreeMap<String, TopicInfo> = match list().await {
            Ok(topics) => topics.into_iter().filter_map(|(name, info)| Some((name, info.ok()?))).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "read-ahead: listing topics failed; reading live");
                return self.back_off(reads);
            }
        };
        if !worth_it(reads, topics.len()) {
            tracing::debug!(reads, topics = topics.len(), "read-ahead: not yet worth describing the cluster");
            self.state().next_attempt = topics.len().div_ceil(TOPICS_PER_READ);
            return;
        }
        let mut configs = match describe(topics.keys().cloned().collect()).await {
            Ok(configs) => configs,
            Err(e) => {
                tracing::debug!(error = %e, "read-ahead: describing configs failed; reading live");
                return self.back_off(reads);
            }
        };
        let topics: BTreeMap<String, TopicState> = topics
            .into_iter()
            .filter_map(|(name, info)| {
                let entries = configs.remove(&name)?.ok()?;
                Some((name, (info, entries)))
            })
            .collect();
        tracing::debug!(
            reads,
            topics = topics.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "read-ahead: described the cluster"
        );
        let mut state = self.state();
        if state.generation == generation {
            state.snapshot = Some(Arc::new(Snapshot { taken: started, generation, topics }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicState {
        (TopicInfo { name: name.into(), partitions: Vec::new() }, Vec::new())
    }

    fn with_snapshot(read_ahead: &ReadAhead, taken: Instant) {
        let mut state = read_ahead.state();
        let generation = state.generation;
        state.snapshot =
            Some(Arc::new(Snapshot { taken, generation, topics: BTreeMap::from([("a".into(), topic("a"))]) }));
    }

    #[test]
    fn small_refreshes_never_describe_the_cluster() {
        let read_ahead = ReadAhead::default();
        let mut state = read_ahead.state();
        state.reads = FIRST_ATTEMPT - 1;
        assert!(!state.wants_snapshot());
        state.reads = FIRST_ATTEMPT;
        assert!(state.wants_snapshot());
    }

    #[test]
    fn the_cluster_is_described_only_when_its_size_is_in_proportion_to_the_reads() {
        assert!(worth_it(128, 1024));
        assert!(!worth_it(128, 1025));
        assert!(!worth_it(64, 100_000));
    }

    #[test]
    fn a_change_or_age_makes_the_snapshot_stale() {
        let read_ahead = ReadAhead::default();
        with_snapshot(&read_ahead, Instant::now());
        assert!(read_ahead.cached("a").is_some());
        assert!(read_ahead.cached("b").is_none(), "an unlisted topic is read live");
        read_ahead.invalidate();
        assert!(read_ahead.cached("a").is_none());

        with_snapshot(&read_ahead, Instant::now() - LIFETIME);
        assert!(read_ahead.cached("a").is_none());
    }

    #[test]
    fn after_a_change_or_a_failure_reads_must_add_up_again() {
        let read_ahead = ReadAhead::default();
        read_ahead.state().reads = 100;
        assert!(read_ahead.state().wants_snapshot());
        read_ahead.invalidate();
        assert!(!read_ahead.state().wants_snapshot());
        read_ahead.state().reads = 100 + FIRST_ATTEMPT;
        assert!(read_ahead.state().wants_snapshot());

        read_ahead.back_off(100 + FIRST_ATTEMPT);
        assert!(!read_ahead.state().wants_snapshot());
        read_ahead.state().reads = 2 * (100 + FIRST_ATTEMPT);
        assert!(read_ahead.state().wants_snapshot());
    }
}
