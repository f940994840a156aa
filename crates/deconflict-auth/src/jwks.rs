//! A JWKS URL as a key source: fetched at start-up, refreshed periodically and (rate-limited)
//! when a token names an unknown `kid`, by a background task, so request handling only ever
//! reads the cached snapshot.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use tokio::sync::{Mutex, Notify};

use crate::error::ConfigError;
use crate::keys::{key_from_jwk, TrustedKey};

/// A JWKS document larger than this is refused; real ones are a few kilobytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Timeout for one JWKS fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the last fetch left behind.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub keys: Vec<TrustedKey>,
    /// Whether any fetch has ever succeeded.
    pub fetched: bool,
    /// Why the most recent fetch failed, if it did (old keys are kept meanwhile).
    pub last_error: Option<String>,
}

pub(crate) struct JwksSource {
    url: String,
    client: reqwest::Client,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Time of the last fetch attempt; the async lock also makes concurrent refreshes queue up
    /// behind one fetch instead of each hitting the network.
    last_attempt: Mutex<Option<Instant>>,
    wake: Notify,
    min_interval: Duration,
    refresh_interval: Duration,
}

impl JwksSource {
    pub(crate) fn new(
        url: &str,
        refresh_interval: Duration,
        min_interval: Duration,
    ) -> Result<Self, ConfigError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError::BadJwksUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::BadJwksUrl {
                url: url.to_owned(),
                reason: "only http and https URLs are supported".to_owned(),
            });
        }
        if parsed.scheme() == "http" {
            tracing::warn!(
                url,
                "JWKS URL is plain http; use https outside local testing"
            );
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("deconflict-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(JwksSource {
            url: url.to_owned(),
            client,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            last_attempt: Mutex::new(None),
            wake: Notify::new(),
            min_interval,
            refresh_interval,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The current keys; never waits on the network.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a writer panicked between two whole-Arc swaps; the value
        // is still a complete snapshot.
        Arc::clone(&self.snapshot.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Asks the background task to refresh soon (subject to the minimum interval).
    pub(crate) fn request_refresh(&self) {
        self.wake.notify_one();
    }

    /// Fetches now unless the last attempt was less than the minimum interval ago.
    /// Returns whether a fetch was attempted.
    pub(crate) async fn refresh_if_due(&self) -> bool {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_interval) {
            return false;
        }
        *last = Some(Instant::now());
        let result = self.fetch().await;
        let previous = self.snapshot();
        let next = match result {
            Ok(keys) => {
                tracing::debug!(url = %self.url, keys = keys.len(), "JWKS refreshed");
                Snapshot {
                    keys,
                    fetched: true,
                    last_error: None,
                }
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "JWKS fetch failed; keeping previous keys");
                Snapshot {
                    keys: previous.keys.clone(),
                    fetched: previous.fetched,
                    last_error: Some(error),
                }
            }
        };
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        true
    }

    async fn fetch(&self) -> Result<Vec<TrustedKey>, String> {
        let response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("fetching the JWKS from {} failed: {e}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the JWKS at {} answered HTTP {status}", self.url));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("the JWKS at {} is too large", self.url));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the JWKS from {} failed: {e}", self.url))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS at {} is too large", self.url));
        }
        parse_jwks(&body, &self.url)
    }

    /// Background loop: refresh periodically, sooner after a failure, and when woken by an
    /// unknown `kid`. Ends when the verifier drops (the task is aborted then).
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let failing = self.snapshot().last_error.is_some();
            let wait = if failing {
                self.min_interval
            } else {
                self.refresh_interval
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {
                    // Rate limit: never more than one fetch per minimum interval.
                    let since = self.last_attempt.lock().await.map(|t| t.elapsed());
                    if let Some(since) = since {
                        if since < self.min_interval {
                            tokio::time::sleep(self.min_interval - since).await;
                        }
                    }
                }
            }
            self.refresh_if_due().await;
        }
    }
}

/// Parses a JWKS document, keeping the RS256/ES256 signing keys. Entries we cannot use are
/// skipped one by one so a single odd key (another algorithm, a newer format) does not hide
/// the others.
pub(crate) fn parse_jwks(body: &[u8], url: &str) -> Result<Vec<TrustedKey>, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet = serde_json::from_slice(body)
        .map_err(|e| format!("the JWKS at {url} is not a JSON key set: {e}"))?;
    let mut keys = Vec::new();
    for (i, raw) in set.keys.into_iter().enumerate() {
        let jwk: Jwk = match serde_json::from_value(raw) {
            Ok(jwk) => jwk,
            Err(error) => {
                tracing::debug!(url, index = i, %error, "skipping unparseable JWK");
                continue;
            }
        };
        match key_from_jwk(&jwk, url) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(error) => tracing::warn!(url, index = i, %error, "skipping broken JWK"),
        }
    }
    Ok(keys)
}
