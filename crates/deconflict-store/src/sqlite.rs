//! The SQLite file: schema and migrations, loading everything at start-up, and writing a batch
//! of changes in one transaction.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! crash of the process or of the machine.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::SecondsFormat;
use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::memstate::{Documents, MemState, Table};
use deconflict_core::model::{
    Availability, Constraint, Document, OiState, OperationalIntent, Subscription, UssAvailability,
};
use deconflict_core::names::Name;
use deconflict_core::parse::stored_extents_from_bytes;
use deconflict_core::store::Change;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;

/// Each entry upgrades the schema by one version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE operational_intents (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version INTEGER NOT NULL,
    ovn TEXT NOT NULL,
    state TEXT NOT NULL,
    uss_base_url TEXT NOT NULL,
    subscription_id TEXT,
    extents BLOB NOT NULL,
    time_end_us INTEGER NOT NULL
);
CREATE TABLE constraints (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version INTEGER NOT NULL,
    ovn TEXT NOT NULL,
    uss_base_url TEXT NOT NULL,
    extents BLOB NOT NULL,
    time_end_us INTEGER NOT NULL
);
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version TEXT NOT NULL,
    notification_index INTEGER NOT NULL,
    uss_base_url TEXT NOT NULL,
    notify_for_operational_intents INTEGER NOT NULL,
    notify_for_constraints INTEGER NOT NULL,
    implicit INTEGER NOT NULL,
    dependent_operational_intents TEXT NOT NULL,
    extents BLOB NOT NULL,
    time_end_us INTEGER NOT NULL
);
CREATE TABLE uss_availability (
    uss TEXT PRIMARY KEY,
    availability TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    reporter TEXT NOT NULL,
    received TEXT NOT NULL,
    body TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
"#,
];

pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Schema(format!(
            "the database has schema version {current}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn id_of(s: String) -> Result<EntityId, StoreError> {
    EntityId::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("bad id {s}")))
}

fn extents_of(blob: Vec<u8>) -> Result<deconflict_core::model::Extents, StoreError> {
    stored_extents_from_bytes(blob).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Rows handed to a converting thread at a time.
const CHUNK_ROWS: usize = 4096;

/// Runs `sql` and turns every row into an entity: this thread steps through the rows on the
/// one connection and copies the columns out (`read`), while one thread per core does the
/// CPU-bound part (`convert`: decoding and preparing the geometry), chunk by chunk.
fn load_rows<R, E>(
    conn: &Connection,
    sql: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> Result<R, StoreError>,
    convert: impl Fn(R) -> Result<E, StoreError> + Sync,
) -> Result<Vec<Arc<E>>, StoreError>
where
    R: Send,
    E: Send + Sync,
{
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<R>>(2 * workers);
    let rx = Mutex::new(rx);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Arc<E>>, StoreError> {
                    let mut out = Vec::new();
                    loop {
                        let chunk = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok(chunk) = chunk else { break };
                        for raw in chunk {
                            match convert(raw) {
                                Ok(e) => out.push(Arc::new(e)),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        let reading = (|| {
            let mut stmt = conn.prepare(sql)?;
            let mut rows = stmt.query([])?;
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            while let Some(r) = rows.next()? {
                chunk.push(read(r)?);
                if chunk.len() == CHUNK_ROWS {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                    if tx.send(full).is_err() {
                        break;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(chunk);
            }
            Ok(())
        })();
        drop(tx);
        let mut all = Vec::new();
        let mut first_error = reading.err();
        for h in handles {
            match h.join() {
                Ok(Ok(part)) => {
                    if all.is_empty() {
                        all = part;
                    } else {
                        all.extend(part);
                    }
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error
                        .get_or_insert(StoreError::Corrupt("a loading thread panicked".into()));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })
}

fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An id column, parsed without copying it.
fn id_at(r: &rusqlite::Row<'_>, i: usize) -> Result<EntityId, StoreError> {
    let s = text(r, i)?;
    EntityId::parse(s).ok_or_else(|| StoreError::Corrupt(format!("bad id {s}")))
}

fn blob(r: &rusqlite::Row<'_>, i: usize) -> Result<Vec<u8>, StoreError> {
    Ok(r.get_ref(i)?
        .as_blob()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .to_vec())
}

/// Reads the whole database into memory.
pub fn load(conn: &Connection) -> Result<MemState, StoreError> {
    let started = Instant::now();
    struct OiRow {
        id: EntityId,
        manager: String,
        version: i32,
        ovn: String,
        state: OiState,
        uss_base_url: String,
        sub: Option<EntityId>,
        extents: Vec<u8>,
    }
    let ois = load_rows(
        conn,
        "SELECT id, manager, version, ovn, state, uss_base_url, subscription_id, extents FROM operational_intents",
        |r| {
            let state = text(r, 4)?;
            Ok(OiRow {
                id: id_at(r, 0)?,
                manager: r.get(1)?,
                version: r.get(2)?,
                ovn: r.get(3)?,
                state: OiState::parse(state)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad state {state}")))?,
                uss_base_url: r.get(5)?,
                sub: match r.get_ref(6)? {
                    rusqlite::types::ValueRef::Null => None,
                    _ => Some(id_at(r, 6)?),
                },
                extents: blob(r, 7)?,
            })
        },
        |r| {
            Ok(OperationalIntent {
                id: r.id,
                manager: Name::new(&r.manager),
                version: r.version,
                ovn: Ovn(r.ovn),
                state: r.state,
                uss_base_url: Name::new(&r.uss_base_url),
                subscription_id: r.sub,
                extents: extents_of(r.extents)?,
            })
        },
    )?;
    struct ConstraintRow {
        id: EntityId,
        manager: String,
        version: i32,
        ovn: String,
        uss_base_url: String,
        extents: Vec<u8>,
    }
    let constraints = load_rows(
        conn,
        "SELECT id, manager, version, ovn, uss_base_url, extents FROM constraints",
        |r| {
            Ok(ConstraintRow {
                id: id_at(r, 0)?,
                manager: r.get(1)?,
                version: r.get(2)?,
                ovn: r.get(3)?,
                uss_base_url: r.get(4)?,
                extents: blob(r, 5)?,
            })
        },
        |r| {
            Ok(Constraint {
                id: r.id,
                manager: Name::new(&r.manager),
                version: r.version,
                ovn: Ovn(r.ovn),
                uss_base_url: Name::new(&r.uss_base_url),
                extents: extents_of(r.extents)?,
            })
        },
    )?;
    struct SubRow {
        id: EntityId,
        manager: String,
        version: String,
        notification_index: i32,
        uss_base_url: String,
        notify_for_operational_intents: bool,
        notify_for_constraints: bool,
        implicit: bool,
        deps: String,
        extents: Vec<u8>,
    }
    let subs = load_rows(
        conn,
        "SELECT id, manager, version, notification_index, uss_base_url, notify_for_operational_intents, \
         notify_for_constraints, implicit, dependent_operational_intents, extents FROM subscriptions",
        |r| {
            Ok(SubRow {
                id: id_at(r, 0)?,
                manager: r.get(1)?,
                version: r.get(2)?,
                notification_index: r.get(3)?,
                uss_base_url: r.get(4)?,
                notify_for_operational_intents: r.get(5)?,
                notify_for_constraints: r.get(6)?,
                implicit: r.get(7)?,
                deps: r.get(8)?,
                extents: blob(r, 9)?,
            })
        },
        |r| {
            Ok(Subscription {
                id: r.id,
                manager: Name::new(&r.manager),
                version: r.version,
                notification_index: r.notification_index,
                uss_base_url: Name::new(&r.uss_base_url),
                notify_for_operational_intents: r.notify_for_operational_intents,
                notify_for_constraints: r.notify_for_constraints,
                implicit: r.implicit,
                dependent_operational_intents: r
                    .deps
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| id_of(s.to_owned()))
                    .collect::<Result<_, _>>()?,
                extents: extents_of(r.extents)?,
            })
        },
    )?;
    let mut availability = std::collections::HashMap::new();
    let mut stmt = conn.prepare("SELECT uss, availability, version FROM uss_availability")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let uss: String = r.get(0)?;
        let a: String = r.get(1)?;
        availability.insert(
            uss.clone(),
            UssAvailability {
                uss,
                availability: Availability::parse(&a)
                    .ok_or_else(|| StoreError::Corrupt(format!("bad availability {a}")))?,
                version: r.get(2)?,
            },
        );
    }
    let mut documents = Documents::default();
    let mut stmt = conn.prepare("SELECT kind, id, owner, body FROM documents")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        documents.put(Arc::new(Document {
            kind: r.get(0)?,
            id: r.get(1)?,
            owner: r.get(2)?,
            body: r.get(3)?,
        }));
    }
    let read = started.elapsed();
    let (counts, mem) = (
        (ois.len(), constraints.len(), subs.len()),
        MemState {
            operational_intents: Table::bulk(ois),
            constraints: Table::bulk(constraints),
            subscriptions: Table::bulk(subs),
            availability,
            documents,
        },
    );
    tracing::info!(
        operational_intents = counts.0,
        constraints = counts.1,
        subscriptions = counts.2,
        read_s = read.as_secs_f64(),
        index_s = (started.elapsed() - read).as_secs_f64(),
        "store loaded into memory"
    );
    Ok(mem)
}

fn end_us(e: &deconflict_core::model::Extents) -> i64 {
    e.end.timestamp_micros()
}

/// Writes `changes` in one transaction; returns once it is durable.
pub fn persist(conn: &mut Connection, changes: &[Change]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for c in changes {
        match c {
            Change::PutOperationalIntent(o) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO operational_intents VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    o.id.to_string(),
                    o.manager.as_str(),
                    o.version,
                    o.ovn.as_str(),
                    o.state.as_str(),
                    o.uss_base_url.as_str(),
                    o.subscription_id.map(|s| s.to_string()),
                    o.extents.volumes.as_bytes(),
                    end_us(&o.extents),
                ])?;
            }
            Change::DeleteOperationalIntent(id) => {
                tx.prepare_cached("DELETE FROM operational_intents WHERE id = ?1")?
                    .execute([id.to_string()])?;
            }
            Change::PutConstraint(c) => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO constraints VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    c.id.to_string(),
                    c.manager.as_str(),
                    c.version,
                    c.ovn.as_str(),
                    c.uss_base_url.as_str(),
                    c.extents.volumes.as_bytes(),
                    end_us(&c.extents),
                ])?;
            }
            Change::DeleteConstraint(id) => {
                tx.prepare_cached("DELETE FROM constraints WHERE id = ?1")?
                    .execute([id.to_string()])?;
            }
            Change::PutSubscription(s) => {
                let deps: Vec<String> = s
                    .dependent_operational_intents
                    .iter()
                    .map(|d| d.to_string())
                    .collect();
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO subscriptions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    s.id.to_string(),
                    s.manager.as_str(),
                    s.version,
                    s.notification_index,
                    s.uss_base_url.as_str(),
                    s.notify_for_operational_intents,
                    s.notify_for_constraints,
                    s.implicit,
                    deps.join(","),
                    s.extents.volumes.as_bytes(),
                    end_us(&s.extents),
                ])?;
            }
            Change::DeleteSubscription(id) => {
                tx.prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
                    .execute([id.to_string()])?;
            }
            Change::PutAvailability(a) => {
                tx.prepare_cached("INSERT OR REPLACE INTO uss_availability VALUES (?1, ?2, ?3)")?
                    .execute(params![a.uss, a.availability.as_str(), a.version])?;
            }
            Change::AddReport(r) => {
                tx.prepare_cached("INSERT INTO reports VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![
                        r.id,
                        r.reporter,
                        r.received.to_rfc3339_opts(SecondsFormat::Micros, true),
                        r.body
                    ])?;
            }
            Change::PutDocument(d) => {
                tx.prepare_cached("INSERT OR REPLACE INTO documents VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![d.kind, d.id, d.owner, d.body])?;
            }
            Change::DeleteDocument { kind, id } => {
                tx.prepare_cached("DELETE FROM documents WHERE kind = ?1 AND id = ?2")?
                    .execute(params![kind, id])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// A cheap query that fails when the file cannot be used.
pub fn ping(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("SELECT 1", [], |_| Ok(()))
        .optional()
        .map(|_| ())
        .map_err(StoreError::from)
}
