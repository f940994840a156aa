//! `deconflict report incident ID`: the accountability record of an incident
//! (`GET /v1/incidents/{id}/report`) — the sites and movements it matched, who was told of them
//! and when, who acknowledged, whose DSS writes held their OVNs, each fact citing its log
//! entry — as JSON, Markdown or a standalone HTML page, to stdout or a file.

use std::path::PathBuf;

use anyhow::Context;

use super::api::Dss;
use super::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The accountability record of an incident (Markdown unless --format or --json says
    /// otherwise).
    Incident {
        /// The incident's id, as `POST /v1/incidents` or `GET /v1/incidents` gave it.
        id: String,
        /// The document's format.
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// Write the document to this file instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// A format the server writes reports in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Md,
    Html,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Md => "md",
            Format::Html => "html",
        }
    }
}

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    match action {
        Action::Incident {
            id,
            format,
            out: file,
        } => {
            // `--json` is every client command's way of asking for the machine-readable form.
            let format = if out.json { Format::Json } else { format };
            let text = dss
                .get_text(
                    &["incidents", &id, "report"],
                    &[("format", format.as_str())],
                )
                .await?;
            match file {
                Some(path) => {
                    std::fs::write(&path, &text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("report of incident {id} written to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}
