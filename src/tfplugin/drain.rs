//! The calls in flight, so that a shutdown lets them return what they did (a failed apply's
//! state) before the process exits, instead of cutting them off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// One call, counted until it is dropped.
pub(crate) struct Call(Arc<InFlight>);

impl Drop for Call {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    pub(crate) fn enter(self: &Arc<Self>) -> Call {
        self.count.fetch_add(1, Ordering::AcqRel);
        Call(self.clone())
    }

    /// Waits until no call is in flight, at most `limit`; false when some still were.
    pub(crate) async fn drained(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn draining_waits_for_the_calls_in_flight_and_no_longer_than_its_limit() {
        let calls = Arc::new(InFlight::default());
        assert!(calls.drained(Duration::from_millis(10)).await, "nothing in flight");
        let call = calls.enter();
        assert!(!calls.drained(Duration::from_millis(50)).await, "a call still running");
        let finishing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(call);
        });
        assert!(calls.drained(Duration::from_secs(5)).await);
        finishing.await.unwrap();
    }
}
