//! `/dss/v1/subscriptions`. Creating a subscription answers 200, as `utm.yaml` specifies
//! (unlike intents and constraints, whose creation answers 201).

use axum::extract::State;
use deconflict_core::rules::subscriptions as rules;
use deconflict_core::{parse, wire};

use crate::error::ApiError;
use crate::extract::require::Subscriptions;
use crate::extract::{Authorized, Json, PathParams};
use crate::state::AppState;

pub async fn query(
    State(st): State<AppState>,
    auth: Authorized<Subscriptions>,
    Json(body): Json<wire::QueryParameters>,
) -> Result<axum::Json<wire::QuerySubscriptionsResponse>, ApiError> {
    let area = parse::query_area(&body, &st.limits)?;
    let (caller, now, max) = (auth.caller(), st.now(), st.limits.query_max_results);
    let found = st
        .read(move |tx| rules::query(tx, &caller, &area, now, max))
        .await?;
    Ok(axum::Json(wire::QuerySubscriptionsResponse {
        subscriptions: found,
    }))
}

pub async fn get(
    State(st): State<AppState>,
    auth: Authorized<Subscriptions>,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<wire::GetSubscriptionResponse>, ApiError> {
    let id = parse::entity_id("subscriptionid", &id)?;
    let (caller, now) = (auth.caller(), st.now());
    let found = st.read(move |tx| rules::get(tx, &caller, id, now)).await?;
    Ok(axum::Json(wire::GetSubscriptionResponse {
        subscription: found,
    }))
}

pub async fn create(
    State(st): State<AppState>,
    auth: Authorized<Subscriptions>,
    PathParams(id): PathParams<String>,
    Json(body): Json<wire::PutSubscriptionParameters>,
) -> Result<axum::Json<wire::PutSubscriptionResponse>, ApiError> {
    put(st, auth, &id, None, body).await
}

pub async fn update(
    State(st): State<AppState>,
    auth: Authorized<Subscriptions>,
    PathParams((id, version)): PathParams<(String, String)>,
    Json(body): Json<wire::PutSubscriptionParameters>,
) -> Result<axum::Json<wire::PutSubscriptionResponse>, ApiError> {
    put(st, auth, &id, Some(&version), body).await
}

async fn put(
    st: AppState,
    auth: Authorized<Subscriptions>,
    id: &str,
    version: Option<&str>,
    body: wire::PutSubscriptionParameters,
) -> Result<axum::Json<wire::PutSubscriptionResponse>, ApiError> {
    let now = st.now();
    let req = parse::put_subscription(id, version, &body, &st.limits, now)?;
    let caller = auth.caller();
    let resp = st
        .write(move |tx| rules::put(tx, &caller, &req, now))
        .await?;
    Ok(axum::Json(resp))
}

/// Answers `DeleteSubscriptionResponse`, which has the shape of `GetSubscriptionResponse`.
pub async fn delete(
    State(st): State<AppState>,
    auth: Authorized<Subscriptions>,
    PathParams((id, version)): PathParams<(String, String)>,
) -> Result<axum::Json<wire::GetSubscriptionResponse>, ApiError> {
    let id = parse::entity_id("subscriptionid", &id)?;
    let version = parse::version("version", &version)?;
    let (caller, now) = (auth.caller(), st.now());
    let sub = st
        .write(move |tx| rules::delete(tx, &caller, id, &version, now))
        .await?;
    Ok(axum::Json(wire::GetSubscriptionResponse {
        subscription: sub,
    }))
}
