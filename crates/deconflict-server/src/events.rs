//! What wakes the readers of notifications when a write of this instance commits some: the
//! `/v1/events` streams and the webhook deliveries. A wake-up carries nothing; each reader
//! reads its own party's notifications from the store after its cursor, so that nothing is
//! missed between a wake-up and a read, and instances of a pool (which do not hear each
//! other's wake-ups) also look every [`POLL`].

use std::time::Duration;

use tokio::sync::watch;

/// How often a reader looks in the store without a wake-up (another instance's writes).
pub const POLL: Duration = Duration::from_secs(1);

/// The wake-up signal: a counter bumped after every commit that made notifications; and the
/// end of the streams when the server shuts down.
pub struct Events {
    tx: watch::Sender<u64>,
    closing: watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
            closing: watch::Sender::new(false),
        }
    }
}

impl Events {
    /// Wakes every reader.
    pub fn notified(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver whose `changed()` completes after the next [`Events::notified`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Ends every stream (the server is shutting down: a graceful shutdown waits for open
    /// requests, and a stream would otherwise last until its token expires). Clients
    /// reconnect with their last event id.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Completes once [`Events::close`] was called (at once if it was already).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }
}

/// Waits for a wake-up or [`POLL`], whichever comes first.
pub async fn wait(rx: &mut watch::Receiver<u64>) {
    let _ = tokio::time::timeout(POLL, rx.changed()).await;
}
