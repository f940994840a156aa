//! `deconflict`: run the DSS, talk to one, and the development helpers around them. Each
//! subcommand lives in its own module; this file only parses and dispatches.

mod client;
mod demo;
mod dev;
mod log_export;
mod logging;
mod migrate;
mod serve;
mod verify;

use clap::{Parser, Subcommand};

/// jemalloc instead of the system allocator: a server that has taken 100,000 writes leaves
/// glibc's heap fragmented, and the search through its free lists then cost a third of the
/// server's CPU under contended writes; with jemalloc the million-intent image also needs
/// about 110 MiB less (docs/performance.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(name = "deconflict", version, about = "An ASTM F3548-21 DSS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the DSS.
    Serve(deconflict_server::ServeArgs),
    /// Bring the store's schema up to this version (serve does it too) and print the version.
    Migrate(migrate::MigrateArgs),
    /// Print an access token signed by the local dev key (for a server run with --dev).
    DevToken(dev::TokenArgs),
    /// Serve a dummy OAuth server (InterUSS interface) that signs with the local dev key.
    DevOauth(dev::OauthArgs),
    /// Operational intent references on a DSS: put, get, query, delete.
    Intent(client::IntentCmd),
    /// Constraint references on a DSS: put, get, query, delete.
    Constraint(client::ConstraintCmd),
    /// Subscriptions on a DSS: put, get, query, delete.
    Subscription(client::SubscriptionCmd),
    /// USS availability on a DSS: get, set.
    Availability(client::AvailabilityCmd),
    /// Protected sites of the humanitarian layer: import, export, list.
    Sites(client::SitesCmd),
    /// Accountability records of the humanitarian layer: `report incident ID`.
    Report(client::ReportCmd),
    /// Export the tamper-evident log as a bundle for `deconflict verify`.
    LogExport(log_export::LogExportArgs),
    /// Check an exported log bundle offline: consistent, or which entry or checkpoint is wrong.
    Verify(verify::VerifyArgs),
    /// Check a kept receipt offline against the log's public key: is the entry in the log, and
    /// (with --content) is the notification the one it records.
    VerifyReceipt(verify::VerifyReceiptArgs),
    /// Start a development server loaded with a fictional scenario (parties, sites, convoys,
    /// operations, an incident) and print what to try next.
    Demo(demo::DemoArgs),
    /// Print the version.
    Version,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Migrate(args) => tokio::task::spawn_blocking(move || migrate::run(args)).await?,
        Command::DevToken(args) => dev::token(args),
        Command::DevOauth(args) => dev::oauth(args).await,
        Command::Intent(cmd) => client::intent(cmd).await,
        Command::Constraint(cmd) => client::constraint(cmd).await,
        Command::Subscription(cmd) => client::subscription(cmd).await,
        Command::Availability(cmd) => client::availability(cmd).await,
        Command::Sites(cmd) => client::sites(cmd).await,
        Command::Report(cmd) => client::report(cmd).await,
        Command::LogExport(args) => {
            tokio::task::spawn_blocking(move || log_export::run(args)).await?
        }
        Command::Verify(args) => verify::run(args),
        Command::VerifyReceipt(args) => verify::run_receipt(args),
        Command::Version => {
            println!("deconflict {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from(["deconflict", "serve", "--dev", "--listen", "127.0.0.1:0"])
            .unwrap();
        assert!(matches!(cli.command, Command::Serve(a) if a.dev == Some(true)));
        let cli = Cli::try_parse_from([
            "deconflict",
            "dev-token",
            "--sub",
            "uss2",
            "--scope",
            "utm.strategic_coordination utm.constraint_processing",
        ])
        .unwrap();
        match cli.command {
            Command::DevToken(t) => {
                assert_eq!(t.sub, "uss2");
                assert_eq!(t.audience, "localhost");
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["deconflict", "dev-token"]).is_err(),
            "scope required"
        );
    }
}
