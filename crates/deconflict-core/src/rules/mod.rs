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

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use crate::error::DssError;
use crate::error::Result;
use crate::ids::{EntityId, Ovn};
use crate::model::{Availability, Constraint, Located, OperationalIntent, Subscription, Timestamp};
use crate::names::Name;
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

/// Looks availabilities up once per manager while presenting a list. foldhash, seeded per
/// process, rather than SipHash: every query answer hashes its managers' names here.
pub(crate) struct AvailabilityCache<'a> {
    tx: &'a dyn ReadTx,
    seen: foldhash::HashMap<Name, Availability>,
}

impl<'a> AvailabilityCache<'a> {
    pub(crate) fn new(tx: &'a dyn ReadTx) -> Self {
        Self {
            tx,
            seen: foldhash::HashMap::default(),
        }
    }
    pub(crate) fn get(&mut self, uss: &Name) -> Result<Availability> {
        if let Some(a) = self.seen.get(uss) {
            return Ok(*a);
        }
        let a = availability_of(self.tx, uss)?;
        self.seen.insert(uss.clone(), a);
        Ok(a)
    }
}

/// Live entities of `found`, deduplicated, in a stable order.
pub(crate) fn live<E: Located>(mut found: Vec<Arc<E>>, now: Timestamp) -> Vec<Arc<E>> {
    found.retain(|e| e.extents().is_live(now));
    found.sort_unstable_by_key(|e| e.id());
    found.dedup_by_key(|e| e.id());
    found
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
            .entry(bumped.uss_base_url.to_string())
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

/// An entity a manager owns and an OVN versions: operational intents and constraints.
pub(crate) trait Owned: Located {
    const KIND: &'static str;
    /// What a query answers with for this kind.
    type Reference;
    fn manager(&self) -> &Name;
    fn ovn(&self) -> &Ovn;
    /// The field of a query answer that lists the references.
    const ANSWER_FIELD: &'static str;
    /// The reference as `viewer` may see it.
    fn reference(&self, viewer: &str, availability: Availability) -> Self::Reference;
    /// Appends the JSON of [`Owned::reference`].
    fn write_reference(
        &self,
        out: &mut Vec<u8>,
        viewer: &str,
        availability: Availability,
    ) -> std::io::Result<()>;
}

impl Owned for OperationalIntent {
    const KIND: &'static str = "operational intent";
    type Reference = wire::OperationalIntentReference;
    const ANSWER_FIELD: &'static str = "operational_intent_references";
    fn reference(&self, viewer: &str, availability: Availability) -> Self::Reference {
        crate::present::operational_intent(self, viewer, availability)
    }
    fn write_reference(
        &self,
        out: &mut Vec<u8>,
        viewer: &str,
        availability: Availability,
    ) -> std::io::Result<()> {
        crate::present::write_operational_intent(out, self, viewer, availability)
    }
    fn manager(&self) -> &Name {
        &self.manager
    }
    fn ovn(&self) -> &Ovn {
        &self.ovn
    }
}

impl Owned for Constraint {
    const KIND: &'static str = "constraint";
    type Reference = wire::ConstraintReference;
    const ANSWER_FIELD: &'static str = "constraint_references";
    fn reference(&self, viewer: &str, availability: Availability) -> Self::Reference {
        crate::present::constraint(self, viewer, availability)
    }
    fn write_reference(
        &self,
        out: &mut Vec<u8>,
        viewer: &str,
        availability: Availability,
    ) -> std::io::Result<()> {
        crate::present::write_constraint(out, self, viewer, availability)
    }
    fn manager(&self) -> &Name {
        &self.manager
    }
    fn ovn(&self) -> &Ovn {
        &self.ovn
    }
}

/// `found` if it is live, else 404.
pub(crate) fn live_or_404<E: Owned>(
    found: Option<Arc<E>>,
    id: EntityId,
    now: Timestamp,
) -> Result<Arc<E>> {
    found
        .filter(|e| e.extents().is_live(now))
        .ok_or_else(|| DssError::NotFound(format!("{} {id} not found", E::KIND)))
}

/// What a create (`old_ovn: None`) or an update finds: nothing live for a create (409
/// otherwise); for an update, as [`for_change`].
pub(crate) fn existing<E: Owned>(
    found: Option<Arc<E>>,
    caller: &Caller,
    id: EntityId,
    old_ovn: Option<&str>,
    now: Timestamp,
) -> Result<Option<Arc<E>>> {
    match old_ovn {
        Some(ovn) => for_change(found, caller, id, ovn, now).map(Some),
        None if found.is_some_and(|e| e.extents().is_live(now)) => {
            Err(DssError::Conflict(format!(
                "{} {id} already exists; update it at /{id}/{{ovn}}",
                E::KIND
            )))
        }
        None => Ok(None),
    }
}

/// The live entity an update or delete names: managed by the caller (403, checked first so that
/// others learn nothing of the OVN) and at `ovn` (409).
pub(crate) fn for_change<E: Owned>(
    found: Option<Arc<E>>,
    caller: &Caller,
    id: EntityId,
    ovn: &str,
    now: Timestamp,
) -> Result<Arc<E>> {
    let e = live_or_404(found, id, now)?;
    if *e.manager() != caller.manager {
        return Err(DssError::Forbidden(format!(
            "{} {id} is managed by another party; only its manager may change it",
            E::KIND
        )));
    }
    if e.ovn().as_str() != ovn {
        return Err(DssError::Conflict(format!(
            "ovn: {ovn} is not the current OVN of {} {id}; read it again",
            E::KIND
        )));
    }
    Ok(e)
}

/// The answer to a query, as the JSON body of the `Query...ReferenceResponse` of `E`: the live
/// entities of `found` as `caller` may see them, or 413 when there are more than
/// `max_results` (a truncated answer would hide entities).
pub(crate) fn query_answer<E: Owned>(
    tx: &dyn ReadTx,
    caller: &Caller,
    found: Vec<Arc<E>>,
    now: Timestamp,
    max_results: usize,
) -> Result<JsonBody> {
    let found = live(found, now);
    if found.len() > max_results {
        return Err(DssError::TooLarge {
            field: "area_of_interest".into(),
            rule: format!(
                "the area holds more than {max_results} {}s; query a smaller area",
                E::KIND
            ),
        });
    }
    let mut avail = AvailabilityCache::new(tx);
    // About 400 bytes per reference.
    let mut out = Vec::with_capacity(64 + 448 * found.len());
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(E::ANSWER_FIELD.as_bytes());
    out.extend_from_slice(b"\":[");
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        e.write_reference(&mut out, &caller.manager, avail.get(e.manager())?)
            .map_err(|err| DssError::Internal(format!("writing a query answer: {err}")))?;
    }
    out.extend_from_slice(b"]}");
    Ok(JsonBody(out))
}

/// A response body that is already JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody(pub Vec<u8>);

/// The live entity `found` for `id` as `caller` may see it, or 404.
pub(crate) fn get_answer<E: Owned>(
    tx: &dyn ReadTx,
    caller: &Caller,
    found: Option<Arc<E>>,
    id: EntityId,
    now: Timestamp,
) -> Result<E::Reference> {
    let e = live_or_404(found, id, now)?;
    Ok(e.reference(&caller.manager, availability_of(tx, e.manager())?))
}
