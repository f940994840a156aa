//! `deconflict intent`: operational intent references (`/dss/v1/operational_intent_references`).

use std::path::PathBuf;

use anyhow::bail;
use chrono::Utc;
use deconflict_core::wire::{
    ChangeOperationalIntentReferenceResponse, GetOperationalIntentReferenceResponse,
    OperationalIntentReference, PutOperationalIntentReferenceParameters,
    QueryOperationalIntentReferenceResponse,
};
use serde_json::{json, Value};

use super::input::{self, AreaArgs, ExtentArgs};
use super::{api::Dss, show, warn, Out};

const PATH: &str = "operational_intent_references";

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create an operational intent reference, or update one (--id and --ovn).
    Put(Put),
    /// Show one operational intent reference.
    Get {
        /// Its id (a UUID).
        id: String,
    },
    /// List the operational intent references that meet an area.
    Query(AreaArgs),
    /// Delete an operational intent reference; only its manager can, with its current OVN.
    Delete {
        /// Its id (a UUID).
        id: String,
        /// Its current OVN, as the last put printed it.
        ovn: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "PascalCase")]
pub enum State {
    Accepted,
    Activated,
    Nonconforming,
    Contingent,
}

#[derive(Debug, clap::Args)]
pub struct Put {
    /// GeoJSON, Volume4D JSON or a PutOperationalIntentReferenceParameters body; `-` reads
    /// stdin.
    pub file: PathBuf,
    /// Id of the intent [default: a new random UUID, printed].
    #[arg(long)]
    pub id: Option<String>,
    /// Update: the intent's current OVN.
    #[arg(long, requires = "id")]
    pub ovn: Option<String>,
    /// OVN of an intent or constraint in the way, to show they are known; repeat or
    /// comma-separate.
    #[arg(long = "key", value_name = "OVN", value_delimiter = ',')]
    pub keys: Vec<String>,
    /// State of the intent [default: the file's, else Accepted].
    #[arg(long, value_enum, ignore_case = true)]
    pub state: Option<State>,
    /// Base URL of your USS, where others fetch the details [default: the file's].
    #[arg(long, env = "DECONFLICT_USS_BASE_URL")]
    pub uss_base_url: Option<String>,
    /// An existing subscription of yours that covers the intent.
    #[arg(long, conflicts_with = "new_subscription")]
    pub subscription_id: Option<String>,
    /// Make an implicit subscription for the intent, notifying this base URL.
    #[arg(long, value_name = "URL")]
    pub new_subscription: Option<String>,
    /// With --new-subscription: notify for constraints too.
    #[arg(long, requires = "new_subscription")]
    pub notify_constraints: bool,
    #[command(flatten)]
    pub extent: ExtentArgs,
}

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    match action {
        Action::Put(p) => put(dss, p, out).await,
        Action::Get { id } => {
            let r = dss
                .get::<GetOperationalIntentReferenceResponse>(&[PATH, &id])
                .await?;
            out.reply(&r, |b| {
                println!("{}", show::intent(&b.operational_intent_reference))
            })
        }
        Action::Query(area) => {
            let input = area.read(Utc::now())?;
            warn(&input.warnings);
            let r = super::query_areas(
                dss,
                &[PATH, "query"],
                input.extents,
                |r: &mut QueryOperationalIntentReferenceResponse| {
                    &mut r.operational_intent_references
                },
                |oi: &OperationalIntentReference| oi.id.as_str(),
            )
            .await?;
            out.reply(&r, |b| {
                let found = &b.operational_intent_references;
                println!("{}", show::intents(found));
                println!("{} operational intent reference(s)", found.len());
            })
        }
        Action::Delete { id, ovn } => {
            let r = dss
                .delete::<ChangeOperationalIntentReferenceResponse>(&[PATH, &id, &ovn])
                .await?;
            out.reply(&r, |b| {
                println!(
                    "Deleted:\n{}",
                    show::intent(&b.operational_intent_reference)
                );
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
    if let Some(s) = p.state {
        body.insert("state".into(), json!(format!("{s:?}")));
    }
    body.entry("state").or_insert_with(|| json!("Accepted"));
    if let Some(u) = p.uss_base_url {
        body.insert("uss_base_url".into(), json!(u));
    }
    if !body.contains_key("uss_base_url") {
        bail!(
            "no uss_base_url: give --uss-base-url (or DECONFLICT_USS_BASE_URL), or put it in \
             the file"
        );
    }
    if !p.keys.is_empty() {
        let keys = body.entry("key").or_insert_with(|| json!([]));
        if let Value::Array(list) = keys {
            list.extend(p.keys.into_iter().map(Value::String));
        }
    }
    if let Some(s) = p.subscription_id {
        body.insert("subscription_id".into(), json!(s));
    }
    if let Some(url) = p.new_subscription {
        body.insert(
            "new_subscription".into(),
            json!({"uss_base_url": url, "notify_for_constraints": p.notify_constraints}),
        );
    }
    // Through the wire type, so a mistake in the file is reported here, by its path.
    let body: PutOperationalIntentReferenceParameters =
        serde_path_to_error::deserialize(Value::Object(body)).map_err(|e| {
            anyhow::anyhow!("{}: at `{}`: {}", p.file.display(), e.path(), e.inner())
        })?;
    let id = super::id_or_new(p.id);
    let r = match &p.ovn {
        Some(ovn) => dss.put(&[PATH, &id, ovn], &body).await?,
        None => dss.put(&[PATH, &id], &body).await?,
    };
    out.reply(&r, |b: &ChangeOperationalIntentReferenceResponse| {
        println!("{}", show::intent(&b.operational_intent_reference));
        subscribers(b);
    })
}

fn subscribers(b: &ChangeOperationalIntentReferenceResponse) {
    if b.subscribers.is_empty() {
        println!("No subscriber to notify.");
    } else {
        println!(
            "Notify these subscribers:\n{}",
            show::subscribers(&b.subscribers)
        );
    }
}
