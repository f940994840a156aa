//! `POST /v1/sites/import`: many sites at once, all checked first, then published together in
//! one store transaction (the other `/v1/sites` routes are in `notified.rs`).

use axum::extract::State;
use deconflict_humanitarian::party::Action;
use deconflict_humanitarian::publish::{self, Outcome};
use deconflict_humanitarian::site::SiteInput;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, Member};
use crate::state::AppState;

/// The body of `POST /v1/sites/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    sites: Vec<SiteInput>,
    /// Import the valid sites even if some are not (by default one bad site refuses all).
    #[serde(default)]
    skip_invalid: bool,
}

#[derive(Debug, Serialize)]
pub struct Imported {
    index: usize,
    id: String,
    external_id: String,
    outcome: Outcome,
}

#[derive(Debug, Serialize)]
pub struct Refused {
    index: usize,
    reason: String,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    imported: Vec<Imported>,
    refused: Vec<Refused>,
}

/// Most refused sites named in a 400 message.
const NAMED_IN_MESSAGE: usize = 5;

/// Checks every site, then publishes all the valid ones in one transaction: all or none.
pub async fn import(
    State(st): State<AppState>,
    who: Member,
    Json(body): Json<Import>,
) -> Result<axum::Json<ImportReport>, ApiError> {
    let party = who.may(&st, Action::NotifySites)?;
    let now = st.now();
    let salt = st.id_salt().await?;
    let mut valid = Vec::new();
    let mut refused = Vec::new();
    for (index, input) in body.sites.iter().enumerate() {
        match input.validate(&party.id, &salt, now, &st.limits) {
            Ok(v) => valid.push((index, v)),
            Err(e) => refused.push(Refused {
                index,
                reason: e.to_string(),
            }),
        }
    }
    if !refused.is_empty() && !body.skip_invalid {
        let named: Vec<String> = refused
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|r| format!("sites[{}].{}", r.index, r.reason))
            .collect();
        let more = refused.len().saturating_sub(NAMED_IN_MESSAGE);
        let tail = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        return Err(ApiError::bad(
            named.join("; "),
            format!("{} of {} sites are invalid, so none was imported (skip_invalid imports the others){tail}", refused.len(), body.sites.len()),
        ));
    }
    let (base, limits) = (st.layer.base_url.clone(), st.limits.clone());
    let rec = st.recorder.clone();
    let imported = st
        .write_extents(now, move |tx| {
            let mut out = Vec::with_capacity(valid.len());
            let mut written = Vec::new();
            for (index, v) in &valid {
                let (site, outcome) = publish::put_site(tx, &party.id, v, &base, &limits, now)?;
                written.extend(super::notified::written(&site, outcome)?);
                if let Some(e) = super::notified::event(tx, &site, Some(outcome), now)? {
                    rec.record(tx, &e)?;
                }
                out.push(Imported {
                    index: *index,
                    id: site.id,
                    external_id: site.content.external_id,
                    outcome,
                });
            }
            Ok((out, written))
        })
        .await?;
    Ok(axum::Json(ImportReport { imported, refused }))
}
