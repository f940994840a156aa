//! The rows of the database and the changes of the in-memory image: reading what changed since
//! a sequence number ([`changes_since`]) and writing a transaction's changes under its number
//! ([`persist`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::model::{
    Availability, Constraint, Document, Extents, OiState, OperationalIntent, Subscription,
    Timestamp, UssAvailability,
};
use deconflict_core::names::Name;
use deconflict_core::parse::stored_extents;
use deconflict_core::store::Change;
use postgres::Row;

use super::conn::Conn;
use super::error::PgError;
use crate::codec;

fn corrupt(e: impl std::fmt::Display) -> PgError {
    PgError::Corrupt(e.to_string())
}

fn id_of(s: &str) -> Result<EntityId, PgError> {
    EntityId::parse(s).ok_or_else(|| corrupt(format!("bad id {s}")))
}

fn int32(v: i64, what: &str) -> Result<i32, PgError> {
    i32::try_from(v).map_err(|_| corrupt(format!("{what} {v} out of range")))
}

fn extents_of(blob: &[u8]) -> Result<Extents, PgError> {
    let volumes = codec::decode(blob).map_err(corrupt)?;
    stored_extents(volumes).map_err(corrupt)
}

/// The kinds of row [`changes_since`] returns, as its first column; those of the DSS entities
/// (1 to 3) are also their kinds in `tombstones.kind`.
const HEAD: i16 = 0;
const OPERATIONAL_INTENT: i16 = 1;
const CONSTRAINT: i16 = 2;
const SUBSCRIPTION: i16 = 3;
const AVAILABILITY: i16 = 4;
const TOMBSTONE: i16 = 5;
const DOCUMENT: i16 = 6;
/// A document's kind in `tombstones.kind`.
const DOCUMENT_TOMBSTONE: i16 = 4;

/// Columns and their SQL types.
type Columns = &'static [(&'static str, &'static str)];

/// The row kinds of [`changes_since`]: code, table, condition, and the columns with their
/// types (`NULL` of that type in the rows of the other kinds).
const PARTS: &[(i16, &str, &str, Columns)] = &[
    (HEAD, "log_head", "id = 1", &[("pruned", "int8")]),
    (
        OPERATIONAL_INTENT,
        "operational_intents",
        "seq > $1",
        &[
            ("id", "text"),
            ("manager", "text"),
            ("version", "int8"),
            ("ovn", "text"),
            ("state", "text"),
            ("uss_base_url", "text"),
            ("subscription_id", "text"),
            ("extents", "bytea"),
        ],
    ),
    (
        CONSTRAINT,
        "constraints",
        "seq > $1",
        &[
            ("id", "text"),
            ("manager", "text"),
            ("version", "int8"),
            ("ovn", "text"),
            ("uss_base_url", "text"),
            ("extents", "bytea"),
        ],
    ),
    (
        SUBSCRIPTION,
        "subscriptions",
        "seq > $1",
        &[
            ("id", "text"),
            ("manager", "text"),
            ("version", "text"),
            ("notification_index", "int8"),
            ("uss_base_url", "text"),
            ("notify_for_operational_intents", "bool"),
            ("notify_for_constraints", "bool"),
            ("implicit", "bool"),
            ("dependent_operational_intents", "text"),
            ("extents", "bytea"),
        ],
    ),
    (
        AVAILABILITY,
        "uss_availability",
        "seq > $1",
        &[
            ("uss", "text"),
            ("availability", "text"),
            ("version", "text"),
        ],
    ),
    (
        DOCUMENT,
        "documents",
        "seq > $1",
        &[
            ("kind", "text"),
            ("id", "text"),
            ("owner", "text"),
            ("body", "text"),
        ],
    ),
    // A full load (from -1) needs no tombstones: the rows are the state.
    (
        TOMBSTONE,
        "tombstones",
        "seq > $1 AND $1 >= 0",
        &[
            ("kind", "int2"),
            ("doc_kind", "text"),
            ("entity_id", "text"),
        ],
    ),
];

/// Where the columns of row kind `code` start: after the kind and `seq`, the columns of every
/// part before it.
fn offset(code: i16) -> usize {
    2 + PARTS
        .iter()
        .take_while(|(c, ..)| *c != code)
        .map(|(_, _, _, cols)| cols.len())
        .sum::<usize>()
}

/// The one statement of a catch-up: the head (`seq`, `pruned`) of the log and every row
/// written by a transaction numbered above `$1`, each row as its kind, its `seq`, then the
/// columns of every kind, those of the other kinds NULL. One statement sees one snapshot, so
/// the rows are exactly what changed up to the head it returns. Plain SQL that CockroachDB and
/// YugabyteDB accept too.
static CHANGES_SINCE: LazyLock<String> = LazyLock::new(changes_since_sql);

fn changes_since_sql() -> String {
    let mut parts = Vec::new();
    for (code, table, condition, _) in PARTS {
        let mut select = vec![format!("{code}::int2"), "seq".to_owned()];
        for (other, _, _, other_cols) in PARTS {
            for (name, ty) in *other_cols {
                select.push(if other == code {
                    format!("{name}::{ty}")
                } else {
                    format!("NULL::{ty}")
                });
            }
        }
        parts.push(format!(
            "SELECT {} FROM {table} WHERE {condition}",
            select.join(", ")
        ));
    }
    parts.join(" UNION ALL ")
}

fn oi_at(r: &Row, o: usize) -> Result<OperationalIntent, PgError> {
    let state: &str = r.try_get(o + 4)?;
    let sub: Option<&str> = r.try_get(o + 6)?;
    Ok(OperationalIntent {
        id: id_of(r.try_get(o)?)?,
        manager: Name::new(r.try_get(o + 1)?),
        version: int32(r.try_get(o + 2)?, "version")?,
        ovn: Ovn(r.try_get(o + 3)?),
        state: OiState::parse(state).ok_or_else(|| corrupt(format!("bad state {state}")))?,
        uss_base_url: Name::new(r.try_get(o + 5)?),
        subscription_id: sub.map(id_of).transpose()?,
        extents: extents_of(r.try_get(o + 7)?)?,
    })
}

fn constraint_at(r: &Row, o: usize) -> Result<Constraint, PgError> {
    Ok(Constraint {
        id: id_of(r.try_get(o)?)?,
        manager: Name::new(r.try_get(o + 1)?),
        version: int32(r.try_get(o + 2)?, "version")?,
        ovn: Ovn(r.try_get(o + 3)?),
        uss_base_url: Name::new(r.try_get(o + 4)?),
        extents: extents_of(r.try_get(o + 5)?)?,
    })
}

fn sub_at(r: &Row, o: usize) -> Result<Subscription, PgError> {
    let deps: &str = r.try_get(o + 8)?;
    Ok(Subscription {
        id: id_of(r.try_get(o)?)?,
        manager: Name::new(r.try_get(o + 1)?),
        version: r.try_get(o + 2)?,
        notification_index: int32(r.try_get(o + 3)?, "notification_index")?,
        uss_base_url: Name::new(r.try_get(o + 4)?),
        notify_for_operational_intents: r.try_get(o + 5)?,
        notify_for_constraints: r.try_get(o + 6)?,
        implicit: r.try_get(o + 7)?,
        dependent_operational_intents: deps
            .split(',')
            .filter(|s| !s.is_empty())
            .map(id_of)
            .collect::<Result<_, _>>()?,
        extents: extents_of(r.try_get(o + 9)?)?,
    })
}

fn availability_at(r: &Row, o: usize) -> Result<UssAvailability, PgError> {
    let a: &str = r.try_get(o + 1)?;
    Ok(UssAvailability {
        uss: r.try_get(o)?,
        availability: Availability::parse(a)
            .ok_or_else(|| corrupt(format!("bad availability {a}")))?,
        version: r.try_get(o + 2)?,
    })
}

fn document_at(r: &Row, o: usize) -> Result<Document, PgError> {
    Ok(Document {
        kind: r.try_get(o)?,
        id: r.try_get(o + 1)?,
        owner: r.try_get(o + 2)?,
        body: r.try_get(o + 3)?,
    })
}

fn tombstone_at(r: &Row, o: usize) -> Result<Change, PgError> {
    let kind: i16 = r.try_get(o)?;
    let id: &str = r.try_get(o + 2)?;
    match kind {
        OPERATIONAL_INTENT => Ok(Change::DeleteOperationalIntent(id_of(id)?)),
        CONSTRAINT => Ok(Change::DeleteConstraint(id_of(id)?)),
        SUBSCRIPTION => Ok(Change::DeleteSubscription(id_of(id)?)),
        DOCUMENT_TOMBSTONE => Ok(Change::DeleteDocument {
            kind: r.try_get(o + 1)?,
            id: id.to_owned(),
        }),
        other => Err(corrupt(format!("bad tombstone kind {other}"))),
    }
}

/// What [`changes_since`] read.
pub(crate) struct Changes {
    /// The number of the last transaction committed in the snapshot read.
    pub head: i64,
    /// The highest number whose tombstones were pruned.
    pub pruned: i64,
    /// Every change after the number asked for, in the order of the transactions that made
    /// them: applied in turn to the state at that number, they give the state at `head`.
    pub changes: Vec<Change>,
}

/// Reads every change made after transaction `after` (`-1`: everything there is, without
/// tombstones) in one statement.
pub(crate) fn changes_since(conn: &mut Conn, after: i64) -> Result<Changes, PgError> {
    let mut read = ChangeRows::default();
    conn.for_each_row(&CHANGES_SINCE, &[&after], |r| read.push(&r))?;
    read.finish()
}

/// The text of the catch-up statement (parameter: the number to read after), for a client
/// that runs it itself and hands the rows to [`ChangeRows`].
pub(crate) fn changes_since_statement() -> &'static str {
    &CHANGES_SINCE
}

/// The head of the log alone (`seq`, `pruned`): one indexed row, what a catch-up reads first
/// to learn whether anything changed.
pub(crate) const HEAD_STATEMENT: &str = "SELECT seq, pruned FROM log_head WHERE id = 1";

/// The head of the log as [`HEAD_STATEMENT`] returns it: `(seq, pruned)`.
pub(crate) fn head_of(rows: &[Row]) -> Result<(i64, i64), PgError> {
    let r = rows
        .first()
        .ok_or_else(|| PgError::Schema("the log_head row is missing".into()))?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// The rows of the catch-up statement, decoded as they arrive.
#[derive(Default)]
pub(crate) struct ChangeRows {
    head: Option<(i64, i64)>,
    numbered: Vec<(i64, Change)>,
}

impl ChangeRows {
    pub(crate) fn push(&mut self, r: &Row) -> Result<(), PgError> {
        let code: i16 = r.try_get(0)?;
        let seq: i64 = r.try_get(1)?;
        let o = offset(code);
        let change = match code {
            HEAD => {
                self.head = Some((seq, r.try_get::<_, i64>(o)?));
                return Ok(());
            }
            OPERATIONAL_INTENT => Change::PutOperationalIntent(Arc::new(oi_at(r, o)?)),
            CONSTRAINT => Change::PutConstraint(Arc::new(constraint_at(r, o)?)),
            SUBSCRIPTION => Change::PutSubscription(Arc::new(sub_at(r, o)?)),
            AVAILABILITY => Change::PutAvailability(availability_at(r, o)?),
            DOCUMENT => Change::PutDocument(Arc::new(document_at(r, o)?)),
            TOMBSTONE => tombstone_at(r, o)?,
            other => return Err(corrupt(format!("bad row kind {other}"))),
        };
        self.numbered.push((seq, change));
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Changes, PgError> {
        let (head, pruned) = self
            .head
            .ok_or_else(|| PgError::Schema("the log_head row is missing".into()))?;
        let mut numbered = self.numbered;
        // A row and a tombstone of one entity come from different transactions: the later
        // wins.
        numbered.sort_by_key(|(seq, _)| *seq);
        Ok(Changes {
            head,
            pruned,
            changes: numbered.into_iter().map(|(_, c)| c).collect(),
        })
    }
}

/// The final state of each entity a batch of changes touches: only the last change of an
/// entity reaches the database (every write is an upsert or a delete by id).
#[derive(Default)]
struct Final {
    ois: HashMap<EntityId, Option<Arc<OperationalIntent>>>,
    constraints: HashMap<EntityId, Option<Arc<Constraint>>>,
    subs: HashMap<EntityId, Option<Arc<Subscription>>>,
    availability: HashMap<String, UssAvailability>,
    reports: Vec<deconflict_core::model::Report>,
    docs: HashMap<(String, String), Option<Arc<Document>>>,
}

impl Final {
    fn of(changes: &[Change]) -> Self {
        let mut f = Self::default();
        for c in changes {
            match c {
                Change::PutOperationalIntent(o) => {
                    f.ois.insert(o.id, Some(o.clone()));
                }
                Change::DeleteOperationalIntent(id) => {
                    f.ois.insert(*id, None);
                }
                Change::PutConstraint(c) => {
                    f.constraints.insert(c.id, Some(c.clone()));
                }
                Change::DeleteConstraint(id) => {
                    f.constraints.insert(*id, None);
                }
                Change::PutSubscription(s) => {
                    f.subs.insert(s.id, Some(s.clone()));
                }
                Change::DeleteSubscription(id) => {
                    f.subs.insert(*id, None);
                }
                Change::PutAvailability(a) => {
                    f.availability.insert(a.uss.clone(), a.clone());
                }
                Change::AddReport(r) => f.reports.push(r.clone()),
                Change::PutDocument(d) => {
                    f.docs
                        .insert((d.kind.clone(), d.id.clone()), Some(d.clone()));
                }
                Change::DeleteDocument { kind, id } => {
                    f.docs.insert((kind.clone(), id.clone()), None);
                }
            }
        }
        f
    }
}

fn end_us(e: &Extents) -> i64 {
    e.end.timestamp_micros()
}

/// Ids to delete and entities to upsert, in a stable order.
fn split<E>(m: &HashMap<EntityId, Option<Arc<E>>>) -> (Vec<String>, Vec<(String, &Arc<E>)>) {
    let mut deleted = Vec::new();
    let mut put = Vec::new();
    for (id, e) in m {
        match e {
            None => deleted.push(id.to_string()),
            Some(e) => put.push((id.to_string(), e)),
        }
    }
    deleted.sort_unstable();
    put.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    (deleted, put)
}

/// Deletes the rows of `ids` from `table` and leaves a tombstone of each, numbered `seq`.
fn delete(
    conn: &mut Conn,
    table: &str,
    kind: i16,
    ids: &[String],
    seq: i64,
    now_us: i64,
) -> Result<(), postgres::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    conn.execute(
        &format!(
            "WITH gone AS (DELETE FROM {table} WHERE id = ANY($1) RETURNING id) \
             INSERT INTO tombstones (kind, doc_kind, entity_id, seq, deleted_us) \
             SELECT $2::int2, '', id, $3::int8, $4::int8 FROM gone \
             ON CONFLICT (kind, doc_kind, entity_id) DO UPDATE SET seq = excluded.seq, \
             deleted_us = excluded.deleted_us"
        ),
        &[&ids, &kind, &seq, &now_us],
    )?;
    Ok(())
}

/// Writes the outcome of `changes` inside the caller's transaction, numbered `seq`, with a few
/// statements for the whole batch whatever its size (`unnest` of array parameters, prepared
/// once per connection).
pub(crate) fn persist(
    conn: &mut Conn,
    seq: i64,
    now: Timestamp,
    changes: &[Change],
) -> Result<(), postgres::Error> {
    let f = Final::of(changes);
    let now_us = now.timestamp_micros();

    let (deleted, put) = split(&f.ois);
    delete(
        conn,
        "operational_intents",
        OPERATIONAL_INTENT,
        &deleted,
        seq,
        now_us,
    )?;
    if !put.is_empty() {
        let mut ids = Vec::new();
        let mut managers = Vec::new();
        let mut versions = Vec::new();
        let mut ovns = Vec::new();
        let mut states = Vec::new();
        let mut urls = Vec::new();
        let mut subs = Vec::new();
        let mut blobs = Vec::new();
        let mut ends = Vec::new();
        for (id, o) in put {
            ids.push(id);
            managers.push(o.manager.as_str());
            versions.push(i64::from(o.version));
            ovns.push(o.ovn.as_str());
            states.push(o.state.as_str());
            urls.push(o.uss_base_url.as_str());
            subs.push(o.subscription_id.map(|s| s.to_string()));
            blobs.push(o.extents.volumes.as_bytes());
            ends.push(end_us(&o.extents));
        }
        conn.execute(
            "INSERT INTO operational_intents (id, manager, version, ovn, state, \
             uss_base_url, subscription_id, extents, time_end_us, seq) \
             SELECT u.*, $10::int8 FROM unnest($1::text[], $2::text[], $3::int8[], \
             $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::int8[]) AS u \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, ovn = excluded.ovn, state = excluded.state, \
             uss_base_url = excluded.uss_base_url, \
             subscription_id = excluded.subscription_id, extents = excluded.extents, \
             time_end_us = excluded.time_end_us, seq = excluded.seq",
            &[
                &ids, &managers, &versions, &ovns, &states, &urls, &subs, &blobs, &ends, &seq,
            ],
        )?;
    }

    let (deleted, put) = split(&f.constraints);
    delete(conn, "constraints", CONSTRAINT, &deleted, seq, now_us)?;
    if !put.is_empty() {
        let mut ids = Vec::new();
        let mut managers = Vec::new();
        let mut versions = Vec::new();
        let mut ovns = Vec::new();
        let mut urls = Vec::new();
        let mut blobs = Vec::new();
        let mut ends = Vec::new();
        for (id, c) in put {
            ids.push(id);
            managers.push(c.manager.as_str());
            versions.push(i64::from(c.version));
            ovns.push(c.ovn.as_str());
            urls.push(c.uss_base_url.as_str());
            blobs.push(c.extents.volumes.as_bytes());
            ends.push(end_us(&c.extents));
        }
        conn.execute(
            "INSERT INTO constraints (id, manager, version, ovn, uss_base_url, extents, \
             time_end_us, seq) SELECT u.*, $8::int8 FROM unnest($1::text[], $2::text[], \
             $3::int8[], $4::text[], $5::text[], $6::bytea[], $7::int8[]) AS u \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, ovn = excluded.ovn, \
             uss_base_url = excluded.uss_base_url, extents = excluded.extents, \
             time_end_us = excluded.time_end_us, seq = excluded.seq",
            &[
                &ids, &managers, &versions, &ovns, &urls, &blobs, &ends, &seq,
            ],
        )?;
    }

    let (deleted, put) = split(&f.subs);
    delete(conn, "subscriptions", SUBSCRIPTION, &deleted, seq, now_us)?;
    if !put.is_empty() {
        let mut ids = Vec::new();
        let mut managers = Vec::new();
        let mut versions = Vec::new();
        let mut indexes = Vec::new();
        let mut urls = Vec::new();
        let mut for_ois = Vec::new();
        let mut for_constraints = Vec::new();
        let mut implicit = Vec::new();
        let mut deps = Vec::new();
        let mut blobs = Vec::new();
        let mut ends = Vec::new();
        for (id, s) in put {
            ids.push(id);
            managers.push(s.manager.as_str());
            versions.push(s.version.as_str());
            indexes.push(i64::from(s.notification_index));
            urls.push(s.uss_base_url.as_str());
            for_ois.push(s.notify_for_operational_intents);
            for_constraints.push(s.notify_for_constraints);
            implicit.push(s.implicit);
            deps.push(
                s.dependent_operational_intents
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            blobs.push(s.extents.volumes.as_bytes());
            ends.push(end_us(&s.extents));
        }
        conn.execute(
            "INSERT INTO subscriptions (id, manager, version, notification_index, \
             uss_base_url, notify_for_operational_intents, notify_for_constraints, \
             implicit, dependent_operational_intents, extents, time_end_us, seq) \
             SELECT u.*, $12::int8 FROM unnest($1::text[], $2::text[], $3::text[], \
             $4::int8[], $5::text[], $6::bool[], $7::bool[], $8::bool[], $9::text[], \
             $10::bytea[], $11::int8[]) AS u \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, \
             notification_index = excluded.notification_index, \
             uss_base_url = excluded.uss_base_url, \
             notify_for_operational_intents = excluded.notify_for_operational_intents, \
             notify_for_constraints = excluded.notify_for_constraints, \
             implicit = excluded.implicit, \
             dependent_operational_intents = excluded.dependent_operational_intents, \
             extents = excluded.extents, time_end_us = excluded.time_end_us, \
             seq = excluded.seq",
            &[
                &ids,
                &managers,
                &versions,
                &indexes,
                &urls,
                &for_ois,
                &for_constraints,
                &implicit,
                &deps,
                &blobs,
                &ends,
                &seq,
            ],
        )?;
    }

    let mut availability: Vec<_> = f.availability.values().collect();
    availability.sort_unstable_by(|a, b| a.uss.cmp(&b.uss));
    for a in availability {
        conn.execute(
            "INSERT INTO uss_availability (uss, availability, version, seq) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (uss) DO UPDATE SET \
             availability = excluded.availability, version = excluded.version, \
             seq = excluded.seq",
            &[&a.uss, &a.availability.as_str(), &a.version, &seq],
        )?;
    }
    for r in &f.reports {
        conn.execute(
            "INSERT INTO reports (id, reporter, received_us, body) VALUES ($1, $2, $3, $4)",
            &[&r.id, &r.reporter, &r.received.timestamp_micros(), &r.body],
        )?;
    }
    persist_documents(conn, &f.docs, seq, now_us)
}

/// Deletes (leaving tombstones) and upserts documents with one statement each for the whole
/// batch, in key order, numbered `seq`.
fn persist_documents(
    conn: &mut Conn,
    docs: &HashMap<(String, String), Option<Arc<Document>>>,
    seq: i64,
    now_us: i64,
) -> Result<(), postgres::Error> {
    let mut sorted: Vec<_> = docs.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let (mut del_kinds, mut del_ids) = (Vec::new(), Vec::new());
    let (mut kinds, mut ids, mut owners, mut bodies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((kind, id), d) in sorted {
        match d {
            None => {
                del_kinds.push(kind.as_str());
                del_ids.push(id.as_str());
            }
            Some(d) => {
                kinds.push(kind.as_str());
                ids.push(id.as_str());
                owners.push(d.owner.as_str());
                bodies.push(d.body.as_str());
            }
        }
    }
    if !del_ids.is_empty() {
        conn.execute(
            "WITH gone AS (DELETE FROM documents WHERE (kind, id) IN \
             (SELECT * FROM unnest($1::text[], $2::text[])) RETURNING kind, id) \
             INSERT INTO tombstones (kind, doc_kind, entity_id, seq, deleted_us) \
             SELECT $3::int2, kind, id, $4::int8, $5::int8 FROM gone \
             ON CONFLICT (kind, doc_kind, entity_id) DO UPDATE SET seq = excluded.seq, \
             deleted_us = excluded.deleted_us",
            &[&del_kinds, &del_ids, &DOCUMENT_TOMBSTONE, &seq, &now_us],
        )?;
    }
    if !ids.is_empty() {
        conn.execute(
            "INSERT INTO documents (kind, id, owner, body, seq) \
             SELECT u.*, $5::int8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             AS u ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, \
             body = excluded.body, seq = excluded.seq",
            &[&kinds, &ids, &owners, &bodies, &seq],
        )?;
    }
    Ok(())
}

/// How long a tombstone is kept: an image older than that is loaded again in full.
pub(crate) const TOMBSTONE_KEEP_US: i64 = 3_600_000_000;

/// Removes the tombstones of deletions older than [`TOMBSTONE_KEEP_US`] and records the
/// highest number removed in `log_head.pruned`, inside the caller's write transaction.
pub(crate) fn prune(conn: &mut Conn, now: Timestamp) -> Result<(), postgres::Error> {
    let cutoff = now.timestamp_micros() - TOMBSTONE_KEEP_US;
    let gone = conn.query(
        "DELETE FROM tombstones WHERE deleted_us < $1 RETURNING seq",
        &[&cutoff],
    )?;
    let mut highest = None;
    for r in &gone {
        let seq: i64 = r.try_get(0)?;
        highest = highest.max(Some(seq));
    }
    if let Some(highest) = highest {
        conn.execute(
            "UPDATE log_head SET pruned = $1 WHERE id = 1 AND pruned < $1",
            &[&highest],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_a_catch_up_has_the_columns_of_every_kind() {
        let sql = changes_since_sql();
        let width = offset(TOMBSTONE) + 3;
        assert_eq!(width, 37);
        for part in sql.split(" UNION ALL ") {
            let select = part.split(" FROM ").next().unwrap_or_default();
            assert_eq!(select.split(", ").count(), width, "{part}");
        }
        assert_eq!(offset(OPERATIONAL_INTENT), 3);
        assert_eq!(offset(CONSTRAINT), 11);
        assert_eq!(offset(SUBSCRIPTION), 17);
        assert_eq!(offset(AVAILABILITY), 27);
        assert_eq!(offset(DOCUMENT), 30);
    }
}
