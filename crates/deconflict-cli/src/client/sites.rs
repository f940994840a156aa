//! `deconflict sites import|export|list`: protected sites of the humanitarian layer, from and
//! to the files humanitarian data is shared in (GeoJSON FeatureCollections, CSV), through the
//! server's `/v1/sites` API.
//!
//! An import checks every row first, with the same rules as the server, and sends nothing if
//! one is bad (unless `--skip-invalid`); then it sends the sites in batches, each published by
//! the server in one transaction. Sites are found again by their external id (or one derived
//! from their content), so importing the same file again changes nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use deconflict_core::limits::Limits;
use deconflict_humanitarian::exchange::{self, Format};
use deconflict_humanitarian::site::{Site, SiteInput};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::api::{Dss, Reply};
use super::{show, Out};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Geojson,
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Geojson => Format::GeoJson,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Import sites from a GeoJSON FeatureCollection or a CSV file
    /// (`lat,lon,name,category,radius_m`, optional `id`, `valid_from`, `valid_until`,
    /// `geometry`). Every row is checked first; one bad row stops the import before anything is
    /// sent, unless --skip-invalid. Importing the same file again changes nothing.
    Import {
        file: PathBuf,
        /// Import the valid rows even if some are not (each refused row is still reported).
        #[arg(long)]
        skip_invalid: bool,
        /// The file's format (default: by extension, `.csv` or else GeoJSON).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Sites sent per request.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch: u32,
    },
    /// Export sites as GeoJSON or CSV (re-importable as they are).
    Export {
        #[arg(long, value_enum, default_value = "geojson")]
        format: FormatArg,
        /// Only the sites of this party.
        #[arg(long)]
        party: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List sites.
    List {
        /// Only the sites of this party.
        #[arg(long)]
        party: Option<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct SiteList {
    sites: Vec<Site>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Imported {
    index: usize,
    id: String,
    external_id: String,
    outcome: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ImportReport {
    imported: Vec<Imported>,
}

/// Progress is drawn from this many sites on; smaller files finish before anyone looks.
const PROGRESS_FROM: usize = 2_000;

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    match action {
        Action::Import {
            file,
            skip_invalid,
            format,
            batch,
        } => import(dss, &file, skip_invalid, format, batch as usize, out).await,
        Action::Export {
            format,
            party,
            output,
        } => {
            let sites = list(dss, party.as_deref()).await?.body.sites;
            let text = match Format::from(format) {
                Format::GeoJson => exchange::write_geojson(&sites),
                Format::Csv => exchange::write_csv(&sites)?,
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("{}", path.display()))?;
                    eprintln!("{} sites written to {}", sites.len(), path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        Action::List { party } => {
            let reply = list(dss, party.as_deref()).await?;
            out.reply(&reply, |l| println!("{}", show::sites(&l.sites)))
        }
    }
}

async fn list(dss: &Dss, party: Option<&str>) -> anyhow::Result<Reply<SiteList>> {
    let mut reply: Reply<SiteList> = dss.get(&["sites"]).await?;
    if let Some(p) = party {
        reply.body.sites.retain(|s| s.party == p);
        reply.raw = serde_json::to_value(&reply.body)?;
    }
    Ok(reply)
}

/// A refused row: where it is in the file, and why.
type Refusal = (String, String);

/// The rows of `text` that may be sent, and those refused: each checked with the server's
/// rules, and no two naming the same site.
fn check(text: &str, format: Format) -> anyhow::Result<(Vec<SiteInput>, Vec<Refusal>)> {
    let rows = exchange::read(text, format)?;
    let (now, limits) = (Utc::now(), Limits::default());
    let mut valid = Vec::with_capacity(rows.len());
    let mut refused = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for row in rows {
        let checked = row.site.and_then(|input| {
            let (content, _) = input.check(now, &limits).map_err(|e| e.to_string())?;
            if let Some(first) = seen.get(&content.external_id) {
                return Err(format!(
                    "the site {} is already at {first}",
                    content.external_id
                ));
            }
            seen.insert(content.external_id, row.at.clone());
            Ok(input)
        });
        match checked {
            Ok(input) => valid.push(input),
            Err(reason) => refused.push((row.at, reason)),
        }
    }
    Ok((valid, refused))
}

async fn import(
    dss: &Dss,
    file: &std::path::Path,
    skip_invalid: bool,
    format: Option<FormatArg>,
    batch: usize,
    out: &Out,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let format = format.map_or_else(|| Format::of_path(file), Format::from);
    let (valid, refused) = check(&text, format).with_context(|| format!("{}", file.display()))?;
    let total = valid.len() + refused.len();
    if !refused.is_empty() {
        eprintln!(
            "{} of {total} rows refused:\n{}",
            refused.len(),
            show::refused_rows(&refused)
        );
        if !skip_invalid {
            anyhow::bail!(
                "{}: {} of {total} rows are invalid, so nothing was imported (--skip-invalid imports the others)",
                file.display(),
                refused.len()
            );
        }
    }
    let bar = if valid.len() >= PROGRESS_FROM {
        ProgressBar::new(valid.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sites ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut imported = Vec::with_capacity(valid.len());
    for (n, chunk) in valid.chunks(batch).enumerate() {
        let reply: Reply<ImportReport> = dss
            .post(&["sites", "import"], &json!({"sites": chunk}))
            .await
            .with_context(|| {
                format!(
                    "batch {} (sites {} to {}); the {} sites before it were imported, and \
                     importing the file again skips them",
                    n + 1,
                    n * batch + 1,
                    n * batch + chunk.len(),
                    n * batch
                )
            })?;
        for i in reply.body.imported {
            *counts.entry(i.outcome.clone()).or_default() += 1;
            imported.push(i);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "imported": imported,
                "refused": refused.iter().map(|(at, reason)| json!({"at": at, "reason": reason})).collect::<Vec<_>>(),
            }))?
        );
    }
    eprintln!(
        "{}: {} created, {} updated, {} unchanged, {} refused",
        file.display(),
        count("created"),
        count("updated"),
        count("unchanged"),
        refused.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_is_checked_row_by_row_and_duplicates_are_refused() {
        let text = "lat,lon,name,category,radius_m,id\n\
                    36.2,37.15,Hospital,hospital,150,H-1\n\
                    36.2,37.15,School,barracks,150,S-1\n\
                    36.3,37.15,Hospital again,hospital,150,H-1\n\
                    36.4,37.15,Clinic,clinic,50,C-1\n";
        let (valid, refused) = check(text, Format::Csv).unwrap();
        assert_eq!(valid.len(), 2);
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[0].0, "line 3");
        assert!(refused[0].1.starts_with("category:"), "{}", refused[0].1);
        assert_eq!(refused[1].0, "line 4");
        assert!(
            refused[1].1.contains("already at line 2"),
            "{}",
            refused[1].1
        );
    }
}
