//! `deconflict availability`: a USS's availability as the DSS records it
//! (`/dss/v1/uss_availability`).

use deconflict_core::wire::{SetUssAvailabilityStatusParameters, UssAvailabilityStatusResponse};

use super::{api::Dss, show, Out};

const PATH: &str = "uss_availability";

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show a USS's availability and its version.
    Get {
        /// The USS (the `sub` of its tokens; the `manager` of what it writes).
        uss: String,
    },
    /// Set a USS's availability (needs the utm.availability_arbitration scope).
    Set {
        /// The USS (the `sub` of its tokens; the `manager` of what it writes).
        uss: String,
        #[arg(long, value_enum, ignore_case = true)]
        availability: Availability,
        /// The current version, as `get` shows it; leave out for a USS never set.
        #[arg(long)]
        old_version: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "PascalCase")]
pub enum Availability {
    Unknown,
    Normal,
    Down,
}

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    let r = match action {
        Action::Get { uss } => {
            dss.get::<UssAvailabilityStatusResponse>(&[PATH, &uss])
                .await?
        }
        Action::Set {
            uss,
            availability,
            old_version,
        } => {
            let body = SetUssAvailabilityStatusParameters {
                old_version,
                availability: format!("{availability:?}"),
            };
            dss.put(&[PATH, &uss], &body).await?
        }
    };
    out.reply(&r, |b| println!("{}", show::availability(b)))
}
