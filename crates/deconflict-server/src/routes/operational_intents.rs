//! `/dss/v1/operational_intent_references`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use deconflict_core::rules::operational_intents as rules;
use deconflict_core::{parse, wire};
use deconflict_humanitarian::conflict::Written;

use crate::error::ApiError;
use crate::extract::require::{OiRead, OiWrite};
use crate::extract::{Authorized, Json, PathParams};
use crate::state::AppState;

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
        .read(move |tx| rules::query(tx, &caller, &area, now, max))
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
    let found = st.read(move |tx| rules::get(tx, &caller, id, now)).await?;
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
    let caller = auth.caller();
    let written = Written::intent(req.id);
    let (resp, created) = st
        .write_extents(now, move |tx| {
            Ok((rules::put(tx, &caller, &req, now)?, vec![written]))
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
    let (caller, now) = (auth.caller(), st.now());
    let resp = st
        .write(move |tx| rules::delete(tx, &caller, id, &ovn, now))
        .await?;
    Ok(axum::Json(resp))
}
