//! [`Verifier`]: checks `Authorization: Bearer` JWTs against configured keys (PEM files, PEM
//! text, a JWKS URL) and the configured audiences.
//!
//! Keys are parsed once at start-up (or when the JWKS is refreshed); [`Verifier::verify`] is
//! synchronous and never touches the network.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use crate::claims::{self, ClaimRules, Claims, Validity};
use crate::dev::{DevKeys, DEV_AUDIENCES};
use crate::error::{AuthError, ConfigError};
use crate::jwks::JwksSource;
use crate::keys::{keys_from_pem, KeyKind, TrustedKey};

/// Tokens longer than this are refused before any parsing; real ones are well under 4 KiB.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Where trusted keys come from and what tokens must be for.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// PEM files with RSA or EC P-256 public keys (`PUBLIC KEY` or `RSA PUBLIC KEY` blocks; a
    /// file may hold several). These keys match tokens whatever their `kid`.
    pub public_key_pems: Vec<PathBuf>,
    /// A JWKS URL (e.g. an authorization server's `.../jwks.json`). Its keys match by `kid`.
    pub jwks_url: Option<String>,
    /// Accepted `aud` values: the host names clients reach this DSS by, without port (that is
    /// what F3548 test tooling puts in `aud`). Compared exactly. Must not be empty.
    pub audiences: Vec<String>,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Public keys given as PEM text rather than files (e.g. the dev key).
    pub extra_keys_pem: Vec<String>,
    /// How often the JWKS is re-fetched in the background.
    pub jwks_refresh_interval: Duration,
    /// Minimum time between two JWKS fetches, however many unknown `kid`s arrive. Also the
    /// retry interval after a failed fetch.
    pub jwks_min_refresh_interval: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            public_key_pems: Vec::new(),
            jwks_url: None,
            audiences: Vec::new(),
            leeway_secs: 30,
            extra_keys_pem: Vec::new(),
            jwks_refresh_interval: Duration::from_secs(300),
            jwks_min_refresh_interval: Duration::from_secs(30),
        }
    }
}

impl VerifierConfig {
    /// Trusts the dev key and accepts the dev audiences (`localhost`, `127.0.0.1`), as the
    /// server does in `--dev` mode.
    #[must_use]
    pub fn with_dev_keys(mut self, keys: &DevKeys) -> Self {
        self.extra_keys_pem.push(keys.public_pem().to_owned());
        for aud in DEV_AUDIENCES {
            if !self.audiences.iter().any(|a| a == aud) {
                self.audiences.push(aud.to_owned());
            }
        }
        self
    }
}

/// Verifies bearer tokens. Cheap to clone; clones share keys and the JWKS refresh task, which
/// stops when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
    _refresher: Option<Arc<AbortOnDrop>>,
}

struct Inner {
    static_keys: Vec<TrustedKey>,
    jwks: Option<Arc<JwksSource>>,
    audiences: Vec<String>,
    leeway_secs: u64,
    validation_rs256: Validation,
    validation_es256: Validation,
    /// Tokens whose signature and claims were verified recently, with the claims. A client
    /// sends the same token with every request, and a signature check costs far more than the
    /// request itself; expiry and `nbf` are still checked on every use (the audiences cannot
    /// change). foldhash: only verified tokens are ever inserted, so keys cannot be chosen
    /// to collide.
    verified: Mutex<foldhash::HashMap<String, VerifiedAt>>,
}

/// When a token was verified, its claims and its time window.
type VerifiedAt = (Instant, Arc<Claims>, Validity);

/// How long a verified signature is trusted without checking it again: a key removed from
/// the JWKS stops being trusted within this time.
const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// Most tokens remembered; the memory is cleared when full.
const VERIFIED_MAX: usize = 10_000;

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("static_keys", &self.inner.static_keys)
            .field("jwks_url", &self.inner.jwks.as_ref().map(|j| j.url()))
            .field("audiences", &self.inner.audiences)
            .field("leeway_secs", &self.inner.leeway_secs)
            .finish()
    }
}

impl Verifier {
    /// Loads the configured keys. With a JWKS URL, fetches it once (a failure is logged, not
    /// fatal: the authorization server may start after the DSS) and spawns the refresh task,
    /// so this must run inside a Tokio runtime.
    ///
    /// Fails on unreadable or unusable key files, an invalid JWKS URL, or no audience. A
    /// configuration with no key source at all is accepted; every token is then refused.
    pub async fn new(cfg: VerifierConfig) -> Result<Self, ConfigError> {
        let audiences: Vec<String> = cfg
            .audiences
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if audiences.is_empty() {
            return Err(ConfigError::NoAudience);
        }
        for aud in &audiences {
            if aud.contains(':') && !aud.contains("://") {
                tracing::warn!(
                    audience = %aud,
                    "accepted audience contains ':'; F3548 test tooling sends the host name without port"
                );
            }
        }

        let mut static_keys = Vec::new();
        for path in &cfg.public_key_pems {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
            static_keys.extend(keys_from_pem(&text, &path.display().to_string())?);
        }
        for (i, pem) in cfg.extra_keys_pem.iter().enumerate() {
            static_keys.extend(keys_from_pem(pem, &format!("extra public key #{}", i + 1))?);
        }

        let (jwks, refresher) = match &cfg.jwks_url {
            Some(url) => {
                let source = Arc::new(JwksSource::new(
                    url,
                    cfg.jwks_refresh_interval,
                    cfg.jwks_min_refresh_interval,
                )?);
                source.refresh_if_due().await;
                let task = tokio::spawn(Arc::clone(&source).run());
                (Some(source), Some(Arc::new(AbortOnDrop(task))))
            }
            None => (None, None),
        };

        if static_keys.is_empty() && jwks.is_none() {
            tracing::warn!("no token verification keys configured: every request will be refused");
        }
        tracing::info!(
            pem_keys = static_keys.len(),
            jwks_url = cfg.jwks_url.as_deref().unwrap_or("-"),
            jwks_keys = jwks.as_ref().map_or(0, |j| j.snapshot().keys.len()),
            audiences = ?audiences,
            "token verifier ready"
        );

        Ok(Verifier {
            inner: Arc::new(Inner {
                static_keys,
                jwks,
                audiences,
                leeway_secs: cfg.leeway_secs,
                validation_rs256: signature_only(KeyKind::Rsa),
                validation_es256: signature_only(KeyKind::EcP256),
                verified: Mutex::new(foldhash::HashMap::default()),
            }),
            _refresher: refresher,
        })
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// Verifies a token (the part after `Bearer `) and returns its claims. Never waits on the
    /// network: a `kid` not in the cached JWKS is refused and a background refresh is asked
    /// for, so a rotated key is accepted shortly afterwards (see also [`Self::verify_async`]).
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        if let Some((claims, validity)) = self.recently_verified(token) {
            validity.check(&self.rules())?;
            return Ok(claims);
        }
        let inner = &*self.inner;
        let header = parse_header(token)?;
        let kind = KeyKind::for_alg(&header.alg)
            .ok_or_else(|| AuthError::UnsupportedAlgorithm(header.alg.clone()))?;
        let validation = match kind {
            KeyKind::Rsa => &inner.validation_rs256,
            KeyKind::EcP256 => &inner.validation_es256,
        };
        let snapshot = inner.jwks.as_ref().map(|j| j.snapshot());
        let jwks_keys = snapshot.as_ref().map_or(&[][..], |s| &s.keys[..]);

        let matches = |k: &&TrustedKey| {
            k.kind == kind
                && match (&k.kid, &header.kid) {
                    (None, _) => true,
                    (Some(have), Some(want)) => have == want,
                    // A token without `kid` may be checked against every key of its kind.
                    (Some(_), None) => true,
                }
        };
        let mut tried = 0usize;
        let mut jwks_matched_kid = false;
        for key in inner.static_keys.iter().chain(jwks_keys).filter(matches) {
            tried += 1;
            if key.kid.is_some() && header.kid.is_some() {
                jwks_matched_kid = true;
            }
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation) {
                Ok(data) => {
                    let (claims, validity) = claims::check_all(&data.claims, &self.rules())?;
                    let claims = Arc::new(claims);
                    self.remember(token, Arc::clone(&claims), validity);
                    return Ok(claims);
                }
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature => {}
                    ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidKeyFormat => {
                        tracing::warn!(origin = %key.origin, kid = ?key.kid, error = %e, "unusable verification key");
                    }
                    _ => return Err(AuthError::Malformed(e.to_string())),
                },
            }
        }

        // A `kid` the JWKS does not know may be a freshly rotated key.
        if let (Some(jwks), Some(_)) = (&inner.jwks, &header.kid) {
            if !jwks_matched_kid {
                jwks.request_refresh();
            }
        }
        if tried > 0 {
            return Err(AuthError::BadSignature);
        }
        match &snapshot {
            None if inner.static_keys.is_empty() => Err(AuthError::NoKeysConfigured),
            Some(s) if !s.fetched && inner.static_keys.is_empty() => {
                Err(AuthError::KeysUnavailable(
                    s.last_error
                        .clone()
                        .unwrap_or_else(|| "the JWKS has not been fetched yet".to_owned()),
                ))
            }
            _ => Err(AuthError::UnknownKey {
                alg: kind.alg_name(),
                kid: header.kid,
            }),
        }
    }

    /// Like [`Self::verify`], but when the token names a key the JWKS does not have (or no JWKS
    /// has been fetched yet), fetches the JWKS now, at most once per minimum refresh interval,
    /// and tries again. Use it in async request handlers so a key rotation costs no failed
    /// request.
    pub async fn verify_async(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        match self.verify(token) {
            Err(
                AuthError::UnknownKey { .. }
                | AuthError::KeysUnavailable(_)
                | AuthError::BadSignature,
            ) if self.inner.jwks.is_some() => {
                if let Some(jwks) = &self.inner.jwks {
                    jwks.refresh_if_due().await;
                }
                self.verify(token)
            }
            other => other,
        }
    }

    /// [`bearer_from_header`] then [`Self::verify`], for an `Authorization` header value.
    pub fn verify_header(&self, authorization: Option<&str>) -> Result<Arc<Claims>, AuthError> {
        self.verify(bearer_from_header(authorization)?)
    }

    fn recently_verified(&self, token: &str) -> Option<(Arc<Claims>, Validity)> {
        let cache = self.inner.verified.lock().ok()?;
        let (at, claims, validity) = cache.get(token)?;
        (at.elapsed() < VERIFIED_TTL).then(|| (Arc::clone(claims), *validity))
    }

    fn remember(&self, token: &str, claims: Arc<Claims>, validity: Validity) {
        if let Ok(mut cache) = self.inner.verified.lock() {
            if cache.len() >= VERIFIED_MAX {
                cache.clear();
            }
            cache.insert(token.to_owned(), (Instant::now(), claims, validity));
        }
    }

    fn rules(&self) -> ClaimRules<'_> {
        ClaimRules {
            audiences: &self.inner.audiences,
            leeway_secs: self.inner.leeway_secs,
            now: now_unix(),
        }
    }
}

/// Extracts the token from an `Authorization` header value of the form `Bearer <token>` (the
/// scheme is case-insensitive, per RFC 7235).
pub fn bearer_from_header(value: Option<&str>) -> Result<&str, AuthError> {
    let value = value.ok_or(AuthError::MissingHeader)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// jsonwebtoken checks the signature and algorithm only; claims are checked in
/// [`claims::check`] for precise error messages.
fn signature_only(kind: KeyKind) -> Validation {
    let mut v = Validation::new(kind.algorithm());
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v
}

struct Header {
    alg: String,
    kid: Option<String>,
}

/// Reads the JOSE header ourselves so an unknown `alg` (like `none`) gets a clear message
/// rather than a JSON error, and so `crit` extensions, which we implement none of, are refused.
fn parse_header(token: &str) -> Result<Header, AuthError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        alg: Option<String>,
        kid: Option<String>,
        crit: Option<Value>,
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("token is too long".to_owned()));
    }
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "expected a JWT of three dot-separated parts".to_owned(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| AuthError::Malformed("header is not base64url".to_owned()))?;
    let raw: Raw = serde_json::from_slice(&bytes)
        .map_err(|e| AuthError::Malformed(format!("header is not a JSON object: {e}")))?;
    if raw.crit.is_some() {
        return Err(AuthError::Malformed(
            "header has critical extensions (`crit`), which this service does not support"
                .to_owned(),
        ));
    }
    let alg = raw
        .alg
        .ok_or_else(|| AuthError::Malformed("header lacks `alg`".to_owned()))?;
    Ok(Header { alg, kid: raw.kid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_from_header(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_from_header(Some("bearer   abc ")), Ok("abc"));
        assert_eq!(bearer_from_header(None), Err(AuthError::MissingHeader));
        assert_eq!(
            bearer_from_header(Some("Basic abc")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            bearer_from_header(Some("Bearer")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            bearer_from_header(Some("Bearer ")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            bearer_from_header(Some("Bearer a b")),
            Err(AuthError::NotBearer)
        );
    }

    #[test]
    fn header_errors() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        assert!(matches!(parse_header("abc"), Err(AuthError::Malformed(_))));
        assert!(matches!(
            parse_header("a.b.c.d"),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            parse_header("!!.b.c"),
            Err(AuthError::Malformed(_))
        ));
        let t = format!("{}.e30.", b64(r#"{"alg":"ES256","crit":["b64"]}"#));
        assert!(matches!(parse_header(&t), Err(AuthError::Malformed(m)) if m.contains("crit")));
        let t = format!("{}.e30.", b64(r#"{"alg":"none"}"#));
        assert_eq!(parse_header(&t).unwrap().alg, "none");
    }
}
