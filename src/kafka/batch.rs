//! Request coalescing: concurrent lookups that arrive within a short window share one broker
//! request. Terraform reads resources concurrently, one per call; without this, N topics cost
//! N metadata requests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::Error;

type Outcome<K, V> = Option<Result<Arc<BTreeMap<K, V>>, Error>>;

struct Batch<K, V> {
    keys: Mutex<BTreeSet<K>>,
    outcome: watch::Sender<Outcome<K, V>>,
}

pub struct Coalescer<K, V> {
    window: Duration,
    open: Mutex<Option<Arc<Batch<K, V>>>>,
}

impl<K, V> Coalescer<K, V>
where
    K: Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(window: Duration) -> Self {
        Coalescer { window, open: Mutex::new(None) }
    }

    /// Looks `key` up together with whatever else is asked for within the window. `fetch` runs
    /// once per batch, in a task of its own so that a caller giving up cannot strand the rest.
    pub async fn load<F, Fut>(&self, key: K, fetch: F) -> Result<Option<V>, Error>
    where
        F: FnOnce(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<BTreeMap<K, V>, Error>> + Send + 'static,
    {
        let (batch, leader) = {
            let mut open = self.open.lock().expect("coalescer lock");
            match open.as_ref() {
                Some(batch) => {
                    batch.keys.lock().expect("batch keys").insert(key.clone());
                    (batch.clone(), false)
                }
                None => {
                    let batch = Arc::new(Batch {
                        keys: Mutex::new(BTreeSet::from([key.clone()])),
                        outcome: watch::channel(None).0,
                    });
                    *open = Some(batch.clone());
                    (batch, true)
                }
            }
        };
        let mut outcome = batch.outcome.subscribe();
        if leader {
            let window = self.window;
            let this_batch = batch.clone();
            // The batch closes when its window ends: later callers open the next one.
            tokio::time::sleep(window).await;
            {
                let mut open = self.open.lock().expect("coalescer lock");
                if open.as_ref().is_some_and(|b| Arc::ptr_eq(b, &this_batch)) {
                    *open = None;
                }
            }
            let keys: Vec<K> = std::mem::take(&mut *this_batch.keys.lock().expect("batch keys")).into_iter().collect();
            tokio::spawn(async move {
                let result = fetch(keys).await.map(Arc::new);
                this_batch.outcome.send_replace(Some(result));
            });
        }
        let settled = outcome.wait_for(Option::is_some).await.map_err(|_| Error::Cancelled)?;
        match settled.as_ref().expect("settled outcome") {
            Ok(values) => Ok(values.get(&key).cloned()),
            Err(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_lookups_share_one_fetch() {
        let coalescer = Arc::new(Coalescer::<u32, u32>::new(Duration::from_millis(20)));
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
        let coalescer = Coalescer::<u32, u32>::new(Duration::from_millis(1));
        let result = coalescer.load(1, |_| async { Err(Error::Protocol("boom".into())) }).await;
        assert!(matches!(result, Err(Error::Protocol(_))));
    }
}
