//! The webhook outbox: each party's notifications are its outbox, in sequence order, and a
//! cursor per party (a [`Document`] of kind [`KIND`]) says up to which sequence number its
//! webhook has answered 2xx. The cursor moves only after a delivery succeeded, in a store
//! transaction, so a restart or a crash at any moment loses nothing: the deliverer starts
//! again after the cursor (a delivery that succeeded just before a crash may be sent once
//! more; receivers tell repeats by the notification id).
//!
//! The instances of a pool take turns: a deliverer first claims the party's lease (its
//! instance id and an expiry, in the cursor) and only the holder moves the cursor.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use deconflict_core::model::Document;
use deconflict_core::store::{Change, ReadTx, Tx};
use deconflict_core::DssError;
use serde::{Deserialize, Serialize};

use crate::publish::stored;

/// The document kind of the cursors, one per party (id: the party).
pub const KIND: &str = "webhook-cursor";

/// Where a party's webhook deliveries stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last sequence number delivered (answered 2xx); 0 before the first.
    pub delivered: u64,
    /// The last sequence number whose log receipt was delivered, at most `delivered` (0 in a
    /// cursor written before receipts were: they are all sent then).
    #[serde(default)]
    pub receipted: u64,
    /// The instance delivering now, and until when its claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// The cursor of `party`'s webhook.
pub fn cursor(tx: &dyn ReadTx, party: &str) -> Result<Cursor, DssError> {
    Ok(stored(tx, KIND, party)?.unwrap_or_default())
}

fn put(tx: &mut dyn Tx, party: &str, c: &Cursor) -> Result<(), DssError> {
    tx.apply(Change::PutDocument(Arc::new(Document {
        kind: KIND.to_owned(),
        id: party.to_owned(),
        owner: party.to_owned(),
        body: crate::to_body(c)?,
    })))
}

/// Claims `party`'s deliveries for `instance` until `now + lease`, unless another instance
/// holds an unexpired claim. Returns the last sequence number delivered if claimed.
pub fn claim(
    tx: &mut dyn Tx,
    party: &str,
    instance: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<u64>, DssError> {
    let mut c = cursor(tx, party)?;
    let held_by_other =
        c.holder.as_deref().is_some_and(|h| h != instance) && c.until.is_some_and(|u| u > now);
    if held_by_other {
        return Ok(None);
    }
    c.holder = Some(instance.to_owned());
    c.until = Some(now + lease);
    put(tx, party, &c)?;
    Ok(Some(c.delivered))
}

/// Records that `party`'s webhook accepted the notifications up to `seq` and the receipts up
/// to `receipted`, if `instance` still holds the claim (and extends it); false if it lost it,
/// and then nothing is written.
pub fn delivered(
    tx: &mut dyn Tx,
    party: &str,
    instance: &str,
    (seq, receipted): (u64, u64),
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, DssError> {
    let mut c = cursor(tx, party)?;
    if c.holder.as_deref() != Some(instance) {
        return Ok(false);
    }
    c.delivered = c.delivered.max(seq);
    c.receipted = c.receipted.max(receipted).min(c.delivered);
    c.until = Some(now + lease);
    put(tx, party, &c)?;
    Ok(true)
}

/// The pause before retry number `attempt` (1 after the first failure): `base` doubled each
/// time up to `cap`, then scaled by `jitter` in [0.5, 1] so that deliverers do not retry in
/// step.
pub fn backoff(
    attempt: u32,
    base: std::time::Duration,
    cap: std::time::Duration,
    jitter: f64,
) -> std::time::Duration {
    let doubled = base.saturating_mul(
        1u32.checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX),
    );
    doubled.min(cap).mul_f64(jitter.clamp(0.5, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::commit;
    use deconflict_core::memstate::MemState;
    use std::time::Duration as Std;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn one_instance_at_a_time_moves_the_cursor() {
        let mut mem = MemState::default();
        let lease = Duration::seconds(30);
        let got = commit(&mut mem, |tx| claim(tx, "ngo", "a", now(), lease).unwrap());
        assert_eq!(got, Some(0));
        assert_eq!(
            commit(&mut mem, |tx| claim(tx, "ngo", "b", now(), lease).unwrap()),
            None,
            "b waits while a holds it"
        );
        assert!(commit(&mut mem, |tx| {
            delivered(tx, "ngo", "a", (3, 2), now(), lease).unwrap()
        }));
        assert!(!commit(&mut mem, |tx| {
            delivered(tx, "ngo", "b", (9, 9), now(), lease).unwrap()
        }));
        assert_eq!(cursor(&mem, "ngo").unwrap().delivered, 3);
        assert_eq!(cursor(&mem, "ngo").unwrap().receipted, 2);
        // Once a's claim has run out, b takes over where a stopped.
        let later = now() + Duration::seconds(31);
        assert_eq!(
            commit(&mut mem, |tx| claim(tx, "ngo", "b", later, lease).unwrap()),
            Some(3)
        );
        assert!(!commit(&mut mem, |tx| {
            delivered(tx, "ngo", "a", (4, 4), later, lease).unwrap()
        }));
        // Never backwards.
        assert!(commit(&mut mem, |tx| {
            delivered(tx, "ngo", "b", (2, 1), later, lease).unwrap()
        }));
        let c = cursor(&mem, "ngo").unwrap();
        assert_eq!((c.delivered, c.receipted), (3, 2));
    }

    #[test]
    fn a_cursor_written_before_receipts_sends_them_all() {
        let old: Cursor = crate::from_body(KIND, r#"{"delivered":4}"#).unwrap();
        assert_eq!((old.delivered, old.receipted), (4, 0));
    }

    #[test]
    fn the_backoff_doubles_up_to_the_cap_with_jitter() {
        let (base, cap) = (Std::from_secs(1), Std::from_secs(60));
        let full: Vec<_> = (1..=8)
            .map(|a| backoff(a, base, cap, 1.0).as_secs())
            .collect();
        assert_eq!(full, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1, base, cap, 0.5), Std::from_millis(500));
        assert_eq!(
            backoff(1, base, cap, 0.0),
            Std::from_millis(500),
            "at least half"
        );
        assert_eq!(backoff(200, base, cap, 1.0), cap);
    }
}
