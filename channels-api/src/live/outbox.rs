//! A connection's bounded queue of events: the hub pushes without ever waiting, the
//! connection's loop writes them out between requests.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Events waiting for one connection's socket, bounded in count and bytes.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    ready: Notify,
    max_events: usize,
    max_bytes: usize,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Each event with the subscription it belongs to.
    queue: VecDeque<(Arc<str>, String)>,
    bytes: usize,
}

/// The queue had no room for an event.
#[derive(Debug)]
pub(crate) struct Full;

impl Outbox {
    pub(crate) fn new(max_events: usize, max_bytes: usize) -> Self {
        Outbox {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            max_events,
            max_bytes,
            closed: AtomicBool::new(false),
        }
    }

    /// Marks the connection gone: nothing more is queued for it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut state = self.state();
        state.queue = VecDeque::new();
        state.bytes = 0;
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent queue: pushes and pops are
        // single operations.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `text` if the queue has room for it.
    pub(crate) fn push(&self, subscription: &Arc<str>, text: String) -> Result<(), Full> {
        {
            let mut state = self.state();
            if state.queue.len() >= self.max_events || state.bytes + text.len() > self.max_bytes {
                return Err(Full);
            }
            state.bytes += text.len();
            state.queue.push_back((subscription.clone(), text));
        }
        self.ready.notify_one();
        Ok(())
    }

    /// Queues `text` past the bounds: for the one notice that ends a subscription whose
    /// events did not fit, so the client learns where to resume. A subscription sends it
    /// once, and a connection holds a bounded number of subscriptions.
    pub(crate) fn push_notice(&self, subscription: &Arc<str>, text: String) {
        {
            let mut state = self.state();
            state.bytes += text.len();
            state.queue.push_back((subscription.clone(), text));
        }
        self.ready.notify_one();
    }

    /// The oldest queued event.
    pub(crate) fn pop(&self) -> Option<String> {
        let mut state = self.state();
        let (_, text) = state.queue.pop_front()?;
        state.bytes -= text.len();
        if state.queue.is_empty() && state.queue.capacity() > 64 {
            state.queue = VecDeque::new();
        }
        Some(text)
    }

    /// Drops the queued events of `subscription`, once it has ended.
    pub(crate) fn purge(&self, subscription: &str) {
        let mut state = self.state();
        let mut bytes = state.bytes;
        state.queue.retain(|(sub, text)| {
            let keep = &**sub != subscription;
            if !keep {
                bytes -= text.len();
            }
            keep
        });
        state.bytes = bytes;
    }

    /// Resolves when an event may have been queued since the last call.
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    /// How many events are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_and_bytes() {
        let s: Arc<str> = "s1".into();
        let outbox = Outbox::new(2, 10);
        assert!(outbox.push(&s, "12345".into()).is_ok());
        assert!(outbox.push(&s, "123456".into()).is_err(), "11 bytes > 10");
        assert!(outbox.push(&s, "1234".into()).is_ok());
        assert!(outbox.push(&s, "1".into()).is_err(), "3 events > 2");
        outbox.push_notice(&s, "end".into());
        assert_eq!(outbox.len(), 3);
        assert_eq!(outbox.pop().as_deref(), Some("12345"));
        assert!(outbox.push(&s, "1".into()).is_err(), "still 9 + 3 bytes");
        assert_eq!(outbox.pop().as_deref(), Some("1234"));
        assert_eq!(outbox.pop().as_deref(), Some("end"));
        assert_eq!(outbox.pop(), None);
        assert!(outbox.push(&s, "123456789".into()).is_ok());
    }

    #[test]
    fn purge_drops_one_subscription() {
        let (a, b): (Arc<str>, Arc<str>) = ("s1".into(), "s2".into());
        let outbox = Outbox::new(10, 100);
        outbox.push(&a, "a1".into()).unwrap();
        outbox.push(&b, "b1".into()).unwrap();
        outbox.push(&a, "a2".into()).unwrap();
        outbox.purge("s1");
        assert_eq!(outbox.pop().as_deref(), Some("b1"));
        assert_eq!(outbox.pop(), None);
        outbox.close();
        assert!(outbox.is_closed());
    }
}
