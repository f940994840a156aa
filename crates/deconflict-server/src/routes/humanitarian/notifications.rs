//! `/v1/notifications`: each party reads its own notifications, in its sequence order; a
//! coordinator may read any party's. Another party's notification is a 404, as if it did not
//! exist. (`/v1/events` streams the same notifications as they are made.)

use axum::extract::State;
use deconflict_core::{parse, DssError};
use deconflict_humanitarian::notification::{self, Notification};
use deconflict_humanitarian::party::{Action, Party};
use deconflict_tlog::Kind;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Member, PathParams, QueryParams};
use crate::recorder::Receipt;
use crate::state::AppState;

/// Most notifications in one answer.
pub const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those after this sequence number.
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
    /// Whose (a coordinator's choice; others read only their own).
    recipient: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NotificationList {
    recipient: String,
    notifications: Vec<Notification>,
    /// The last sequence number given to the recipient so far.
    head: u64,
}

/// The recipient `party` may read: itself, or `wanted` for a coordinator.
pub(crate) fn recipient(party: &Party, wanted: Option<String>) -> Result<String, ApiError> {
    match wanted {
        None => Ok(party.id.clone()),
        Some(w) if w == party.id => Ok(w),
        Some(w) => {
            deconflict_humanitarian::party::authorize(
                &party.id,
                Some(party),
                Action::ReadAllNotifications,
            )?;
            Ok(w)
        }
    }
}

pub async fn list(
    State(st): State<AppState>,
    who: Member,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<axum::Json<NotificationList>, ApiError> {
    let party = who.may(&st, Action::ReadLayer)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let recipient = recipient(&party, q.recipient)?;
    let (r, after) = (recipient.clone(), q.after);
    let (notifications, head) = st
        .read(move |tx| {
            Ok((
                notification::after(tx, &r, after, limit)?,
                notification::head(tx, &r)?,
            ))
        })
        .await?;
    Ok(axum::Json(NotificationList {
        recipient,
        notifications,
        head,
    }))
}

pub async fn get(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Notification>, ApiError> {
    Ok(axum::Json(visible(&st, who, &id).await?))
}

/// `GET /v1/notifications/{id}/receipt`: the log entry of the notification (its `notification`
/// record, with the SHA-256 of the answer of `GET /v1/notifications/{id}`) and its inclusion
/// proof, for the same parties as the notification itself. Apart from the notification so
/// that the notification's JSON stays the one the record hashes.
pub async fn receipt(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Receipt>, ApiError> {
    let n = visible(&st, who, &id).await?;
    let receipt = st
        .recorder
        .receipt_of(format!("subject:{}", n.id), Some(Kind::Notification))
        .await?;
    Ok(axum::Json(receipt))
}

/// Notification `id` if the caller is its recipient or a coordinator; 404 otherwise, as for an
/// unknown id.
async fn visible(st: &AppState, who: Member, id: &str) -> Result<Notification, ApiError> {
    let party = who.may(st, Action::ReadLayer)?;
    let id = parse::entity_id("id", id)?.to_string();
    let key = id.clone();
    let found = st.read(move |tx| notification::get(tx, &key)).await?;
    match found {
        Some(n) if n.recipient == party.id || party.role.may(Action::ReadAllNotifications) => Ok(n),
        _ => Err(DssError::NotFound(format!("notification {id} not found")).into()),
    }
}
