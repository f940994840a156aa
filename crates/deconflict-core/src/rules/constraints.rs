//! Constraint references: query, get, create, update, delete.

use std::collections::HashSet;
use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use super::{
    availability_of, existing, for_change, get_answer, notify_subscribers, query_answer, Caller,
    JsonBody,
};
use crate::error::Result;
use crate::ids::{EntityId, Ovn};
use crate::model::{Constraint, Extents, Timestamp};
use crate::names::Name;
use crate::present;
use crate::store::{Change, ReadTx, Tx};
use crate::wire;

#[derive(Debug, Clone)]
pub struct PutConstraint {
    pub id: EntityId,
    pub old_ovn: Option<String>,
    pub extents: Extents,
    pub uss_base_url: String,
}

pub fn query(
    tx: &dyn ReadTx,
    caller: &Caller,
    area: &[PreparedVolume],
    now: Timestamp,
    max_results: usize,
) -> Result<JsonBody> {
    query_answer(tx, caller, tx.constraints_in(area)?, now, max_results)
}

pub fn get(
    tx: &dyn ReadTx,
    caller: &Caller,
    id: EntityId,
    now: Timestamp,
) -> Result<wire::ConstraintReference> {
    get_answer(tx, caller, tx.constraint(id)?, id, now)
}

/// Creates or updates; the flag says whether it was created.
pub fn put(
    tx: &mut dyn Tx,
    caller: &Caller,
    req: &PutConstraint,
    now: Timestamp,
) -> Result<(wire::ChangeConstraintReferenceResponse, bool)> {
    let id = req.id;
    let old = existing(tx.constraint(id)?, caller, id, req.old_ovn.as_deref(), now)?;
    let c = Arc::new(Constraint {
        id,
        manager: Name::new(&caller.manager),
        version: old.as_ref().map_or(1, |o| o.version.saturating_add(1)),
        ovn: Ovn::random(),
        uss_base_url: Name::new(&req.uss_base_url),
        extents: req.extents.clone(),
    });
    tx.apply(Change::PutConstraint(c.clone()))?;
    let mut areas: Vec<&[PreparedVolume]> = vec![&req.extents.prepared];
    if let Some(o) = &old {
        areas.push(&o.extents.prepared);
    }
    let subscribers = notify_subscribers(
        tx,
        &areas,
        now,
        |s| s.notify_for_constraints,
        &HashSet::new(),
    )?;
    Ok((
        wire::ChangeConstraintReferenceResponse {
            subscribers,
            constraint_reference: present::constraint(
                &c,
                &caller.manager,
                availability_of(tx, &caller.manager)?,
            ),
        },
        old.is_none(),
    ))
}

pub fn delete(
    tx: &mut dyn Tx,
    caller: &Caller,
    id: EntityId,
    ovn: &str,
    now: Timestamp,
) -> Result<wire::ChangeConstraintReferenceResponse> {
    let old = for_change(tx.constraint(id)?, caller, id, ovn, now)?;
    tx.apply(Change::DeleteConstraint(id))?;
    let subscribers = notify_subscribers(
        tx,
        &[&old.extents.prepared],
        now,
        |s| s.notify_for_constraints,
        &HashSet::new(),
    )?;
    Ok(wire::ChangeConstraintReferenceResponse {
        subscribers,
        constraint_reference: present::constraint(
            &old,
            &caller.manager,
            availability_of(tx, &caller.manager)?,
        ),
    })
}
