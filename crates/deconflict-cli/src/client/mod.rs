//! The client commands (`deconflict intent|constraint|subscription|availability ...`): talk to a
//! DSS over its F3548 `/dss/v1` API from a shell; `deconflict sites ...` talks to the
//! humanitarian layer's `/v1` API of the same server, and `deconflict report ...` fetches its
//! accountability records.
//!
//! Output is a table for a person, or with `--json` the server's response as it came, for
//! scripts. Exit status: 0 done; 1 nothing was sent or no answer came (bad FILE or flags, server
//! unreachable); 3 the DSS said no: its `message` and the HTTP status go to stderr (with
//! `--json`, its body also goes to stdout), and for an airspace conflict a table of the
//! intents and constraints the request did not give keys for.

mod api;
mod availability;
mod constraint;
mod input;
mod intent;
mod report;
mod show;
mod sites;
mod subscription;

use std::io::Write;

use deconflict_core::wire::{QueryParameters, Volume4D};
use serde::de::DeserializeOwned;
use serde::Serialize;

use api::{Dss, Refused, Reply};

/// Exit status when the DSS answered with an error (1 is left for errors on this side).
const EXIT_REFUSED: i32 = 3;

/// Where the DSS is and who we are to it; accepted before or after the action.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub struct Conn {
    /// Base URL of the DSS.
    #[arg(
        long,
        global = true,
        env = "DECONFLICT_URL",
        default_value = "http://localhost:8082"
    )]
    pub url: String,
    /// Bearer token for the DSS (for a server run with --dev: `deconflict dev-token`).
    #[arg(long, global = true, env = "DECONFLICT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the server's JSON response instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct IntentCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: intent::Action,
}

#[derive(Debug, clap::Args)]
pub struct ConstraintCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: constraint::Action,
}

#[derive(Debug, clap::Args)]
pub struct SubscriptionCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: subscription::Action,
}

#[derive(Debug, clap::Args)]
pub struct SitesCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: sites::Action,
}

#[derive(Debug, clap::Args)]
pub struct ReportCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: report::Action,
}

#[derive(Debug, clap::Args)]
pub struct AvailabilityCmd {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: availability::Action,
}

pub async fn intent(cmd: IntentCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result = async { intent::run(&Dss::new(&cmd.conn)?, cmd.action, &out).await }.await;
    finish(&out, result)
}

pub async fn constraint(cmd: ConstraintCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result = async { constraint::run(&Dss::new(&cmd.conn)?, cmd.action, &out).await }.await;
    finish(&out, result)
}

pub async fn subscription(cmd: SubscriptionCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result = async { subscription::run(&Dss::new(&cmd.conn)?, cmd.action, &out).await }.await;
    finish(&out, result)
}

pub async fn availability(cmd: AvailabilityCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result = async { availability::run(&Dss::new(&cmd.conn)?, cmd.action, &out).await }.await;
    finish(&out, result)
}

pub async fn sites(cmd: SitesCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result =
        async { sites::run(&Dss::new(&cmd.conn)?.at(&["v1"]), cmd.action, &out).await }.await;
    finish(&out, result)
}

pub async fn report(cmd: ReportCmd) -> anyhow::Result<()> {
    let out = Out::new(&cmd.conn);
    let result =
        async { report::run(&Dss::new(&cmd.conn)?.at(&["v1"]), cmd.action, &out).await }.await;
    finish(&out, result)
}

/// How results are printed.
pub struct Out {
    json: bool,
}

impl Out {
    fn new(conn: &Conn) -> Out {
        Out { json: conn.json }
    }

    /// The raw response with `--json`, else whatever `tables` prints.
    fn reply<T>(&self, reply: &Reply<T>, tables: impl FnOnce(&T)) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&reply.raw)?);
        } else {
            tables(&reply.body);
        }
        Ok(())
    }
}

/// Notes that go to stderr, so that stdout stays one table or one JSON document.
fn warn(lines: &[String]) {
    for l in lines {
        eprintln!("warning: {l}");
    }
}

/// Prints an error the way a person (or with `--json`, a script) can act on, and exits: with
/// [`EXIT_REFUSED`] when the DSS said no, else with 1. Printed here rather than by `main` so
/// that a person sees one line, never a backtrace, whatever `RUST_BACKTRACE` says.
fn finish(out: &Out, result: anyhow::Result<()>) -> anyhow::Result<()> {
    let err = match result {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let refused = match err.downcast::<Refused>() {
        Ok(r) => r,
        Err(other) => {
            eprintln!("error: {other:#}");
            let _ = std::io::stdout().flush();
            std::process::exit(1);
        }
    };
    if out.json {
        println!("{}", refused.raw);
    }
    eprintln!("error: {refused}");
    if let Some(hint) = &refused.hint {
        eprintln!("hint: {hint}");
    }
    if let (Some(c), false) = (&refused.conflict, out.json) {
        if !c.missing_operational_intents.is_empty() {
            eprintln!(
                "Operational intents in the way, whose OVNs the request did not give as keys:\n{}",
                show::missing_intents(&c.missing_operational_intents)
            );
        }
        if !c.missing_constraints.is_empty() {
            eprintln!(
                "Constraints in the way, whose OVNs the request did not give as keys:\n{}",
                show::missing_constraints(&c.missing_constraints)
            );
        }
        eprintln!(
            "Get their current OVNs from their managers (uss_base_url), then retry with \
             --key OVN for each."
        );
    }
    // `exit` skips destructors; flush what is buffered first.
    let _ = std::io::stdout().flush();
    std::process::exit(EXIT_REFUSED);
}

/// `--id`, or a new UUIDv4, told on stderr so that it is known even when the request fails.
fn id_or_new(id: Option<String>) -> String {
    id.unwrap_or_else(|| {
        let id = uuid::Uuid::new_v4().to_string();
        eprintln!("new id: {id}");
        id
    })
}

/// Queries each area and merges the answers by id: the API takes one volume per query, a FILE
/// may hold several.
async fn query_areas<R, T>(
    dss: &Dss,
    segments: &[&str],
    areas: Vec<Volume4D>,
    items: fn(&mut R) -> &mut Vec<T>,
    id: fn(&T) -> &str,
) -> anyhow::Result<Reply<R>>
where
    R: DeserializeOwned + Serialize,
{
    let mut merged: Option<Reply<R>> = None;
    for area in areas {
        let body = QueryParameters {
            area_of_interest: Some(area),
        };
        let mut reply: Reply<R> = dss.post(segments, &body).await?;
        match &mut merged {
            None => merged = Some(reply),
            Some(m) => {
                let list = items(&mut m.body);
                for x in std::mem::take(items(&mut reply.body)) {
                    if !list.iter().any(|y| id(y) == id(&x)) {
                        list.push(x);
                    }
                }
                m.raw = serde_json::to_value(&m.body)?;
            }
        }
    }
    merged.ok_or_else(|| anyhow::anyhow!("no area to query"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        c: C,
    }

    #[derive(Debug, clap::Subcommand)]
    enum C {
        Intent(super::IntentCmd),
    }

    #[test]
    fn connection_flags_go_before_or_after_the_action() {
        for args in [
            &["t", "intent", "--json", "--url", "http://x", "get", "ID"][..],
            &["t", "intent", "get", "ID", "--json", "--url", "http://x"][..],
        ] {
            let C::Intent(cmd) = T::try_parse_from(args).unwrap().c;
            assert!(cmd.conn.json);
            assert_eq!(cmd.conn.url, "http://x");
        }
    }
}
