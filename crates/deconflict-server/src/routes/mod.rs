//! The routes of the DSS and the layers around them.

mod aux;
mod availability;
mod constraints;
mod humanitarian;
mod operational_intents;
mod subscriptions;
mod tlog;

use std::any::Any;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use deconflict_core::rules::JsonBody;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use self::humanitarian::acks::{escalate_overdue, spawn_escalator};

use crate::error::ApiError;
use crate::state::AppState;

/// A 200 answer whose body the rules already wrote as JSON.
fn json_response(body: JsonBody) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.0,
    )
        .into_response()
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Every route of the DSS and of the humanitarian layer, with request logging, a timeout, the body limit and a last-resort
/// panic handler.
pub fn router(state: AppState) -> Router {
    use self::{constraints as cr, operational_intents as oi, subscriptions as sub};
    // Full paths rather than a router nested under /dss/v1: a nested router rebuilds every
    // request's URI without its prefix, a few per cent of a query's CPU.
    let dss = Router::new()
        .route(
            "/dss/v1/operational_intent_references/query",
            post(oi::query),
        )
        .route(
            "/dss/v1/operational_intent_references/{entityid}",
            get(oi::get).put(oi::create),
        )
        .route(
            "/dss/v1/operational_intent_references/{entityid}/{ovn}",
            put(oi::update).delete(oi::delete),
        )
        .route("/dss/v1/constraint_references/query", post(cr::query))
        .route(
            "/dss/v1/constraint_references/{entityid}",
            get(cr::get).put(cr::create),
        )
        .route(
            "/dss/v1/constraint_references/{entityid}/{ovn}",
            put(cr::update).delete(cr::delete),
        )
        .route("/dss/v1/subscriptions/query", post(sub::query))
        .route(
            "/dss/v1/subscriptions/{subscriptionid}",
            get(sub::get).put(sub::create),
        )
        .route(
            "/dss/v1/subscriptions/{subscriptionid}/{version}",
            put(sub::update).delete(sub::delete),
        )
        .route("/dss/v1/reports", post(availability::report))
        .route(
            "/dss/v1/uss_availability/{uss_id}",
            get(availability::get).put(availability::set),
        );

    dss.merge(humanitarian::routes())
        .nest("/v1/log", tlog::routes())
        .route("/healthy", get(aux::healthy))
        .route("/aux/v1/version", get(aux::version))
        .route("/aux/v1/validate_oauth", get(aux::validate_oauth))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(CatchPanicLayer::custom(panicked))
                .layer(middleware::from_fn_with_state(state.clone(), timeout)),
        )
        .with_state(state)
}

async fn no_route(req: Request) -> ApiError {
    ApiError::NoRoute(format!("no such path: {}", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

/// Answers 503 when a request takes longer than the configured timeout. A write already handed
/// to the store is not cancelled: it commits or fails on its own, so a client that got 503
/// must read before it retries.
async fn timeout(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(st.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(st.request_timeout).into_response(),
    }
}

/// Should never run: a panic is a bug. The client gets an opaque 500, the log the message.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::internal(format!("a request handler panicked: {detail}")).into_response()
}
