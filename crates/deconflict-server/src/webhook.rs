//! Webhook delivery: each party with a webhook in the registry gets its [`Feed`] POSTed to it
//! (each notification, then, once it is in the log, its receipt; [`EVENT_TYPE_HEADER`] says
//! which), in order, each signed (HMAC-SHA256 over the timestamp and the body, see [`sign`]),
//! retried with exponential back-off until its webhook answers 2xx. The outbox is the party's
//! notifications themselves and the log, with a durable cursor of both
//! ([`deconflict_humanitarian::delivery`]), so nothing is lost across a restart or a crash.
//!
//! Deliveries run in tasks of their own, one per party, woken by [`crate::events`]: a write
//! that makes notifications never waits for a webhook.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use deconflict_humanitarian::delivery;
use deconflict_humanitarian::party::Webhook;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::events::POLL;
use crate::feed::{Feed, Item, Position};
use crate::state::AppState;

/// The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Deconflict-Signature";
/// The header carrying the notification's sequence number (its event id).
pub const EVENT_ID_HEADER: &str = "Deconflict-Event-Id";
/// The header saying what the body is: `notification` or `receipt` (of the notification
/// named by the other headers).
pub const EVENT_TYPE_HEADER: &str = "Deconflict-Event-Type";
/// The header carrying the notification id.
pub const NOTIFICATION_ID_HEADER: &str = "Deconflict-Notification-Id";

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The first pause after a failure; doubled after each further one...
    pub retry_base: Duration,
    /// ...up to this.
    pub retry_max: Duration,
    /// How long a webhook may take to answer.
    pub timeout: Duration,
    /// How long an instance's claim on a party's deliveries holds without renewal.
    pub lease: Duration,
    /// This instance's name in its claims: the same after a restart (so that a restarted
    /// instance resumes at once), different for each instance of a pool.
    pub instance: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            instance: "local".into(),
        }
    }
}

/// The name of an instance on the machine `host`, listening on `listen` (the address it is
/// bound to, port included) with data in `data_dir`. Each part tells apart instances of one
/// pool: on other machines with the same settings, or on one machine with other ports.
pub fn instance_name(host: &str, listen: &str, data_dir: &std::path::Path) -> String {
    use sha2::Digest;
    let h = Sha256::digest(format!("{host}\0{listen}\0{}", data_dir.display()).as_bytes());
    hex::encode(&h[..8])
}

/// This machine's name (Linux), or `HOSTNAME`, or nothing.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// The signature header value of `body` sent at `timestamp` (Unix seconds): the hex
/// HMAC-SHA256, keyed by the webhook's secret, of `"{timestamp}.{body}"`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// What a receiver does: whether `header` signs `body` with `secret`, at a time within
/// `tolerance` of `now` (Unix seconds). Compares in constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now - t).abs() > tolerance {
        return false;
    }
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&v1).is_ok()
}

/// Starts delivering: one task per party with a webhook (parties added later are picked up
/// within [`POLL`]). Abort the handle to stop; deliveries in flight are simply sent again by
/// the next start.
pub fn spawn(state: AppState, settings: Settings) -> JoinHandle<()> {
    tokio::spawn(supervise(state, settings))
}

async fn supervise(st: AppState, settings: Settings) {
    let instance = settings.instance.clone();
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client for webhooks; none will be delivered");
            return;
        }
    };
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut tasks = TaskSet(Vec::new());
    loop {
        running.retain(|_, h| !h.is_finished());
        let parties = st.layer.parties().unwrap_or_default();
        for p in parties.into_iter().filter(|p| p.webhook.is_some()) {
            if running.contains_key(&p.id) {
                continue;
            }
            let worker = Worker {
                st: st.clone(),
                party: p.id.clone(),
                client: client.clone(),
                settings: settings.clone(),
                instance: instance.clone(),
            };
            let handle = tokio::spawn(worker.run());
            tasks.0.push(handle.abort_handle());
            running.insert(p.id, handle);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Aborts the party tasks when the supervisor is aborted (dropped).
struct TaskSet(Vec<tokio::task::AbortHandle>);

impl Drop for TaskSet {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

struct Worker {
    st: AppState,
    party: String,
    client: reqwest::Client,
    settings: Settings,
    instance: String,
}

impl Worker {
    async fn run(self) {
        let mut wake = self.st.events.subscribe();
        let mut failures = 0u32;
        let mut held_until = tokio::time::Instant::now();
        // Read from the durable cursor whenever the claim may have changed hands.
        let mut feed: Option<Feed> = None;
        loop {
            // Removed from the registry, or its webhook: stop (the supervisor restarts it).
            let Some(hook) = self
                .st
                .layer
                .party(&self.party)
                .ok()
                .flatten()
                .and_then(|p| p.webhook)
            else {
                return;
            };
            wake.mark_unchanged();
            let f = match feed.as_mut() {
                Some(f) => f,
                None => match self.cursor().await {
                    Ok(at) => feed.insert(Feed::new(self.st.clone(), self.party.clone(), at)),
                    Err(e) => {
                        tracing::warn!(party = %self.party, error = ?e, "reading the webhook cursor");
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                },
            };
            let item = match f.peek().await {
                Ok(Some(item)) => item,
                Ok(None) => {
                    f.wait(&mut wake).await;
                    if tokio::time::Instant::now() > held_until {
                        feed = None; // another instance may deliver meanwhile
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(party = %self.party, error = ?e, "reading the webhook outbox");
                    feed = None;
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            // Claim (or renew) the party's deliveries before sending, unless the claim holds
            // for a while yet; a claim won from another instance resumes from its cursor.
            if tokio::time::Instant::now() + self.settings.lease / 2 > held_until {
                match self.claim().await {
                    Ok(Some(at)) => {
                        held_until = tokio::time::Instant::now() + self.settings.lease;
                        if at != f.position() {
                            feed = None;
                            continue;
                        }
                    }
                    Ok(None) => {
                        feed = None;
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(party = %self.party, error = ?e, "claiming webhook deliveries");
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                }
            }
            match self.post(&hook, &item).await {
                Ok(()) => {
                    failures = 0;
                    f.sent(&item);
                    match self.delivered(f.position()).await {
                        Ok(true) => {}
                        // Lost the claim (or the store failed): start over from the cursor.
                        _ => {
                            held_until = tokio::time::Instant::now();
                            feed = None;
                        }
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let pause = delivery::backoff(
                        failures,
                        self.settings.retry_base,
                        self.settings.retry_max,
                        rand::random_range(0.5..=1.0),
                    );
                    tracing::warn!(
                        party = %self.party, seq = item.seq(), kind = item.kind(),
                        attempt = failures, retry_in_ms = pause.as_millis() as u64, error = %e,
                        "webhook delivery failed"
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Where the durable cursor stands.
    async fn cursor(&self) -> Result<Position, crate::ApiError> {
        let party = self.party.clone();
        self.st
            .read(move |tx| Ok(position(&delivery::cursor(tx, &party)?)))
            .await
    }

    /// Claims the party's deliveries; where its cursor stands if claimed.
    async fn claim(&self) -> Result<Option<Position>, crate::ApiError> {
        let (party, instance) = (self.party.clone(), self.instance.clone());
        let (now, lease) = (Utc::now(), lease(&self.settings));
        self.st
            .write(move |tx| {
                if delivery::claim(tx, &party, &instance, now, lease)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(position(&delivery::cursor(tx, &party)?)))
            })
            .await
    }

    async fn delivered(&self, at: Position) -> Result<bool, crate::ApiError> {
        let (party, instance) = (self.party.clone(), self.instance.clone());
        let (now, lease) = (Utc::now(), lease(&self.settings));
        self.st
            .write(move |tx| {
                let at = (at.notified, at.receipted);
                delivery::delivered(tx, &party, &instance, at, now, lease)
            })
            .await
    }

    async fn post(&self, hook: &Webhook, item: &Item) -> Result<(), String> {
        let body = item.body().map_err(|e| e.to_string())?;
        let signature = sign(&hook.secret, Utc::now().timestamp(), &body);
        let resp = self
            .client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_TYPE_HEADER, item.kind())
            .header(EVENT_ID_HEADER, item.seq().to_string())
            .header(NOTIFICATION_ID_HEADER, item.notification_id())
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {}", resp.status()))
        }
    }
}

/// A durable cursor as a feed position.
fn position(c: &delivery::Cursor) -> Position {
    Position {
        notified: c.delivered,
        receipted: c.receipted.min(c.delivered),
    }
}

fn lease(s: &Settings) -> chrono::Duration {
    chrono::Duration::from_std(s.lease).unwrap_or(chrono::Duration::seconds(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_differ_by_machine_port_and_folder_and_keep_their_name() {
        let dir = std::path::Path::new("./deconflict-data");
        let name = |host, listen| instance_name(host, listen, dir);
        assert_eq!(name("a", "0.0.0.0:8082"), name("a", "0.0.0.0:8082"));
        assert_ne!(name("a", "0.0.0.0:8082"), name("b", "0.0.0.0:8082"));
        assert_ne!(name("a", "127.0.0.1:40001"), name("a", "127.0.0.1:40002"));
        assert_ne!(
            name("a", "0.0.0.0:8082"),
            instance_name("a", "0.0.0.0:8082", std::path::Path::new("/srv/other"))
        );
        assert!(!host_name().is_empty(), "this machine has a name");
    }

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let body = br#"{"seq":1}"#;
        let h = sign("0123456789abcdef", 1_800_000_000, body);
        assert!(h.starts_with("t=1800000000,v1="));
        assert!(verify("0123456789abcdef", &h, body, 1_800_000_100, 300));
        assert!(!verify("0123456789abcdeX", &h, body, 1_800_000_100, 300));
        assert!(!verify(
            "0123456789abcdef",
            &h,
            br#"{"seq":2}"#,
            1_800_000_100,
            300
        ));
        assert!(
            !verify("0123456789abcdef", &h, body, 1_800_001_000, 300),
            "stale"
        );
        let forged = h.replace("t=1800000000", "t=1800000999");
        assert!(!verify(
            "0123456789abcdef",
            &forged,
            body,
            1_800_000_999,
            300
        ));
        assert!(!verify(
            "0123456789abcdef",
            "v1=00",
            body,
            1_800_000_000,
            300
        ));
    }

    #[test]
    fn the_signature_is_what_any_hmac_sha256_library_computes() {
        // Python: hmac.new(b"0123456789abcdef", b'1800000000.{"seq":1}', hashlib.sha256)
        assert_eq!(
            sign("0123456789abcdef", 1_800_000_000, br#"{"seq":1}"#),
            "t=1800000000,v1=08226ba6e45a14415d04bfbfbeb34d7a220d5762ee7d3ead03e128eca0488f6b"
        );
    }
}
