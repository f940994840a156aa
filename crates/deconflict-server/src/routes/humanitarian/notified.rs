//! `/v1/sites` and `/v1/movements`, one set of handlers for every [`Notified`] kind: a
//! humanitarian party notifies, changes and withdraws its own; every party reads them all.
//! Each write publishes the DSS entity in the same store transaction.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use deconflict_core::store::ReadTx;
use deconflict_core::DssError;
use deconflict_humanitarian::conflict::Written;
use deconflict_humanitarian::party::Action;
use deconflict_humanitarian::publish::{self, Notified, Outcome};
use deconflict_tlog::{Kind, Record};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{Json, Member, PathParams};
use crate::recorder::record_time;
use crate::state::AppState;

/// The log record of notifying (`outcome` created or updated) or withdrawing (`None`) a site
/// or movement: `party` and `subject` are its party and DSS id; the body holds `op`, its
/// `external_id`, `name` and `category` (if it has one), the OVN of its DSS entity (`ovn`,
/// absent once withdrawn) and `content_sha256`, the SHA-256 (hex) of the stored JSON, so the
/// log commits to every field without holding coordinates (records carry no fractions).
/// `None` for an unchanged notification: nothing happened.
pub(super) fn event<T: Notified>(
    tx: &dyn ReadTx,
    record: &T,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
) -> Result<Option<Record>, DssError> {
    let notified = T::KIND == deconflict_humanitarian::site::KIND;
    let (kind, op) = match (outcome, notified) {
        (Some(Outcome::Unchanged), _) => return Ok(None),
        (Some(Outcome::Created), true) => (Kind::SiteNotified, "created"),
        (Some(Outcome::Updated), true) => (Kind::SiteNotified, "updated"),
        (None, true) => (Kind::SiteWithdrawn, "withdrawn"),
        (Some(Outcome::Created), false) => (Kind::MovementNotified, "created"),
        (Some(Outcome::Updated), false) => (Kind::MovementNotified, "updated"),
        (None, false) => (Kind::MovementWithdrawn, "withdrawn"),
    };
    let stored = serde_json::to_vec(record).map_err(|e| DssError::Internal(e.to_string()))?;
    let fields: Map<String, Value> =
        serde_json::from_slice(&stored).map_err(|e| DssError::Internal(e.to_string()))?;
    let mut body = Map::new();
    body.insert("op".into(), op.into());
    body.insert(
        "content_sha256".into(),
        hex::encode(Sha256::digest(&stored)).into(),
    );
    for name in ["external_id", "name", "category"] {
        if let Some(v @ Value::String(_)) = fields.get(name) {
            body.insert(name.into(), v.clone());
        }
    }
    if outcome.is_some() {
        let id = super::id(record.id()).map_err(|_| DssError::Internal("a stored id".into()))?;
        let reference = serde_json::to_value(T::reference(tx, id, now)?)
            .map_err(|e| DssError::Internal(e.to_string()))?;
        if let Some(ovn @ Value::String(_)) = reference.get("ovn") {
            body.insert("ovn".into(), ovn.clone());
        }
    }
    Ok(Some(Record {
        kind,
        time: record_time(now),
        party: record.party().to_owned(),
        subject: record.id().to_owned(),
        body,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those of this party.
    party: Option<String>,
}

/// The record with its DSS entity as the DSS holds it now (absent once it has ended).
async fn view<T: Notified>(st: &AppState, record: T) -> Result<Value, ApiError> {
    let id = super::id(record.id())?;
    let now = st.now();
    let dss = st.read(move |tx| T::reference(tx, id, now)).await?;
    let mut v = serde_json::to_value(&record).map_err(|e| ApiError::internal(e.to_string()))?;
    if let (Value::Object(m), Some(dss)) = (&mut v, dss) {
        m.insert(
            T::DSS_FIELD.into(),
            serde_json::to_value(dss).map_err(|e| ApiError::internal(e.to_string()))?,
        );
    }
    Ok(v)
}

/// The extent a notification wrote, to look for conflicts around; none when nothing changed.
pub(super) fn written<T: Notified>(record: &T, outcome: Outcome) -> Result<Vec<Written>, DssError> {
    if outcome == Outcome::Unchanged {
        return Ok(Vec::new());
    }
    let id = deconflict_core::parse::entity_id("id", record.id())?;
    Ok(vec![Written {
        dss_type: T::DSS_TYPE,
        id,
    }])
}

async fn stored<T: Notified>(st: &AppState, id: &str) -> Result<T, ApiError> {
    let key = super::id(id)?.to_string();
    st.read(move |tx| publish::stored::<T>(tx, T::KIND, &key))
        .await?
        .ok_or_else(|| DssError::NotFound(format!("{} {id} not found", T::KIND)).into())
}

pub async fn list<T: Notified>(
    State(st): State<AppState>,
    who: Member,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    who.may(&st, Action::ReadLayer)?;
    let mut all: Vec<T> = st.read(|tx| publish::all::<T>(tx, T::KIND)).await?;
    if let Some(p) = &q.party {
        all.retain(|r| r.party() == p);
    }
    Ok(axum::Json(json!({ T::PLURAL: all })))
}

pub async fn get<T: Notified>(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Value>, ApiError> {
    who.may(&st, Action::ReadLayer)?;
    let record: T = stored(&st, &id).await?;
    Ok(axum::Json(view(&st, record).await?))
}

async fn notify<T: Notified>(
    st: &AppState,
    who: &Member,
    input: T::Input,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let party = who.may(st, T::ACTION)?;
    let now = st.now();
    let salt = st.id_salt().await?;
    let valid = T::validate(&input, &party.id, &salt, now, &st.limits)?;
    let (base, limits) = (st.layer.base_url.clone(), st.limits.clone());
    let rec = st.recorder.clone();
    let (record, outcome) = st
        .write_extents(now, move |tx| {
            let (record, outcome) = T::put(tx, &party.id, &valid, &base, &limits, now)?;
            if let Some(e) = event(tx, &record, Some(outcome), now)? {
                rec.record(tx, &e)?;
            }
            let written = written::<T>(&record, outcome)?;
            Ok(((record, outcome), written))
        })
        .await?;
    let status = if outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let record = view(st, record).await?;
    Ok((
        status,
        axum::Json(json!({"outcome": outcome, T::KIND: record})),
    ))
}

/// Notifies one, or changes the one of the party with the same external id: 201 created, 200
/// changed or unchanged.
pub async fn create<T: Notified>(
    State(st): State<AppState>,
    who: Member,
    Json(input): Json<T::Input>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    notify::<T>(&st, &who, input).await
}

/// Changes the one with DSS id `id`; its external id cannot change.
pub async fn update<T: Notified>(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
    Json(mut input): Json<T::Input>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let party = who.may(&st, T::ACTION)?;
    let old: T = stored(&st, &id).await?;
    publish::check_owner(&old, &party.id)?;
    let external_id = T::input_external_id(&mut input);
    match external_id {
        Some(e) if e.trim() != old.external_id() => {
            return Err(ApiError::bad(
                "external_id",
                format!(
                    "{} {id} has the external id \"{}\", which cannot change; withdraw it and notify a new one",
                    T::KIND,
                    old.external_id()
                ),
            ))
        }
        _ => *external_id = Some(old.external_id().to_owned()),
    }
    notify::<T>(&st, &who, input).await
}

pub async fn delete<T: Notified>(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<T>, ApiError> {
    let party = who.may(&st, T::ACTION)?;
    let id = super::id(&id)?;
    let (now, rec) = (st.now(), st.recorder.clone());
    let record = st
        .write(move |tx| {
            let record = T::withdraw(tx, &party.id, id, now)?;
            if let Some(e) = event(tx, &record, None, now)? {
                rec.record(tx, &e)?;
            }
            Ok(record)
        })
        .await?;
    Ok(axum::Json(record))
}
