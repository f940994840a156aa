//! Subscriptions: query, get, create, update, delete.

use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use super::operational_intents::covers;
use super::{live, AvailabilityCache, Caller};
use crate::error::{DssError, Result};
use crate::ids::{random_token, EntityId};
use crate::model::{Extents, Subscription, Timestamp};
use crate::names::Name;
use crate::present;
use crate::store::{Change, ReadTx, Tx};
use crate::wire;

#[derive(Debug, Clone)]
pub struct PutSubscription {
    pub id: EntityId,
    /// `None` to create.
    pub old_version: Option<String>,
    pub extents: Extents,
    pub uss_base_url: String,
    pub notify_for_operational_intents: bool,
    pub notify_for_constraints: bool,
}

/// Only the caller's own subscriptions are returned.
pub fn query(
    tx: &dyn ReadTx,
    caller: &Caller,
    area: &[PreparedVolume],
    now: Timestamp,
    max_results: usize,
) -> Result<Vec<wire::Subscription>> {
    let mine: Vec<_> = live(tx.subscriptions_in(area)?, now)
        .into_iter()
        .filter(|s| s.manager == caller.manager)
        .collect();
    if mine.len() > max_results {
        return Err(DssError::TooLarge {
            field: "area_of_interest".into(),
            rule: format!("the area holds more than {max_results} of your subscriptions; query a smaller area"),
        });
    }
    Ok(mine.iter().map(|s| present::subscription(s)).collect())
}

/// A subscription tells where a party listens: only its manager may read it.
fn find_own(
    tx: &dyn ReadTx,
    caller: &Caller,
    id: EntityId,
    now: Timestamp,
) -> Result<Arc<Subscription>> {
    let sub = tx
        .subscription(id)?
        .filter(|s| s.extents.is_live(now))
        .ok_or_else(|| DssError::NotFound(format!("subscription {id} not found")))?;
    if sub.manager != caller.manager {
        return Err(DssError::Forbidden(format!(
            "subscription {id} is managed by another party"
        )));
    }
    Ok(sub)
}

pub fn get(
    tx: &dyn ReadTx,
    caller: &Caller,
    id: EntityId,
    now: Timestamp,
) -> Result<wire::Subscription> {
    let sub = find_own(tx, caller, id, now)?;
    Ok(present::subscription(&sub))
}

pub fn put(
    tx: &mut dyn Tx,
    caller: &Caller,
    req: &PutSubscription,
    now: Timestamp,
) -> Result<wire::PutSubscriptionResponse> {
    if !req.notify_for_operational_intents && !req.notify_for_constraints {
        return Err(DssError::bad(
            "notify_for_operational_intents",
            "at least one of notify_for_operational_intents and notify_for_constraints must be true",
        ));
    }
    if req.notify_for_operational_intents && !caller.strategic_coordination {
        return Err(DssError::Forbidden(
            "notify_for_operational_intents: the utm.strategic_coordination scope is required to set it".into(),
        ));
    }
    if req.notify_for_constraints && !caller.constraint_processing {
        return Err(DssError::Forbidden(
            "notify_for_constraints: the utm.constraint_processing scope is required to set it"
                .into(),
        ));
    }
    let id = req.id;
    let old = match &req.old_version {
        None => {
            if tx.subscription(id)?.is_some_and(|s| s.extents.is_live(now)) {
                return Err(DssError::Conflict(format!(
                    "subscription {id} already exists; update it at /{id}/{{version}}"
                )));
            }
            None
        }
        Some(version) => {
            let sub = find_own(tx, caller, id, now)?;
            if &sub.version != version {
                return Err(DssError::Conflict(format!(
                    "version: {version} is not the current version of subscription {id}; read it again"
                )));
            }
            Some(sub)
        }
    };
    let dependents = old
        .as_ref()
        .map(|o| o.dependent_operational_intents.clone())
        .unwrap_or_default();
    for dep in &dependents {
        if let Some(oi) = tx
            .operational_intent(*dep)?
            .filter(|oi| oi.extents.is_live(now))
        {
            if !req.notify_for_operational_intents || !covers(&req.extents, &oi.extents) {
                return Err(DssError::bad(
                    "extents",
                    format!("operational intent {dep} depends on this subscription; the update would leave it uncovered"),
                ));
            }
        }
    }
    let sub = Arc::new(Subscription {
        id,
        manager: Name::new(&caller.manager),
        version: random_token(8),
        notification_index: old.as_ref().map_or(0, |o| o.notification_index),
        uss_base_url: Name::new(&req.uss_base_url),
        notify_for_operational_intents: req.notify_for_operational_intents,
        notify_for_constraints: req.notify_for_constraints,
        implicit: old.as_ref().is_some_and(|o| o.implicit),
        dependent_operational_intents: dependents,
        extents: req.extents.clone(),
    });
    tx.apply(Change::PutSubscription(sub.clone()))?;

    let mut avail = AvailabilityCache::new(tx);
    let mut resp = wire::PutSubscriptionResponse {
        subscription: present::subscription(&sub),
        operational_intent_references: Vec::new(),
        constraint_references: Vec::new(),
    };
    if sub.notify_for_operational_intents {
        for oi in live(tx.operational_intents_in(&sub.extents.prepared)?, now) {
            resp.operational_intent_references
                .push(present::operational_intent(
                    &oi,
                    &caller.manager,
                    avail.get(&oi.manager)?,
                ));
        }
    }
    if sub.notify_for_constraints {
        for c in live(tx.constraints_in(&sub.extents.prepared)?, now) {
            resp.constraint_references.push(present::constraint(
                &c,
                &caller.manager,
                avail.get(&c.manager)?,
            ));
        }
    }
    Ok(resp)
}

pub fn delete(
    tx: &mut dyn Tx,
    caller: &Caller,
    id: EntityId,
    version: &str,
    now: Timestamp,
) -> Result<wire::Subscription> {
    let sub = find_own(tx, caller, id, now)?;
    if sub.version != version {
        return Err(DssError::Conflict(format!(
            "version: {version} is not the current version of subscription {id}; read it again"
        )));
    }
    let mut live_dependent = None;
    for dep in &sub.dependent_operational_intents {
        if tx
            .operational_intent(*dep)?
            .is_some_and(|oi| oi.extents.is_live(now))
        {
            live_dependent = Some(*dep);
            break;
        }
    }
    if let Some(dep) = live_dependent {
        return Err(DssError::bad(
            "subscriptionid",
            format!(
                "operational intent {dep} depends on this subscription; delete or move it first"
            ),
        ));
    }
    tx.apply(Change::DeleteSubscription(id))?;
    Ok(present::subscription(&sub))
}
