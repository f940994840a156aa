//! `/dss/v1/constraint_references`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use deconflict_core::rules::constraints as rules;
use deconflict_core::{parse, wire};
use deconflict_humanitarian::conflict::Written;

use crate::error::ApiError;
use crate::extract::require::{ConstraintRead, ConstraintWrite};
use crate::extract::{Authorized, Json, PathParams};
use crate::recorder::{dss_write, WriteOp};
use crate::state::AppState;

/// `entity_type` in log records.
const KIND: &str = "constraint";

type Change = (
    StatusCode,
    axum::Json<wire::ChangeConstraintReferenceResponse>,
);

pub async fn query(
    State(st): State<AppState>,
    auth: Authorized<ConstraintRead>,
    Json(body): Json<wire::QueryParameters>,
) -> Result<Response, ApiError> {
    let area = parse::query_area(&body, &st.limits)?;
    let (caller, now, max) = (auth.caller(), st.now(), st.limits.query_max_results);
    let answer = st
        .read_for_key(move |tx| rules::query(tx, &caller, &area, now, max))
        .await?;
    Ok(super::json_response(answer))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Authorized<ConstraintRead>,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<wire::GetConstraintReferenceResponse>, ApiError> {
    let id = parse::entity_id("entityid", &id)?;
    let (caller, now) = (auth.caller(), st.now());
    let found = st
        .read_for_key(move |tx| rules::get(tx, &caller, id, now))
        .await?;
    Ok(axum::Json(wire::GetConstraintReferenceResponse {
        constraint_reference: found,
    }))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Authorized<ConstraintWrite>,
    PathParams(id): PathParams<String>,
    Json(body): Json<wire::PutConstraintReferenceParameters>,
) -> Result<Change, ApiError> {
    put(st, auth, &id, None, body).await
}

pub async fn update(
    State(st): State<AppState>,
    auth: Authorized<ConstraintWrite>,
    PathParams((id, ovn)): PathParams<(String, String)>,
    Json(body): Json<wire::PutConstraintReferenceParameters>,
) -> Result<Change, ApiError> {
    put(st, auth, &id, Some(&ovn), body).await
}

async fn put(
    st: AppState,
    auth: Authorized<ConstraintWrite>,
    id: &str,
    ovn: Option<&str>,
    body: wire::PutConstraintReferenceParameters,
) -> Result<Change, ApiError> {
    let now = st.now();
    let req = parse::put_constraint(id, ovn, &body, &st.limits, now)?;
    let (caller, rec) = (auth.caller(), st.recorder.clone());
    let written = Written::constraint(req.id);
    let (resp, created) = st
        .write_extents(now, move |tx| {
            let (resp, created) = rules::put(tx, &caller, &req, now)?;
            let op = if created {
                WriteOp::Create
            } else {
                WriteOp::Update
            };
            let ovn = resp.constraint_reference.ovn.as_deref().unwrap_or_default();
            let id = req.id.to_string();
            rec.record(tx, &dss_write(now, &caller.manager, KIND, &id, op, ovn, []))?;
            Ok(((resp, created), vec![written]))
        })
        .await?;
    Ok((super::created_or_ok(created), axum::Json(resp)))
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Authorized<ConstraintWrite>,
    PathParams((id, ovn)): PathParams<(String, String)>,
) -> Result<axum::Json<wire::ChangeConstraintReferenceResponse>, ApiError> {
    let id = parse::entity_id("entityid", &id)?;
    let ovn = parse::ovn("ovn", &ovn)?;
    let (caller, now, rec) = (auth.caller(), st.now(), st.recorder.clone());
    let resp = st
        .write(move |tx| {
            let resp = rules::delete(tx, &caller, id, &ovn, now)?;
            let (id, op) = (id.to_string(), WriteOp::Delete);
            rec.record(
                tx,
                &dss_write(now, &caller.manager, KIND, &id, op, &ovn, []),
            )?;
            Ok(resp)
        })
        .await?;
    Ok(axum::Json(resp))
}
