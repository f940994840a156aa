//! Offline checks: `deconflict verify BUNDLE` checks an exported log bundle (`docs/log.md`) and
//! names each entry or checkpoint that does not hold; `deconflict verify-receipt RECEIPT` checks
//! one receipt a party kept (`docs/api.md`, "Keeping and checking receipts") and names the
//! field at fault. Exit status 0 when it holds, 1 when not, 2 when the file cannot be read as
//! what it should be.

use clap::Args;
use deconflict_tlog::{check_content, verify_bundle, Bundle, Receipt};
use std::path::{Path, PathBuf};

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

/// The bytes of `path`, or exit 2.
fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("cannot read {}: {e}", path.display());
        std::process::exit(2);
    })
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let text = read(&args.bundle);
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

#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt (JSON): a receipt, or what holds one as `receipt` (the data of an `event:
    /// receipt`, a webhook's receipt delivery, an acknowledgment's or incident's answer).
    pub receipt: PathBuf,
    /// The log's public key as you got it from elsewhere (`<name>+<id>+<base64>`).
    #[arg(long)]
    pub key: String,
    /// The notification exactly as delivered (its event's data, its webhook's body): its
    /// SHA-256 must be the record's `content_sha256`.
    #[arg(long)]
    pub content: Option<PathBuf>,
}

pub fn run_receipt(args: VerifyReceiptArgs) -> anyhow::Result<()> {
    let text = read(&args.receipt);
    let parsed = serde_json::from_slice::<serde_json::Value>(&text).and_then(|v| {
        let inner = v.get("receipt").cloned().unwrap_or(v);
        serde_json::from_value::<Receipt>(inner)
    });
    let receipt = parsed.unwrap_or_else(|e| {
        eprintln!("{} is not a receipt: {e}", args.receipt.display());
        std::process::exit(2);
    });
    let checked = receipt.check(&args.key).and_then(|record| {
        if let Some(path) = &args.content {
            check_content(&record, &read(path))?;
        }
        Ok(record)
    });
    match checked {
        Ok(r) => {
            println!(
                "verified: entry {} of the log's first {} entries, signed with the key given: {} \
                 {}, party {}, at {}",
                receipt.index,
                receipt.tree_size,
                r.kind.as_str(),
                r.subject,
                r.party,
                r.time
            );
            if let Some(path) = &args.content {
                println!("{} is the content it records", path.display());
            }
            Ok(())
        }
        Err(e) => {
            println!("NOT verified: {e}");
            std::process::exit(1);
        }
    }
}
