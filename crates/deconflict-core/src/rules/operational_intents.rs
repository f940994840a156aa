//! Operational intent references: query, get, create, update, delete.

use std::collections::HashSet;
use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use super::{
    availability_of, existing, for_change, get_answer, live, notify_subscribers, query_answer,
    AvailabilityCache, Caller, JsonBody,
};
use crate::error::{DssError, Result};
use crate::ids::{random_token, EntityId, Ovn};
use crate::model::{Availability, Extents, OiState, OperationalIntent, Subscription, Timestamp};
use crate::names::Name;
use crate::present;
use crate::store::{Change, ReadTx, Tx};
use crate::wire;

/// A parsed create (`old_ovn: None`) or update request.
#[derive(Debug, Clone)]
pub struct PutOperationalIntent {
    pub id: EntityId,
    pub old_ovn: Option<String>,
    pub extents: Extents,
    pub key: HashSet<String>,
    pub state: OiState,
    pub uss_base_url: String,
    pub subscription_id: Option<EntityId>,
    pub new_subscription: Option<ImplicitSubscription>,
    /// A validated `{entityid}_{requested_ovn_suffix}`.
    pub requested_ovn: Option<Ovn>,
}

#[derive(Debug, Clone)]
pub struct ImplicitSubscription {
    pub uss_base_url: String,
    pub notify_for_constraints: bool,
}

/// Whether the spec lets an intent go from `from` (`None`: it does not exist yet) to `to`.
/// Contingent "must transition to Ended", that is, it can only be updated as Contingent or
/// deleted; a new intent starts Accepted or Activated.
pub fn transition_allowed(from: Option<OiState>, to: OiState) -> bool {
    use OiState::*;
    match from {
        None => matches!(to, Accepted | Activated),
        Some(Accepted) => true,
        Some(Activated) | Some(Nonconforming) => !matches!(to, Accepted),
        Some(Contingent) => to == Contingent,
    }
}

pub fn query(
    tx: &dyn ReadTx,
    caller: &Caller,
    area: &[PreparedVolume],
    now: Timestamp,
    max_results: usize,
) -> Result<JsonBody> {
    query_answer(
        tx,
        caller,
        tx.operational_intents_in(area)?,
        now,
        max_results,
    )
}

pub fn get(
    tx: &dyn ReadTx,
    caller: &Caller,
    id: EntityId,
    now: Timestamp,
) -> Result<wire::OperationalIntentReference> {
    get_answer(tx, caller, tx.operational_intent(id)?, id, now)
}

pub fn put(
    tx: &mut dyn Tx,
    caller: &Caller,
    req: &PutOperationalIntent,
    now: Timestamp,
) -> Result<(wire::ChangeOperationalIntentReferenceResponse, bool)> {
    let id = req.id;
    let old = existing(
        tx.operational_intent(id)?,
        caller,
        id,
        req.old_ovn.as_deref(),
        now,
    )?;
    let old_state = old.as_ref().map(|o| o.state);
    if !transition_allowed(old_state, req.state) {
        return Err(DssError::bad(
            "state",
            match old_state {
                None => format!(
                    "a new operational intent must be Accepted or Activated, not {}",
                    req.state.as_str()
                ),
                Some(s) => format!(
                    "an operational intent may not go from {} to {}",
                    s.as_str(),
                    req.state.as_str()
                ),
            },
        ));
    }
    if req.state.requires_key() && availability_of(tx, &caller.manager)? == Availability::Down {
        return Err(DssError::PreconditionFailed(format!(
            "{} is marked Down; it may not put an operational intent in state {}",
            caller.manager,
            req.state.as_str()
        )));
    }

    // Which subscription will keep the manager informed.
    let mut created_subs = HashSet::new();
    let subscription =
        resolve_subscription(tx, caller, req, old.as_deref(), now, &mut created_subs)?;

    if req.state.requires_key() {
        check_key(tx, caller, req, subscription.as_deref(), now)?;
    }

    let ovn = match &req.requested_ovn {
        Some(ovn) if old.as_ref().is_some_and(|o| &o.ovn == ovn) => {
            return Err(DssError::bad(
                "requested_ovn_suffix",
                "the requested OVN is the current one; an OVN must change on every write",
            ))
        }
        Some(ovn) => ovn.clone(),
        None => Ovn::random(),
    };
    let oi = Arc::new(OperationalIntent {
        id,
        manager: Name::new(&caller.manager),
        version: old.as_ref().map_or(1, |o| o.version.saturating_add(1)),
        ovn,
        state: req.state,
        uss_base_url: Name::new(&req.uss_base_url),
        subscription_id: subscription.as_ref().map(|s| s.id),
        extents: req.extents.clone(),
    });

    // Link the intent to its subscription, unlinking it from the previous one.
    if let Some(prev) = old.as_ref().and_then(|o| o.subscription_id) {
        if Some(prev) != oi.subscription_id {
            unlink(tx, prev, id)?;
        }
    }
    if let Some(sub) = &subscription {
        let mut s = (**sub).clone();
        if !s.dependent_operational_intents.contains(&id) {
            s.dependent_operational_intents.push(id);
        }
        tx.apply(Change::PutSubscription(Arc::new(s)))?;
    }
    tx.apply(Change::PutOperationalIntent(oi.clone()))?;

    let mut areas: Vec<&[PreparedVolume]> = vec![&req.extents.prepared];
    if let Some(o) = &old {
        areas.push(&o.extents.prepared);
    }
    let subscribers = notify_subscribers(
        tx,
        &areas,
        now,
        |s| s.notify_for_operational_intents,
        &created_subs,
    )?;
    let reference =
        present::operational_intent(&oi, &caller.manager, availability_of(tx, &caller.manager)?);
    Ok((
        wire::ChangeOperationalIntentReferenceResponse {
            subscribers,
            operational_intent_reference: reference,
        },
        old.is_none(),
    ))
}

/// The subscription an intent will have after this write, created or reshaped as needed.
/// Ids of subscriptions created here go to `created`: they need no notification of the write
/// that made them.
fn resolve_subscription(
    tx: &mut dyn Tx,
    caller: &Caller,
    req: &PutOperationalIntent,
    old: Option<&OperationalIntent>,
    now: Timestamp,
    created: &mut HashSet<EntityId>,
) -> Result<Option<Arc<Subscription>>> {
    if let Some(sid) = req.subscription_id {
        let sub = tx
            .subscription(sid)?
            .filter(|s| s.extents.is_live(now))
            .ok_or_else(|| {
                DssError::bad(
                    "subscription_id",
                    format!("subscription {sid} does not exist"),
                )
            })?;
        if sub.manager != caller.manager {
            return Err(DssError::Forbidden(format!(
                "subscription_id: subscription {sid} is managed by another party"
            )));
        }
        if !sub.notify_for_operational_intents {
            return Err(DssError::bad(
                "subscription_id",
                format!("subscription {sid} must notify for operational intents"),
            ));
        }
        // An implicit subscription serving only this intent follows its extents; any other
        // must already cover them.
        if sub.implicit
            && sub
                .dependent_operational_intents
                .iter()
                .all(|d| *d == req.id)
        {
            return Ok(Some(reshape_implicit(&sub, &req.extents)));
        }
        if !covers(&sub.extents, &req.extents) {
            return Err(DssError::bad(
                "subscription_id",
                format!("subscription {sid} does not cover the extents of this operational intent"),
            ));
        }
        return Ok(Some(sub));
    }
    if let Some(params) = &req.new_subscription {
        if params.notify_for_constraints && !caller.constraint_processing {
            return Err(DssError::Forbidden(
                "new_subscription.notify_for_constraints: the utm.constraint_processing scope is required to set it".into(),
            ));
        }
        // An intent that already has an implicit subscription keeps it, reshaped.
        if let Some(prev) = old.and_then(|o| o.subscription_id) {
            if let Some(sub) = tx.subscription(prev)?.filter(|s| s.implicit) {
                let mut s = (*reshape_implicit(&sub, &req.extents)).clone();
                s.uss_base_url = Name::new(&params.uss_base_url);
                s.notify_for_constraints = params.notify_for_constraints;
                return Ok(Some(Arc::new(s)));
            }
        }
        let sub = Arc::new(Subscription {
            id: EntityId::new_random(),
            manager: Name::new(&caller.manager),
            version: random_token(8),
            notification_index: 0,
            uss_base_url: Name::new(&params.uss_base_url),
            notify_for_operational_intents: true,
            notify_for_constraints: params.notify_for_constraints,
            implicit: true,
            dependent_operational_intents: Vec::new(),
            extents: req.extents.clone(),
        });
        created.insert(sub.id);
        return Ok(Some(sub));
    }
    // Neither given: an update keeps the subscription it had.
    if let Some(prev) = old.and_then(|o| o.subscription_id) {
        if let Some(sub) = tx.subscription(prev)?.filter(|s| s.extents.is_live(now)) {
            if sub.implicit {
                return Ok(Some(reshape_implicit(&sub, &req.extents)));
            }
            if covers(&sub.extents, &req.extents) {
                return Ok(Some(sub));
            }
            return Err(DssError::bad(
                "subscription_id",
                format!("subscription {prev} no longer covers the new extents; give a subscription_id or new_subscription"),
            ));
        }
    }
    if req.state.requires_subscription() {
        return Err(DssError::bad(
            "new_subscription",
            format!(
                "an operational intent in state {} needs a subscription: give subscription_id or new_subscription",
                req.state.as_str()
            ),
        ));
    }
    Ok(None)
}

/// An implicit subscription follows the extents of its intent.
fn reshape_implicit(sub: &Subscription, extents: &Extents) -> Arc<Subscription> {
    let mut s = sub.clone();
    s.extents = extents.clone();
    Arc::new(s)
}

/// Whether a subscription's extents cover every volume of `inner` in space, altitude and time.
pub(crate) fn covers(outer: &Extents, inner: &Extents) -> bool {
    inner
        .prepared
        .iter()
        .all(|v| outer.prepared.iter().any(|o| deconflict_geo::covers(o, v)))
}

/// Removes `oi` from the dependents of `sub_id`; an implicit subscription left with no
/// dependents is deleted with it.
fn unlink(tx: &mut dyn Tx, sub_id: EntityId, oi: EntityId) -> Result<()> {
    let Some(sub) = tx.subscription(sub_id)? else {
        return Ok(());
    };
    let mut s = (*sub).clone();
    s.dependent_operational_intents.retain(|d| *d != oi);
    if s.implicit && s.dependent_operational_intents.is_empty() {
        tx.apply(Change::DeleteSubscription(sub_id))
    } else {
        tx.apply(Change::PutSubscription(Arc::new(s)))
    }
}

/// The key must hold the OVN of every live Accepted or Activated intent the new extents touch
/// and, when the intent's subscription processes constraints, of every live constraint too.
fn check_key(
    tx: &dyn Tx,
    caller: &Caller,
    req: &PutOperationalIntent,
    subscription: Option<&Subscription>,
    now: Timestamp,
) -> Result<()> {
    let processes_constraints = subscription.is_some_and(|s| s.notify_for_constraints);
    let (missing_ois, missing_constraints) = missing_from_key(
        tx,
        req.id,
        &req.extents,
        &req.key,
        processes_constraints,
        now,
    )?;
    if missing_ois.is_empty() && missing_constraints.is_empty() {
        return Ok(());
    }
    let mut avail = AvailabilityCache::new(tx);
    let mut resp = wire::AirspaceConflictResponse {
        message: format!(
            "key: missing the OVNs of {} operational intent(s) and {} constraint(s) that intersect these extents; obtain them from their managers and retry",
            missing_ois.len(),
            missing_constraints.len()
        ),
        ..Default::default()
    };
    for oi in &missing_ois {
        resp.missing_operational_intents
            .push(present::operational_intent(
                oi,
                &caller.manager,
                avail.get(&oi.manager)?,
            ));
    }
    for c in &missing_constraints {
        resp.missing_constraints.push(present::constraint(
            c,
            &caller.manager,
            avail.get(&c.manager)?,
        ));
    }
    Err(DssError::AirspaceConflict(Box::new(resp)))
}

/// What the key of intent `id` with `extents` must hold and `key` lacks: the live Accepted or
/// Activated intents those extents touch and, when `processes_constraints`, the live
/// constraints.
#[allow(clippy::type_complexity)]
fn missing_from_key(
    tx: &dyn ReadTx,
    id: EntityId,
    extents: &Extents,
    key: &HashSet<String>,
    processes_constraints: bool,
    now: Timestamp,
) -> Result<(
    Vec<Arc<OperationalIntent>>,
    Vec<Arc<crate::model::Constraint>>,
)> {
    // Whatever the key holds needs no geometric test: only the others can be missing.
    let area = &extents.prepared;
    let ois = live(
        tx.operational_intents_in_where(area, &|oi| {
            oi.id != id && oi.state.requires_key() && !key.contains(oi.ovn.as_str())
        })?,
        now,
    );
    let constraints = if processes_constraints {
        live(
            tx.constraints_in_where(area, &|c| !key.contains(c.ovn.as_str()))?,
            now,
        )
    } else {
        Vec::new()
    };
    Ok((ois, constraints))
}

/// The complete key for intent `id` with `extents` now: the OVNs of everything the key check
/// requires (constraints too when `processes_constraints`). For a writer that sees the whole
/// DSS itself, such as deconflict publishing a movement on a party's behalf.
pub fn complete_key(
    tx: &dyn ReadTx,
    id: EntityId,
    extents: &Extents,
    processes_constraints: bool,
    now: Timestamp,
) -> Result<HashSet<String>> {
    let (ois, constraints) =
        missing_from_key(tx, id, extents, &HashSet::new(), processes_constraints, now)?;
    Ok(ois
        .iter()
        .map(|o| o.ovn.to_string())
        .chain(constraints.iter().map(|c| c.ovn.to_string()))
        .collect())
}

pub fn delete(
    tx: &mut dyn Tx,
    caller: &Caller,
    id: EntityId,
    ovn: &str,
    now: Timestamp,
) -> Result<wire::ChangeOperationalIntentReferenceResponse> {
    let old = for_change(tx.operational_intent(id)?, caller, id, ovn, now)?;
    if availability_of(tx, &caller.manager)? == Availability::Down {
        return Err(DssError::PreconditionFailed(format!(
            "{} is marked Down; it may not delete operational intents",
            caller.manager
        )));
    }
    let mut removed = HashSet::new();
    if let Some(sid) = old.subscription_id {
        unlink(tx, sid, id)?;
        if tx.subscription(sid)?.is_none() {
            removed.insert(sid);
        }
    }
    tx.apply(Change::DeleteOperationalIntent(id))?;
    let subscribers = notify_subscribers(
        tx,
        &[&old.extents.prepared],
        now,
        |s| s.notify_for_operational_intents,
        &removed,
    )?;
    Ok(wire::ChangeOperationalIntentReferenceResponse {
        subscribers,
        operational_intent_reference: present::operational_intent(
            &old,
            &caller.manager,
            availability_of(tx, &caller.manager)?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OiState::*;

    #[test]
    fn transitions_follow_the_state_diagram() {
        assert!(transition_allowed(None, Accepted));
        assert!(transition_allowed(None, Activated));
        assert!(!transition_allowed(None, Nonconforming));
        assert!(!transition_allowed(None, Contingent));
        for to in [Accepted, Activated, Nonconforming, Contingent] {
            assert!(transition_allowed(Some(Accepted), to));
        }
        assert!(!transition_allowed(Some(Activated), Accepted));
        assert!(transition_allowed(Some(Activated), Nonconforming));
        assert!(transition_allowed(Some(Nonconforming), Activated));
        assert!(transition_allowed(Some(Contingent), Contingent));
        assert!(!transition_allowed(Some(Contingent), Activated));
        assert!(!transition_allowed(Some(Contingent), Nonconforming));
    }
}
