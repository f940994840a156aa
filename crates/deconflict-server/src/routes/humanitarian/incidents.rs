//! `/v1/incidents`: any party of the line reports an incident; deconflict matches it against
//! the sites and movements notified at that moment (the rule is in
//! `deconflict_humanitarian::incident`) and keeps it, with what it matched, in the store.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use deconflict_core::ids::EntityId;
use deconflict_core::DssError;
use deconflict_humanitarian::incident::{self, Incident, IncidentInput};
use deconflict_humanitarian::party::Action;
use deconflict_humanitarian::publish;
use deconflict_tlog::{Kind, Record};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{Json, Member, PathParams};
use crate::recorder::record_time;
use crate::state::AppState;

/// Reports an incident: 201 with the stored incident and what it matched.
pub async fn create(
    State(st): State<AppState>,
    who: Member,
    Json(input): Json<IncidentInput>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let party = who.may(&st, Action::ReportIncidents)?;
    let now = st.now();
    let content = input.check(now, &st.limits)?;
    let limits = Arc::clone(&st.limits);
    let id = EntityId::new_random().to_string();
    let recorder = st.recorder.clone();
    let (stored, event) = st
        .write(move |tx| {
            let incident = Incident {
                id: id.clone(),
                reporter: party.id.clone(),
                reported: now,
                matches: incident::find_matches(tx, &content, now, &limits)?,
                content: content.clone(),
            };
            publish::put_record(
                tx,
                incident::KIND,
                &incident.id,
                &incident.reporter,
                &incident,
            )?;
            let event = recorder.record(tx, &log_record(&incident))?;
            Ok((incident, event))
        })
        .await?;
    let receipt = if st.recorder.is_enabled() {
        Some(st.recorder.receipt(&event).await?)
    } else {
        None
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "incident": stored, "receipt": receipt })),
    ))
}

/// The log record of an incident: who reported what, when, where (GeoJSON text: records hold
/// no fractional numbers) and which sites and movements it matched.
fn log_record(i: &Incident) -> Record {
    let mut body = serde_json::Map::new();
    body.insert("category".into(), i.content.category.as_str().into());
    body.insert("confidence".into(), i.content.confidence.as_str().into());
    body.insert("source".into(), i.content.source.clone().into());
    body.insert("description".into(), i.content.description.clone().into());
    body.insert("happened".into(), record_time(i.content.time).into());
    body.insert(
        "location".into(),
        geojson::GeoJson::Geometry(i.content.location.clone())
            .to_string()
            .into(),
    );
    if let Some(r) = i.content.radius_m {
        body.insert("radius_mm".into(), ((r * 1000.0).round() as i64).into());
    }
    body.insert(
        "matches".into(),
        Value::Array(i.matches.iter().map(|m| Value::from(m.id())).collect()),
    );
    Record {
        kind: Kind::Incident,
        time: record_time(i.reported),
        party: i.reporter.clone(),
        subject: i.id.clone(),
        body,
    }
}

/// Every incident, latest reported first.
pub async fn list(State(st): State<AppState>, who: Member) -> Result<axum::Json<Value>, ApiError> {
    who.may(&st, Action::ReadLayer)?;
    let mut all: Vec<Incident> = st
        .read(|tx| publish::all::<Incident>(tx, incident::KIND))
        .await?;
    all.sort_by(|a, b| b.reported.cmp(&a.reported).then(a.id.cmp(&b.id)));
    Ok(axum::Json(json!({ "incidents": all })))
}

/// The incident `id`, or 404.
pub(super) async fn stored(st: &AppState, id: &str) -> Result<Incident, ApiError> {
    let key = super::id(id)?.to_string();
    st.read(move |tx| publish::stored::<Incident>(tx, incident::KIND, &key))
        .await?
        .ok_or_else(|| DssError::NotFound(format!("incident {id} not found")).into())
}

pub async fn get(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Value>, ApiError> {
    who.may(&st, Action::ReadLayer)?;
    Ok(axum::Json(json!({ "incident": stored(&st, &id).await? })))
}
