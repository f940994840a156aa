//! `/healthy` and the InterUSS auxiliary endpoints `/aux/v1/...`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use deconflict_core::DssError;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::require::Aux;
use crate::extract::Authorized;
use crate::state::{blocking, AppState};

/// 200 `ok` while the store answers, 503 otherwise. No token needed.
pub async fn healthy(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let store = st.store.clone();
    blocking(move || store.health())
        .await
        .map_err(|e| match e {
            ApiError::Dss(DssError::Unavailable(_)) => e,
            other => ApiError::Dss(DssError::Unavailable(other.to_string())),
        })?;
    Ok((StatusCode::OK, "ok"))
}

#[derive(Debug, Serialize)]
pub struct Version {
    pub version: &'static str,
}

pub async fn version(_auth: Authorized<Aux>) -> axum::Json<Version> {
    axum::Json(Version {
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug, Deserialize)]
pub struct ValidateOauth {
    owner: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

/// 200 `{}` when the token is valid for this DSS and, if `owner` is given, was issued to it.
pub async fn validate_oauth(
    auth: Authorized<Aux>,
    query: Result<Query<ValidateOauth>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Empty>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad("query", e.body_text()))?;
    if let Some(owner) = q.owner {
        if owner != auth.claims.sub {
            return Err(DssError::Forbidden(format!(
                "owner: the access token was issued to `{}`, not to `{owner}`",
                auth.claims.sub
            ))
            .into());
        }
    }
    Ok(axum::Json(Empty {}))
}
