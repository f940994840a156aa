//! The F3548 DSS rules, as plain functions over a storage transaction.
//!
//! Each write function reads what it needs through the transaction, decides, and records its
//! changes in the same transaction, so the backend can commit check and write atomically.

pub mod availability;
pub mod constraints;
pub mod expiry;
pub mod operational_intents;
pub mod reports;
pub mod subscriptions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use crate::error::Result;
use crate::ids::EntityId;
use crate::model::{Availability, Located, Subscription, Timestamp};
use crate::store::{Change, ReadTx, Tx};
use crate::wire;

/// Who is calling, from the verified token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The JWT `sub`: the manager of what it writes.
    pub manager: String,
    pub strategic_coordination: bool,
    pub constraint_processing: bool,
}

/// The availability of `uss`, Unknown when never set.
pub(crate) fn availability_of(tx: &dyn ReadTx, uss: &str) -> Result<Availability> {
    Ok(tx
        .availability(uss)?
        .map(|a| a.availability)
        .unwrap_or(Availability::Unknown))
}

/// Looks availabilities up once per manager while presenting a list.
pub(crate) struct AvailabilityCache<'a> {
    tx: &'a dyn ReadTx,
    seen: HashMap<String, Availability>,
}

impl<'a> AvailabilityCache<'a> {
    pub(crate) fn new(tx: &'a dyn ReadTx) -> Self {
        Self {
            tx,
            seen: HashMap::new(),
        }
    }
    pub(crate) fn get(&mut self, uss: &str) -> Result<Availability> {
        if let Some(a) = self.seen.get(uss) {
            return Ok(*a);
        }
        let a = availability_of(self.tx, uss)?;
        self.seen.insert(uss.to_owned(), a);
        Ok(a)
    }
}

/// Live entities of `found`, deduplicated, in a stable order.
pub(crate) fn live<E: Located>(found: Vec<Arc<E>>, now: Timestamp) -> Vec<Arc<E>> {
    let mut seen = HashSet::new();
    let mut out: Vec<Arc<E>> = found
        .into_iter()
        .filter(|e| e.extents().is_live(now) && seen.insert(e.id()))
        .collect();
    out.sort_by_key(|e| e.id());
    out
}

/// Finds the live subscriptions that `wants` a change touching any of `areas`, increments each
/// one's notification index exactly once, and groups them by the URL to notify.
pub(crate) fn notify_subscribers(
    tx: &mut dyn Tx,
    areas: &[&[PreparedVolume]],
    now: Timestamp,
    wants: fn(&Subscription) -> bool,
    skip: &HashSet<EntityId>,
) -> Result<Vec<wire::SubscriberToNotify>> {
    let mut found = Vec::new();
    for area in areas {
        found.extend(tx.subscriptions_in(area)?);
    }
    let mut by_url: BTreeMap<String, Vec<wire::SubscriptionState>> = BTreeMap::new();
    for sub in live(found, now) {
        if !wants(&sub) || skip.contains(&sub.id) {
            continue;
        }
        let mut bumped = (*sub).clone();
        bumped.notification_index = bumped.notification_index.saturating_add(1);
        by_url
            .entry(bumped.uss_base_url.clone())
            .or_default()
            .push(wire::SubscriptionState {
                subscription_id: bumped.id.to_string(),
                notification_index: bumped.notification_index,
            });
        tx.apply(Change::PutSubscription(Arc::new(bumped)))?;
    }
    Ok(by_url
        .into_iter()
        .map(|(uss_base_url, subscriptions)| wire::SubscriberToNotify {
            subscriptions,
            uss_base_url,
        })
        .collect())
}
