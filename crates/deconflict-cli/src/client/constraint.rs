//! `deconflict constraint`: constraint references (`/dss/v1/constraint_references`).

use std::path::PathBuf;

use anyhow::bail;
use chrono::Utc;
use deconflict_core::wire::{
    ChangeConstraintReferenceResponse, ConstraintReference, GetConstraintReferenceResponse,
    PutConstraintReferenceParameters, QueryConstraintReferencesResponse,
};
use serde_json::{json, Value};

use super::input::{self, AreaArgs, ExtentArgs};
use super::{api::Dss, show, warn, Out};

const PATH: &str = "constraint_references";

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create a constraint reference, or update one (--id and --ovn).
    Put(Put),
    /// Show one constraint reference.
    Get {
        /// Its id (a UUID).
        id: String,
    },
    /// List the constraint references that meet an area.
    Query(AreaArgs),
    /// Delete a constraint reference; only its manager can, with its current OVN.
    Delete {
        /// Its id (a UUID).
        id: String,
        /// Its current OVN, as the last put printed it.
        ovn: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct Put {
    /// GeoJSON, Volume4D JSON or a PutConstraintReferenceParameters body; `-` reads stdin.
    pub file: PathBuf,
    /// Id of the constraint [default: a new random UUID, printed].
    #[arg(long)]
    pub id: Option<String>,
    /// Update: the constraint's current OVN.
    #[arg(long, requires = "id")]
    pub ovn: Option<String>,
    /// Base URL of your USS, where others fetch the details [default: the file's].
    #[arg(long, env = "DECONFLICT_USS_BASE_URL")]
    pub uss_base_url: Option<String>,
    #[command(flatten)]
    pub extent: ExtentArgs,
}

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    match action {
        Action::Put(p) => put(dss, p, out).await,
        Action::Get { id } => {
            let r = dss
                .get::<GetConstraintReferenceResponse>(&[PATH, &id])
                .await?;
            out.reply(&r, |b| {
                println!("{}", show::constraint(&b.constraint_reference))
            })
        }
        Action::Query(area) => {
            let input = area.read(Utc::now())?;
            warn(&input.warnings);
            let r = super::query_areas(
                dss,
                &[PATH, "query"],
                input.extents,
                |r: &mut QueryConstraintReferencesResponse| &mut r.constraint_references,
                |c: &ConstraintReference| c.id.as_str(),
            )
            .await?;
            out.reply(&r, |b| {
                println!("{}", show::constraints(&b.constraint_references));
                println!("{} constraint reference(s)", b.constraint_references.len());
            })
        }
        Action::Delete { id, ovn } => {
            let r = dss
                .delete::<ChangeConstraintReferenceResponse>(&[PATH, &id, &ovn])
                .await?;
            out.reply(&r, |b| {
                println!("Deleted:\n{}", show::constraint(&b.constraint_reference));
                subscribers(b);
            })
        }
    }
}

async fn put(dss: &Dss, p: Put, out: &Out) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut input = input::read(&p.file, now)?;
    warn(&input.warnings);
    p.extent.apply(&mut input.extents, now, true);
    let mut body = input.body;
    body.insert("extents".into(), serde_json::to_value(&input.extents)?);
    if let Some(u) = p.uss_base_url {
        body.insert("uss_base_url".into(), json!(u));
    }
    if !body.contains_key("uss_base_url") {
        bail!(
            "no uss_base_url: give --uss-base-url (or DECONFLICT_USS_BASE_URL), or put it in \
             the file"
        );
    }
    let body: PutConstraintReferenceParameters =
        serde_path_to_error::deserialize(Value::Object(body)).map_err(|e| {
            anyhow::anyhow!("{}: at `{}`: {}", p.file.display(), e.path(), e.inner())
        })?;
    let id = super::id_or_new(p.id);
    let r = match &p.ovn {
        Some(ovn) => dss.put(&[PATH, &id, ovn], &body).await?,
        None => dss.put(&[PATH, &id], &body).await?,
    };
    out.reply(&r, |b: &ChangeConstraintReferenceResponse| {
        println!("{}", show::constraint(&b.constraint_reference));
        subscribers(b);
    })
}

fn subscribers(b: &ChangeConstraintReferenceResponse) {
    if b.subscribers.is_empty() {
        println!("No subscriber to notify.");
    } else {
        println!(
            "Notify these subscribers:\n{}",
            show::subscribers(&b.subscribers)
        );
    }
}
