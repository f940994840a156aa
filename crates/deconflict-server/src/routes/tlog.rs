//! `/v1/log`: the tamper-evident log's latest signed checkpoint, its public key, and proofs
//! (`docs/log.md`), for any verified token: a party keeps what it is served and checks it
//! offline with `deconflict verify`.
//!
//! - `GET /v1/log/checkpoint`: the latest signed checkpoint (C2SP signed note, text/plain).
//! - `GET /v1/log/key`: the public key, signed-note verifier form (text/plain).
//! - `GET /v1/log/proof/inclusion?index=I&tree_size=N`: entry `I`'s record and its inclusion
//!   proof in the tree of `N` entries.
//! - `GET /v1/log/proof/consistency?first=M&second=N`: the consistency proof from the tree of
//!   `M` entries to the tree of `N`.
//! - `GET /v1/log/entries?term=T[&after=I&limit=N]`: the entries indexed under `T`
//!   (`Log::find`), each with its receipt against one signed checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use deconflict_core::DssError;
use deconflict_tlog::LogError;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::Member;
use crate::state::AppState;
use crate::tlog::{Receipt, ServedLog};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/key", get(key))
        .route("/proof/inclusion", get(inclusion))
        .route("/proof/consistency", get(consistency))
        .route("/entries", get(entries))
}

fn served(state: &AppState) -> Result<Arc<ServedLog>, ApiError> {
    state
        .log
        .clone()
        .ok_or_else(|| ApiError::NoRoute("this server keeps no log".into()))
}

/// Runs a log call on the blocking pool (storage may wait on I/O).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(format!("the log task failed: {e}"))),
    }
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// A query parameter that must be a non-negative integer.
fn number(q: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    optional_number(q, name)?.ok_or_else(|| ApiError::bad(name, "required: a non-negative integer"))
}

/// A query parameter that, if given, must be a non-negative integer.
fn optional_number(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    q.get(name)
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad(name, format!("{v:?} is not a non-negative integer")))
        })
        .transpose()
}

/// Refuses a query parameter other than `known`, naming it.
fn only(q: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad(
            k,
            format!("unknown parameter; expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The log's size, after learning what other instances of a pool appended.
async fn size(log: &Arc<ServedLog>) -> Result<u64, ApiError> {
    let log = Arc::clone(log);
    blocking(move || {
        log.log.catch_up()?;
        Ok(log.log.size())
    })
    .await
}

async fn checkpoint(_: Member, State(st): State<AppState>) -> Result<Response, ApiError> {
    let log = served(&st)?;
    let cp = blocking(move || log.log.latest_checkpoint(&log.key)).await?;
    match cp {
        Some(cp) => Ok(text(cp.note)),
        None => Err(ApiError::Dss(DssError::NotFound(
            "no checkpoint yet: the log is empty".into(),
        ))),
    }
}

async fn key(_: Member, State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(text(format!("{}\n", served(&st)?.key.verifier_key())))
}

#[derive(Serialize)]
struct Inclusion {
    index: u64,
    tree_size: u64,
    /// The canonical record, as hashed.
    record: String,
    /// Base64 hashes, RFC 9162 order.
    proof: Vec<String>,
}

async fn inclusion(
    _: Member,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Inclusion>, ApiError> {
    let log = served(&st)?;
    let (index, tree_size) = (number(&q, "index")?, number(&q, "tree_size")?);
    let entries = size(&log).await?;
    if tree_size == 0 || tree_size > entries {
        return Err(ApiError::bad(
            "tree_size",
            format!("must be from 1 to the log's size ({entries})"),
        ));
    }
    if index >= tree_size {
        return Err(ApiError::bad(
            "index",
            format!("must be below tree_size ({tree_size})"),
        ));
    }
    blocking(move || {
        let proof = log.log.inclusion_proof(index, tree_size)?;
        let record = log.log.records(index, index + 1)?.pop().unwrap_or_default();
        Ok(Inclusion {
            index,
            tree_size,
            record: String::from_utf8_lossy(&record).into_owned(),
            proof: proof.iter().map(ToString::to_string).collect(),
        })
    })
    .await
    .map(Json)
}

#[derive(Serialize)]
struct Consistency {
    first: u64,
    second: u64,
    /// Base64 hashes, RFC 9162 order.
    proof: Vec<String>,
}

async fn consistency(
    _: Member,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Consistency>, ApiError> {
    let log = served(&st)?;
    let (first, second) = (number(&q, "first")?, number(&q, "second")?);
    let entries = size(&log).await?;
    if second == 0 || second > entries {
        return Err(ApiError::bad(
            "second",
            format!("must be from 1 to the log's size ({entries})"),
        ));
    }
    if first == 0 || first > second {
        return Err(ApiError::bad(
            "first",
            format!("must be from 1 to second ({second})"),
        ));
    }
    blocking(move || {
        let proof = log.log.consistency_proof(first, second)?;
        Ok(Consistency {
            first,
            second,
            proof: proof.iter().map(ToString::to_string).collect(),
        })
    })
    .await
    .map(Json)
}

/// The prefixes of the terms entries are indexed under: `Record::index_terms`, and `event:`
/// for the recorder's events.
pub const TERM_PREFIXES: [&str; 4] = ["subject", "ovn", "key", "event"];
/// The longest term accepted (ids and OVNs are far shorter).
pub const MAX_TERM: usize = 512;
/// Most entries in one answer of `/v1/log/entries` (each is a few storage reads).
pub const MAX_ENTRIES: u64 = 100;

#[derive(Serialize)]
struct Entries {
    term: String,
    /// In index order, each with its inclusion proof against the same signed checkpoint.
    entries: Vec<Receipt>,
    /// When more entries follow: the `after` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<u64>,
}

/// The `term` parameter: `<prefix>:<value>`, a known prefix, a value of printable characters.
fn term(q: &HashMap<String, String>) -> Result<String, ApiError> {
    let rule = || {
        format!(
            "a term <prefix>:<value> with prefix {}, at most {MAX_TERM} characters",
            TERM_PREFIXES.join(", ")
        )
    };
    let t = q
        .get("term")
        .ok_or_else(|| ApiError::bad("term", format!("required: {}", rule())))?;
    if t.chars().count() > MAX_TERM {
        return Err(ApiError::bad(
            "term",
            format!("{} characters; {}", t.chars().count(), rule()),
        ));
    }
    let well_formed = t.split_once(':').is_some_and(|(prefix, value)| {
        TERM_PREFIXES.contains(&prefix) && !value.is_empty() && !value.chars().any(char::is_control)
    });
    if !well_formed {
        return Err(ApiError::bad("term", format!("{t:?} is not {}", rule())));
    }
    Ok(t.clone())
}

async fn entries(
    _: Member,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Entries>, ApiError> {
    let log = served(&st)?;
    only(&q, &["term", "after", "limit"])?;
    let term = term(&q)?;
    let after = optional_number(&q, "after")?;
    let limit = optional_number(&q, "limit")?.unwrap_or(MAX_ENTRIES);
    if !(1..=MAX_ENTRIES).contains(&limit) {
        return Err(ApiError::bad(
            "limit",
            format!("must be from 1 to {MAX_ENTRIES}"),
        ));
    }
    let t = term.clone();
    let (entries, next_after) = blocking(move || {
        // One more than the page, to tell whether there is a next one; never the whole list,
        // which a busy party's term may hold millions of.
        let mut page = log.log.find_page(&t, after, limit as usize + 1)?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        let next_after = more.then(|| page.last().copied()).flatten();
        Ok((log.prove(&page)?, next_after))
    })
    .await?;
    Ok(Json(Entries {
        term,
        entries,
        next_after,
    }))
}
