//! Reading entities from SQL inside a transaction ([`SqlView`], a [`ReadTx`]) and writing a
//! transaction's changes ([`persist`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::model::{
    Availability, Constraint, Extents, OiState, OperationalIntent, Subscription, Timestamp,
    UssAvailability,
};
use deconflict_core::parse::stored_extents;
use deconflict_core::store::{Change, Expired, ReadTx};
use deconflict_core::{DssError, Result};
use deconflict_geo::{any_intersects, PreparedVolume};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::area::{candidates_sql, volume_box, Kind};
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
    let state: &str = r.try_get(4)?;
    let sub: Option<&str> = r.try_get(6)?;
    Ok(OperationalIntent {
        id: id_of(r.try_get(0)?)?,
        manager: r.try_get(1)?,
        version: int32(r.try_get(2)?, "version")?,
        ovn: Ovn(r.try_get(3)?),
        state: OiState::parse(state).ok_or_else(|| corrupt(format!("bad state {state}")))?,
        uss_base_url: r.try_get(5)?,
        subscription_id: sub.map(id_of).transpose()?,
        extents: extents_of(r.try_get(7)?)?,
    })
}

fn constraint_of(r: &Row) -> Result<Constraint, PgError> {
    Ok(Constraint {
        id: id_of(r.try_get(0)?)?,
        manager: r.try_get(1)?,
        version: int32(r.try_get(2)?, "version")?,
        ovn: Ovn(r.try_get(3)?),
        uss_base_url: r.try_get(4)?,
        extents: extents_of(r.try_get(5)?)?,
    })
}

fn sub_of(r: &Row) -> Result<Subscription, PgError> {
    let deps: &str = r.try_get(8)?;
    Ok(Subscription {
        id: id_of(r.try_get(0)?)?,
        manager: r.try_get(1)?,
        version: r.try_get(2)?,
        notification_index: int32(r.try_get(3)?, "notification_index")?,
        uss_base_url: r.try_get(4)?,
        notify_for_operational_intents: r.try_get(5)?,
        notify_for_constraints: r.try_get(6)?,
        implicit: r.try_get(7)?,
        dependent_operational_intents: deps
            .split(',')
            .filter(|s| !s.is_empty())
            .map(id_of)
            .collect::<Result<_, _>>()?,
        extents: extents_of(r.try_get(9)?)?,
    })
}

/// Reads through one connection or transaction. The first SQL error is kept, so that the
/// store can tell a serialization failure (retry) from a rule's own refusal even when a rule
/// turned the read error into something else.
pub(crate) struct SqlView<'c, C: GenericClient> {
    client: RefCell<&'c mut C>,
    failure: RefCell<Option<postgres::Error>>,
    /// The stored `extents` of the entities read, by kind and id: an unchanged entity keeps
    /// its `volumes` rows when it is written back.
    seen: RefCell<HashMap<(i16, EntityId), Vec<u8>>>,
}

impl<'c, C: GenericClient> SqlView<'c, C> {
    pub(crate) fn new(client: &'c mut C) -> Self {
        Self {
            client: RefCell::new(client),
            failure: RefCell::new(None),
            seen: RefCell::new(HashMap::new()),
        }
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
        if self.failure.borrow().is_some() {
            // The transaction is aborted; running more statements would only hide the cause.
            return Err(DssError::Unavailable(
                "an earlier statement of this transaction failed".into(),
            ));
        }
        let result = self.client.borrow_mut().query(sql, params);
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

    fn within<E: deconflict_core::model::Located>(
        &self,
        kind: Kind,
        table: &str,
        cols: &str,
        area: &[PreparedVolume],
        decode: fn(&Row) -> Result<E, PgError>,
    ) -> Result<Vec<Arc<E>>> {
        let candidates = candidates_sql(kind, area);
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // Ids first, then the rows by primary key: two plain plans whatever the table sizes
        // (a semi-join could scan a whole table, and lock it all under SERIALIZABLE).
        let mut ids: Vec<String> = Vec::new();
        for r in self.query(&candidates, &[])? {
            ids.push(r.try_get(0).map_err(|e| self.sql_err(e))?);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort_unstable();
        ids.dedup();
        let rows = self.query(
            &format!("SELECT {cols} FROM {table} WHERE id = ANY($1)"),
            &[&ids],
        )?;
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

impl<C: GenericClient> ReadTx for SqlView<'_, C> {
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
        self.within(
            Kind::OperationalIntent,
            "operational_intents",
            OI_COLS,
            area,
            oi_of,
        )
    }
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>> {
        self.within(
            Kind::Constraint,
            "constraints",
            CONSTRAINT_COLS,
            area,
            constraint_of,
        )
    }
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>> {
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
}

/// Parameters of one row of `volumes`.
const VOLUME_COLS: usize = 17;
/// Most rows one multi-row `INSERT INTO volumes` carries.
const VOLUME_ROWS_PER_INSERT: usize = 500;

/// Replaces the `volumes` rows of an entity, unless its stored extents were read in this
/// transaction and are unchanged (a notification index bump, say), which saves the writes and
/// keeps the area index free of needless conflicts.
fn put_volumes(
    tx: &mut impl GenericClient,
    seen: &mut HashMap<(i16, EntityId), Vec<u8>>,
    kind: Kind,
    id: EntityId,
    blob: &[u8],
    prepared: &[PreparedVolume],
) -> Result<(), postgres::Error> {
    if seen.get(&(kind.code(), id)).is_some_and(|b| b == blob) {
        return Ok(());
    }
    delete_volumes(tx, seen, kind, id)?;
    seen.insert((kind.code(), id), blob.to_vec());
    let id = id.to_string();
    let code = kind.code();
    let boxes: Vec<_> = prepared.iter().map(volume_box).collect();
    let idx: Vec<i64> = (0..boxes.len() as i64).collect();
    for (chunk_no, chunk) in boxes.chunks(VOLUME_ROWS_PER_INSERT).enumerate() {
        let mut sql = String::from(
            "INSERT INTO volumes (kind, entity_id, idx, size_class, face, cu, cv, \
             x_lo, x_hi, y_lo, y_hi, z_lo, z_hi, alt_lo, alt_hi, t_lo, t_hi) VALUES ",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * VOLUME_COLS);
        for (i, b) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let base = params.len();
            sql.push('(');
            for p in 1..=VOLUME_COLS {
                if p > 1 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", base + p));
            }
            sql.push(')');
            params.push(&code);
            params.push(&id);
            let n = chunk_no * VOLUME_ROWS_PER_INSERT + i;
            params.push(&idx[n]);
            params.push(&b.class);
            params.push(&b.face);
            params.push(&b.cu);
            params.push(&b.cv);
            for d in 0..5 {
                params.push(&b.lo[d]);
                params.push(&b.hi[d]);
            }
        }
        tx.execute(sql.as_str(), &params)?;
    }
    Ok(())
}

fn delete_volumes(
    tx: &mut impl GenericClient,
    seen: &mut HashMap<(i16, EntityId), Vec<u8>>,
    kind: Kind,
    id: EntityId,
) -> Result<(), postgres::Error> {
    seen.remove(&(kind.code(), id));
    tx.execute(
        "DELETE FROM volumes WHERE kind = $1 AND entity_id = $2",
        &[&kind.code(), &id.to_string()],
    )?;
    Ok(())
}

fn end_us(e: &Extents) -> i64 {
    e.end.timestamp_micros()
}

/// Writes `changes`, in order, inside the caller's transaction. `seen` holds the stored
/// extents of the entities the transaction read ([`SqlView::take_seen`]); it is kept in step
/// with what this writes.
pub(crate) fn persist(
    tx: &mut impl GenericClient,
    seen: &mut HashMap<(i16, EntityId), Vec<u8>>,
    changes: &[Change],
) -> Result<(), postgres::Error> {
    for c in changes {
        match c {
            Change::PutOperationalIntent(o) => {
                let blob = codec::encode(&o.extents.volumes);
                tx.execute(
                    "INSERT INTO operational_intents (id, manager, version, ovn, state, \
                     uss_base_url, subscription_id, extents, time_end_us) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
                     version = excluded.version, ovn = excluded.ovn, state = excluded.state, \
                     uss_base_url = excluded.uss_base_url, \
                     subscription_id = excluded.subscription_id, extents = excluded.extents, \
                     time_end_us = excluded.time_end_us",
                    &[
                        &o.id.to_string(),
                        &o.manager,
                        &i64::from(o.version),
                        &o.ovn.as_str(),
                        &o.state.as_str(),
                        &o.uss_base_url,
                        &o.subscription_id.map(|s| s.to_string()),
                        &blob,
                        &end_us(&o.extents),
                    ],
                )?;
                put_volumes(
                    tx,
                    seen,
                    Kind::OperationalIntent,
                    o.id,
                    &blob,
                    &o.extents.prepared,
                )?;
            }
            Change::DeleteOperationalIntent(id) => {
                tx.execute(
                    "DELETE FROM operational_intents WHERE id = $1",
                    &[&id.to_string()],
                )?;
                delete_volumes(tx, seen, Kind::OperationalIntent, *id)?;
            }
            Change::PutConstraint(c) => {
                let blob = codec::encode(&c.extents.volumes);
                tx.execute(
                    "INSERT INTO constraints (id, manager, version, ovn, uss_base_url, extents, \
                     time_end_us) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id) DO UPDATE SET manager = excluded.manager, \
                     version = excluded.version, ovn = excluded.ovn, \
                     uss_base_url = excluded.uss_base_url, extents = excluded.extents, \
                     time_end_us = excluded.time_end_us",
                    &[
                        &c.id.to_string(),
                        &c.manager,
                        &i64::from(c.version),
                        &c.ovn.as_str(),
                        &c.uss_base_url,
                        &blob,
                        &end_us(&c.extents),
                    ],
                )?;
                put_volumes(tx, seen, Kind::Constraint, c.id, &blob, &c.extents.prepared)?;
            }
            Change::DeleteConstraint(id) => {
                tx.execute("DELETE FROM constraints WHERE id = $1", &[&id.to_string()])?;
                delete_volumes(tx, seen, Kind::Constraint, *id)?;
            }
            Change::PutSubscription(s) => {
                let blob = codec::encode(&s.extents.volumes);
                let deps: Vec<String> = s
                    .dependent_operational_intents
                    .iter()
                    .map(|d| d.to_string())
                    .collect();
                tx.execute(
                    "INSERT INTO subscriptions (id, manager, version, notification_index, \
                     uss_base_url, notify_for_operational_intents, notify_for_constraints, \
                     implicit, dependent_operational_intents, extents, time_end_us) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
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
                        &s.id.to_string(),
                        &s.manager,
                        &s.version,
                        &i64::from(s.notification_index),
                        &s.uss_base_url,
                        &s.notify_for_operational_intents,
                        &s.notify_for_constraints,
                        &s.implicit,
                        &deps.join(","),
                        &blob,
                        &end_us(&s.extents),
                    ],
                )?;
                put_volumes(
                    tx,
                    seen,
                    Kind::Subscription,
                    s.id,
                    &blob,
                    &s.extents.prepared,
                )?;
            }
            Change::DeleteSubscription(id) => {
                tx.execute(
                    "DELETE FROM subscriptions WHERE id = $1",
                    &[&id.to_string()],
                )?;
                delete_volumes(tx, seen, Kind::Subscription, *id)?;
            }
            Change::PutAvailability(a) => {
                tx.execute(
                    "INSERT INTO uss_availability (uss, availability, version) \
                     VALUES ($1, $2, $3) ON CONFLICT (uss) DO UPDATE SET \
                     availability = excluded.availability, version = excluded.version",
                    &[&a.uss, &a.availability.as_str(), &a.version],
                )?;
            }
            Change::AddReport(r) => {
                tx.execute(
                    "INSERT INTO reports (id, reporter, received_us, body) \
                     VALUES ($1, $2, $3, $4)",
                    &[&r.id, &r.reporter, &r.received.timestamp_micros(), &r.body],
                )?;
            }
        }
    }
    Ok(())
}
