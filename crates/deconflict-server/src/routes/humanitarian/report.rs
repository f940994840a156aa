//! `GET /v1/incidents/{id}/report`: the accountability record of an incident, assembled from
//! the incident, the notifications and acknowledgments in the store, and the entries of the
//! tamper-evident log (each cited with its index and inclusion proof), in JSON, Markdown or
//! HTML (`?format=` or `Accept`).

use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use deconflict_core::store::ReadTx;
use deconflict_core::DssError;
use deconflict_humanitarian::acknowledgment;
use deconflict_humanitarian::notification::{self, Disclosure};
use deconflict_humanitarian::party::Action;
use deconflict_humanitarian::report::{
    self, Accountability, Acknowledged, Citation, Concern, LogHead, PartyRef, PlannedWith, Told,
};
use deconflict_tlog::{Kind, Record};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Member, PathParams};
use crate::state::AppState;
use crate::tlog::ServedLog;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    format: Option<String>,
}

/// The format asked for: `?format=` first, then `Accept`.
fn format(q: &ReportQuery, headers: &HeaderMap) -> Result<&'static str, ApiError> {
    if let Some(f) = &q.format {
        return match f.as_str() {
            "json" => Ok("json"),
            "md" | "markdown" => Ok("md"),
            "html" => Ok("html"),
            other => Err(ApiError::bad(
                "format",
                format!("\"{other}\" is not a format; use json, md or html"),
            )),
        };
    }
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("text/html") {
        "html"
    } else if accept.contains("text/markdown") {
        "md"
    } else {
        "json"
    })
}

fn party_ref(st: &AppState, id: &str) -> PartyRef {
    match st.layer.party(id).ok().flatten() {
        Some(p) => PartyRef {
            id: p.id,
            name: p.name,
            role: Some(p.role.as_str().to_owned()),
        },
        None => PartyRef {
            id: id.to_owned(),
            name: String::new(),
            role: None,
        },
    }
}

/// The log's entries found by `term`, decoded, with their proofs against `size`.
fn cite(log: &ServedLog, term: &str, size: u64) -> Result<Vec<(Record, Citation)>, DssError> {
    let err = |e: deconflict_tlog::LogError| DssError::Internal(format!("the log: {e}"));
    let mut out = Vec::new();
    for index in log.log.find(term).map_err(err)? {
        if index >= size {
            continue;
        }
        let Some(bytes) = log.log.records(index, index + 1).map_err(err)?.pop() else {
            continue;
        };
        let Ok(record) = Record::from_bytes(&bytes) else {
            continue;
        };
        let proof = log.log.inclusion_proof(index, size).map_err(err)?;
        out.push((
            record,
            Citation {
                index,
                tree_size: size,
                record: String::from_utf8_lossy(&bytes).into_owned(),
                proof: proof.iter().map(deconflict_tlog::hash_b64).collect(),
            },
        ));
    }
    Ok(out)
}

/// Every notification telling of `subject` (a site's or movement's id), to any party.
fn told_of(
    tx: &dyn ReadTx,
    parties: &[String],
    subject: &str,
) -> Result<Vec<notification::Notification>, DssError> {
    let mut out = Vec::new();
    for p in parties {
        for n in notification::after(tx, p, 0, usize::MAX)? {
            let about = match &n.disclosure {
                Disclosure::Site { site, .. } => site.id == subject,
                Disclosure::Movement { movement, .. } => movement.id == subject,
                _ => false,
            };
            if about {
                out.push(n);
            }
        }
    }
    Ok(out)
}

/// The accountability record of incident `id`.
pub async fn get(
    State(st): State<AppState>,
    who: Member,
    PathParams(id): PathParams<String>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    who.may(&st, Action::ReadLayer)?;
    let fmt = format(&q, &headers)?;
    let incident = super::incidents::stored(&st, &id).await?;
    let parties: Vec<String> = st.layer.parties()?.into_iter().map(|p| p.id).collect();
    let subjects: Vec<String> = incident.matches.iter().map(|m| m.id().to_owned()).collect();
    let found = st
        .read(move |tx| {
            subjects
                .iter()
                .map(|s| {
                    let told = told_of(tx, &parties, s)?;
                    let acks = told
                        .iter()
                        .map(|n| acknowledgment::get(tx, &n.id))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((told, acks))
                })
                .collect::<Result<Vec<_>, DssError>>()
        })
        .await?;
    let log = st.log.clone();
    let (head, citations) = match log {
        None => (None, None),
        Some(log) => {
            let matches = incident.matches.clone();
            let ids: Vec<Vec<String>> = found
                .iter()
                .map(|(told, _)| told.iter().map(|n| n.id.clone()).collect())
                .collect();
            let out = crate::state::blocking(move || {
                let err =
                    |e: deconflict_tlog::LogError| DssError::Internal(format!("the log: {e}"));
                log.log.catch_up().map_err(err)?;
                let cp = log.log.checkpoint(&log.key).map_err(err)?;
                let size = cp.size;
                let mut per = Vec::new();
                for (m, notes) in matches.iter().zip(ids) {
                    let of_subject = cite(&log, &format!("subject:{}", m.id()), size)?;
                    let ovns: Vec<String> = of_subject
                        .iter()
                        .filter(|(r, _)| {
                            matches!(r.kind, Kind::SiteNotified | Kind::MovementNotified)
                        })
                        .filter_map(|(r, _)| {
                            r.body
                                .get("ovn")
                                .and_then(|v| v.as_str())
                                .map(str::to_owned)
                        })
                        .collect();
                    let mut planned = Vec::new();
                    for ovn in &ovns {
                        for (r, c) in cite(&log, &format!("key:{ovn}"), size)? {
                            if r.kind == Kind::DssWriteKey {
                                planned.push((r, c, ovn.clone()));
                            }
                        }
                    }
                    let mut by_note = Vec::new();
                    for n in notes {
                        by_note.push(cite(&log, &format!("subject:{n}"), size)?);
                    }
                    per.push((of_subject, ovns, planned, by_note));
                }
                Ok((
                    LogHead {
                        key: log.key.verifier_key().to_owned(),
                        tree_size: size,
                        checkpoint: Some(cp.note),
                    },
                    per,
                ))
            })
            .await?;
            (Some(out.0), Some(out.1))
        }
    };
    let mut concerns = Vec::new();
    for (i, (m, (told, acks))) in incident.matches.iter().zip(found).enumerate() {
        let cites = citations.as_ref().map(|c| &c[i]);
        let pick = |j: usize, kind: Kind| -> Option<Citation> {
            cites
                .and_then(|c| c.3.get(j))
                .and_then(|v| v.iter().find(|(r, _)| r.kind == kind))
                .map(|(_, c)| c.clone())
        };
        let told = told
            .iter()
            .zip(acks)
            .enumerate()
            .map(|(j, (n, a))| Told {
                notification: n.id.clone(),
                party: party_ref(&st, &n.recipient),
                sent: n.created,
                log: pick(j, Kind::Notification),
                acknowledged: a.map(|a| Acknowledged {
                    time: a.received,
                    signed: a.signature.is_some(),
                    log: pick(j, Kind::Acknowledgment),
                }),
            })
            .collect();
        concerns.push(Concern {
            matched: m.clone(),
            notified_by: party_ref(&st, m.party()),
            notified_log: cites
                .map(|c| {
                    c.0.iter()
                        .filter(|(r, _)| {
                            matches!(r.kind, Kind::SiteNotified | Kind::MovementNotified)
                        })
                        .map(|(_, c)| c.clone())
                        .collect()
                })
                .unwrap_or_default(),
            ovns: cites.map(|c| c.1.clone()).unwrap_or_default(),
            told,
            planned_with: cites
                .map(|c| {
                    c.2.iter()
                        .map(|(r, cit, ovn)| PlannedWith {
                            party: party_ref(&st, &r.party),
                            entity_type: r
                                .body
                                .get("entity_type")
                                .and_then(|v| v.as_str())
                                .unwrap_or("")
                                .to_owned(),
                            entity: r.subject.clone(),
                            time: r.time.clone(),
                            ovn: ovn.clone(),
                            log: cit.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    let record = Accountability {
        reporter: party_ref(&st, &incident.reporter),
        incident,
        generated: st.now(),
        server: st.layer.base_url.clone(),
        log: head,
        concerns,
    };
    Ok(match fmt {
        "md" => (
            [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report::markdown(&record),
        )
            .into_response(),
        "html" => (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            report::html(&record),
        )
            .into_response(),
        _ => axum::Json(record).into_response(),
    })
}
