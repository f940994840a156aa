//! `/dss/v1/operational_intent_references`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use deconflict_core::rules::operational_intents as rules;
use deconflict_core::{parse, wire};
use deconflict_humanitarian::conflict::{self, Written};

use crate::error::ApiError;
use crate::extract::require::{OiRead, OiWrite};
use crate::extract::{Authorized, Json, PathParams};
use crate::recorder::{dss_write, WriteOp};
use crate::state::AppState;

/// `entity_type` in log records.
const KIND: &str = "operational_intent";

type Change = (
    StatusCode,
    axum::Json<wire::ChangeOperationalIntentReferenceResponse>,
);

pub async fn query(
    State(st): State<AppState>,
    auth: Authorized<OiRead>,
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
    auth: Authorized<OiRead>,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<wire::GetOperationalIntentReferenceResponse>, ApiError> {
    let id = parse::entity_id("entityid", &id)?;
    let (caller, now) = (auth.caller(), st.now());
    let found = st
        .read_for_key(move |tx| rules::get(tx, &caller, id, now))
        .await?;
    Ok(axum::Json(wire::GetOperationalIntentReferenceResponse {
        operational_intent_reference: found,
    }))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Authorized<OiWrite>,
    PathParams(id): PathParams<String>,
    Json(body): Json<wire::PutOperationalIntentReferenceParameters>,
) -> Result<Change, ApiError> {
    put(st, auth, &id, None, body).await
}

pub async fn update(
    State(st): State<AppState>,
    auth: Authorized<OiWrite>,
    PathParams((id, ovn)): PathParams<(String, String)>,
    Json(body): Json<wire::PutOperationalIntentReferenceParameters>,
) -> Result<Change, ApiError> {
    put(st, auth, &id, Some(&ovn), body).await
}

async fn put(
    st: AppState,
    auth: Authorized<OiWrite>,
    id: &str,
    ovn: Option<&str>,
    body: wire::PutOperationalIntentReferenceParameters,
) -> Result<Change, ApiError> {
    let now = st.now();
    let req = parse::put_operational_intent(id, ovn, &body, &st.limits, now)?;
    let (caller, rec, parties) = (auth.caller(), st.recorder.clone(), st.layer.registry()?);
    let written = Written::intent(req.id);
    let (resp, created) = st
        .write_extents(now, move |tx| {
            let (resp, created) = rules::put(tx, &caller, &req, now)?;
            let in_view = conflict::in_view(tx, &req.extents, &req.key, &parties, now)?;
            let op = if created {
                WriteOp::Create
            } else {
                WriteOp::Update
            };
            let ovn = resp
                .operational_intent_reference
                .ovn
                .as_deref()
                .unwrap_or_default();
            let id = req.id.to_string();
            let key = req.key.iter().cloned();
            rec.record(
                tx,
                &dss_write(now, &caller.manager, KIND, &id, op, ovn, key).with_in_view(&in_view),
            )?;
            Ok(((resp, created), vec![written]))
        })
        .await?;
    Ok((super::created_or_ok(created), axum::Json(resp)))
}

pub async fn delete(
    State(st): State<AppState>,
    auth: Authorized<OiRead>,
    PathParams((id, ovn)): PathParams<(String, String)>,
) -> Result<axum::Json<wire::ChangeOperationalIntentReferenceResponse>, ApiError> {
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
