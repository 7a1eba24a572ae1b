//! Request coalescing: concurrent lookups that arrive within a short window share one broker
//! request. Terraform reads resources concurrently, one per call; without this, N topics cost
//! N metadata requests.
//!
//! A batch lives in a task of its own from the moment it opens, window included, so that no
//! caller giving up (a cancelled RPC, a failing `try_join!` sibling) can strand the others; and
//! every wait on it is bounded, so that a fetch that never ends cannot hold a caller forever.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::Error;

type Outcome<K, V> = Option<Result<Arc<BTreeMap<K, V>>, Error>>;
/// The batch taking keys now, if any.
type OpenBatch<K, V> = Arc<Mutex<Option<Arc<Batch<K, V>>>>>;

struct Batch<K, V> {
    keys: Mutex<BTreeSet<K>>,
    outcome: watch::Sender<Outcome<K, V>>,
}

pub struct Coalescer<K, V> {
    window: Duration,
    /// The longest a caller waits for its batch: the fetch's own bound, with room to spare.
    patience: Duration,
    open: OpenBatch<K, V>,
}

impl<K, V> Coalescer<K, V>
where
    K: Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(window: Duration, patience: Duration) -> Self {
        Coalescer { window, patience, open: Arc::default() }
    }

    /// Looks `key` up together with whatever else is asked for within the window. `fetch` runs
    /// once per batch, in the batch's own task.
    pub async fn load<F, Fut>(&self, key: K, fetch: F) -> Result<Option<V>, Error>
    where
        F: FnOnce(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<BTreeMap<K, V>, Error>> + Send + 'static,
    {
        let batch = {
            let mut open = self.open.lock().expect("coalescer lock");
            match open.as_ref() {
                Some(batch) => {
                    batch.keys.lock().expect("batch keys").insert(key.clone());
                    batch.clone()
                }
                None => {
                    let batch = Arc::new(Batch {
                        keys: Mutex::new(BTreeSet::from([key.clone()])),
                        outcome: watch::channel(None).0,
                    });
                    *open = Some(batch.clone());
                    tokio::spawn(run_batch(batch.clone(), self.open.clone(), self.window, fetch));
                    batch
                }
            }
        };
        let mut outcome = batch.outcome.subscribe();
        let settled = tokio::time::timeout(self.patience, outcome.wait_for(Option::is_some))
            .await
            .map_err(|_| Error::Timeout(format!("no answer to a batched request within {:?}", self.patience)))?
            .map_err(|_| Error::Cancelled)?;
        match settled.as_ref().expect("settled outcome") {
            Ok(values) => Ok(values.get(&key).cloned()),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Gathers keys for one window, closes the batch so later callers open the next, then fetches.
async fn run_batch<K, V, F, Fut>(batch: Arc<Batch<K, V>>, open: OpenBatch<K, V>, window: Duration, fetch: F)
where
    K: Ord + Clone,
    F: FnOnce(Vec<K>) -> Fut,
    Fut: Future<Output = Result<BTreeMap<K, V>, Error>>,
{
    tokio::time::sleep(window).await;
    {
        let mut open = open.lock().expect("coalescer lock");
        if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &batch)) {
            *open = None;
        }
    }
    let keys: Vec<K> = std::mem::take(&mut *batch.keys.lock().expect("batch keys")).into_iter().collect();
    let result = fetch(keys).await.map(Arc::new);
    batch.outcome.send_replace(Some(result));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_lookups_share_one_fetch() {
        let coalescer = Arc::new(Coalescer::<u32, u32>::new(Duration::from_millis(20), Duration::from_secs(5)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let lookups = (0..50u32).map(|i| {
            let coalescer = coalescer.clone();
            let fetches = fetches.clone();
            tokio::spawn(async move {
                coalescer
                    .load(i, move |keys| async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Ok(keys.into_iter().map(|k| (k, k * 10)).collect())
                    })
                    .await
            })
        });
        for (i, lookup) in futures::future::join_all(lookups).await.into_iter().enumerate() {
            assert_eq!(lookup.unwrap().unwrap(), Some(i as u32 * 10));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_fails_every_waiter() {
        let coalescer = Coalescer::<u32, u32>::new(Duration::from_millis(1), Duration::from_secs(5));
        let result = coalescer.load(1, |_| async { Err(Error::Protocol("boom".into())) }).await;
        assert!(matches!(result, Err(Error::Protocol(_))));
    }

    /// The first caller of a batch used to sleep through the window in its own future: dropped
    /// there (a failing `try_join!` sibling, a cancelled RPC), it left the batch open and never
    /// fetched, and every later lookup joined it and waited forever.
    #[tokio::test]
    async fn a_first_caller_that_gives_up_strands_no_one() {
        let coalescer = Arc::new(Coalescer::<u32, u32>::new(Duration::from_millis(50), Duration::from_secs(5)));
        let fetch = |keys: Vec<u32>| async move { Ok(keys.into_iter().map(|k| (k, k + 1)).collect()) };
        let first = coalescer.load(1, fetch);
        assert!(tokio::time::timeout(Duration::from_millis(5), first).await.is_err(), "dropped inside the window");
        let second = tokio::time::timeout(Duration::from_secs(2), coalescer.load(2, fetch)).await;
        assert_eq!(second.expect("the batch was fetched").unwrap(), Some(3));
        let later = tokio::time::timeout(Duration::from_secs(2), coalescer.load(4, fetch)).await;
        assert_eq!(later.expect("later batches open").unwrap(), Some(5));
    }

    #[tokio::test]
    async fn a_fetch_that_never_ends_is_waited_for_only_so_long() {
        let coalescer = Coalescer::<u32, u32>::new(Duration::from_millis(1), Duration::from_millis(100));
        let result = coalescer.load(1, |_| std::future::pending()).await;
        assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    }
}
