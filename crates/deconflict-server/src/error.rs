//! Every error the API answers with, and the one place where each becomes an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use deconflict_auth::{AuthError, ScopeError};
use deconflict_core::wire::ErrorResponse;
use deconflict_core::DssError;

/// Why a request failed. Handlers and extractors return it; [`IntoResponse`] below is the only
/// place that chooses a status code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A rule of the DSS, a parse error or a store failure.
    #[error(transparent)]
    Dss(#[from] DssError),
    /// The bearer token is missing or not acceptable: 401.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The token lacks the scopes the operation needs: 403.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// The body is not JSON: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No such route: 404.
    #[error("{0}")]
    NoRoute(String),
    /// The route exists, but not for this method: 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request took longer than the configured limit: 503.
    #[error("the request did not complete within {0:?}; retry later")]
    Timeout(std::time::Duration),
    /// The party sent more requests than the configured `party_rate`: 429, with
    /// `Retry-After`.
    #[error(
        "Authorization: the party {party:?} may send {per_second} requests a second \
         (party_rate); retry in {} ms",
        retry_after.as_millis().max(1)
    )]
    TooManyRequests {
        party: String,
        per_second: u32,
        retry_after: std::time::Duration,
    },
}

impl ApiError {
    /// A 400 naming `field` and the `rule` it broke.
    pub fn bad(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Dss(DssError::bad(field, rule))
    }

    /// A 500 whose `cause` is logged and never shown.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Dss(DssError::Internal(cause.into()))
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Dss(e) => match e {
                DssError::BadRequest { .. } => StatusCode::BAD_REQUEST,
                DssError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                DssError::Forbidden(_) => StatusCode::FORBIDDEN,
                DssError::NotFound(_) => StatusCode::NOT_FOUND,
                DssError::Conflict(_) | DssError::AirspaceConflict(_) => StatusCode::CONFLICT,
                DssError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
                DssError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                DssError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                // A variant added to core later: fail safe, and loudly in the log.
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Scope(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// The log's errors: a request it cannot answer as asked is a 400 (the handlers check each
/// parameter first, naming it); anything else is the server's fault.
impl From<deconflict_tlog::LogError> for ApiError {
    fn from(e: deconflict_tlog::LogError) -> Self {
        match e {
            deconflict_tlog::LogError::Invalid(rule) => ApiError::bad("query", rule),
            other => ApiError::internal(format!("log: {other}")),
        }
    }
}

fn message(message: impl Into<String>) -> Json<ErrorResponse> {
    Json(ErrorResponse {
        message: message.into(),
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Dss(DssError::AirspaceConflict(conflict)) => {
                (status, Json(*conflict)).into_response()
            }
            ApiError::Dss(DssError::Internal(cause)) => {
                tracing::error!(%cause, "internal error");
                (
                    status,
                    message("internal error; the cause has been logged on the server"),
                )
                    .into_response()
            }
            ApiError::Dss(DssError::Unavailable(cause)) => {
                tracing::warn!(%cause, "store unavailable");
                (
                    status,
                    message("the store is unavailable at the moment; retry later"),
                )
                    .into_response()
            }
            ApiError::Dss(e) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %e, "unmapped DSS error");
                (
                    status,
                    message("internal error; the cause has been logged on the server"),
                )
                    .into_response()
            }
            ApiError::Unauthorized(e) => {
                let mut r = (status, message(e.to_string())).into_response();
                r.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
                r
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                // Whole seconds (RFC 9110), rounded up so that a client waiting that long
                // finds a token.
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let mut r = (status, message(self.to_string())).into_response();
                r.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(secs.max(1)),
                );
                r
            }
            other => (status, message(other.to_string())).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(e: DssError) -> StatusCode {
        ApiError::from(e).into_response().status()
    }

    #[test]
    fn each_dss_error_has_its_status() {
        assert_eq!(status_of(DssError::bad("f", "r")), 400);
        assert_eq!(
            status_of(DssError::TooLarge {
                field: "f".into(),
                rule: "r".into()
            }),
            413
        );
        assert_eq!(status_of(DssError::Forbidden("x".into())), 403);
        assert_eq!(status_of(DssError::NotFound("x".into())), 404);
        assert_eq!(status_of(DssError::Conflict("x".into())), 409);
        assert_eq!(status_of(DssError::AirspaceConflict(Box::default())), 409);
        assert_eq!(status_of(DssError::PreconditionFailed("x".into())), 412);
        assert_eq!(status_of(DssError::Unavailable("x".into())), 503);
        assert_eq!(status_of(DssError::Internal("x".into())), 500);
        assert_eq!(
            ApiError::Unauthorized(AuthError::MissingHeader)
                .into_response()
                .status(),
            401
        );
    }

    #[test]
    fn bad_request_message_names_field_and_rule() {
        let e = ApiError::bad("extents[0].time_end", "the end time is in the past");
        assert_eq!(
            e.to_string(),
            "extents[0].time_end: the end time is in the past"
        );
    }

    #[tokio::test]
    async fn internal_cause_is_logged_not_shown() {
        let r = ApiError::internal("disk /secret/path failed").into_response();
        assert_eq!(r.status(), 500);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let body: ErrorResponse = serde_json::from_slice(&body).unwrap();
        assert!(!body.message.contains("secret"), "{}", body.message);
    }
}
