//! `contention`: C clients create, update and delete operational intents that all intersect
//! one 1 km² area, each write keyed with the OVNs the client just read.
//!
//! All clients use the same token, hence the same manager, so a query shows them every OVN
//! (F3548 shows a USS only its own; other USSs' come from their details endpoints). A write
//! that gets 409 because someone wrote in between is retried with the OVNs the 409 names, at
//! once, and after a randomised, exponentially growing pause when that retry is refused too
//! ([`Backoff`]): every success stales every other client's key, so clients that all retry at
//! once mostly refuse each other.
//!
//! Each client tracks the intents it created, with the version and OVN of its last
//! acknowledged write. Since only it writes them, every query it makes must show exactly those
//! versions, and at the end the union of what the clients believe must equal what the server
//! holds: a missing intent or an older version is a lost write, a newer version or an intent
//! nobody created is a write applied twice or against a refusal.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use deconflict_core::wire;
use hyper::Method;
use rand::Rng;
use uuid::Uuid;

use crate::client::Endpoint;
use crate::query::LoadArgs;
use crate::region;
use crate::scenario::{json, missing_ovns, query_once, run_workers, timed, Bound, OIR, OIR_QUERY};
use crate::stats::{Outcome, Recorder, Report};

#[derive(Debug, Clone, clap::Args)]
pub struct ContentionArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Intents each client keeps, on average.
    #[arg(long, default_value_t = 2)]
    pub per_client: usize,
    /// Attempts of one write (after 409s) before the client gives it up.
    #[arg(long, default_value_t = 100)]
    pub max_attempts: u32,
    /// Leave the intents in place at the end instead of deleting them.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub backoff: Backoff,
}

/// How long a client pauses before retrying a refused write. A 409 completes the key, so the
/// retry right after it goes at once; when that retry is refused too, the client pauses for a
/// uniformly random time between 0 and `min(cap, base × 2^(n-1))` ("full jitter"), then tries
/// again (its key has mostly gone stale meanwhile, so that attempt's 409 refreshes it and the
/// next goes at once). `n` goes up by one with each such pause and down by one with each
/// success of the client, across its operations, so a client that keeps losing to the others
/// keeps out of their way longer (`forget` restarts `n` at 1 in every operation instead). The
/// tokio timer counts whole milliseconds, so a pause is rounded up to one.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Backoff {
    /// Ceiling of the first pause after a refused immediate retry; 0 never pauses.
    #[arg(long = "backoff-base", default_value = "1ms", value_parser = crate::parse_duration)]
    pub base: Duration,
    /// Largest pause ceiling.
    #[arg(long = "backoff-cap", default_value = "32ms", value_parser = crate::parse_duration)]
    pub cap: Duration,
    /// Start every operation's pauses from `base` again, instead of from where the client's
    /// last operations left them.
    #[arg(long = "backoff-forget")]
    pub forget: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(32),
            forget: false,
        }
    }
}

impl Backoff {
    /// The length of the `n`-th pause of one operation (`n` ≥ 1).
    pub fn wait(&self, rng: &mut impl Rng, n: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << n.saturating_sub(1).min(20))
            .min(self.cap);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        ceiling.mul_f64(rng.random::<f64>())
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Known {
    version: i32,
    ovn: String,
}

#[derive(Default)]
struct ClientOut {
    /// Each write request.
    writes: Recorder,
    /// Each operation, from its first write request to its last answer (retries and pauses
    /// included): ok when acknowledged, 409 when given up.
    ops: Recorder,
    backoff: Duration,
    queries: Recorder,
    mine: HashMap<String, Known>,
    /// Intents whose last write got no answer: their state is unknown.
    uncertain: HashSet<String>,
    anomalies: Vec<String>,
    gave_up: u64,
    done: [u64; 3],
}

impl ClientOut {
    fn anomaly(&mut self, s: String) {
        if self.anomalies.len() < 20 {
            self.anomalies.push(s);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    Update,
    Delete,
}

fn choose(rng: &mut impl Rng, have: usize, target: usize) -> Op {
    let roll: f64 = rng.random();
    if have == 0 {
        Op::Create
    } else if have < target {
        if roll < 0.5 {
            Op::Create
        } else {
            Op::Update
        }
    } else if have > target {
        if roll < 0.5 {
            Op::Delete
        } else {
            Op::Update
        }
    } else if roll < 0.25 {
        Op::Create
    } else if roll < 0.5 {
        Op::Delete
    } else {
        Op::Update
    }
}

/// The query every contention client makes, over the window their intents use.
fn area_query(ws: DateTime<Utc>, we: DateTime<Utc>) -> wire::QueryParameters {
    region::query_params(region::contention_area(), ws, we)
}

/// Deletes every live intent in the contention area (the caller's, since it sees their OVNs).
async fn clear(ep: &Endpoint, now: DateTime<Utc>) -> Result<usize> {
    let q = area_query(now, now + chrono::Duration::days(2));
    let refs = query_once(ep, &q).await?.map_err(|r| {
        anyhow::anyhow!(
            "query of the contention area: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    })?;
    let mut c = ep.client();
    let mut n = 0;
    for oi in refs {
        if let Some(ovn) = oi.ovn {
            let r = c
                .send(Method::DELETE, &format!("{OIR}/{}/{ovn}", oi.id), None)
                .await?;
            if (200..300).contains(&r.status) {
                n += 1;
            }
        }
    }
    Ok(n)
}

pub async fn run(ep: &Endpoint, args: &ContentionArgs) -> Result<Vec<Report>> {
    let now = Utc::now();
    let cleared = clear(ep, now).await?;
    let (ws, we) = (
        now + chrono::Duration::minutes(30),
        now + chrono::Duration::minutes(90),
    );
    let bound = Bound::new(args.load.duration, args.load.max_requests);
    let (outs, elapsed) = run_workers(args.load.concurrency, |_| {
        let ep = ep.clone();
        let bound = bound.clone();
        let policy = Policy {
            target: args.per_client,
            max_attempts: args.max_attempts,
            backoff: args.backoff,
        };
        async move { client_loop(ep, bound, ws, we, policy).await }
    })
    .await?;

    let mut writes = Recorder::new();
    let mut queries = Recorder::new();
    let mut ops = Recorder::new();
    let mut backoff = Duration::ZERO;
    let mut expected: HashMap<String, Known> = HashMap::new();
    let mut uncertain = HashSet::new();
    let mut anomalies = Vec::new();
    let (mut gave_up, mut done) = (0, [0u64; 3]);
    for o in outs {
        writes.merge(&o.writes);
        queries.merge(&o.queries);
        ops.merge(&o.ops);
        backoff += o.backoff;
        expected.extend(o.mine);
        uncertain.extend(o.uncertain);
        anomalies.extend(o.anomalies);
        gave_up += o.gave_up;
        for (d, n) in done.iter_mut().zip(o.done) {
            *d += n;
        }
    }

    // Verify against a final query and a GET of each intent.
    let held = query_once(ep, &area_query(ws, we)).await?.map_err(|r| {
        anyhow::anyhow!(
            "final query: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    })?;
    let held: HashMap<String, Known> = held
        .into_iter()
        .map(|oi| {
            let k = Known {
                version: oi.version,
                ovn: oi.ovn.unwrap_or_default(),
            };
            (oi.id, k)
        })
        .collect();
    let mut lost = 0u64;
    let mut extra = 0u64;
    for (id, k) in &expected {
        match held.get(id) {
            None => {
                lost += 1;
                anomalies.push(format!("{id}: believed at version {}, not held", k.version));
            }
            Some(h) if h != k => {
                if h.version < k.version {
                    lost += 1;
                } else {
                    extra += 1;
                }
                anomalies.push(format!(
                    "{id}: believed version {} ovn {}, held version {} ovn {}",
                    k.version, k.ovn, h.version, h.ovn
                ));
            }
            Some(_) => {}
        }
    }
    for id in held.keys() {
        if !expected.contains_key(id) && !uncertain.contains(id) {
            extra += 1;
            anomalies.push(format!("{id}: held, but no client believes it exists"));
        }
    }
    let mut get_mismatch = 0u64;
    let mut c = ep.client();
    for (id, k) in &expected {
        let r = c.send(Method::GET, &format!("{OIR}/{id}"), None).await?;
        let ok = r.status == 200
            && serde_json::from_slice::<wire::GetOperationalIntentReferenceResponse>(&r.body)
                .is_ok_and(|g| {
                    g.operational_intent_reference.version == k.version
                        && g.operational_intent_reference.ovn.as_deref() == Some(&k.ovn)
                });
        if !ok {
            get_mismatch += 1;
        }
    }
    let removed = if args.keep { 0 } else { clear(ep, now).await? };

    let conc = args.load.concurrency;
    let mut w = writes.report("contention write", conc, elapsed);
    w.note("creates_updates_deletes", vec![done[0], done[1], done[2]]);
    w.note("writes_given_up", gave_up);
    w.note("intents_at_end", held.len());
    w.note("lost_writes", lost);
    w.note("extra_or_double_writes", extra);
    w.note("get_mismatches", get_mismatch);
    w.note("unknown_outcome", uncertain.len());
    w.note(
        "verified",
        lost == 0 && extra == 0 && get_mismatch == 0 && anomalies.is_empty(),
    );
    if !anomalies.is_empty() {
        anomalies.truncate(10);
        w.note("anomalies", anomalies);
    }
    if cleared > 0 || removed > 0 {
        w.note("cleared_before_after", vec![cleared, removed]);
    }
    w.note(
        "backoff",
        format!(
            "base {:?}, cap {:?}; {:.1} s waited in all",
            args.backoff.base,
            args.backoff.cap,
            backoff.as_secs_f64()
        ),
    );
    if ops.ok > 0 {
        w.note(
            "write_requests_per_success",
            (writes.requests as f64 / ops.ok as f64 * 10.0).round() / 10.0,
        );
    }
    let o = ops.report("contention operation", conc, elapsed);
    let q = queries.report("contention query", conc, elapsed);
    Ok(vec![w, o, q])
}

/// What one client does, besides where and when.
#[derive(Clone, Copy)]
struct Policy {
    target: usize,
    max_attempts: u32,
    backoff: Backoff,
}

async fn client_loop(
    ep: Endpoint,
    bound: std::sync::Arc<Bound>,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
    policy: Policy,
) -> Result<ClientOut> {
    let mut out = ClientOut::default();
    let mut client = ep.client();
    let mut rng = crate::rng();
    let query_body = json(&area_query(ws, we))?;
    // The exponent of the pause ceiling: one up for each refused immediate retry, one down for
    // each success, so it settles where the client's share of the spot lets it through.
    let mut pauses: u32 = 0;
    while bound.take() {
        // Read the area.
        let Some(r) = timed(
            &mut client,
            &mut out.queries,
            Method::POST,
            OIR_QUERY,
            Some(query_body.clone()),
        )
        .await
        else {
            continue;
        };
        if r.status != 200 {
            continue;
        }
        let refs: wire::QueryOperationalIntentReferenceResponse =
            serde_json::from_slice(&r.body).context("query answer")?;
        // The key, by intent: a 409 replaces the OVNs it names instead of adding to them.
        let mut key = HashMap::with_capacity(refs.operational_intent_references.len());
        let mut seen = HashMap::with_capacity(refs.operational_intent_references.len());
        for oi in &refs.operational_intent_references {
            if let Some(ovn) = &oi.ovn {
                key.insert(oi.id.clone(), ovn.clone());
                seen.insert(oi.id.as_str(), (oi.version, ovn.as_str()));
            }
        }
        // Only this client writes its intents, so the read must show its last writes.
        let stale: Vec<String> = out
            .mine
            .iter()
            .filter(|(id, k)| seen.get(id.as_str()) != Some(&(k.version, k.ovn.as_str())))
            .map(|(id, k)| {
                format!(
                    "{id}: wrote version {}, read {:?}",
                    k.version,
                    seen.get(id.as_str())
                )
            })
            .collect();
        for s in stale {
            out.anomaly(format!("read after write: {s}"));
        }

        let op = choose(&mut rng, out.mine.len(), policy.target);
        let (id, path, method, expect_version) = match op {
            Op::Create => {
                let id = Uuid::new_v4().to_string();
                (id.clone(), format!("{OIR}/{id}"), Method::PUT, 1)
            }
            Op::Update | Op::Delete => {
                let n = rng.random_range(0..out.mine.len());
                let Some((id, k)) = out.mine.iter().nth(n) else {
                    continue;
                };
                let m = if matches!(op, Op::Update) {
                    Method::PUT
                } else {
                    Method::DELETE
                };
                (
                    id.clone(),
                    format!("{OIR}/{id}/{}", k.ovn),
                    m,
                    k.version + 1,
                )
            }
        };
        let extents = region::volume(region::contention_polygon(&mut rng), ws, we);
        let mut attempts = 0;
        // Whether the last attempt was an immediate retry.
        let mut retried_at_once = false;
        if policy.backoff.forget {
            pauses = 0;
        }
        let started = Instant::now();
        let outcome = loop {
            attempts += 1;
            let body = match op {
                Op::Delete => None,
                _ => Some(json(&region::put_body(
                    extents.clone(),
                    key.values().cloned().collect(),
                ))?),
            };
            let Some(r) = timed(&mut client, &mut out.writes, method.clone(), &path, body).await
            else {
                // No answer: the write may or may not have happened.
                out.mine.remove(&id);
                out.uncertain.insert(id);
                break Outcome::Transport;
            };
            if (200..300).contains(&r.status) {
                match op {
                    Op::Delete => {
                        out.mine.remove(&id);
                        out.done[2] += 1;
                    }
                    _ => {
                        let resp: wire::ChangeOperationalIntentReferenceResponse =
                            serde_json::from_slice(&r.body).context("write answer")?;
                        let oi = resp.operational_intent_reference;
                        if oi.version != expect_version {
                            out.anomaly(format!(
                                "{id}: write answered version {}, expected {expect_version}",
                                oi.version
                            ));
                        }
                        out.mine.insert(
                            id,
                            Known {
                                version: oi.version,
                                ovn: oi.ovn.unwrap_or_default(),
                            },
                        );
                        out.done[usize::from(matches!(op, Op::Update))] += 1;
                    }
                }
                pauses = pauses.saturating_sub(1);
                break Outcome::Ok;
            }
            if r.status == 409 {
                let missing = missing_ovns(&r.body);
                if missing.is_empty() {
                    // Not a key conflict: the OVN of the client's own intent was refused.
                    out.anomaly(format!(
                        "{op:?} {id}: 409 {}",
                        String::from_utf8_lossy(&r.body)
                    ));
                    break Outcome::Status(409);
                }
                if attempts >= policy.max_attempts || bound.expired() {
                    out.gave_up += 1;
                    break Outcome::Conflict;
                }
                key.extend(missing);
                // A key completed from a 409 is as fresh as a key can be, and any pause lets
                // it go stale, so it is used at once; only when that fresh key lost the race
                // too does the client pause.
                retried_at_once = !retried_at_once;
                if !retried_at_once {
                    pauses = (pauses + 1).min(20);
                    let wait = policy.backoff.wait(&mut rng, pauses);
                    if !wait.is_zero() {
                        out.backoff += wait;
                        tokio::time::sleep(wait).await;
                    }
                }
                continue;
            }
            // Another error: recorded by `timed`; the intent stays as it was.
            break Outcome::of_status(r.status);
        };
        out.ops.record(started.elapsed(), outcome);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_steers_towards_the_target() {
        let mut rng = rand::rng();
        assert!(matches!(choose(&mut rng, 0, 2), Op::Create));
        for _ in 0..100 {
            assert!(!matches!(choose(&mut rng, 1, 2), Op::Delete));
            assert!(!matches!(choose(&mut rng, 3, 2), Op::Create));
        }
    }

    #[test]
    fn backoff_grows_to_its_cap_and_can_be_turned_off() {
        let mut rng = crate::rng();
        let b = Backoff {
            base: Duration::from_millis(2),
            cap: Duration::from_millis(10),
            forget: false,
        };
        let most = |n| (0..200).map(|_| b.wait(&mut crate::rng(), n)).max();
        assert!(most(1) <= Some(Duration::from_millis(2)));
        assert!(most(2) <= Some(Duration::from_millis(4)));
        assert!(most(2) > Some(Duration::from_millis(2)));
        assert!(most(30) <= Some(Duration::from_millis(10)));
        assert!(most(30) > Some(Duration::from_millis(8)));
        let off = Backoff {
            base: Duration::ZERO,
            cap: Duration::from_millis(10),
            forget: false,
        };
        assert_eq!(off.wait(&mut rng, 5), Duration::ZERO);
    }

    #[test]
    fn contention_polygons_all_hold_the_centre() {
        let mut rng = crate::rng();
        let c = region::CONTENTION.point(500.0, 500.0);
        for _ in 0..100 {
            let p = region::contention_polygon(&mut rng);
            let (lat, lng): (Vec<f64>, Vec<f64>) =
                p.vertices.iter().map(|v| (v.lat, v.lng)).unzip();
            let min = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
            let max = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max);
            assert!(min(&lat) < c.lat && c.lat < max(&lat));
            assert!(min(&lng) < c.lng && c.lng < max(&lng));
        }
    }
}
