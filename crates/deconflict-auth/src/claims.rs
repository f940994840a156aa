//! [`Claims`]: the identity a verified token carries, and the checks that turn a JSON claim set
//! whose signature has been verified into one.

use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::scopes::Scopes;

/// The verified identity of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Subject: the client (USS) the token was issued to.
    pub sub: String,
    /// Issuer: the authorization server that issued it.
    pub iss: String,
    /// Granted scopes, from the space-separated `scope` claim (empty when absent).
    pub scopes: Scopes,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Settings for [`check`].
pub(crate) struct ClaimRules<'a> {
    pub audiences: &'a [String],
    pub leeway_secs: u64,
    pub now: i64,
}

/// The time window of a token (`exp`, `nbf`): what must be checked again on every use of a
/// claim set checked before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validity {
    exp: i64,
    nbf: Option<i64>,
}

impl Validity {
    pub(crate) fn check(&self, rules: &ClaimRules<'_>) -> Result<(), AuthError> {
        let leeway = i64::try_from(rules.leeway_secs).unwrap_or(i64::MAX);
        if rules.now >= self.exp.saturating_add(leeway) {
            return Err(AuthError::Expired {
                exp: self.exp,
                now: rules.now,
                leeway_secs: rules.leeway_secs,
            });
        }
        match self.nbf {
            Some(nbf) if nbf > rules.now.saturating_add(leeway) => Err(AuthError::NotYetValid {
                nbf,
                now: rules.now,
            }),
            _ => Ok(()),
        }
    }
}

/// Validates the registered claims and extracts [`Claims`]. Order matters for messages: an
/// expired token says so even if it is also for another audience.
#[cfg(test)]
pub(crate) fn check(map: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<Claims, AuthError> {
    check_all(map, rules).map(|(claims, _)| claims)
}

/// [`check`], also handing back the token's [`Validity`].
pub(crate) fn check_all(
    map: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(Claims, Validity), AuthError> {
    let exp = numeric_date(map, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
    Validity { exp, nbf: None }.check(rules)?;
    let validity = Validity {
        exp,
        nbf: numeric_date(map, "nbf")?,
    };
    validity.check(rules)?;

    let got = audiences(map)?;
    if !got.iter().any(|a| rules.audiences.contains(a)) {
        return Err(AuthError::WrongAudience {
            got,
            accepted: rules.audiences.to_vec(),
        });
    }

    let iss = non_empty_string(map, "iss")?;
    let sub = non_empty_string(map, "sub")?;
    let scopes = match map.get("scope") {
        None | Some(Value::Null) => Scopes::default(),
        Some(Value::String(s)) => Scopes::parse(s),
        Some(_) => {
            return Err(AuthError::InvalidClaim {
                name: "scope",
                reason: "must be a string of space-separated scopes".to_owned(),
            })
        }
    };
    Ok((
        Claims {
            sub,
            iss,
            scopes,
            exp,
        },
        validity,
    ))
}

/// A NumericDate claim; RFC 7519 allows fractions, which we truncate toward the past.
fn numeric_date(map: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, AuthError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                // `as` saturates for out-of-range floats, which is the wanted behaviour.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(f.floor() as i64))
            } else {
                Err(invalid_number(name))
            }
        }
        Some(_) => Err(invalid_number(name)),
    }
}

fn invalid_number(name: &'static str) -> AuthError {
    AuthError::InvalidClaim {
        name,
        reason: "must be a number of seconds since the Unix epoch".to_owned(),
    }
}

fn audiences(map: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
    let invalid = || AuthError::InvalidClaim {
        name: "aud",
        reason: "must be a string or an array of strings".to_owned(),
    };
    match map.get("aud") {
        None | Some(Value::Null) => Err(AuthError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => {
            let list = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()?;
            if list.is_empty() {
                return Err(AuthError::MissingClaim("aud"));
            }
            Ok(list)
        }
        Some(_) => Err(invalid()),
    }
}

fn non_empty_string(map: &Map<String, Value>, name: &'static str) -> Result<String, AuthError> {
    match map.get(name) {
        None | Some(Value::Null) => Err(AuthError::MissingClaim(name)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(AuthError::InvalidClaim {
            name,
            reason: "must not be empty".to_owned(),
        }),
        Some(_) => Err(AuthError::InvalidClaim {
            name,
            reason: "must be a string".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(aud: &[String]) -> ClaimRules<'_> {
        ClaimRules {
            audiences: aud,
            leeway_secs: 30,
            now: 1_000_000,
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn good_claims_with_fractional_exp_and_scopes() {
        let aud = vec!["dss.example".to_owned()];
        let c = check(
            &map(json!({"sub": "uss1", "iss": "auth", "aud": "dss.example",
                        "exp": 1_000_100.7, "scope": "a  b"})),
            &rules(&aud),
        )
        .unwrap();
        assert_eq!(c.exp, 1_000_100);
        assert!(c.scopes.has("a") && c.scopes.has("b") && c.scopes.len() == 2);
    }

    #[test]
    fn leeway_is_applied_to_exp_and_nbf() {
        let aud = vec!["d".to_owned()];
        let base = json!({"sub": "s", "iss": "i", "aud": "d"});
        let mut m = map(base.clone());
        m.insert("exp".into(), json!(1_000_000 - 29));
        assert!(check(&m, &rules(&aud)).is_ok());
        m.insert("exp".into(), json!(1_000_000 - 30));
        assert!(matches!(
            check(&m, &rules(&aud)),
            Err(AuthError::Expired { .. })
        ));
        m.insert("exp".into(), json!(2_000_000));
        m.insert("nbf".into(), json!(1_000_000 + 31));
        assert!(matches!(
            check(&m, &rules(&aud)),
            Err(AuthError::NotYetValid { .. })
        ));
        m.insert("nbf".into(), json!(1_000_000 + 30));
        assert!(check(&m, &rules(&aud)).is_ok());
    }

    #[test]
    fn claim_type_errors_name_the_claim() {
        let aud = vec!["d".to_owned()];
        let e = check(
            &map(json!({"sub": "s", "iss": "i", "aud": "d", "exp": "soon"})),
            &rules(&aud),
        )
        .unwrap_err();
        assert!(
            matches!(e, AuthError::InvalidClaim { name: "exp", .. }),
            "{e}"
        );
        let e = check(
            &map(json!({"sub": "s", "iss": "i", "aud": "d", "exp": 2_000_000, "scope": ["a"]})),
            &rules(&aud),
        )
        .unwrap_err();
        assert!(
            matches!(e, AuthError::InvalidClaim { name: "scope", .. }),
            "{e}"
        );
        let e = check(
            &map(json!({"sub": "", "iss": "i", "aud": "d", "exp": 2_000_000})),
            &rules(&aud),
        )
        .unwrap_err();
        assert!(
            matches!(e, AuthError::InvalidClaim { name: "sub", .. }),
            "{e}"
        );
        let e = check(
            &map(json!({"sub": "s", "iss": "i", "aud": [], "exp": 2_000_000})),
            &rules(&aud),
        )
        .unwrap_err();
        assert_eq!(e, AuthError::MissingClaim("aud"));
    }
}
