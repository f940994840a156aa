//! `seed`: create N non-intersecting operational intents as fast as C clients can.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use hyper::Method;
use uuid::Uuid;

use crate::client::Endpoint;
use crate::region;
use crate::scenario::{json, missing_ovns, run_workers, timed, Bound, OIR};
use crate::stats::{Recorder, Report};

#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Intents to create.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Concurrent clients (connections).
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: usize,
    /// First slot number: seed runs with disjoint [offset, offset+count) never intersect.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Give up after this long.
    #[arg(long, default_value = "600s", value_parser = crate::parse_duration)]
    pub max_time: Duration,
}

pub async fn run(ep: &Endpoint, args: &SeedArgs) -> Result<Report> {
    anyhow::ensure!(
        args.offset + args.count <= region::CAPACITY,
        "the region holds {} non-intersecting intents; lower --count or --offset",
        region::CAPACITY
    );
    let t0 = region::seed_t0(Utc::now());
    let next = Arc::new(AtomicU64::new(0));
    let bound = Bound::new(args.max_time, u64::MAX);
    let retried = Arc::new(AtomicU64::new(0));
    let (recs, elapsed) = run_workers(args.concurrency, |_| {
        let ep = ep.clone();
        let next = next.clone();
        let bound = bound.clone();
        let retried = retried.clone();
        let (count, offset) = (args.count, args.offset);
        async move {
            let mut client = ep.client();
            let mut rec = Recorder::new();
            let mut rng = crate::rng();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || !bound.take() {
                    break;
                }
                let id = Uuid::new_v4();
                let path = format!("{OIR}/{id}");
                let extents = region::seed_volume(offset + i, t0, &mut rng);
                let mut key = Vec::new();
                // A 409 here means the slot intersects something already stored (a seed
                // run over the same slots): retry once with the key it asks for.
                for _attempt in 0..2 {
                    let body = json(&region::put_body(extents.clone(), key.clone()))?;
                    let Some(r) =
                        timed(&mut client, &mut rec, Method::PUT, &path, Some(body)).await
                    else {
                        break;
                    };
                    if r.status != 409 {
                        break;
                    }
                    key = missing_ovns(&r.body)
                        .into_iter()
                        .map(|(_, ovn)| ovn)
                        .collect();
                    if key.is_empty() {
                        break;
                    }
                    retried.fetch_add(1, Ordering::Relaxed);
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
    let mut report = all.report("seed (create)", args.concurrency, elapsed);
    report.note("intents_requested", args.count);
    report.note("retried_with_key", retried.load(Ordering::Relaxed));
    Ok(report)
}
