//! `deconflict verify BUNDLE`: checks an exported log bundle offline (`docs/log.md`) and names
//! each entry or checkpoint that does not hold. Exit status 0 when consistent, 1 when not, 2
//! when the file cannot be read as a bundle.

use clap::Args;
use deconflict_tlog::{verify_bundle, Bundle};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle file (JSON, as exported from the log).
    pub bundle: PathBuf,
    /// The log's public key as you got it from elsewhere (`<name>+<id>+<base64>`); without it
    /// the key in the bundle is trusted.
    #[arg(long)]
    pub key: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let text = match std::fs::read(&args.bundle) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.bundle.display());
            std::process::exit(2);
        }
    };
    let bundle: Bundle = match serde_json::from_slice(&text) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{} is not a log bundle: {e}", args.bundle.display());
            std::process::exit(2);
        }
    };
    let report = verify_bundle(&bundle, args.key.as_deref());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if !report.is_consistent() {
        std::process::exit(1);
    }
    Ok(())
}
