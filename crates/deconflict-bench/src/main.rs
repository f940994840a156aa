//! `deconflict-load`: a closed-loop load generator for the deconflict DSS HTTP API.
//!
//! It only ever talks to a loopback address (see [`target`]), each run is bounded in time and
//! in requests, and every scenario prints requests, successes, 409s, other errors, throughput
//! and latency quantiles, as a table or (`--json`) as JSON.

mod client;
mod contention;
mod cpu;
mod direct;
mod query;
mod region;
mod scenario;
mod seed;
mod stats;
mod target;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::client::Endpoint;
use crate::stats::Report;

/// jemalloc, as the server: the generator shares the two cores with the server, and with
/// glibc's allocator it spent about a fifth of its CPU in malloc and free under contention.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "deconflict-load",
    version,
    about = "Load generator for the deconflict DSS HTTP API (loopback only)"
)]
struct Cli {
    /// Base URL of the DSS; must be http:// to a loopback address. Give it more than once (or
    /// comma-separated) for a pool of instances: the clients are spread over them in turn.
    #[arg(
        long,
        env = "DECONFLICT_URL",
        default_value = "http://127.0.0.1:8082",
        value_delimiter = ',',
        num_args = 1,
        global = true
    )]
    url: Vec<String>,
    /// Bearer token sent with every request (e.g. from `deconflict dev-token`).
    #[arg(long, env = "DECONFLICT_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Read the bearer token from this file instead.
    #[arg(long, global = true, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// Worker threads of the load generator (the server needs CPU too).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    /// Time allowed for one request.
    #[arg(long, default_value = "30s", value_parser = parse_duration, global = true)]
    timeout: Duration,
    /// Print the reports as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Also write the reports as JSON to this file.
    #[arg(long, global = true, value_name = "FILE")]
    json_out: Option<PathBuf>,
    /// Process id of the server (on this machine): each scenario's report then notes the
    /// server's CPU time during it, in all and per request (from /proc/PID/stat).
    #[arg(long, global = true, value_name = "PID")]
    server_pid: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create N non-intersecting operational intents over a 100 km × 100 km region.
    Seed(seed::SeedArgs),
    /// Query random 2 km × 2 km × 1 h boxes of the region.
    Query(query::QueryArgs),
    /// GET /aux/v1/version at the highest rate: the ceiling of the HTTP stack.
    Version(query::LoadArgs),
    /// Create, update and delete intents that all intersect one 1 km² area, then verify.
    Contention(contention::ContentionArgs),
    /// seed (if the region is empty), query, version, contention, in sequence.
    All(AllArgs),
    /// Write seeded intents directly into a store file (server stopped), without HTTP.
    SeedDirect(direct::SeedDirectArgs),
    /// Poll GET /healthy until it answers 200; print how long that took, in seconds.
    WaitHealthy {
        /// Give up after this long.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        max_time: Duration,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct AllArgs {
    /// Intents to seed when the region is empty.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Concurrent clients of every scenario.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// Duration of query, version and contention.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Pause between scenarios, to let the server settle.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pause: Duration,
}

/// A fast random generator a worker task can own (the thread-local one is not `Send`).
pub fn rng() -> rand::rngs::SmallRng {
    use rand::SeedableRng;
    rand::rngs::SmallRng::from_rng(&mut rand::rng())
}

/// `20s`, `500ms`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 20s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unit must be ms, s, m or h")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::SeedDirect(args) = &cli.command {
        let r = direct::run(args)?;
        if cli.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            let file = r
                .database_bytes
                .map(|b| format!("; file {} MB", b / 1_000_000))
                .unwrap_or_default();
            println!(
                "seed-direct: {} intents in {:.1} s ({:.0}/s); store opened in {:.2} s{file}",
                r.created, r.seconds, r.per_second, r.open_seconds,
            );
        }
        return Ok(());
    }
    let targets = cli
        .url
        .iter()
        .map(|u| target::Target::parse(u))
        .collect::<Result<Vec<_>>>()?;
    if targets.is_empty() {
        bail!("--url: give at least one URL");
    }
    let token = match (&cli.token, &cli.token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading --token-file {}", f.display()))?,
        ),
        (None, None) => None,
    };
    let ep = Endpoint::new(targets, token.as_deref(), cli.timeout)?;
    if cli.threads == 0 {
        bail!("--threads must be at least 1");
    }
    if let Command::WaitHealthy { max_time } = &cli.command {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let secs = rt.block_on(wait_healthy(&ep, *max_time))?;
        println!("{secs:.3}");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads)
        .enable_all()
        .build()?;
    let cpu = cli.server_pid.map(cpu::ProcessCpu::server);
    let reports = rt.block_on(run(&ep, &cli.command, cli.json, cpu.as_ref()))?;
    if let Some(path) = &cli.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&reports)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print!("{}", stats::table(&reports));
    }
    Ok(())
}

/// Polls `/healthy` of every target every 2 ms; the seconds until all answered 200.
async fn wait_healthy(ep: &Endpoint, max_time: Duration) -> Result<f64> {
    let start = std::time::Instant::now();
    for target in ep.targets.iter() {
        let one = Endpoint::new(vec![target.clone()], None, ep.timeout)?;
        loop {
            let mut c = one.client();
            if let Ok(r) = c.send(hyper::Method::GET, "/healthy", None).await {
                if r.status == 200 {
                    break;
                }
            }
            if start.elapsed() > max_time {
                bail!(
                    "{} did not answer /healthy within {max_time:?}",
                    target.addr
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Runs `scenario`, noting the generator's CPU during it, and the server's when `cpu` is given.
async fn metered(
    cpu: Option<&cpu::ProcessCpu>,
    scenario: impl std::future::Future<Output = Result<Vec<Report>>>,
) -> Result<Vec<Report>> {
    let generator = cpu::ProcessCpu::generator();
    let before = cpu.map(cpu::ProcessCpu::seconds).transpose()?;
    let generator_before = generator.seconds()?;
    let mut reports = scenario.await?;
    if let (Some(cpu), Some(before)) = (cpu, before) {
        cpu.note_since(before, &mut reports)?;
    }
    generator.note_since(generator_before, &mut reports)?;
    Ok(reports)
}

async fn run(
    ep: &Endpoint,
    command: &Command,
    quiet: bool,
    cpu: Option<&cpu::ProcessCpu>,
) -> Result<Vec<Report>> {
    let say = |s: &str| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let one = |r: Result<Report>| r.map(|r| vec![r]);
    Ok(match command {
        Command::Seed(a) => metered(cpu, async { one(seed::run(ep, a).await) }).await?,
        Command::Query(a) => {
            let bodies = query::query_bodies(a)?;
            metered(cpu, async { one(query::query(ep, a, bodies).await) }).await?
        }
        Command::Version(a) => metered(cpu, async { one(query::version(ep, a).await) }).await?,
        Command::Contention(a) => metered(cpu, contention::run(ep, a)).await?,
        Command::SeedDirect(_) | Command::WaitHealthy { .. } => {
            unreachable!("handled before the runtime starts")
        }
        Command::All(a) => {
            let mut out = Vec::new();
            let load = query::LoadArgs {
                duration: a.duration,
                concurrency: a.concurrency,
                max_requests: 5_000_000,
            };
            match scenario::query_once(ep, &region::whole_region(Utc::now())).await? {
                Ok(v) if v.is_empty() => {
                    say(&format!("seed: creating {} intents ...", a.count));
                    let s = seed::SeedArgs {
                        count: a.count,
                        concurrency: a.concurrency,
                        offset: 0,
                        max_time: Duration::from_secs(1200),
                    };
                    out.extend(metered(cpu, async { one(seed::run(ep, &s).await) }).await?);
                    tokio::time::sleep(a.pause).await;
                }
                Ok(v) => say(&format!(
                    "seed: skipped, the region holds {} intents",
                    v.len()
                )),
                Err(r) if r.status == 413 => {
                    say("seed: skipped, the region holds more than a query may answer")
                }
                Err(r) => bail!(
                    "checking whether the region is empty: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
            }
            say("query ...");
            let q = query::QueryArgs {
                load: load.clone(),
                side_m: 2_000.0,
                window_min: 60,
            };
            let bodies = query::query_bodies(&q)?;
            out.extend(metered(cpu, async { one(query::query(ep, &q, bodies).await) }).await?);
            tokio::time::sleep(a.pause).await;
            say("version ...");
            out.extend(metered(cpu, async { one(query::version(ep, &load).await) }).await?);
            tokio::time::sleep(a.pause).await;
            say("contention ...");
            let c = contention::ContentionArgs {
                load,
                per_client: 2,
                max_attempts: 100,
                keep: false,
                backoff: contention::Backoff::default(),
            };
            out.extend(metered(cpu, contention::run(ep, &c)).await?);
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
