//! The [`Recorder`]: the server's one way of putting an event into the tamper-evident log
//! (`docs/log.md`, "How the server records events").
//!
//! A handler records an event inside the store transaction that makes it happen:
//!
//! ```ignore
//! let rec = st.recorder.clone();
//! let out = st.write(move |tx| {
//!     let out = rules::put(tx, &caller, &req, now)?;
//!     rec.record(tx, &Record::dss_write_key(/* ... */))?;
//!     Ok(out)
//! }).await?;
//! ```
//!
//! [`Recorder::record`] adds the canonical record to an outbox (documents of kind
//! [`OUTBOX`]) in that transaction, so the record commits if and only if the event does. After
//! every committed write ([`AppState::write`](crate::AppState::write) wakes it), the forwarder
//! appends the outbox to the log in one group and then deletes what it appended; at start-up
//! it forwards what a crash left. So no committed event is ever missing from the log, and no
//! entry describes a write that did not commit. Each entry is indexed under the terms of
//! [`Record::index_terms`] and under `event:<id>` (the outbox id [`Recorder::record`]
//! returned), which lets [`Recorder::receipt`] find the entry and is the entry's key: the log
//! refuses a second entry with the same key atomically with the append ([`Log::append_once`]),
//! so forwarding is idempotent (a row already in the log is only deleted).
//!
//! In a pool each instance forwards the rows it wrote; rows of another instance older than
//! [`ADOPT_AFTER`] (an instance that died, or the previous run of this one) are forwarded by
//! whichever instance sees them; when two adopt a row at the same moment, the log takes the
//! first append and the second finds the key present.
//!
//! [`Log::append_once`]: deconflict_tlog::Log::append_once

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use deconflict_core::model::Document;
use deconflict_core::store::{self, Change, Store, Tx};
use deconflict_core::{DssError, Result};
use deconflict_tlog::{Keyed, Kind, LogError, Record};
use serde::Serialize;

pub use crate::tlog::Receipt;
use crate::tlog::ServedLog;

/// The document kind of the outbox: records committed with their event, not yet in the log.
pub const OUTBOX: &str = "tlog_outbox";
/// How old another instance's outbox row must be before this one forwards it.
pub const ADOPT_AFTER: Duration = Duration::from_secs(10);
/// How long [`Recorder::receipt`] waits for the forwarder.
pub const RECEIPT_WAIT: Duration = Duration::from_secs(10);
/// How often the forwarder looks at the outbox when nothing wakes it (other instances' rows,
/// retries after a failure).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Most rows forwarded in one log transaction.
const MAX_GROUP: usize = 4096;

/// The outbox id of a recorded event: the entry is found in the log by `event:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Event(pub String);

/// A handle on the recorder; cheap to clone. [`Recorder::disabled`] (a server without a log)
/// records nothing.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Inner>>);

struct Inner {
    store: Arc<dyn Store>,
    served: Arc<ServedLog>,
    /// Random per process: the owner of the outbox rows this process writes.
    instance: String,
    /// The only instance of its store (SQLite): every row is its own to forward.
    exclusive: bool,
    seq: AtomicU64,
    wake: tokio::sync::Notify,
    /// Bumped after each forwarding pass that appended something.
    passes: tokio::sync::watch::Sender<u64>,
    /// One pass at a time: two would append the same rows (the log keeps only the first).
    forwarding: std::sync::Mutex<()>,
}

fn log_error(e: LogError) -> DssError {
    DssError::Internal(format!("the log: {e}"))
}

impl Recorder {
    /// Records nothing (a server without a log).
    pub fn disabled() -> Self {
        Self(None)
    }

    /// A recorder appending to `served`, with its outbox in `store`. `exclusive`: this process
    /// is the store's only writer (SQLite), so rows left by an earlier run are forwarded at once.
    pub fn new(store: Arc<dyn Store>, served: Arc<ServedLog>, exclusive: bool) -> Self {
        Self(Some(Arc::new(Inner {
            store,
            served,
            instance: deconflict_core::ids::random_token(6),
            exclusive,
            seq: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            passes: tokio::sync::watch::channel(0).0,
            forwarding: std::sync::Mutex::new(()),
        })))
    }

    /// Whether events are recorded.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Records `record` in the transaction `tx`: it reaches the log if and only if `tx`
    /// commits. Call it from the closure of [`AppState::write`](crate::AppState::write),
    /// after the rules succeeded. Returns the event's id (for [`Recorder::receipt`]).
    pub fn record(&self, tx: &mut dyn Tx, record: &Record) -> Result<Event> {
        let Some(inner) = &self.0 else {
            return Ok(Event(String::new()));
        };
        let body = record
            .to_bytes()
            .map_err(|e| DssError::Internal(format!("a log record: {e}")))?;
        let body = String::from_utf8(body)
            .map_err(|_| DssError::Internal("a log record is not UTF-8".into()))?;
        // Time first, so that the outbox lists in about the order events happened.
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let seq = inner.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("{nanos:020}-{}-{seq:x}", inner.instance);
        tx.apply(Change::PutDocument(Arc::new(Document {
            kind: OUTBOX.into(),
            id: id.clone(),
            owner: inner.instance.clone(),
            body,
        })))?;
        Ok(Event(id))
    }

    /// Tells the forwarder that a write committed (done by [`AppState::write`]).
    ///
    /// [`AppState::write`]: crate::AppState::write
    pub fn wake(&self) {
        if let Some(inner) = &self.0 {
            inner.wake.notify_one();
        }
    }

    /// The log entry of `event` with its inclusion proof in a signed checkpoint: waits (up to
    /// [`RECEIPT_WAIT`]) for the forwarder to append it, then proves it against the latest
    /// checkpoint, signing a new one at once if the latest does not cover the entry yet.
    pub async fn receipt(&self, event: &Event) -> Result<Receipt> {
        self.receipt_of(format!("event:{}", event.0), None).await
    }

    /// The receipt of the first entry indexed under `term` (see [`Record::index_terms`]) whose
    /// record is of `kind` (any kind when `None`), waiting for the forwarder as
    /// [`Recorder::receipt`] does: a notification's entry is `subject:<id>` of kind
    /// `notification` (its acknowledgment shares the subject).
    pub async fn receipt_of(&self, term: String, kind: Option<Kind>) -> Result<Receipt> {
        let inner = self
            .0
            .clone()
            .ok_or_else(|| DssError::Internal("this server keeps no log".into()))?;
        let mut passes = inner.passes.subscribe();
        let deadline = tokio::time::Instant::now() + RECEIPT_WAIT;
        let index = loop {
            let (i2, t) = (Arc::clone(&inner), term.clone());
            let found = off_thread(move || i2.first_entry(&t, kind)).await?;
            if let Some(i) = found {
                break i;
            }
            inner.wake.notify_one();
            let waited = tokio::time::timeout_at(deadline, passes.changed()).await;
            if waited.is_err() {
                return Err(DssError::Unavailable(format!(
                    "no entry {term} in the log after {RECEIPT_WAIT:?}"
                )));
            }
        };
        off_thread(move || inner.prove(index)).await
    }

    /// [`Recorder::receipt_of`] without waiting: `None` while the entry is not in the log yet
    /// (and when there is no log).
    pub async fn receipt_now(&self, term: String, kind: Option<Kind>) -> Result<Option<Receipt>> {
        let Some(inner) = self.0.clone() else {
            return Ok(None);
        };
        off_thread(move || {
            inner
                .first_entry(&term, kind)?
                .map(|index| inner.prove(index))
                .transpose()
        })
        .await
    }

    /// Whether no record of `kind` about `subject` is in the log, nor ever will be: none waits
    /// in the outbox, and (looked at after the outbox, which the forwarder empties only after
    /// appending) none is in the log. True for an event committed while the server kept no log.
    pub async fn never_recorded(&self, subject: &str, kind: Kind) -> Result<bool> {
        let Some(inner) = self.0.clone() else {
            return Ok(true);
        };
        let subject = subject.to_owned();
        off_thread(move || {
            let rows = store::read(&*inner.store, |tx| tx.documents(OUTBOX))?;
            let waiting = rows.iter().any(|row| {
                Record::from_bytes(row.body.as_bytes())
                    .is_ok_and(|r| r.subject == subject && r.kind == kind)
            });
            if waiting {
                return Ok(false);
            }
            Ok(inner
                .first_entry(&format!("subject:{subject}"), Some(kind))?
                .is_none())
        })
        .await
    }

    /// A receiver whose `changed()` completes after the forwarder next appended something
    /// (`None` without a log).
    pub fn appended(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.0.as_ref().map(|inner| inner.passes.subscribe())
    }

    /// Forwards the outbox until the task is aborted: after each wake-up, and every second
    /// (`SWEEP_EVERY`).
    pub fn spawn_forwarder(&self) -> Option<tokio::task::JoinHandle<()>> {
        let inner = self.0.clone()?;
        Some(tokio::spawn(async move {
            loop {
                let i2 = Arc::clone(&inner);
                match tokio::task::spawn_blocking(move || i2.forward()).await {
                    Ok(Ok(n)) if n > 0 => {
                        inner.passes.send_modify(|p| *p += 1);
                        continue; // there may be more than one group waiting
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "forwarding events to the log failed; retrying")
                    }
                    Err(e) => tracing::error!(error = %e, "the log forwarder panicked; retrying"),
                }
                let _ = tokio::time::timeout(SWEEP_EVERY, inner.wake.notified()).await;
            }
        }))
    }

    /// Forwards what is in the outbox now (blocking). Returns the rows forwarded.
    pub fn forward_now(&self) -> Result<usize> {
        match &self.0 {
            Some(inner) => inner.forward(),
            None => Ok(0),
        }
    }
}

impl Inner {
    /// One pass: append this instance's outbox rows (and abandoned ones) to the log in one
    /// group, then delete them from the outbox. Each goes in keyed by `event:<id>`, so a row
    /// already in the log (another instance adopted it at the same moment, or an earlier pass
    /// failed before deleting it) is only deleted.
    fn forward(&self) -> Result<usize> {
        let _pass = self.forwarding.lock().unwrap_or_else(|e| e.into_inner());
        let rows = store::read(&*self.store, |tx| tx.documents(OUTBOX))?;
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let adopt_before = now - ADOPT_AFTER.as_nanos() as i64;
        let mut append: Vec<Keyed> = Vec::new();
        let mut forwarded: Vec<String> = Vec::new();
        let mut adopted = 0;
        for row in rows {
            let own = row.owner == self.instance;
            if !own && !self.exclusive && !written_before(&row.id, adopt_before) {
                continue;
            }
            if forwarded.len() == MAX_GROUP {
                break;
            }
            match Record::from_bytes(row.body.as_bytes()) {
                Ok(record) => append.push(Keyed {
                    key: format!("event:{}", row.id),
                    record: row.body.as_bytes().to_vec(),
                    terms: record.index_terms(),
                }),
                Err(e) => {
                    // Only `record` writes the outbox, canonically; keep the row for a person.
                    tracing::error!(row = %row.id, error = %e, "an outbox row is not a record; left in place");
                    continue;
                }
            }
            adopted += usize::from(!own);
            forwarded.push(row.id.clone());
        }
        if forwarded.is_empty() {
            return Ok(0);
        }
        let placed = self.served.log.append_once(append).map_err(log_error)?;
        let n = forwarded.len();
        store::write(&*self.store, |tx| {
            for id in &forwarded {
                tx.apply(Change::DeleteDocument {
                    kind: OUTBOX.into(),
                    id: id.clone(),
                })?;
            }
            Ok(())
        })?;
        if adopted > 0 {
            let already = placed.iter().filter(|p| p.is_none()).count();
            tracing::info!(
                events = adopted,
                already_logged = already,
                "forwarded to the log the events an earlier run (or another instance) left"
            );
        }
        Ok(n)
    }

    /// The first entry under `term` whose record is of `kind` (any when `None`).
    fn first_entry(&self, term: &str, kind: Option<Kind>) -> Result<Option<u64>> {
        // A page at a time: the entry sought is nearly always on the first.
        const PAGE: usize = 64;
        let log = &self.served.log;
        let mut after = None;
        loop {
            let page = log.find_page(term, after, PAGE).map_err(log_error)?;
            for &index in &page {
                let Some(kind) = kind else {
                    return Ok(Some(index));
                };
                let bytes = log.records(index, index + 1).map_err(log_error)?.pop();
                if bytes
                    .and_then(|b| Record::from_bytes(&b).ok())
                    .is_some_and(|r| r.kind == kind)
                {
                    return Ok(Some(index));
                }
            }
            if page.len() < PAGE {
                break;
            }
            after = page.last().copied();
        }
        Ok(None)
    }

    fn prove(&self, index: u64) -> Result<Receipt> {
        self.served
            .prove(&[index])
            .map_err(log_error)?
            .pop()
            .ok_or_else(|| DssError::Internal(format!("log entry {index} is missing")))
    }
}

async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(DssError::Internal(format!("a log task failed: {e}"))))
}

/// What a DSS write did: `body.op` of its `dss_write_key` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    Create,
    Update,
    Delete,
}

impl WriteOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::Create => "create",
            WriteOp::Update => "update",
            WriteOp::Delete => "delete",
        }
    }
}

/// The time of an event as records write it: RFC 3339, UTC, milliseconds.
pub fn record_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `dss_write_key` record of a DSS write: `writer` (the JWT `sub`) did `op` on `entity`
/// (`entity_type` `operational_intent` or `constraint`), which now has `ovn` (for a delete:
/// the OVN it had), presenting `key` (sorted here: a key is a set). It names no protected
/// site or movement in view; a write that has some says so with [`Record::with_in_view`].
pub fn dss_write(
    now: DateTime<Utc>,
    writer: &str,
    entity_type: &str,
    entity: &str,
    op: WriteOp,
    ovn: &str,
    key: impl IntoIterator<Item = String>,
) -> Record {
    let mut key: Vec<String> = key.into_iter().collect();
    key.sort_unstable();
    let mut r = Record::dss_write_key(record_time(now), writer, entity_type, entity, ovn, &key)
        .with_in_view(&[]);
    r.body.insert("op".into(), op.as_str().into());
    r
}

/// Whether an outbox id says it was written before `nanos` (ids start with the time).
fn written_before(id: &str, nanos: i64) -> bool {
    id.split('-')
        .next()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|t| t < nanos)
}
