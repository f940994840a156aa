//! Reading entities from SQL inside a transaction ([`SqlView`], a [`ReadTx`]) and writing a
//! transaction's changes ([`persist`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::model::{
    Availability, Constraint, Document, Extents, OiState, OperationalIntent, Subscription,
    Timestamp, UssAvailability,
};
use deconflict_core::parse::stored_extents;
use deconflict_core::store::{Change, Expired, ReadTx};
use deconflict_core::{DssError, Result};
use deconflict_geo::{any_intersects, PreparedVolume};
use postgres::types::ToSql;
use postgres::Row;

use super::area::{
    all_kinds_sql_with, area_params, area_sql, probes, volume_box, AreaProbes, Kind,
};
use super::conn::Conn;
use super::error::{to_dss, PgError};
use crate::codec;

const OI_COLS: &str = "id, manager, version, ovn, state, uss_base_url, subscription_id, extents";
const CONSTRAINT_COLS: &str = "id, manager, version, ovn, uss_base_url, extents";
const SUB_COLS: &str = "id, manager, version, notification_index, uss_base_url, \
     notify_for_operational_intents, notify_for_constraints, implicit, \
     dependent_operational_intents, extents";

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

fn oi_of(r: &Row) -> Result<OperationalIntent, PgError> {
    oi_at(r, 0)
}

/// An operational intent from the columns `OI_COLS` starting at column `o`.
fn oi_at(r: &Row, o: usize) -> Result<OperationalIntent, PgError> {
    let state: &str = r.try_get(o + 4)?;
    let sub: Option<&str> = r.try_get(o + 6)?;
    Ok(OperationalIntent {
        id: id_of(r.try_get(o)?)?,
        manager: r.try_get(o + 1)?,
        version: int32(r.try_get(o + 2)?, "version")?,
        ovn: Ovn(r.try_get(o + 3)?),
        state: OiState::parse(state).ok_or_else(|| corrupt(format!("bad state {state}")))?,
        uss_base_url: r.try_get(o + 5)?,
        subscription_id: sub.map(id_of).transpose()?,
        extents: extents_of(r.try_get(o + 7)?)?,
    })
}

fn constraint_of(r: &Row) -> Result<Constraint, PgError> {
    constraint_at(r, 0)
}

fn constraint_at(r: &Row, o: usize) -> Result<Constraint, PgError> {
    Ok(Constraint {
        id: id_of(r.try_get(o)?)?,
        manager: r.try_get(o + 1)?,
        version: int32(r.try_get(o + 2)?, "version")?,
        ovn: Ovn(r.try_get(o + 3)?),
        uss_base_url: r.try_get(o + 4)?,
        extents: extents_of(r.try_get(o + 5)?)?,
    })
}

fn sub_of(r: &Row) -> Result<Subscription, PgError> {
    sub_at(r, 0)
}

fn sub_at(r: &Row, o: usize) -> Result<Subscription, PgError> {
    let deps: &str = r.try_get(o + 8)?;
    Ok(Subscription {
        id: id_of(r.try_get(o)?)?,
        manager: r.try_get(o + 1)?,
        version: r.try_get(o + 2)?,
        notification_index: int32(r.try_get(o + 3)?, "notification_index")?,
        uss_base_url: r.try_get(o + 4)?,
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

fn all_kinds_sql() -> String {
    all_kinds_sql_with(OI_COLS, CONSTRAINT_COLS, SUB_COLS)
}

/// Everything of every kind in one area, as [`SqlView::all_within`] fetches it for a write.
#[derive(Default)]
struct AreaRead {
    probes: AreaProbes,
    ois: Vec<Arc<OperationalIntent>>,
    constraints: Vec<Arc<Constraint>>,
    subs: Vec<Arc<Subscription>>,
}

/// Column offsets of each kind in the rows of `ALL_WITHIN_SQL`: the kind, then the columns of
/// an intent, a constraint and a subscription, those of the other kinds NULL.
const ALL_OI: usize = 1;
const ALL_CONSTRAINT: usize = 9;
const ALL_SUB: usize = 15;

/// Reads through one connection or transaction. The first SQL error is kept, so that the
/// store can tell a serialization failure (retry) from a rule's own refusal even when a rule
/// turned the read error into something else.
pub(crate) struct SqlView<'c> {
    conn: RefCell<&'c mut Conn>,
    failure: RefCell<Option<postgres::Error>>,
    /// Statements left before the view needs a transaction: `None` inside one. A read runs
    /// first outside a transaction with a budget of one statement (a single statement sees one
    /// snapshot by itself), which spares BEGIN and COMMIT; a read that needs more runs again
    /// in a transaction ([`SqlView::needs_transaction`]).
    budget: std::cell::Cell<Option<u32>>,
    over_budget: std::cell::Cell<bool>,
    /// In a write: an area look-up fetches all three kinds in one statement and keeps them
    /// for the look-ups of the other kinds in the same area that the rules make next (a new
    /// intent checks intents and constraints, then finds the subscriptions to notify).
    all_kinds: bool,
    last_area: RefCell<Option<AreaRead>>,
    /// The stored `extents` of the entities read, by kind and id: an unchanged entity keeps
    /// its `volumes` rows when it is written back.
    seen: RefCell<HashMap<(i16, EntityId), Vec<u8>>>,
}

impl<'c> SqlView<'c> {
    pub(crate) fn new(conn: &'c mut Conn) -> Self {
        Self {
            conn: RefCell::new(conn),
            failure: RefCell::new(None),
            budget: std::cell::Cell::new(None),
            over_budget: std::cell::Cell::new(false),
            all_kinds: false,
            last_area: RefCell::new(None),
            seen: RefCell::new(HashMap::new()),
        }
    }

    /// A view for the rules of a write: area look-ups fetch every kind at once (see
    /// `all_kinds`).
    pub(crate) fn for_write(conn: &'c mut Conn) -> Self {
        let mut view = Self::new(conn);
        view.all_kinds = true;
        view
    }

    /// A view outside any transaction that answers one statement; see `budget`.
    pub(crate) fn single_statement(conn: &'c mut Conn) -> Self {
        let view = Self::new(conn);
        view.budget.set(Some(1));
        view
    }

    /// Whether the reader asked for more than a single-statement view answers.
    pub(crate) fn needs_transaction(&self) -> bool {
        self.over_budget.get()
    }

    /// The first SQL error met, if any.
    pub(crate) fn take_failure(&self) -> Option<postgres::Error> {
        self.failure.borrow_mut().take()
    }

    pub(crate) fn take_seen(&self) -> HashMap<(i16, EntityId), Vec<u8>> {
        std::mem::take(&mut *self.seen.borrow_mut())
    }

    fn sql_err(&self, e: postgres::Error) -> DssError {
        let d = to_dss(&e);
        let mut f = self.failure.borrow_mut();
        if f.is_none() {
            *f = Some(e);
        }
        d
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        if let Some(left) = self.budget.get() {
            if left == 0 {
                self.over_budget.set(true);
                return Err(DssError::Unavailable(
                    "the read needs a transaction; it runs again in one".into(),
                ));
            }
            self.budget.set(Some(left - 1));
        }
        if self.failure.borrow().is_some() {
            // The transaction is aborted; running more statements would only hide the cause.
            return Err(DssError::Unavailable(
                "an earlier statement of this transaction failed".into(),
            ));
        }
        let result = self.conn.borrow_mut().query(sql, params);
        result.map_err(|e| self.sql_err(e))
    }

    fn remember(&self, kind: Kind, id: EntityId, row: &Row, col: usize) {
        if let Ok(blob) = row.try_get::<_, Vec<u8>>(col) {
            self.seen.borrow_mut().insert((kind.code(), id), blob);
        }
    }

    fn one<E>(
        &self,
        kind: Kind,
        table: &str,
        cols: &str,
        id: EntityId,
        decode: fn(&Row) -> Result<E, PgError>,
    ) -> Result<Option<Arc<E>>> {
        let rows = self.query(
            &format!("SELECT {cols} FROM {table} WHERE id = $1"),
            &[&id.to_string()],
        )?;
        match rows.first() {
            None => Ok(None),
            Some(r) => {
                let e = decode(r)?;
                self.remember(kind, id, r, r.len() - 1);
                Ok(Some(Arc::new(e)))
            }
        }
    }

    /// Every entity of every kind in `area`, from one statement, or from the last look-up
    /// when it was of the same area; `pick` takes the kind wanted.
    fn all_within<E>(
        &self,
        area: &[PreparedVolume],
        pick: fn(&AreaRead) -> &Vec<Arc<E>>,
    ) -> Result<Vec<Arc<E>>> {
        let probes = probes(area);
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(last) = &*self.last_area.borrow() {
            if last.probes == probes {
                return Ok(pick(last).clone());
            }
        }
        let rows = self.query(&all_kinds_sql(), &area_params(&0, &probes)[1..])?;
        let mut read = AreaRead {
            probes,
            ..AreaRead::default()
        };
        for r in &rows {
            let kind: i16 = r.try_get(0).map_err(|e| self.sql_err(e))?;
            if kind == Kind::OperationalIntent.code() {
                let e = oi_at(r, ALL_OI)?;
                if any_intersects(&e.extents.prepared, area) {
                    self.remember(Kind::OperationalIntent, e.id, r, ALL_OI + 7);
                    read.ois.push(Arc::new(e));
                }
            } else if kind == Kind::Constraint.code() {
                let e = constraint_at(r, ALL_CONSTRAINT)?;
                if any_intersects(&e.extents.prepared, area) {
                    self.remember(Kind::Constraint, e.id, r, ALL_CONSTRAINT + 5);
                    read.constraints.push(Arc::new(e));
                }
            } else {
                let e = sub_at(r, ALL_SUB)?;
                if any_intersects(&e.extents.prepared, area) {
                    self.remember(Kind::Subscription, e.id, r, ALL_SUB + 9);
                    read.subs.push(Arc::new(e));
                }
            }
        }
        let out = pick(&read).clone();
        *self.last_area.borrow_mut() = Some(read);
        Ok(out)
    }

    fn within<E: deconflict_core::model::Located>(
        &self,
        kind: Kind,
        table: &str,
        cols: &str,
        area: &[PreparedVolume],
        decode: fn(&Row) -> Result<E, PgError>,
    ) -> Result<Vec<Arc<E>>> {
        let probes = probes(area);
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        // One statement of fixed shape: the candidates' ids from `volumes`, then their rows by
        // primary key.
        let code = kind.code();
        let rows = self.query(&area_sql(table, cols), &area_params(&code, &probes))?;
        let mut out = Vec::new();
        for r in &rows {
            let e = decode(r)?;
            if any_intersects(&e.extents().prepared, area) {
                self.remember(kind, e.id(), r, r.len() - 1);
                out.push(Arc::new(e));
            }
        }
        Ok(out)
    }

    /// Entity counts by kind (operational intents, constraints, subscriptions).
    pub(crate) fn counts(&self) -> Result<(usize, usize, usize)> {
        let mut n = [0usize; 3];
        for (i, t) in ["operational_intents", "constraints", "subscriptions"]
            .iter()
            .enumerate()
        {
            let rows = self.query(&format!("SELECT count(*) FROM {t}"), &[])?;
            let c: i64 = rows
                .first()
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(|e| self.sql_err(e))?
                .unwrap_or(0);
            n[i] = usize::try_from(c).unwrap_or(0);
        }
        Ok((n[0], n[1], n[2]))
    }

    pub(crate) fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        let cutoff = cutoff.timestamp_micros();
        let ids = |table: &str| -> Result<Vec<EntityId>> {
            let rows = self.query(
                &format!("SELECT id FROM {table} WHERE time_end_us < $1"),
                &[&cutoff],
            )?;
            rows.iter()
                .map(|r| {
                    let s: &str = r.try_get(0).map_err(|e| self.sql_err(e))?;
                    Ok(id_of(s)?)
                })
                .collect()
        };
        Ok(Expired {
            operational_intents: ids("operational_intents")?,
            constraints: ids("constraints")?,
            subscriptions: ids("subscriptions")?,
        })
    }
}

impl ReadTx for SqlView<'_> {
    fn operational_intent(&self, id: EntityId) -> Result<Option<Arc<OperationalIntent>>> {
        self.one(
            Kind::OperationalIntent,
            "operational_intents",
            OI_COLS,
            id,
            oi_of,
        )
    }
    fn constraint(&self, id: EntityId) -> Result<Option<Arc<Constraint>>> {
        self.one(
            Kind::Constraint,
            "constraints",
            CONSTRAINT_COLS,
            id,
            constraint_of,
        )
    }
    fn subscription(&self, id: EntityId) -> Result<Option<Arc<Subscription>>> {
        self.one(Kind::Subscription, "subscriptions", SUB_COLS, id, sub_of)
    }
    fn operational_intents_in(
        &self,
        area: &[PreparedVolume],
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        if self.all_kinds {
            return self.all_within(area, |a| &a.ois);
        }
        self.within(
            Kind::OperationalIntent,
            "operational_intents",
            OI_COLS,
            area,
            oi_of,
        )
    }
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>> {
        if self.all_kinds {
            return self.all_within(area, |a| &a.constraints);
        }
        self.within(
            Kind::Constraint,
            "constraints",
            CONSTRAINT_COLS,
            area,
            constraint_of,
        )
    }
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>> {
        if self.all_kinds {
            return self.all_within(area, |a| &a.subs);
        }
        self.within(Kind::Subscription, "subscriptions", SUB_COLS, area, sub_of)
    }
    fn availability(&self, uss: &str) -> Result<Option<UssAvailability>> {
        let rows = self.query(
            "SELECT availability, version FROM uss_availability WHERE uss = $1",
            &[&uss],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let a: &str = r.try_get(0).map_err(|e| self.sql_err(e))?;
        Ok(Some(UssAvailability {
            uss: uss.to_owned(),
            availability: Availability::parse(a)
                .ok_or_else(|| corrupt(format!("bad availability {a}")))?,
            version: r.try_get(1).map_err(|e| self.sql_err(e))?,
        }))
    }
    fn document(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>> {
        let rows = self.query(
            "SELECT kind, id, owner, body FROM documents WHERE kind = $1 AND id = $2",
            &[&kind, &id],
        )?;
        rows.first().map(|r| self.document_of(r)).transpose()
    }
    fn documents(&self, kind: &str) -> Result<Vec<Arc<Document>>> {
        let rows = self.query(
            "SELECT kind, id, owner, body FROM documents WHERE kind = $1 ORDER BY id",
            &[&kind],
        )?;
        rows.iter().map(|r| self.document_of(r)).collect()
    }
}

impl SqlView<'_> {
    fn document_of(&self, r: &Row) -> Result<Arc<Document>> {
        let col = |i: usize| r.try_get::<_, String>(i).map_err(|e| self.sql_err(e));
        Ok(Arc::new(Document {
            kind: col(0)?,
            id: col(1)?,
            owner: col(2)?,
            body: col(3)?,
        }))
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

/// The `volumes` rows to write, column by column (one `unnest` insert for a whole batch), and
/// the entities whose old rows go first.
#[derive(Default)]
struct VolumeRows {
    stale: HashMap<i16, Vec<String>>,
    kind: Vec<i16>,
    entity_id: Vec<String>,
    idx: Vec<i64>,
    class: Vec<i16>,
    face: Vec<i16>,
    cu: Vec<i64>,
    cv: Vec<i64>,
    lo: [Vec<f64>; 5],
    hi: [Vec<f64>; 5],
}

impl VolumeRows {
    /// Replaces the rows of an entity, unless its stored extents were read in this transaction
    /// and are unchanged (a notification index bump, say), which saves the writes and keeps
    /// the area index free of needless conflicts.
    fn put(
        &mut self,
        seen: &mut HashMap<(i16, EntityId), Vec<u8>>,
        kind: Kind,
        id: EntityId,
        blob: &[u8],
        prepared: &[PreparedVolume],
    ) {
        if seen.get(&(kind.code(), id)).is_some_and(|b| b == blob) {
            return;
        }
        self.delete(seen, kind, id);
        seen.insert((kind.code(), id), blob.to_vec());
        let id = id.to_string();
        for (i, b) in prepared.iter().map(volume_box).enumerate() {
            self.kind.push(kind.code());
            self.entity_id.push(id.clone());
            self.idx.push(i as i64);
            self.class.push(b.class);
            self.face.push(b.face);
            self.cu.push(b.cu);
            self.cv.push(b.cv);
            for d in 0..5 {
                self.lo[d].push(b.lo[d]);
                self.hi[d].push(b.hi[d]);
            }
        }
    }

    fn delete(&mut self, seen: &mut HashMap<(i16, EntityId), Vec<u8>>, kind: Kind, id: EntityId) {
        seen.remove(&(kind.code(), id));
        self.stale
            .entry(kind.code())
            .or_default()
            .push(id.to_string());
    }

    fn write(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        let mut stale: Vec<_> = self.stale.iter().collect();
        stale.sort_unstable_by_key(|(k, _)| **k);
        for (kind, ids) in stale {
            conn.execute(
                "DELETE FROM volumes WHERE kind = $1 AND entity_id = ANY($2)",
                &[kind, ids],
            )?;
        }
        if self.kind.is_empty() {
            return Ok(());
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &self.kind,
            &self.entity_id,
            &self.idx,
            &self.class,
            &self.face,
            &self.cu,
            &self.cv,
        ];
        for d in 0..5 {
            params.push(&self.lo[d]);
            params.push(&self.hi[d]);
        }
        conn.execute(
            "INSERT INTO volumes (kind, entity_id, idx, size_class, face, cu, cv, \
             x_lo, x_hi, y_lo, y_hi, z_lo, z_hi, alt_lo, alt_hi, t_lo, t_hi) \
             SELECT * FROM unnest($1::int2[], $2::text[], $3::int8[], $4::int2[], $5::int2[], \
             $6::int8[], $7::int8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], \
             $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::float8[], \
             $17::float8[])",
            &params,
        )?;
        Ok(())
    }
}

fn end_us(e: &Extents) -> i64 {
    e.end.timestamp_micros()
}

/// Ids to delete and entities to upsert, in a stable order (ids sorted: concurrent batches
/// then lock rows in the same order).
fn split<E>(m: &HashMap<EntityId, Option<Arc<E>>>) -> (Vec<EntityId>, Vec<(EntityId, &Arc<E>)>) {
    let mut deleted = Vec::new();
    let mut put = Vec::new();
    for (id, e) in m {
        match e {
            None => deleted.push(*id),
            Some(e) => put.push((*id, e)),
        }
    }
    deleted.sort_unstable_by_key(|id| id.to_string());
    put.sort_unstable_by_key(|(id, _)| id.to_string());
    (deleted, put)
}

/// Writes the outcome of `changes` inside the caller's transaction, with a few statements for
/// the whole batch whatever its size (`unnest` of array parameters, prepared once per
/// connection). `seen` holds the stored extents of the entities the transaction read
/// ([`SqlView::take_seen`]); it is kept in step with what this writes.
pub(crate) fn persist(
    conn: &mut Conn,
    seen: &mut HashMap<(i16, EntityId), Vec<u8>>,
    changes: &[Change],
) -> Result<(), postgres::Error> {
    let f = Final::of(changes);
    let mut volumes = VolumeRows::default();

    let (deleted, put) = split(&f.ois);
    for id in &deleted {
        volumes.delete(seen, Kind::OperationalIntent, *id);
    }
    if !deleted.is_empty() {
        let deleted: Vec<String> = deleted.iter().map(|id| id.to_string()).collect();
        conn.execute(
            "DELETE FROM operational_intents WHERE id = ANY($1)",
            &[&deleted],
        )?;
    }
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
        for (id, o) in &put {
            let blob = codec::encode(&o.extents.volumes);
            volumes.put(
                seen,
                Kind::OperationalIntent,
                *id,
                &blob,
                &o.extents.prepared,
            );
            ids.push(id.to_string());
            managers.push(o.manager.as_str());
            versions.push(i64::from(o.version));
            ovns.push(o.ovn.as_str());
            states.push(o.state.as_str());
            urls.push(o.uss_base_url.as_str());
            subs.push(o.subscription_id.map(|s| s.to_string()));
            blobs.push(blob);
            ends.push(end_us(&o.extents));
        }
        conn.execute(
            "INSERT INTO operational_intents (id, manager, version, ovn, state, \
             uss_base_url, subscription_id, extents, time_end_us) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::bytea[], $9::int8[]) \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, ovn = excluded.ovn, state = excluded.state, \
             uss_base_url = excluded.uss_base_url, \
             subscription_id = excluded.subscription_id, extents = excluded.extents, \
             time_end_us = excluded.time_end_us",
            &[
                &ids, &managers, &versions, &ovns, &states, &urls, &subs, &blobs, &ends,
            ],
        )?;
    }

    let (deleted, put) = split(&f.constraints);
    for id in &deleted {
        volumes.delete(seen, Kind::Constraint, *id);
    }
    if !deleted.is_empty() {
        let deleted: Vec<String> = deleted.iter().map(|id| id.to_string()).collect();
        conn.execute("DELETE FROM constraints WHERE id = ANY($1)", &[&deleted])?;
    }
    if !put.is_empty() {
        let mut ids = Vec::new();
        let mut managers = Vec::new();
        let mut versions = Vec::new();
        let mut ovns = Vec::new();
        let mut urls = Vec::new();
        let mut blobs = Vec::new();
        let mut ends = Vec::new();
        for (id, c) in &put {
            let blob = codec::encode(&c.extents.volumes);
            volumes.put(seen, Kind::Constraint, *id, &blob, &c.extents.prepared);
            ids.push(id.to_string());
            managers.push(c.manager.as_str());
            versions.push(i64::from(c.version));
            ovns.push(c.ovn.as_str());
            urls.push(c.uss_base_url.as_str());
            blobs.push(blob);
            ends.push(end_us(&c.extents));
        }
        conn.execute(
            "INSERT INTO constraints (id, manager, version, ovn, uss_base_url, extents, \
             time_end_us) SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], \
             $4::text[], $5::text[], $6::bytea[], $7::int8[]) \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, ovn = excluded.ovn, \
             uss_base_url = excluded.uss_base_url, extents = excluded.extents, \
             time_end_us = excluded.time_end_us",
            &[&ids, &managers, &versions, &ovns, &urls, &blobs, &ends],
        )?;
    }

    let (deleted, put) = split(&f.subs);
    for id in &deleted {
        volumes.delete(seen, Kind::Subscription, *id);
    }
    if !deleted.is_empty() {
        let deleted: Vec<String> = deleted.iter().map(|id| id.to_string()).collect();
        conn.execute("DELETE FROM subscriptions WHERE id = ANY($1)", &[&deleted])?;
    }
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
        for (id, s) in &put {
            let blob = codec::encode(&s.extents.volumes);
            volumes.put(seen, Kind::Subscription, *id, &blob, &s.extents.prepared);
            ids.push(id.to_string());
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
            blobs.push(blob);
            ends.push(end_us(&s.extents));
        }
        conn.execute(
            "INSERT INTO subscriptions (id, manager, version, notification_index, \
             uss_base_url, notify_for_operational_intents, notify_for_constraints, \
             implicit, dependent_operational_intents, extents, time_end_us) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], \
             $5::text[], $6::bool[], $7::bool[], $8::bool[], $9::text[], $10::bytea[], \
             $11::int8[]) \
             ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
             version = excluded.version, \
             notification_index = excluded.notification_index, \
             uss_base_url = excluded.uss_base_url, \
             notify_for_operational_intents = excluded.notify_for_operational_intents, \
             notify_for_constraints = excluded.notify_for_constraints, \
             implicit = excluded.implicit, \
             dependent_operational_intents = excluded.dependent_operational_intents, \
             extents = excluded.extents, time_end_us = excluded.time_end_us",
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
            ],
        )?;
    }

    volumes.write(conn)?;

    let mut availability: Vec<_> = f.availability.values().collect();
    availability.sort_unstable_by(|a, b| a.uss.cmp(&b.uss));
    for a in availability {
        conn.execute(
            "INSERT INTO uss_availability (uss, availability, version) \
             VALUES ($1, $2, $3) ON CONFLICT (uss) DO UPDATE SET \
             availability = excluded.availability, version = excluded.version",
            &[&a.uss, &a.availability.as_str(), &a.version],
        )?;
    }
    for r in &f.reports {
        conn.execute(
            "INSERT INTO reports (id, reporter, received_us, body) VALUES ($1, $2, $3, $4)",
            &[&r.id, &r.reporter, &r.received.timestamp_micros(), &r.body],
        )?;
    }
    persist_documents(conn, &f.docs)
}

/// Deletes and upserts documents with one statement each for the whole batch, in key order.
fn persist_documents(
    conn: &mut Conn,
    docs: &HashMap<(String, String), Option<Arc<Document>>>,
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
            "DELETE FROM documents WHERE (kind, id) IN \
             (SELECT * FROM unnest($1::text[], $2::text[]))",
            &[&del_kinds, &del_ids],
        )?;
    }
    if !ids.is_empty() {
        conn.execute(
            "INSERT INTO documents (kind, id, owner, body) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, body = excluded.body",
            &[&kinds, &ids, &owners, &bodies],
        )?;
    }
    Ok(())
}
