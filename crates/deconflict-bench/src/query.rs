//! `query`: area queries of random 2 km × 2 km × 1 h boxes inside the region, and `version`:
//! the cheapest authenticated-less GET, as the ceiling of the HTTP stack.

use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use hyper::Method;

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

/// How many intents a query answer holds, without parsing it.
fn count_results(body: &[u8]) -> u64 {
    const NEEDLE: &[u8] = b"\"manager\"";
    body.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count() as u64
}

pub async fn query(ep: &Endpoint, args: &QueryArgs) -> Result<Report> {
    let bound = Bound::new(args.load.duration, args.load.max_requests);
    let from = Utc::now();
    let (side, window) = (args.side_m, chrono::Duration::minutes(args.window_min));
    let (outs, elapsed) = run_workers(args.load.concurrency, |_| {
        let ep = ep.clone();
        let bound = bound.clone();
        async move {
            let mut client = ep.client();
            let mut rec = Recorder::new();
            let mut rng = crate::rng();
            let mut results = 0u64;
            while bound.take() {
                let q =
                    region::random_query(&mut rng, from, chrono::Duration::hours(24), side, window);
                let body = json(&q)?;
                if let Some(r) =
                    timed(&mut client, &mut rec, Method::POST, OIR_QUERY, Some(body)).await
                {
                    if r.status == 200 {
                        results += count_results(&r.body);
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

pub async fn version(ep: &Endpoint, args: &LoadArgs) -> Result<Report> {
    let bound = Bound::new(args.duration, args.max_requests);
    let (recs, elapsed) = run_workers(args.concurrency, |_| {
        let ep = ep.clone();
        let bound = bound.clone();
        async move {
            let mut client = ep.client();
            let mut rec = Recorder::new();
            while bound.take() {
                timed(&mut client, &mut rec, Method::GET, VERSION, None).await;
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
    #[test]
    fn counts_results() {
        assert_eq!(
            super::count_results(br#"{"operational_intent_references":[]}"#),
            0
        );
        assert_eq!(
            super::count_results(br#"[{"manager":"a"},{"id":"x","manager":"b"}]"#),
            2
        );
    }
}
