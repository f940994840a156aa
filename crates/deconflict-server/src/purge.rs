//! The background purge of ended entities. It is an ordinary write through the store's group
//! commit, so it neither blocks requests nor bypasses the rules; the grace period keeps an
//! entity a little past its end, so that a client whose clock is slightly behind can still
//! reach what it just saw.

use std::time::Duration;

use chrono::TimeDelta;
use deconflict_core::rules::expiry;
use deconflict_core::store;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::state::{blocking, AppState};

/// Removes what ended more than `grace` ago. Returns how many entities were removed.
pub async fn purge_once(state: &AppState, grace: Duration) -> Result<usize, ApiError> {
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    let cutoff = state
        .now()
        .checked_sub_signed(grace)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let store = state.store.clone();
    blocking(move || {
        let expired = store.expired(cutoff)?;
        if expired.is_empty() {
            return Ok(0);
        }
        store::write(&*store, |tx| expiry::purge(tx, &expired, cutoff))
    })
    .await
}

/// Runs [`purge_once`] every `interval` until the returned task is aborted. Failures are
/// logged and retried at the next tick.
pub fn spawn(state: AppState, interval: Duration, grace: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match purge_once(&state, grace).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "purged ended entities"),
                Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
            }
        }
    })
}
