//! `deconflict log-export`: writes the log of a data directory (or of the PostgreSQL store) as
//! an offline bundle (`docs/log.md`) for `deconflict verify`: every entry up to the latest
//! signed checkpoint, with its proof, and every checkpoint. Safe while the server runs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use deconflict_server::tlog::{open_blocking, LOG_KEY_FILE};

#[derive(Debug, clap::Args)]
pub struct LogExportArgs {
    /// Where the store is (the log is beside it; the key is in the data directory).
    #[command(flatten)]
    pub location: crate::migrate::MigrateArgs,
    /// Write the bundle here instead of to standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs on a blocking thread: the storage clients block.
pub fn run(args: LogExportArgs) -> anyhow::Result<()> {
    let mut config = crate::migrate::load_config(args.location)?;
    let key = config.data_dir.join(LOG_KEY_FILE);
    anyhow::ensure!(
        key.exists(),
        "no log key at {}: has a server run with this data directory?",
        key.display()
    );
    // The bundle is the log's whatever origin is configured now: its key names it.
    let text =
        std::fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?;
    config.log_origin = deconflict_tlog::LogKey::from_private(&text)?
        .origin()
        .to_owned();
    let served = open_blocking(&config).map_err(anyhow::Error::msg)?;
    let bundle = deconflict_tlog::export_bundle(&served.log, served.key.verifier_key())?;
    let json = serde_json::to_vec_pretty(&bundle)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(&json)?,
    }
    eprintln!(
        "exported {} entries and {} checkpoints; public key {}",
        bundle.entries.len(),
        bundle.checkpoints.len(),
        bundle.public_key
    );
    Ok(())
}
