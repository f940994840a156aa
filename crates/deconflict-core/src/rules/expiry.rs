//! The purge of ended entities. It runs as an ordinary write, so it can never remove something
//! a concurrent write has just extended.

use std::sync::Arc;

use crate::error::Result;
use crate::model::Timestamp;
use crate::store::{Change, Expired, Tx};

/// Deletes what in `expired` has still ended before `cutoff`, and unlinks purged intents from
/// the subscriptions that outlive them. Returns how many entities were removed.
pub fn purge(tx: &mut dyn Tx, expired: &Expired, cutoff: Timestamp) -> Result<usize> {
    let mut removed = 0;
    for id in &expired.operational_intents {
        let Some(oi) = tx.operational_intent(*id)? else {
            continue;
        };
        if oi.extents.end >= cutoff {
            continue;
        }
        if let Some(sid) = oi.subscription_id {
            if let Some(sub) = tx.subscription(sid)? {
                let mut s = (*sub).clone();
                s.dependent_operational_intents.retain(|d| d != id);
                tx.apply(Change::PutSubscription(Arc::new(s)))?;
            }
        }
        tx.apply(Change::DeleteOperationalIntent(*id))?;
        removed += 1;
    }
    for id in &expired.constraints {
        if tx.constraint(*id)?.is_some_and(|c| c.extents.end < cutoff) {
            tx.apply(Change::DeleteConstraint(*id))?;
            removed += 1;
        }
    }
    for id in &expired.subscriptions {
        if tx
            .subscription(*id)?
            .is_some_and(|s| s.extents.end < cutoff)
        {
            tx.apply(Change::DeleteSubscription(*id))?;
            removed += 1;
        }
    }
    Ok(removed)
}
