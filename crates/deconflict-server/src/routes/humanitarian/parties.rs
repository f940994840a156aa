//! `/v1/parties`: the registry. Every party reads it; only a coordinator adds, changes or
//! removes a party, and not one of the configuration file.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use deconflict_core::model::Document;
use deconflict_core::store::Change;
use deconflict_core::DssError;
use deconflict_humanitarian::party::{self, Action, Party, Role, Webhook};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, Member, PathParams};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct PartyView {
    /// Without its webhook, shown apart.
    #[serde(flatten)]
    party: Party,
    /// The webhook's URL, to the party itself and coordinators only; never the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookView>,
    /// `configuration` (the file; fixed) or `api`.
    source: &'static str,
}

#[derive(Debug, Serialize)]
pub struct WebhookView {
    url: String,
}

#[derive(Debug, Serialize)]
pub struct PartyList {
    parties: Vec<PartyView>,
}

/// The body of `PUT /v1/parties/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParty {
    role: Role,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: Option<String>,
    #[serde(default)]
    webhook: Option<Webhook>,
    /// Its Ed25519 public key, standard base64, for signed acknowledgments.
    #[serde(default)]
    public_key: Option<String>,
}

/// `party` as `viewer` may see it.
fn view(st: &AppState, viewer: &Party, mut party: Party) -> Result<PartyView, ApiError> {
    let source = if st.layer.is_configured(&party.id)? {
        "configuration"
    } else {
        "api"
    };
    let own = viewer.id == party.id || viewer.role.may(Action::ManageParties);
    let webhook = party
        .webhook
        .take()
        .filter(|_| own)
        .map(|w| WebhookView { url: w.url });
    Ok(PartyView {
        party,
        webhook,
        source,
    })
}

pub async fn list(
    State(st): State<AppState>,
    who: Member,
) -> Result<axum::Json<PartyList>, ApiError> {
    let viewer = who.may(&st, Action::ReadLayer)?;
    let parties = st
        .layer
        .parties()?
        .into_iter()
        .map(|p| view(&st, &viewer, p))
        .collect::<Result<_, _>>()?;
    Ok(axum::Json(PartyList { parties }))
}

pub async fn get(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<PartyView>, ApiError> {
    let viewer = who.may(&st, Action::ReadLayer)?;
    let p = st
        .layer
        .party(&id)?
        .ok_or_else(|| DssError::NotFound(format!("party {id} is not registered")))?;
    Ok(axum::Json(view(&st, &viewer, p)?))
}

fn not_configured(st: &AppState, id: &str) -> Result<(), ApiError> {
    if st.layer.is_configured(id)? {
        return Err(DssError::Conflict(format!(
            "party {id} is defined in the server's configuration file; change it there"
        ))
        .into());
    }
    Ok(())
}

pub async fn put(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
    Json(body): Json<PutParty>,
) -> Result<(StatusCode, axum::Json<PartyView>), ApiError> {
    let coordinator = who.may(&st, Action::ManageParties)?;
    not_configured(&st, &id)?;
    let p = Party {
        id,
        role: body.role,
        name: body.name,
        contact: body.contact,
        webhook: body.webhook,
        public_key: body.public_key,
    };
    p.validate()?;
    let doc = Arc::new(Document {
        kind: party::KIND.into(),
        id: p.id.clone(),
        owner: coordinator.id.clone(),
        body: serde_json::to_string(&p).map_err(|e| ApiError::internal(e.to_string()))?,
    });
    let created = st
        .write(move |tx| {
            let created = tx.document(party::KIND, &doc.id)?.is_none();
            tx.apply(Change::PutDocument(doc.clone()))?;
            Ok(created)
        })
        .await?;
    reload(&st).await?;
    Ok((
        super::super::created_or_ok(created),
        axum::Json(view(&st, &coordinator, p)?),
    ))
}

pub async fn delete(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<PartyView>, ApiError> {
    who.may(&st, Action::ManageParties)?;
    not_configured(&st, &id)?;
    let key = id.clone();
    let removed: Party = st
        .write(move |tx| {
            let p = deconflict_humanitarian::publish::stored::<Party>(tx, party::KIND, &key)?
                .ok_or_else(|| DssError::NotFound(format!("party {key} is not registered")))?;
            tx.apply(Change::DeleteDocument {
                kind: party::KIND.into(),
                id: key.clone(),
            })?;
            Ok(p)
        })
        .await?;
    reload(&st).await?;
    Ok(axum::Json(PartyView {
        webhook: removed
            .webhook
            .as_ref()
            .map(|w| WebhookView { url: w.url.clone() }),
        party: Party {
            webhook: None,
            ..removed
        },
        source: "api",
    }))
}

/// Re-reads the registry after a change, so that the change is in force on the next request.
async fn reload(st: &AppState) -> Result<(), ApiError> {
    let (layer, store) = (Arc::clone(&st.layer), Arc::clone(&st.store));
    crate::state::blocking(move || layer.reload(&*store)).await
}
