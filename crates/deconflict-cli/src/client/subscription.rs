//! `deconflict subscription`: subscriptions to changes in an area (`/dss/v1/subscriptions`).

use anyhow::bail;
use chrono::Utc;
use deconflict_core::wire::{
    GetSubscriptionResponse, PutSubscriptionParameters, PutSubscriptionResponse,
    QuerySubscriptionsResponse, Subscription,
};
use serde_json::{json, Value};

use super::input::AreaArgs;
use super::{api::Dss, show, warn, Out};

const PATH: &str = "subscriptions";

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create a subscription, or update one (--id and --version).
    Put(Put),
    /// Show one of your subscriptions.
    Get {
        /// Its id (a UUID).
        id: String,
    },
    /// List your subscriptions that meet an area.
    Query(AreaArgs),
    /// Delete a subscription, given its current version.
    Delete {
        /// Its id (a UUID).
        id: String,
        /// Its current version, as the last put printed it.
        version: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct Put {
    /// Id of the subscription [default: a new random UUID, printed].
    #[arg(long)]
    pub id: Option<String>,
    /// Update: the subscription's current version.
    #[arg(long, requires = "id")]
    pub version: Option<String>,
    /// Be notified of operational intents in the area.
    #[arg(long)]
    pub notify_intents: bool,
    /// Be notified of constraints in the area.
    #[arg(long)]
    pub notify_constraints: bool,
    /// Base URL of your USS, where notifications go [default: the file's].
    #[arg(long, env = "DECONFLICT_USS_BASE_URL")]
    pub uss_base_url: Option<String>,
    /// The area: one volume. Times and altitudes left open are bounded by the server (from
    /// now, for the longest duration it allows; every altitude). Last, because its help
    /// heading would otherwise cover the fields after it.
    #[command(flatten)]
    pub area: AreaArgs,
}

pub async fn run(dss: &Dss, action: Action, out: &Out) -> anyhow::Result<()> {
    match action {
        Action::Put(p) => put(dss, p, out).await,
        Action::Get { id } => {
            let r = dss.get::<GetSubscriptionResponse>(&[PATH, &id]).await?;
            out.reply(&r, |b| println!("{}", show::subscription(&b.subscription)))
        }
        Action::Query(area) => {
            let input = area.read(Utc::now())?;
            warn(&input.warnings);
            let r = super::query_areas(
                dss,
                &[PATH, "query"],
                input.extents,
                |r: &mut QuerySubscriptionsResponse| &mut r.subscriptions,
                |s: &Subscription| s.id.as_str(),
            )
            .await?;
            out.reply(&r, |b| {
                println!("{}", show::subscriptions(&b.subscriptions));
                println!("{} subscription(s)", b.subscriptions.len());
            })
        }
        Action::Delete { id, version } => {
            // The server answers with the deleted subscription, shaped like a get.
            let r = dss
                .delete::<GetSubscriptionResponse>(&[PATH, &id, &version])
                .await?;
            out.reply(&r, |b| {
                println!("Deleted:\n{}", show::subscription(&b.subscription))
            })
        }
    }
}

async fn put(dss: &Dss, p: Put, out: &Out) -> anyhow::Result<()> {
    let input = p.area.read(Utc::now())?;
    warn(&input.warnings);
    let [volume] = <[_; 1]>::try_from(input.extents).map_err(|v: Vec<_>| {
        anyhow::anyhow!(
            "a subscription covers one volume; the area gives {} (subscribe to each, or to \
             one shape around them)",
            v.len()
        )
    })?;
    let mut body = input.body;
    body.insert("extents".into(), serde_json::to_value(&volume)?);
    if let Some(u) = p.uss_base_url {
        body.insert("uss_base_url".into(), json!(u));
    }
    if !body.contains_key("uss_base_url") {
        bail!(
            "no uss_base_url: give --uss-base-url (or DECONFLICT_USS_BASE_URL), or put it in \
             the file"
        );
    }
    if p.notify_intents {
        body.insert("notify_for_operational_intents".into(), json!(true));
    }
    if p.notify_constraints {
        body.insert("notify_for_constraints".into(), json!(true));
    }
    let body: PutSubscriptionParameters = serde_path_to_error::deserialize(Value::Object(body))
        .map_err(|e| anyhow::anyhow!("the request body: at `{}`: {}", e.path(), e.inner()))?;
    // Caught here because the server's message names JSON fields, not these flags.
    if body.notify_for_operational_intents != Some(true)
        && body.notify_for_constraints != Some(true)
    {
        bail!("nothing to be notified of: give --notify-intents and/or --notify-constraints");
    }
    let id = super::id_or_new(p.id);
    let r = match &p.version {
        Some(v) => dss.put(&[PATH, &id, v], &body).await?,
        None => dss.put(&[PATH, &id], &body).await?,
    };
    out.reply(&r, |b: &PutSubscriptionResponse| {
        println!("{}", show::subscription(&b.subscription));
        if !b.operational_intent_references.is_empty() {
            println!(
                "Operational intents already in the area:\n{}",
                show::intents(&b.operational_intent_references)
            );
        }
        if !b.constraint_references.is_empty() {
            println!(
                "Constraints already in the area:\n{}",
                show::constraints(&b.constraint_references)
            );
        }
    })
}
