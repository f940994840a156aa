//! Error types: [`AuthError`] for a refused request, [`ConfigError`] for a verifier or dev key
//! store that cannot be set up.
//!
//! Every `AuthError` message is meant to be shown to the client (the server answers 401 with it),
//! so messages say what was wrong with the token without echoing key material.

use std::path::PathBuf;

/// Why a bearer token was refused. The server maps every variant to HTTP 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("missing Authorization header; send `Authorization: Bearer <access token>`")]
    MissingHeader,
    /// A header that is not `Bearer <token>`.
    #[error("the Authorization header must have the form `Bearer <access token>`")]
    NotBearer,
    /// The token is not a well-formed JWS compact serialization, or its JSON is invalid.
    #[error("malformed access token: {0}")]
    Malformed(String),
    /// The header names an algorithm other than RS256 or ES256 (including `none` and HMAC).
    #[error(
        "access token algorithm `{0}` is not accepted; tokens must be signed with RS256 or ES256"
    )]
    UnsupportedAlgorithm(String),
    /// The verifier was built without any key source.
    #[error("no token verification keys are configured, so no access token can be trusted")]
    NoKeysConfigured,
    /// Keys come only from a JWKS that has not been fetched successfully yet.
    #[error("no token verification keys are available yet: {0}")]
    KeysUnavailable(String),
    /// No trusted key of the token's algorithm (and `kid`, when it has one).
    #[error("{}", unknown_key_message(alg, kid.as_deref()))]
    UnknownKey {
        /// Algorithm named in the token header.
        alg: &'static str,
        /// Key id named in the token header.
        kid: Option<String>,
    },
    /// Candidate keys exist but none verifies the signature.
    #[error("access token signature does not verify against any trusted key")]
    BadSignature,
    /// `exp` (plus leeway) has passed.
    #[error("access token expired at {exp} (Unix seconds); server time is {now}, leeway {leeway_secs} s")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// Server time when checked.
        now: i64,
        /// Clock-skew allowance that was applied.
        leeway_secs: u64,
    },
    /// `nbf` (minus leeway) is still in the future.
    #[error("access token is not valid before {nbf} (Unix seconds); server time is {now}")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// Server time when checked.
        now: i64,
    },
    /// None of the token's audiences is one this service answers to.
    #[error(
        "access token audience {} is not accepted here; accepted audiences: {}",
        quoted_list(got),
        quoted_list(accepted)
    )]
    WrongAudience {
        /// The token's `aud` values.
        got: Vec<String>,
        /// The configured audiences.
        accepted: Vec<String>,
    },
    /// A required claim is absent.
    #[error("access token lacks the required `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim is present but has the wrong type or an empty value.
    #[error("access token claim `{name}` is invalid: {reason}")]
    InvalidClaim {
        /// Claim name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn unknown_key_message(alg: &str, kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!("no trusted {alg} key has key id `{kid}`"),
        None => format!("no trusted {alg} key is configured"),
    }
}

fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A [`crate::Verifier`] or [`crate::DevKeys`] could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configured file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Key material that cannot be used.
    #[error("{origin}: {reason}")]
    BadKey {
        /// Where the key came from (file name, "extra key #1", ...).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No audience configured: the service would not know which tokens are meant for it.
    #[error("at least one accepted token audience must be configured (the host name clients use to reach the DSS)")]
    NoAudience,
    /// The JWKS URL is not an http(s) URL.
    #[error("invalid JWKS URL `{url}`: {reason}")]
    BadJwksUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client for JWKS fetching could not be built.
    #[error("cannot build the HTTP client for JWKS fetching: {0}")]
    HttpClient(String),
}

impl ConfigError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConfigError::Io {
            path: path.into(),
            source,
        }
    }
}
