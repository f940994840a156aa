//! OAuth scopes used by the ASTM F3548-21 DSS, the [`Scopes`] set carried by verified claims,
//! and [`require_any`], which checks an OpenAPI-style `security` requirement.

use std::collections::BTreeSet;
use std::fmt;

use crate::Claims;

/// Strategic coordination of operational intents (F3548 SCD).
pub const STRATEGIC_COORDINATION: &str = "utm.strategic_coordination";
/// Creating and managing constraints.
pub const CONSTRAINT_MANAGEMENT: &str = "utm.constraint_management";
/// Reading and processing constraints.
pub const CONSTRAINT_PROCESSING: &str = "utm.constraint_processing";
/// Conformance monitoring for situational awareness (off-nominal intents).
pub const CONFORMANCE_MONITORING_SA: &str = "utm.conformance_monitoring_sa";
/// USS availability arbitration.
pub const AVAILABILITY_ARBITRATION: &str = "utm.availability_arbitration";
/// Read access used by InterUSS auxiliary endpoints (version, pool reports).
pub const DSS_READ_IDENTIFICATION_SERVICE_AREAS: &str = "dss.read.identification_service_areas";

/// Every scope this crate knows, e.g. for a dev token that may do anything.
pub const ALL: &[&str] = &[
    STRATEGIC_COORDINATION,
    CONSTRAINT_MANAGEMENT,
    CONSTRAINT_PROCESSING,
    CONFORMANCE_MONITORING_SA,
    AVAILABILITY_ARBITRATION,
    DSS_READ_IDENTIFICATION_SERVICE_AREAS,
];

/// The set of scopes granted by a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses an OAuth `scope` value: scopes separated by spaces (runs of whitespace tolerated).
    pub fn parse(scope: &str) -> Self {
        Scopes(scope.split_whitespace().map(str::to_owned).collect())
    }

    /// Whether `scope` was granted.
    pub fn has(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope in `all` was granted.
    pub fn has_all(&self, all: &[&str]) -> bool {
        all.iter().all(|s| self.has(s))
    }

    /// The granted scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of granted scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope was granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying set.
    pub fn as_set(&self) -> &BTreeSet<String> {
        &self.0
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Scopes(iter.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for Scopes {
    /// Space-separated, as in the `scope` claim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

/// The token is authentic but lacks the scopes for this operation (the server answers 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// No alternative was fully granted.
    #[error("{}", insufficient_message(accepted, granted))]
    Insufficient {
        /// The alternatives that would have been accepted; each must be granted in full.
        accepted: Vec<Vec<String>>,
        /// What the token grants.
        granted: Vec<String>,
    },
}

fn insufficient_message(accepted: &[Vec<String>], granted: &[String]) -> String {
    let alternatives = if accepted.is_empty() {
        "no scope grants this operation".to_owned()
    } else {
        let alts: Vec<String> = accepted
            .iter()
            .map(|alt| {
                if alt.is_empty() {
                    "(no scope)".to_owned()
                } else {
                    alt.join(" + ")
                }
            })
            .collect();
        format!("this operation requires scope {}", alts.join(" or "))
    };
    let granted = if granted.is_empty() {
        "none".to_owned()
    } else {
        granted.join(" ")
    };
    format!("insufficient scope: {alternatives}; the access token grants: {granted}")
}

/// Checks an OpenAPI `security` requirement: `alternatives` is an OR of ANDs, so the claims pass
/// when every scope of at least one alternative was granted.
///
/// An empty `alternatives` list grants nothing (fail closed): an operation that needs no scope
/// should simply not call this.
///
/// ```
/// use deconflict_auth::{require_any, scopes, Claims, Scopes};
/// let claims = Claims {
///     sub: "uss1".into(),
///     iss: "issuer".into(),
///     scopes: Scopes::parse("utm.constraint_processing"),
///     exp: 0,
/// };
/// assert!(require_any(&claims, &[&[scopes::STRATEGIC_COORDINATION], &[scopes::CONSTRAINT_PROCESSING]]).is_ok());
/// assert!(require_any(&claims, &[&[scopes::CONSTRAINT_MANAGEMENT]]).is_err());
/// ```
pub fn require_any(claims: &Claims, alternatives: &[&[&str]]) -> Result<(), ScopeError> {
    if alternatives.iter().any(|alt| claims.scopes.has_all(alt)) {
        return Ok(());
    }
    Err(ScopeError::Insufficient {
        accepted: alternatives
            .iter()
            .map(|alt| alt.iter().map(|s| (*s).to_owned()).collect())
            .collect(),
        granted: claims.scopes.iter().map(str::to_owned).collect(),
    })
}
