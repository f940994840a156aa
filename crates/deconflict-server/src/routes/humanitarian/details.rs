//! `GET /uss/v1/constraints/{entityid}` and `GET /uss/v1/operational_intents/{entityid}`: the
//! F3548 details (with the OVN) of the constraints and intents deconflict publishes for sites
//! and movements, for any party of the line (and, unless `dss_registered_only`, any USS).

use axum::extract::State;
use deconflict_core::{parse, wire};
use deconflict_humanitarian::party::Action;
use deconflict_humanitarian::publish;

use crate::error::ApiError;
use crate::extract::require::{ConstraintDetails, IntentDetails};
use crate::extract::{Authorized, PathParams};
use crate::state::AppState;

pub async fn constraint(
    State(st): State<AppState>,
    auth: Authorized<ConstraintDetails>,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<wire::GetConstraintDetailsResponse>, ApiError> {
    st.layer.check_dss(&auth.claims.sub, Action::ReadLayer)?;
    let id = parse::entity_id("entityid", &id)?;
    let now = st.now();
    let found = st
        .read(move |tx| publish::site_details(tx, id, now))
        .await?;
    Ok(axum::Json(found))
}

pub async fn operational_intent(
    State(st): State<AppState>,
    auth: Authorized<IntentDetails>,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<wire::GetOperationalIntentDetailsResponse>, ApiError> {
    st.layer.check_dss(&auth.claims.sub, Action::ReadLayer)?;
    let id = parse::entity_id("entityid", &id)?;
    let now = st.now();
    let found = st
        .read(move |tx| publish::movement_details(tx, id, now))
        .await?;
    Ok(axum::Json(found))
}
