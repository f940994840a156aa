//! Acknowledgments over HTTP: `POST /v1/notifications/{id}/ack` (the recipient only; again
//! changes nothing; optionally signed with the party's registered Ed25519 key) and
//! `GET /v1/notifications/outstanding` (coordinators), and the escalation of overdue ones to
//! the coordinators ([`escalate_overdue`], run by a background task).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use deconflict_core::{parse, DssError};
use deconflict_humanitarian::acknowledgment::{self, Ack, Outcome, Pending};
use deconflict_humanitarian::notification::{self, Notification};
use deconflict_humanitarian::party::{Action, Party, Role};
use deconflict_tlog::SignedAck;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{decode, Member, PathParams};
use crate::recorder::Event;
use crate::state::AppState;

/// How far a signed acknowledgment's time may be from the server's clock.
pub const SIGNED_TIME_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// The body of `POST /v1/notifications/{id}/ack`: empty (or `{}`) for an acknowledgment the
/// server stamps, or the time the party signed and its signature.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    time: Option<String>,
    signature: Option<String>,
}

/// The notification `id` if `party` is its recipient; 403 for a coordinator (who may see it),
/// 404 for anyone else, as for an unknown id.
async fn own(st: &AppState, party: &Party, id: &str) -> Result<Notification, ApiError> {
    let key = id.to_owned();
    let found = st.read(move |tx| notification::get(tx, &key)).await?;
    match found {
        Some(n) if n.recipient == party.id => Ok(n),
        Some(n) if party.role.may(Action::ReadAllNotifications) => {
            Err(DssError::Forbidden(format!(
                "notification {id} went to party \"{}\"; only its recipient acknowledges it",
                n.recipient
            ))
            .into())
        }
        _ => Err(DssError::NotFound(format!("notification {id} not found")).into()),
    }
}

/// The time and signature of the acknowledgment `body` asks for, checked: a signature must
/// verify with the party's registered key over [`acknowledgment::log_record`].
fn signed(
    party: &Party,
    body: AckBody,
    n: &Notification,
    now: DateTime<Utc>,
) -> Result<(String, Option<String>), ApiError> {
    let Some(signature) = body.signature else {
        if body.time.is_some() {
            return Err(ApiError::bad(
                "time",
                "given only with a signature (the server stamps an unsigned acknowledgment)",
            ));
        }
        return Ok((crate::recorder::record_time(now), None));
    };
    let time = body.time.ok_or_else(|| {
        ApiError::bad(
            "time",
            "required with a signature: the RFC 3339 time in the record you signed",
        )
    })?;
    let at = DateTime::parse_from_rfc3339(&time)
        .map_err(|e| ApiError::bad("time", format!("not an RFC 3339 time: {e}")))?
        .with_timezone(&Utc);
    if (at - now).abs() > SIGNED_TIME_TOLERANCE {
        return Err(ApiError::bad(
            "time",
            format!(
                "{time} is more than {} minutes from the server's clock ({})",
                SIGNED_TIME_TOLERANCE.num_minutes(),
                crate::recorder::record_time(now)
            ),
        ));
    }
    let key = party.key()?.ok_or_else(|| {
        ApiError::bad(
            "signature",
            format!(
                "party \"{}\" has no registered public_key to check it with",
                party.id
            ),
        )
    })?;
    let mut record = acknowledgment::log_record(n, &party.id, &time);
    record
        .body
        .insert("signature".into(), Value::from(signature.clone()));
    SignedAck::from_record(record)
        .and_then(|a| a.verify(&key))
        .map_err(|e| {
            ApiError::bad(
                "signature",
                format!("does not verify over the acknowledgment record ({e})"),
            )
        })?;
    Ok((time, Some(signature)))
}

/// Acknowledges a notification: 201 the first time, 200 with the same acknowledgment after.
pub async fn ack(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let party = who.may(&st, Action::ReadLayer)?;
    let id = parse::entity_id("id", &id)?.to_string();
    let body: AckBody = if body.iter().all(u8::is_ascii_whitespace) {
        AckBody::default()
    } else {
        decode(&body)?
    };
    let now = st.now();
    let n = own(&st, &party, &id).await?;
    let (time, signature) = signed(&party, body, &n, now)?;
    let ack = Ack {
        notification: id.clone(),
        party: party.id.clone(),
        time,
        received: now,
        signature,
        event: String::new(),
    };
    let recorder = st.recorder.clone();
    let (n, ack, outcome) = st
        .write(move |tx| {
            acknowledgment::acknowledge(tx, &id, &party.id, ack.clone(), |tx, n| {
                let mut record = acknowledgment::log_record(n, &ack.party, &ack.time);
                if let Some(s) = &ack.signature {
                    record
                        .body
                        .insert("signature".into(), Value::from(s.clone()));
                }
                Ok(recorder.record(tx, &record)?.0)
            })
        })
        .await?;
    // The log entry of the acknowledgment (the first one, when this is a repeat).
    let receipt = if ack.event.is_empty() {
        None
    } else {
        Some(st.recorder.receipt(&Event(ack.event.clone())).await?)
    };
    let status = match outcome {
        Outcome::Acknowledged => StatusCode::CREATED,
        Outcome::Already => StatusCode::OK,
    };
    Ok((
        status,
        axum::Json(json!({
            "outcome": outcome,
            "notification": n,
            "acknowledgment": ack,
            "receipt": receipt,
        })),
    ))
}

/// One outstanding notification in the coordinator's list.
#[derive(Debug, Serialize)]
pub struct Waiting {
    #[serde(flatten)]
    pending: Pending,
    /// Seconds since it was made.
    outstanding_secs: i64,
    /// Past the acknowledgment deadline.
    overdue: bool,
}

#[derive(Debug, Serialize)]
pub struct PartyOutstanding {
    party: String,
    count: usize,
    /// Seconds the oldest has waited.
    oldest_secs: i64,
    notifications: Vec<Waiting>,
}

/// What is waiting for an acknowledgment, per party, oldest first: coordinators only.
pub async fn outstanding(
    State(st): State<AppState>,
    who: Member,
) -> Result<axum::Json<Value>, ApiError> {
    who.may(&st, Action::ReadAllNotifications)?;
    let now = st.now();
    let deadline = deadline(&st);
    let all = st.read(acknowledgment::outstanding).await?;
    let mut by_party: BTreeMap<String, Vec<Waiting>> = BTreeMap::new();
    for p in all {
        let waited = now - p.created;
        by_party
            .entry(p.recipient.clone())
            .or_default()
            .push(Waiting {
                outstanding_secs: waited.num_seconds(),
                overdue: waited >= deadline,
                pending: p,
            });
    }
    let parties: Vec<PartyOutstanding> = by_party
        .into_iter()
        .map(|(party, notifications)| PartyOutstanding {
            party,
            count: notifications.len(),
            oldest_secs: notifications
                .iter()
                .map(|w| w.outstanding_secs)
                .max()
                .unwrap_or(0),
            notifications,
        })
        .collect();
    Ok(axum::Json(json!({
        "deadline_secs": deadline.num_seconds(),
        "parties": parties,
    })))
}

fn deadline(st: &AppState) -> chrono::Duration {
    chrono::Duration::from_std(st.layer.ack_deadline).unwrap_or(chrono::Duration::MAX)
}

/// Tells the coordinators of every notification past the acknowledgment deadline that has
/// not been escalated yet; returns the escalations made. Each notification is escalated once
/// (the mark is written in the transaction that makes the escalations), and each escalation
/// goes into the log like any notification.
pub async fn escalate_overdue(st: &AppState) -> Result<usize, ApiError> {
    let now = st.now();
    let deadline = deadline(st);
    let due: Vec<Pending> = st
        .read(acknowledgment::outstanding)
        .await?
        .into_iter()
        .filter(|p| p.escalated.is_none() && p.created + deadline <= now)
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let coordinators = st.layer.with_role(Role::Coordinator)?;
    if coordinators.is_empty() {
        tracing::warn!(
            overdue = due.len(),
            "notifications are past the acknowledgment deadline, but no coordinator is registered to tell"
        );
        return Ok(0);
    }
    let mut made = 0;
    for p in due {
        let coords = coordinators.clone();
        let at = p.created + deadline;
        let rec = st.recorder.clone();
        made += st
            .write(move |tx| {
                let told = acknowledgment::escalate(tx, &p.notification, &coords, at, now)?;
                for n in &told {
                    rec.record(tx, &crate::conflict_log::notification(n)?)?;
                }
                Ok(told.len())
            })
            .await?;
    }
    if made > 0 {
        st.events.notified();
    }
    Ok(made)
}

/// Runs [`escalate_overdue`] every `every` until aborted.
pub fn spawn_escalator(st: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match escalate_overdue(&st).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(escalations = n, "overdue acknowledgments escalated"),
                Err(e) => tracing::warn!(error = %e, "escalating overdue acknowledgments failed"),
            }
        }
    })
}
