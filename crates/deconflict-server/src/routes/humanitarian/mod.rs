//! The humanitarian layer over HTTP: `/v1/parties` (the registry, written by coordinators),
//! `/v1/sites` and `/v1/movements` (notified by humanitarian parties, published into the DSS
//! on their behalf), `/v1/notifications` and the `/v1/events` stream (each party's own),
//! `/v1/incidents` (reported by any party, matched against them), and the `/uss/v1` details of what is published, which F3548 clients fetch
//! from the `uss_base_url` of a constraint or intent to learn its OVN.
//!
//! Every route first resolves the token's party and checks its role ([`Member::may`]); the
//! rules and the publication live in `deconflict-humanitarian`.

pub(crate) mod acks;
mod details;
mod events;
mod incidents;
mod notifications;
mod notified;
mod parties;
mod report;
mod sites;

use axum::routing::{get, post};
use axum::Router;
use deconflict_core::ids::EntityId;
use deconflict_core::parse;
use deconflict_humanitarian::movement::Movement;
use deconflict_humanitarian::site::Site;

use crate::error::ApiError;
use crate::state::AppState;

#[cfg(doc)]
use crate::extract::Member;

/// The `/v1` routes and the `/uss/v1` details.
pub fn routes() -> Router<AppState> {
    use notified as n;
    let v1 = Router::new()
        .route("/parties", get(parties::list))
        .route(
            "/parties/{id}",
            get(parties::get).put(parties::put).delete(parties::delete),
        )
        .route("/sites", get(n::list::<Site>).post(n::create::<Site>))
        .route("/sites/import", post(sites::import))
        .route(
            "/sites/{id}",
            get(n::get::<Site>)
                .put(n::update::<Site>)
                .delete(n::delete::<Site>),
        )
        .route("/notifications", get(notifications::list))
        .route("/events", get(events::stream))
        .route("/notifications/{id}", get(notifications::get))
        .route("/notifications/outstanding", get(acks::outstanding))
        .route("/notifications/{id}/ack", post(acks::ack))
        .route("/notifications/{id}/receipt", get(notifications::receipt))
        .route(
            "/movements",
            get(n::list::<Movement>).post(n::create::<Movement>),
        )
        .route(
            "/movements/{id}",
            get(n::get::<Movement>)
                .put(n::update::<Movement>)
                .delete(n::delete::<Movement>),
        )
        .route("/incidents", get(incidents::list).post(incidents::create))
        .route("/incidents/{id}", get(incidents::get))
        .route("/incidents/{id}/report", get(report::get));
    let uss = Router::new()
        .route("/constraints/{entityid}", get(details::constraint))
        .route(
            "/operational_intents/{entityid}",
            get(details::operational_intent),
        );
    Router::new().nest("/v1", v1).nest("/uss/v1", uss)
}

fn id(s: &str) -> Result<EntityId, ApiError> {
    Ok(parse::entity_id("id", s)?)
}
