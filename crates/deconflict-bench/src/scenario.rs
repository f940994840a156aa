//! What every scenario shares: the bounds on its run and the spawning of its workers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use deconflict_core::wire;
use hyper::Method;

use crate::client::{Client, Endpoint, Response};
use crate::stats::{Outcome, Recorder};

/// A run ends at its deadline or when its request budget is spent, whichever comes first.
pub struct Bound {
    deadline: Instant,
    left: AtomicI64,
}

impl Bound {
    pub fn new(duration: Duration, max_requests: u64) -> Arc<Self> {
        Arc::new(Self {
            deadline: Instant::now() + duration,
            left: AtomicI64::new(i64::try_from(max_requests).unwrap_or(i64::MAX)),
        })
    }

    /// Takes one request from the budget; false once the run is over.
    pub fn take(&self) -> bool {
        Instant::now() < self.deadline && self.left.fetch_sub(1, Ordering::Relaxed) > 0
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Runs `n` workers to completion and merges what they recorded.
pub async fn run_workers<F, Fut, T>(n: usize, f: F) -> Result<(Vec<T>, Duration)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        set.spawn(f(i));
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r??);
    }
    Ok((out, start.elapsed()))
}

/// Sends one request, records its latency and outcome, and hands back the response.
pub async fn timed(
    client: &mut Client,
    rec: &mut Recorder,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> Option<Response> {
    let t = Instant::now();
    match client.send(method, path, body).await {
        Ok(r) => {
            let outcome = Outcome::of_status(r.status);
            rec.record(t.elapsed(), outcome);
            if let Outcome::Status(s) = outcome {
                rec.sample(|| format!("{s} {}", String::from_utf8_lossy(&r.body)));
            }
            Some(r)
        }
        Err(e) => {
            rec.record(t.elapsed(), Outcome::Transport);
            rec.sample(|| format!("transport: {e:#}"));
            None
        }
    }
}

pub const OIR: &str = "/dss/v1/operational_intent_references";
pub const OIR_QUERY: &str = "/dss/v1/operational_intent_references/query";

pub fn json<T: serde::Serialize>(v: &T) -> Result<Bytes> {
    Ok(Bytes::from(serde_json::to_vec(v)?))
}

/// Queries `params` once, outside any measurement (set-up and verification).
pub async fn query_once(
    ep: &Endpoint,
    params: &wire::QueryParameters,
) -> Result<std::result::Result<Vec<wire::OperationalIntentReference>, Response>> {
    let mut c = ep.client();
    let r = c.send(Method::POST, OIR_QUERY, Some(json(params)?)).await?;
    if r.status != 200 {
        return Ok(Err(r));
    }
    let q: wire::QueryOperationalIntentReferenceResponse = serde_json::from_slice(&r.body)?;
    Ok(Ok(q.operational_intent_references))
}

/// The intents (id, OVN) whose OVNs a 409 says the key lacks, when the caller may see them.
pub fn missing_ovns(body: &[u8]) -> Vec<(String, String)> {
    serde_json::from_slice::<wire::AirspaceConflictResponse>(body)
        .map(|c| {
            c.missing_operational_intents
                .into_iter()
                .filter_map(|oi| Some((oi.id, oi.ovn?)))
                .collect()
        })
        .unwrap_or_default()
}
