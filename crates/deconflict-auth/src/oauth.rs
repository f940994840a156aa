//! A dummy OAuth server compatible with the InterUSS test tooling's "dummy OAuth" interface:
//! `GET /token` mints a dev token for whatever is asked, and `GET /.well-known/jwks.json`
//! (also `/jwks.json`) publishes the dev public key so a DSS can use it through `--jwks-url`.
//!
//! It grants anything to anyone: serve it on loopback, for testing only.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::dev::{DevKeys, DEV_ISSUER};
use crate::verifier::now_unix;

/// Subject used when `/token` is called without `sub`.
pub const DEFAULT_SUB: &str = "uss1";
/// Lifetime, in seconds, of a token requested without `expire`.
pub const DEFAULT_LIFETIME_SECS: i64 = 3600;

/// The dummy OAuth routes, signing with `keys`.
pub fn dev_oauth_router(keys: Arc<DevKeys>) -> Router {
    Router::new()
        .route("/token", get(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/jwks.json", get(jwks))
        .with_state(keys)
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    sub: Option<String>,
    scope: Option<String>,
    intended_audience: Option<String>,
    issuer: Option<String>,
    expire: Option<String>,
}

async fn token(
    State(keys): State<Arc<DevKeys>>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return bad_request(format!("invalid query string: {}", e.body_text())),
    };
    let audience = match non_empty(q.intended_audience.as_deref()) {
        Some(a) => a,
        None => {
            return bad_request(
                "missing required query parameter `intended_audience` (the host name of the \
                 service the token is for, e.g. `localhost`)"
                    .to_owned(),
            )
        }
    };
    let now = now_unix();
    let expires_at = match non_empty(q.expire.as_deref()) {
        None => now + DEFAULT_LIFETIME_SECS,
        Some(text) => match text.parse::<i64>() {
            Ok(t) if t > now => t,
            Ok(t) => {
                return bad_request(format!(
                    "query parameter `expire` ({t}) is not in the future; it is a Unix timestamp \
                     in seconds and the server time is {now}"
                ))
            }
            Err(_) => {
                return bad_request(format!(
                    "query parameter `expire` must be a Unix timestamp in seconds, got `{text}`"
                ))
            }
        },
    };
    let sub = non_empty(q.sub.as_deref()).unwrap_or(DEFAULT_SUB);
    let issuer = non_empty(q.issuer.as_deref()).unwrap_or(DEV_ISSUER);
    let scope = q.scope.as_deref().unwrap_or("");
    if let Some(bad) = scope
        .chars()
        .find(|c| c.is_control() || *c == '"' || *c == '\\')
    {
        // RFC 6749 §3.3 scope tokens are printable ASCII without `"` and `\`.
        return bad_request(format!(
            "query parameter `scope` contains a character not allowed in scopes: {bad:?}"
        ));
    }
    let token = keys.sign_until(sub, scope.split_whitespace(), audience, issuer, expires_at);
    Json(json!({ "access_token": token })).into_response()
}

async fn jwks(State(keys): State<Arc<DevKeys>>) -> Response {
    Json(keys.jwks()).into_response()
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
}
