//! Extractors: verified claims with the scopes a route accepts, JSON bodies whose errors name
//! the field, and path segments whose errors go through [`ApiError`].

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use deconflict_auth::{bearer_from_header, require_any, scopes, AuthError, Claims};
use deconflict_core::rules::Caller;
use deconflict_core::DssError;
use deconflict_humanitarian::party::{Action, Party};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The scopes a route accepts, as its `security` list in `utm.yaml` gives them: any one of the
/// alternatives, each granted in full.
pub trait ScopeRequirement: Send + Sync + 'static {
    const ANY_OF: &'static [&'static [&'static str]];
}

/// The verified claims of a request whose token grants what `R` requires. Rejects with 401
/// for a missing or unacceptable token, 403 for insufficient scope.
pub struct Authorized<R> {
    pub claims: Arc<Claims>,
    _requirement: PhantomData<fn() -> R>,
}

impl<R> Authorized<R> {
    /// The caller as the DSS rules see it.
    pub fn caller(&self) -> Caller {
        caller(&self.claims)
    }
}

/// The rules' view of a verified token: `sub` manages what it writes, and two scopes change
/// what it may ask for.
pub fn caller(claims: &Claims) -> Caller {
    Caller {
        manager: claims.sub.clone(),
        strategic_coordination: claims.scopes.has(scopes::STRATEGIC_COORDINATION),
        constraint_processing: claims.scopes.has(scopes::CONSTRAINT_PROCESSING),
    }
}

impl<R: ScopeRequirement> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = verified(parts, state).await?;
        require_any(&claims, R::ANY_OF)?;
        // Inside a nested router the URI has lost its prefix; the original has it.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(parts.uri.path(), |u| u.0.path());
        if let Some(action) = dss_write(&parts.method, path) {
            state.layer.check_dss(&claims.sub, action)?;
        }
        Ok(Self {
            claims,
            _requirement: PhantomData,
        })
    }
}

/// The verified claims of the request's bearer token, once its party is within its rate.
async fn verified(parts: &Parts, state: &AppState) -> Result<Arc<Claims>, ApiError> {
    let header = match parts.headers.get(AUTHORIZATION) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| AuthError::NotBearer)?),
    };
    let token = bearer_from_header(header)?;
    let claims = state.verifier.verify_async(token).await?;
    if let Some(rate) = &state.party_rate {
        rate.take(&claims.sub)
            .map_err(|retry_after| ApiError::TooManyRequests {
                party: claims.sub.clone(),
                per_second: rate.per_second(),
                retry_after,
            })?;
    }
    Ok(claims)
}

/// What a `/dss/v1` request writes, for the role of a registered party; `None` for reads.
fn dss_write(method: &Method, path: &str) -> Option<Action> {
    let rest = path.strip_prefix("/dss/v1/")?;
    let collection = rest.split('/').next().unwrap_or_default();
    let writes = *method == Method::PUT || *method == Method::DELETE;
    match collection {
        "operational_intent_references" if writes => Some(Action::DssOperations),
        "constraint_references" if writes => Some(Action::DssConstraints),
        "subscriptions" if writes => Some(Action::DssSubscriptions),
        "uss_availability" if writes => Some(Action::DssOther),
        "reports" if *method == Method::POST => Some(Action::DssOther),
        _ => None,
    }
}

/// A request of a party of the humanitarian layer (`/v1`): a verified token of any scope,
/// whose `sub` names the party; [`Member::may`] checks its role.
pub struct Member {
    pub claims: Arc<Claims>,
}

impl Member {
    /// The caller's party if its role allows `action`; 403 naming why otherwise (an
    /// unregistered `sub`, or a role that may not).
    pub fn may(&self, state: &AppState, action: Action) -> Result<Party, ApiError> {
        Ok(state.layer.authorize(&self.claims.sub, action)?)
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self {
            claims: verified(parts, state).await?,
        })
    }
}

/// A JSON request body. Refuses other content types (415), bodies over the limit (413) and
/// bodies that do not fit `T`, naming the field (`extents[0].time_start.value: invalid type:
/// integer ...`).
pub struct Json<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Decodes `bytes` as a `T`, naming the field of a type error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Tracking the path costs on every body; only a refused body needs it for its message.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                ApiError::bad(path, inner.to_string())
            }
            serde_json::error::Category::Data => ApiError::bad("body", inner.to_string()),
            _ => ApiError::bad("body", format!("not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad("body", format!("not valid JSON: {e}")))?;
    Ok(value)
}

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "body: the request body must be JSON, sent with `Content-Type: application/json`"
                    .into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Dss(DssError::TooLarge {
                    field: "body".into(),
                    rule: format!(
                        "the request body is larger than {} bytes",
                        state.limits.max_body_bytes
                    ),
                })
            } else {
                ApiError::bad(
                    "body",
                    format!("cannot read the request body: {}", e.body_text()),
                )
            }
        })?;
        decode(&bytes).map(Json)
    }
}

/// Path parameters; a segment that cannot be decoded is a 400 naming the path.
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ApiError::bad("path", e.body_text()))
    }
}

/// A query string; one that does not fit `T` is a 400 naming the parameter.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::bad("query", e.body_text()))
    }
}

/// The `security` lists of `utm.yaml`, one type per distinct list.
pub mod require {
    use super::ScopeRequirement;
    use deconflict_auth::scopes::{
        AVAILABILITY_ARBITRATION as AA, CONFORMANCE_MONITORING_SA as CMSA,
        CONSTRAINT_MANAGEMENT as CM, CONSTRAINT_PROCESSING as CP,
        DSS_READ_IDENTIFICATION_SERVICE_AREAS as ISA_READ, STRATEGIC_COORDINATION as SC,
    };

    macro_rules! requirement {
        ($(#[$doc:meta])* $name:ident = $any_of:expr) => {
            $(#[$doc])*
            pub struct $name;
            impl ScopeRequirement for $name {
                const ANY_OF: &'static [&'static [&'static str]] = $any_of;
            }
        };
    }

    requirement!(
        /// Query, get and delete operational intent references.
        OiRead = &[&[SC], &[CMSA]]
    );
    requirement!(
        /// Create and update operational intent references.
        OiWrite = &[&[SC], &[SC, CP], &[CMSA]]
    );
    requirement!(
        /// Query and get constraint references.
        ConstraintRead = &[&[CM], &[CP]]
    );
    requirement!(
        /// Create, update and delete constraint references.
        ConstraintWrite = &[&[CM]]
    );
    requirement!(
        /// Every subscription operation.
        Subscriptions = &[&[CP], &[SC]]
    );
    requirement!(
        /// `POST /dss/v1/reports`.
        Reports = &[&[CM], &[CP], &[SC], &[CMSA], &[AA]]
    );
    requirement!(
        /// Read a USS's availability.
        AvailabilityRead = &[&[AA], &[SC], &[CMSA]]
    );
    requirement!(
        /// Set a USS's availability.
        AvailabilityWrite = &[&[AA]]
    );
    requirement!(
        /// `GET /uss/v1/constraints/{entityid}`: the details of a site's constraint.
        ConstraintDetails = &[&[CP]]
    );
    requirement!(
        /// `GET /uss/v1/operational_intents/{entityid}`: the details of a movement's intent.
        IntentDetails = &[&[SC]]
    );
    requirement!(
        /// The auxiliary `/aux/v1` endpoints: any DSS scope, or the remote ID read scope that
        /// InterUSS tooling uses there.
        Aux = &[&[SC], &[CM], &[CP], &[CMSA], &[AA], &[ISA_READ]]
    );
}
