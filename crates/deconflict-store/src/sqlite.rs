//! The SQLite file: schema and migrations, loading everything at start-up, and writing a batch
//! of changes in one transaction.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a
//! crash of the process or of the machine.

use std::path::Path;
use std::sync::Arc;

use chrono::SecondsFormat;
use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::memstate::{MemState, Table};
use deconflict_core::model::{
    Availability, Constraint, OiState, OperationalIntent, Subscription, UssAvailability,
};
use deconflict_core::parse::stored_extents;
use deconflict_core::store::Change;
use rusqlite::{params, Connection, OptionalExtension};

use crate::codec;
use crate::error::StoreError;

/// Each entry upgrades the schema by one version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[r#"
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
"#];

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

fn extents_of(blob: &[u8]) -> Result<deconflict_core::model::Extents, StoreError> {
    let volumes = codec::decode(blob).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    stored_extents(volumes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads the whole database into memory.
pub fn load(conn: &Connection) -> Result<MemState, StoreError> {
    let mut ois = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, manager, version, ovn, state, uss_base_url, subscription_id, extents FROM operational_intents",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let state: String = r.get(4)?;
        let sub: Option<String> = r.get(6)?;
        ois.push(Arc::new(OperationalIntent {
            id: id_of(r.get(0)?)?,
            manager: r.get(1)?,
            version: r.get(2)?,
            ovn: Ovn(r.get(3)?),
            state: OiState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("bad state {state}")))?,
            uss_base_url: r.get(5)?,
            subscription_id: sub.map(id_of).transpose()?,
            extents: extents_of(
                r.get_ref(7)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )?,
        }));
    }
    let mut constraints = Vec::new();
    let mut stmt =
        conn.prepare("SELECT id, manager, version, ovn, uss_base_url, extents FROM constraints")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        constraints.push(Arc::new(Constraint {
            id: id_of(r.get(0)?)?,
            manager: r.get(1)?,
            version: r.get(2)?,
            ovn: Ovn(r.get(3)?),
            uss_base_url: r.get(4)?,
            extents: extents_of(
                r.get_ref(5)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )?,
        }));
    }
    let mut subs = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, manager, version, notification_index, uss_base_url, notify_for_operational_intents, \
         notify_for_constraints, implicit, dependent_operational_intents, extents FROM subscriptions",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let deps: String = r.get(8)?;
        subs.push(Arc::new(Subscription {
            id: id_of(r.get(0)?)?,
            manager: r.get(1)?,
            version: r.get(2)?,
            notification_index: r.get(3)?,
            uss_base_url: r.get(4)?,
            notify_for_operational_intents: r.get(5)?,
            notify_for_constraints: r.get(6)?,
            implicit: r.get(7)?,
            dependent_operational_intents: deps
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| id_of(s.to_owned()))
                .collect::<Result<_, _>>()?,
            extents: extents_of(
                r.get_ref(9)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )?,
        }));
    }
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
    Ok(MemState {
        operational_intents: Table::bulk(ois),
        constraints: Table::bulk(constraints),
        subscriptions: Table::bulk(subs),
        availability,
    })
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
                    o.manager,
                    o.version,
                    o.ovn.as_str(),
                    o.state.as_str(),
                    o.uss_base_url,
                    o.subscription_id.map(|s| s.to_string()),
                    codec::encode(&o.extents.volumes),
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
                    c.manager,
                    c.version,
                    c.ovn.as_str(),
                    c.uss_base_url,
                    codec::encode(&c.extents.volumes),
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
                    s.manager,
                    s.version,
                    s.notification_index,
                    s.uss_base_url,
                    s.notify_for_operational_intents,
                    s.notify_for_constraints,
                    s.implicit,
                    deps.join(","),
                    codec::encode(&s.extents.volumes),
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
