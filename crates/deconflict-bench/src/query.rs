//! `query`: area queries of random 2 km × 2 km × 1 h boxes inside the region, and `version`:
//! the cheapest authenticated-less GET, as the ceiling of the HTTP stack.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use anyhow::Result;
use chrono::Utc;
use hyper::Method;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::client::Endpoint;
use crate::region;
use crate::scenario::{json, run_workers, timed, Bound, OIR_QUERY};
use crate::stats::{Recorder, Report};

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// How long to run.
    #[arg(long, default_value = "20s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Concurrent clients (connections).
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: usize,
    /// Stop after this many requests even if time is left.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_requests: u64,
}

#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// Side of the query square, metres.
    #[arg(long, default_value_t = 2_000.0)]
    pub side_m: f64,
    /// Length of the query window, minutes.
    #[arg(long, default_value_t = 60)]
    pub window_min: i64,
}

/// What the generator checks of a query answer: the shape `utm.yaml` gives it, with every
/// required field of every reference present, the id, manager and version of the right type.
/// The other values are only checked to be JSON (`IgnoredAny`), which keeps the generator's
/// own cost per answer low: it shares the two cores with the server.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    operational_intent_references: Vec<Reference<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    manager: Cow<'a, str>,
    version: i32,
    #[allow(dead_code)] // optional: shown to the manager only
    #[serde(default)]
    ovn: Option<IgnoredAny>,
    #[allow(dead_code)] // required: a missing field is an error
    uss_availability: IgnoredAny,
    #[allow(dead_code)]
    state: IgnoredAny,
    #[allow(dead_code)]
    time_start: IgnoredAny,
    #[allow(dead_code)]
    time_end: IgnoredAny,
    #[allow(dead_code)]
    uss_base_url: IgnoredAny,
    #[allow(dead_code)]
    subscription_id: IgnoredAny,
}

/// The number of intents in a query answer, or what is wrong with it.
fn check_answer(body: &[u8]) -> std::result::Result<u64, String> {
    let answer: Answer<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for r in &answer.operational_intent_references {
        if r.id.len() != 36 || r.manager.is_empty() || r.version < 1 {
            return Err(format!(
                "reference {} has an empty id, manager or version",
                r.id
            ));
        }
    }
    Ok(answer.operational_intent_references.len() as u64)
}

/// What a client checks of every answer: its framing, and the number of references in it,
/// counted by where each begins (the server writes `id` first). Every `FULL_CHECK_EVERY`th
/// answer of each client is also parsed in full by [`check_answer`], which must find as many.
/// Parsing every answer cost the generator about 2 µs a query (of 17), on the cores it shares
/// with the server.
fn count_references(body: &[u8]) -> std::result::Result<u64, String> {
    let list = body
        .strip_prefix(b"{\"operational_intent_references\":[")
        .and_then(|rest| rest.strip_suffix(b"]}"))
        .ok_or("not an {\"operational_intent_references\": [...]} object")?;
    Ok(memchr::memmem::find_iter(list, b"{\"id\":").count() as u64)
}

const FULL_CHECK_EVERY: u64 = 16;

/// Checks an answer as [`count_references`] says, in full every `FULL_CHECK_EVERY`th time.
fn check(body: &[u8], nth: u64) -> std::result::Result<u64, String> {
    let counted = count_references(body)?;
    if nth.is_multiple_of(FULL_CHECK_EVERY) {
        let parsed = check_answer(body)?;
        if parsed != counted {
            return Err(format!(
                "{parsed} references parsed, {counted} counted by their starts"
            ));
        }
    }
    Ok(counted)
}

/// How many distinct query bodies a run sends, made before the clock starts.
const QUERY_BODIES: usize = 1 << 16;

/// `QUERY_BODIES` random query bodies. Made up front, as load generators take their requests
/// from a script or a file, so that the run measures the server, not the making of JSON in
/// the generator, which shares the two cores with it (about 5 µs a query there).
pub fn query_bodies(args: &QueryArgs) -> Result<Arc<[Bytes]>> {
    let from = Utc::now();
    let (side, window) = (args.side_m, chrono::Duration::minutes(args.window_min));
    let mut rng = crate::rng();
    (0..QUERY_BODIES)
        .map(|_| {
            json(&region::random_query(
                &mut rng,
                from,
                chrono::Duration::hours(24),
                side,
                window,
            ))
        })
        .collect()
}

/// Sends `bodies` (from [`query_bodies`]) round and round until the run is over.
pub async fn query(ep: &Endpoint, args: &QueryArgs, bodies: Arc<[Bytes]>) -> Result<Report> {
    let bound = Bound::new(args.load.duration, args.load.max_requests);
    let clients = args.load.concurrency;
    let (outs, elapsed) = run_workers(clients, |i| {
        let ep = ep.clone();
        let bound = bound.clone();
        let bodies = Arc::clone(&bodies);
        async move {
            let mut client = ep.client();
            let mut rec = Recorder::new();
            let (mut results, mut answers) = (0u64, 0u64);
            // Each client walks the bodies from its own place, so that the clients do not
            // send the same query at the same time.
            let mut next = bodies
                .iter()
                .cycle()
                .skip(i * bodies.len() / clients.max(1));
            while bound.take() {
                let body = next.next().cloned();
                if let Some(r) = timed(&mut client, &mut rec, Method::POST, OIR_QUERY, body).await {
                    if r.status == 200 {
                        match check(&r.body, answers) {
                            Ok(n) => results += n,
                            Err(why) => rec.malformed(r.status, || why),
                        }
                        answers += 1;
                    }
                }
            }
            Ok((rec, results))
        }
    })
    .await?;
    let mut all = Recorder::new();
    let mut results = 0;
    for (r, n) in &outs {
        all.merge(r);
        results += n;
    }
    let mut report = all.report("query", args.load.concurrency, elapsed);
    if all.ok > 0 {
        let mean = results as f64 / all.ok as f64;
        report.note("mean_results_per_query", (mean * 100.0).round() / 100.0);
    }
    Ok(report)
}

pub const VERSION: &str = "/aux/v1/version";

/// `{"version": "..."}`, as InterUSS's auxiliary API gives it.
fn check_version(body: &[u8]) -> std::result::Result<(), String> {
    #[derive(Deserialize)]
    struct Version<'a> {
        #[serde(borrow)]
        version: Cow<'a, str>,
    }
    let v: Version<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if v.version.is_empty() {
        return Err("the version is empty".into());
    }
    Ok(())
}

pub async fn version(ep: &Endpoint, args: &LoadArgs) -> Result<Report> {
    let bound = Bound::new(args.duration, args.max_requests);
    let (recs, elapsed) = run_workers(args.concurrency, |_| {
        let ep = ep.clone();
        let bound = bound.clone();
        async move {
            let mut client = ep.client();
            let mut rec = Recorder::new();
            while bound.take() {
                if let Some(r) = timed(&mut client, &mut rec, Method::GET, VERSION, None).await {
                    if r.status == 200 {
                        if let Err(why) = check_version(&r.body) {
                            rec.malformed(r.status, || why);
                        }
                    }
                }
            }
            Ok(rec)
        }
    })
    .await?;
    let mut all = Recorder::new();
    for r in &recs {
        all.merge(r);
    }
    Ok(all.report("version", args.concurrency, elapsed))
}

#[cfg(test)]
mod tests {
    use deconflict_core::wire;

    use super::check_answer;

    fn reference(ovn: Option<&str>) -> wire::OperationalIntentReference {
        let t = |v: &str| wire::Time {
            value: v.into(),
            format: "RFC3339".into(),
        };
        wire::OperationalIntentReference {
            id: "2f8343be-6482-4d1b-a474-16847e01af1e".into(),
            manager: "bench \"b\"".into(),
            uss_availability: "Unknown".into(),
            version: 1,
            state: "Accepted".into(),
            ovn: ovn.map(Into::into),
            time_start: t("2026-01-01T00:00:00Z"),
            time_end: t("2026-01-01T01:00:00Z"),
            uss_base_url: "https://uss.example".into(),
            subscription_id: "00000000-0000-4000-8000-000000000000".into(),
        }
    }

    #[test]
    fn counts_the_references_of_a_well_formed_answer() {
        let answer = wire::QueryOperationalIntentReferenceResponse {
            operational_intent_references: vec![reference(Some("abc")), reference(None)],
        };
        let body = serde_json::to_vec(&answer).unwrap();
        assert_eq!(check_answer(&body), Ok(2));
        assert_eq!(
            check_answer(br#"{"operational_intent_references":[]}"#),
            Ok(0)
        );
    }

    #[test]
    fn refuses_what_is_not_a_query_answer() {
        let mut v = serde_json::to_value(reference(None)).unwrap();
        v.as_object_mut().unwrap().remove("manager");
        let missing = serde_json::json!({ "operational_intent_references": [v] });
        assert!(check_answer(missing.to_string().as_bytes()).is_err());
        let mut empty = reference(None);
        empty.version = 0;
        let zero = wire::QueryOperationalIntentReferenceResponse {
            operational_intent_references: vec![empty],
        };
        assert!(check_answer(&serde_json::to_vec(&zero).unwrap()).is_err());
        assert!(check_answer(b"{}").is_err());
        assert!(check_answer(br#"{"operational_intent_references":[]"#).is_err());
        assert!(check_answer(b"[]").is_err());
    }

    #[test]
    fn counts_references_by_their_starts_and_parses_some_answers_in_full() {
        let answer = wire::QueryOperationalIntentReferenceResponse {
            operational_intent_references: vec![reference(Some("abc")), reference(None)],
        };
        let body = serde_json::to_vec(&answer).unwrap();
        for nth in 0..super::FULL_CHECK_EVERY {
            assert_eq!(super::check(&body, nth), Ok(2));
        }
        assert_eq!(
            super::check(br#"{"operational_intent_references":[]}"#, 0),
            Ok(0)
        );
        // Framing is checked on every answer.
        assert!(super::check(b"{}", 1).is_err());
        assert!(super::check(br#"{"operational_intent_references":[]"#, 1).is_err());
        // The count is checked against a full parse when one is made: here a reference
        // without its id is counted as none, and the parse refuses it.
        let mut v = serde_json::to_value(reference(None)).unwrap();
        v.as_object_mut().unwrap().remove("id");
        let missing = serde_json::json!({ "operational_intent_references": [v] });
        let missing = missing.to_string();
        assert_eq!(super::check(missing.as_bytes(), 1), Ok(0));
        assert!(super::check(missing.as_bytes(), 0).is_err());
        // A reference whose id is not first is counted as none: a full parse then disagrees.
        let moved = br#"{"operational_intent_references":[{"manager":"m","id":"2f8343be-6482-4d1b-a474-16847e01af1e","uss_availability":"Unknown","version":1,"state":"Accepted","time_start":{},"time_end":{},"uss_base_url":"u","subscription_id":"s"}]}"#;
        assert_eq!(super::check(moved, 1), Ok(0));
        assert_eq!(
            super::check(moved, 0),
            Err("1 references parsed, 0 counted by their starts".into())
        );
    }

    #[test]
    fn checks_the_version_answer() {
        assert!(super::check_version(br#"{"version":"0.1.0"}"#).is_ok());
        assert!(super::check_version(br#"{"version":""}"#).is_err());
        assert!(super::check_version(b"ok").is_err());
    }
}
