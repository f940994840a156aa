//! `/dss/v1/uss_availability/{uss_id}` and `/dss/v1/reports`.

use axum::extract::State;
use axum::http::StatusCode;
use deconflict_core::rules::{availability, reports};
use deconflict_core::{parse, wire};

use crate::error::ApiError;
use crate::extract::require::{AvailabilityRead, AvailabilityWrite, Reports};
use crate::extract::{Authorized, Json, PathParams};
use crate::state::AppState;

/// Longest `uss_id` accepted: a `sub` is an OAuth client id, never this long.
const MAX_USS_ID: usize = 256;

fn uss_id(s: String) -> Result<String, ApiError> {
    if s.trim().is_empty() || s.len() > MAX_USS_ID || s.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "uss_id",
            format!("must be 1 to {MAX_USS_ID} printable characters"),
        ));
    }
    Ok(s)
}

pub async fn get(
    State(st): State<AppState>,
    _auth: Authorized<AvailabilityRead>,
    PathParams(uss): PathParams<String>,
) -> Result<axum::Json<wire::UssAvailabilityStatusResponse>, ApiError> {
    let uss = uss_id(uss)?;
    let resp = st.read(move |tx| availability::get(tx, &uss)).await?;
    Ok(axum::Json(resp))
}

pub async fn set(
    State(st): State<AppState>,
    auth: Authorized<AvailabilityWrite>,
    PathParams(uss): PathParams<String>,
    Json(body): Json<wire::SetUssAvailabilityStatusParameters>,
) -> Result<axum::Json<wire::UssAvailabilityStatusResponse>, ApiError> {
    let uss = uss_id(uss)?;
    let (old_version, a) = parse::availability(&body)?;
    let caller = auth.caller();
    let resp = st
        .write(move |tx| availability::set(tx, &caller, &uss, &old_version, a))
        .await?;
    Ok(axum::Json(resp))
}

pub async fn report(
    State(st): State<AppState>,
    auth: Authorized<Reports>,
    Json(body): Json<wire::ErrorReport>,
) -> Result<(StatusCode, axum::Json<wire::ErrorReport>), ApiError> {
    let (caller, now) = (auth.caller(), st.now());
    let stored = st
        .write(move |tx| reports::make(tx, &caller, &body, now))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}
