//! Conflicts: after every write of an extent (an operational intent or constraint through the
//! DSS, a site, a movement), what it now intersects among the other parties' extents, recorded
//! and told to both sides with minimum disclosure ([`crate::notification`]).
//!
//! A conflict is a pair of live extents of two different parties, at least one of them an
//! operation: sites and movements are what the line protects, so they do not conflict with
//! each other. Only pairs with a registered party on one side at least are recorded (an
//! unregistered USS cannot read notifications, but the party whose site it crosses must
//! hear of it). A pair is one conflict, whose id derives from the two entity ids; writing one
//! of them again tells both sides again only if the time window of the intersection changed.
//!
//! The search is one look-up in the spatial index of intents and one in that of constraints,
//! filtered by manager before the exact test, so it costs about what a DSS query of the same
//! area does.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deconflict_core::ids::EntityId;
use deconflict_core::model::{Constraint, Document, Extents, OperationalIntent};
use deconflict_core::parse::from_micros;
use deconflict_core::store::{Change, ReadTx, Tx};
use deconflict_core::DssError;
use deconflict_geo::{intersects, PreparedVolume};
use serde::{Deserialize, Serialize};

use crate::movement::{self, Movement};
use crate::notification::{
    self, Counterpart, Disclosure, DssType, ExtentKind, Notification, Own, Window,
};
use crate::party::Registry;
use crate::publish::stored;
use crate::site::{self, Site};

/// The document kind of conflicts.
pub const KIND: &str = "conflict";

/// One side of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// The party that manages the extent (a JWT `sub`).
    pub party: String,
    pub kind: ExtentKind,
    pub dss_type: DssType,
    /// The DSS entity id.
    pub id: String,
}

/// A recorded conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Derived from the two entity ids: the same pair is always the same conflict.
    pub id: String,
    /// The extent whose write found the conflict first, then the other.
    pub sides: [Side; 2],
    pub window: Window,
    /// When it was first found.
    pub detected: DateTime<Utc>,
    /// When its window last changed.
    pub updated: DateTime<Utc>,
    /// The notifications it caused, in order.
    pub notifications: Vec<String>,
}

/// The id of the conflict between entities `a` and `b`, in either order.
pub fn conflict_id(a: EntityId, b: EntityId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    crate::stable_id(KIND, "", &lo.to_string(), &hi.to_string()).to_string()
}

/// The conflict with id `id`.
pub fn get(tx: &dyn ReadTx, id: &str) -> Result<Option<Conflict>, DssError> {
    stored(tx, KIND, id)
}

/// The extent a write left behind, to look for conflicts around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub dss_type: DssType,
    pub id: EntityId,
}

impl Written {
    pub fn intent(id: EntityId) -> Self {
        Self {
            dss_type: DssType::OperationalIntent,
            id,
        }
    }
    pub fn constraint(id: EntityId) -> Self {
        Self {
            dss_type: DssType::Constraint,
            id,
        }
    }
}

/// A live extent as the search sees it.
struct Extent {
    party: String,
    dss_type: DssType,
    id: EntityId,
    ovn: String,
    /// Shared with the stored entity, not copied.
    prepared: Arc<[PreparedVolume]>,
    kind: ExtentKind,
}

impl Extent {
    fn of_intent(tx: &dyn ReadTx, o: &OperationalIntent) -> Result<Self, DssError> {
        let is_movement = tx.document(movement::KIND, &o.id.to_string())?.is_some();
        Ok(Self {
            party: o.manager.to_string(),
            dss_type: DssType::OperationalIntent,
            id: o.id,
            ovn: o.ovn.to_string(),
            prepared: Arc::clone(&o.extents.prepared),
            kind: if is_movement {
                ExtentKind::Movement
            } else {
                ExtentKind::Operation
            },
        })
    }

    fn of_constraint(tx: &dyn ReadTx, c: &Constraint) -> Result<Self, DssError> {
        let is_site = tx.document(site::KIND, &c.id.to_string())?.is_some();
        Ok(Self {
            party: c.manager.to_string(),
            dss_type: DssType::Constraint,
            id: c.id,
            ovn: c.ovn.to_string(),
            prepared: Arc::clone(&c.extents.prepared),
            kind: if is_site {
                ExtentKind::Site
            } else {
                ExtentKind::Operation
            },
        })
    }

    fn side(&self) -> Side {
        Side {
            party: self.party.clone(),
            kind: self.kind,
            dss_type: self.dss_type,
            id: self.id.to_string(),
        }
    }
}

/// When `a` and `b` intersect: the span of the time shared by each pair of volumes that
/// intersect. `None` if none does.
pub fn window(a: &[PreparedVolume], b: &[PreparedVolume]) -> Option<Window> {
    let mut span: Option<(i64, i64)> = None;
    for x in a {
        for y in b {
            if !intersects(x, y) {
                continue;
            }
            let (tx, ty) = (x.time(), y.time());
            let start = tx.start_us.max(ty.start_us).unwrap_or(i64::MIN);
            let end = match (tx.end_us, ty.end_us) {
                (Some(p), Some(q)) => p.min(q),
                (p, q) => p.or(q).unwrap_or(i64::MAX),
            };
            span = Some(match span {
                None => (start, end),
                Some((s, e)) => (s.min(start), e.max(end)),
            });
        }
    }
    span.map(|(s, e)| Window {
        start: from_micros(s),
        end: from_micros(e),
    })
}

/// A conflict recorded (new, or with a new window) and the notifications it made.
#[derive(Debug, Clone)]
pub struct Found {
    pub conflict: Conflict,
    pub notifications: Vec<Notification>,
}

/// Finds what `written` now intersects among the other parties' live extents, records each
/// new or changed conflict and notifies both sides, inside `tx`. Returns what it recorded.
/// Nothing happens when no party is registered (a plain DSS).
pub fn on_write(
    tx: &mut dyn Tx,
    written: Written,
    parties: &Registry,
    now: DateTime<Utc>,
) -> Result<Vec<Found>, DssError> {
    if parties.is_empty() {
        return Ok(Vec::new());
    }
    let Some(mine) = load(tx, written, now)? else {
        return Ok(Vec::new());
    };
    let mut made = Vec::new();
    for other in around(tx, &mine, parties, now)? {
        if mine.kind != ExtentKind::Operation && other.kind != ExtentKind::Operation {
            continue;
        }
        let Some(window) = window(&mine.prepared, &other.prepared) else {
            continue;
        };
        let id = conflict_id(mine.id, other.id);
        let old = get(tx, &id)?;
        if old.as_ref().is_some_and(|c| c.window == window) {
            continue;
        }
        let mut notifications = Vec::new();
        for (to, from) in [(&mine, &other), (&other, &mine)] {
            if parties.get(&to.party).is_none() {
                continue;
            }
            let disclosure = disclose(tx, to, from, window, parties)?;
            notifications.push(notification::create(tx, &to.party, &id, disclosure, now)?);
        }
        let conflict = match old {
            Some(mut c) => {
                c.window = window;
                c.updated = now;
                c.notifications
                    .extend(notifications.iter().map(|n| n.id.clone()));
                c
            }
            None => Conflict {
                id: id.clone(),
                sides: [mine.side(), other.side()],
                window,
                detected: now,
                updated: now,
                notifications: notifications.iter().map(|n| n.id.clone()).collect(),
            },
        };
        tx.apply(Change::PutDocument(Arc::new(Document {
            kind: KIND.to_owned(),
            id,
            owner: String::new(),
            body: crate::to_body(&conflict)?,
        })))?;
        made.push(Found {
            conflict,
            notifications,
        });
    }
    Ok(made)
}

/// The written extent, if it is live.
fn load(tx: &dyn ReadTx, w: Written, now: DateTime<Utc>) -> Result<Option<Extent>, DssError> {
    match w.dss_type {
        DssType::OperationalIntent => tx
            .operational_intent(w.id)?
            .filter(|o| o.extents.is_live(now))
            .map(|o| Extent::of_intent(tx, &o))
            .transpose(),
        DssType::Constraint => tx
            .constraint(w.id)?
            .filter(|c| c.extents.is_live(now))
            .map(|c| Extent::of_constraint(tx, &c))
            .transpose(),
    }
}

/// The live extents of other parties that `mine` intersects, with a registered party on one
/// side at least.
fn around(
    tx: &dyn ReadTx,
    mine: &Extent,
    parties: &Registry,
    now: DateTime<Utc>,
) -> Result<Vec<Extent>, DssError> {
    let mine_registered = parties.get(&mine.party).is_some();
    // A site or movement conflicts with operations only: the others are passed over before
    // the exact geometric test (which an import of many sites would otherwise pay for each).
    let protected = mine.kind != ExtentKind::Operation;
    let is = |kind: &str, id: EntityId| is_record(tx, kind, id);
    let relevant = |manager: &str, extents: &Extents| {
        manager != mine.party
            && extents.is_live(now)
            && (mine_registered || parties.get(manager).is_some())
    };
    let area = &mine.prepared;
    let mut out = Vec::new();
    let intents = tx.operational_intents_in_where(area, &|o| {
        relevant(&o.manager, &o.extents) && !(protected && is(movement::KIND, o.id))
    })?;
    for o in intents {
        out.push(Extent::of_intent(tx, &o)?);
    }
    let constraints = tx.constraints_in_where(area, &|c| {
        relevant(&c.manager, &c.extents) && !(protected && is(site::KIND, c.id))
    })?;
    for c in constraints {
        out.push(Extent::of_constraint(tx, &c)?);
    }
    Ok(out)
}

/// Whether `id` is the DSS entity of a stored site or movement record (`kind`): they share
/// their id.
fn is_record(tx: &dyn ReadTx, kind: &str, id: EntityId) -> bool {
    tx.document(kind, &id.to_string()).ok().flatten().is_some()
}

/// The OVNs in `key` that belong to live sites and movements of registered parties that
/// `extents` touch: what a write with that key proves its writer had in view of what the line
/// protects (the log indexes the write by them). Empty when no party is registered.
pub fn in_view(
    tx: &dyn ReadTx,
    extents: &Extents,
    key: &HashSet<String>,
    parties: &Registry,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DssError> {
    if parties.is_empty() || key.is_empty() {
        return Ok(Vec::new());
    }
    // Cheapest test first: under contention every candidate is in the key, and few are a
    // registered party's.
    let protected = |manager: &str, ovn: &str, live: bool, kind: &str, id: EntityId| {
        parties.get(manager).is_some() && key.contains(ovn) && live && is_record(tx, kind, id)
    };
    let area = &extents.prepared;
    let intents = tx.operational_intents_in_where(area, &|o| {
        protected(
            &o.manager,
            o.ovn.as_str(),
            o.extents.is_live(now),
            movement::KIND,
            o.id,
        )
    })?;
    let constraints = tx.constraints_in_where(area, &|c| {
        protected(
            &c.manager,
            c.ovn.as_str(),
            c.extents.is_live(now),
            site::KIND,
            c.id,
        )
    })?;
    let mut out: Vec<String> = intents
        .iter()
        .map(|o| o.ovn.to_string())
        .chain(constraints.iter().map(|c| c.ovn.to_string()))
        .collect();
    out.sort_unstable();
    Ok(out)
}

fn counterpart(party: &str, parties: &Registry) -> Counterpart {
    match parties.get(party) {
        Some(p) => Counterpart {
            party: p.id.clone(),
            role: Some(p.role),
            name: p.name.clone(),
            contact: p.contact.clone(),
        },
        None => Counterpart {
            party: party.to_owned(),
            role: None,
            name: String::new(),
            contact: None,
        },
    }
}

/// What `to` is told about `from`: a site or movement in full to the operation's party, and
/// only "an operation of this party, then" about an operation.
fn disclose(
    tx: &dyn ReadTx,
    to: &Extent,
    from: &Extent,
    window: Window,
    parties: &Registry,
) -> Result<Disclosure, DssError> {
    let own = |tx: &dyn ReadTx| -> Result<Own, DssError> {
        let key = to.id.to_string();
        let name = match to.kind {
            ExtentKind::Site => stored::<Site>(tx, site::KIND, &key)?.map(|s| s.content.name),
            ExtentKind::Movement => {
                stored::<Movement>(tx, movement::KIND, &key)?.map(|m| m.content.name)
            }
            ExtentKind::Operation => None,
        };
        Ok(Own {
            kind: to.kind,
            dss_type: to.dss_type,
            id: key,
            name,
        })
    };
    let from_party = counterpart(&from.party, parties);
    let key = from.id.to_string();
    let missing = || DssError::Internal(format!("the record of {key} vanished"));
    Ok(match from.kind {
        ExtentKind::Site => Disclosure::Site {
            site: stored::<Site>(tx, site::KIND, &key)?.ok_or_else(missing)?,
            ovn: Some(from.ovn.clone()),
            intersects: own(tx)?,
            window,
            notified_by: from_party,
        },
        ExtentKind::Movement => Disclosure::Movement {
            movement: stored::<Movement>(tx, movement::KIND, &key)?.ok_or_else(missing)?,
            ovn: Some(from.ovn.clone()),
            intersects: own(tx)?,
            window,
            notified_by: from_party,
        },
        ExtentKind::Operation => Disclosure::Operation {
            intersects: own(tx)?,
            window,
            operator: from_party,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::About;
    use crate::party::{Party, Role};
    use crate::publish::{put_movement, put_site};
    use crate::testing::commit;
    use chrono::Duration;
    use deconflict_core::limits::Limits;
    use deconflict_core::memstate::MemState;
    use deconflict_core::model::OiState;
    use deconflict_core::parse::stored_extents;
    use deconflict_core::rules::operational_intents::{self as ois, PutOperationalIntent};
    use deconflict_core::rules::Caller;
    use deconflict_geo::{AltitudeRange, LatLng, Shape, TimeRange, Volume4};

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn party(id: &str, role: Role, contact: &str) -> Party {
        Party {
            id: id.into(),
            role,
            name: format!("Party {id}"),
            contact: Some(contact.into()),
            webhook: None,
            public_key: None,
        }
    }

    fn registry() -> Registry {
        Registry::new(vec![
            party("ngo", Role::Humanitarian, "ngo desk +41 000"),
            party("ngo2", Role::Humanitarian, "ngo2 desk"),
            party("alpha", Role::Armed, "alpha liaison +1 555 0100"),
            party("bravo", Role::Armed, "bravo liaison"),
        ])
        .unwrap()
    }

    fn site(mem: &mut MemState, party: &str, lng: f64) -> EntityId {
        let l = Limits::default();
        let input: crate::site::SiteInput = serde_json::from_value(serde_json::json!({
            "name": format!("Hospital {lng}"), "category": "hospital",
            "geometry": {"type": "Point", "coordinates": [lng, 36.2]}, "radius_m": 150
        }))
        .unwrap();
        let v = input.validate(party, "salt", now(), &l).unwrap();
        commit(mem, |tx| {
            put_site(tx, party, &v, "https://dss.example", &l, now())?;
            on_write(tx, Written::constraint(v.id), &registry(), now())
        })
        .unwrap();
        v.id
    }

    /// An Accepted intent of `party`: a circle of 100 m at `lng`, from `from_h` to `to_h`
    /// hours after now; the key holds whatever it must.
    fn operation(
        mem: &mut MemState,
        parties: &Registry,
        party: &str,
        id: EntityId,
        lng: f64,
        (from_h, to_h): (i64, i64),
    ) -> Vec<Notification> {
        let v = Volume4 {
            shape: Shape::Circle {
                center: LatLng::new(36.2, lng),
                radius_m: 100.0,
            },
            altitude: AltitudeRange::new(0.0, 120.0),
            time: TimeRange::new(
                (now() + Duration::hours(from_h)).timestamp_micros(),
                (now() + Duration::hours(to_h)).timestamp_micros(),
            ),
        };
        let extents = stored_extents(vec![v]).unwrap();
        commit(mem, |tx| {
            let old_ovn = tx.operational_intent(id)?.map(|o| o.ovn.to_string());
            let key = ois::complete_key(tx, id, &extents, false, now())?;
            let caller = Caller {
                manager: party.into(),
                strategic_coordination: true,
                constraint_processing: false,
            };
            let req = PutOperationalIntent {
                id,
                old_ovn,
                extents: extents.clone(),
                key,
                state: OiState::Accepted,
                uss_base_url: format!("https://{party}.example"),
                subscription_id: None,
                new_subscription: None,
                requested_ovn: None,
            };
            ois::put(tx, &caller, &req, now())?;
            on_write(tx, Written::intent(id), parties, now())
        })
        .map(notifications)
        .unwrap()
    }

    fn notifications(found: Vec<Found>) -> Vec<Notification> {
        found.into_iter().flat_map(|f| f.notifications).collect()
    }

    fn to<'a>(made: &'a [Notification], party: &str) -> &'a Notification {
        made.iter()
            .find(|n| n.recipient == party)
            .unwrap_or_else(|| panic!("nothing to {party} in {made:?}"))
    }

    #[test]
    fn an_operation_over_a_site_gives_the_armed_party_the_site_and_the_ngo_whom_to_call() {
        let mut mem = MemState::default();
        let s = site(&mut mem, "ngo", 37.15);
        let op = EntityId::new_random();
        let made = operation(&mut mem, &registry(), "alpha", op, 37.15, (1, 2));
        assert_eq!(made.len(), 2, "{made:?}");

        let armed = to(&made, "alpha");
        assert_eq!(armed.about, About::Site);
        assert!(armed.ack_required);
        let constraint_ovn = mem.constraints.get(s).unwrap().ovn.to_string();
        let window = Window {
            start: now() + Duration::hours(1),
            end: now() + Duration::hours(2),
        };
        match &armed.disclosure {
            Disclosure::Site {
                site,
                ovn,
                intersects,
                window: w,
                notified_by,
            } => {
                assert_eq!(site.id, s.to_string());
                assert_eq!(site.content.name, "Hospital 37.15");
                assert_eq!(ovn.as_deref(), Some(constraint_ovn.as_str()));
                assert_eq!(intersects.id, op.to_string());
                assert_eq!(intersects.kind, ExtentKind::Operation);
                assert_eq!(*w, window);
                assert_eq!(notified_by.contact.as_deref(), Some("ngo desk +41 000"));
            }
            other => panic!("{other:?}"),
        }

        let ngo = to(&made, "ngo");
        assert_eq!(ngo.about, About::Conflict);
        assert!(!ngo.ack_required);
        assert_eq!(ngo.conflict, armed.conflict);
        match &ngo.disclosure {
            Disclosure::Operation {
                intersects,
                window: w,
                operator,
            } => {
                assert_eq!(intersects.id, s.to_string());
                assert_eq!(intersects.name.as_deref(), Some("Hospital 37.15"));
                assert_eq!(*w, window);
                assert_eq!(operator.party, "alpha");
                assert_eq!(operator.role, Some(Role::Armed));
                assert_eq!(
                    operator.contact.as_deref(),
                    Some("alpha liaison +1 555 0100")
                );
            }
            other => panic!("{other:?}"),
        }
        // Nothing of the operation itself reaches the NGO.
        let text = serde_json::to_string(ngo).unwrap();
        let op_ovn = mem.operational_intents.get(op).unwrap().ovn.to_string();
        for secret in [
            op.to_string(),
            op_ovn,
            "alpha.example".into(),
            "36.2".into(),
        ] {
            assert!(!text.contains(&secret), "{secret} disclosed in {text}");
        }

        let c = get(&mem, &ngo.conflict).unwrap().unwrap();
        assert_eq!(c.sides[0].id, op.to_string());
        assert_eq!(c.sides[1].kind, ExtentKind::Site);
        assert_eq!(c.window, window);
        assert_eq!(c.notifications.len(), 2);

        // Writing the operation again with the same window tells nobody anything new...
        assert!(operation(&mut mem, &registry(), "alpha", op, 37.15, (1, 2)).is_empty());
        // ...a new window tells both again, as the same conflict.
        let again = operation(&mut mem, &registry(), "alpha", op, 37.15, (1, 3));
        assert_eq!(again.len(), 2);
        assert_eq!(to(&again, "ngo").seq, 2);
        assert_eq!(to(&again, "alpha").conflict, c.id);
        let c = get(&mem, &c.id).unwrap().unwrap();
        assert_eq!(c.notifications.len(), 4);
        assert_eq!(c.window.end, now() + Duration::hours(3));
        // Far away or after the site's own writes: nothing.
        assert!(operation(
            &mut mem,
            &registry(),
            "alpha",
            EntityId::new_random(),
            37.5,
            (1, 2)
        )
        .is_empty());
    }

    #[test]
    fn a_movement_is_told_to_the_armed_party_whichever_is_written_last() {
        let mut mem = MemState::default();
        let op = EntityId::new_random();
        assert!(operation(&mut mem, &registry(), "bravo", op, 37.15, (6, 7)).is_empty());
        let l = Limits::default();
        let input: crate::movement::MovementInput = serde_json::from_value(serde_json::json!({
            "external_id": "C-1", "name": "Convoy", "corridor_width_m": 100, "state": "planned",
            "route": {"type": "LineString", "coordinates": [[37.10, 36.20], [37.20, 36.20]]},
            "departure": {"earliest": "2030-01-01T06:00:00Z", "latest": "2030-01-01T07:00:00Z"},
            "arrival": {"earliest": "2030-01-01T08:00:00Z", "latest": "2030-01-01T09:00:00Z"}
        }))
        .unwrap();
        let v = input.validate("ngo", "salt", now(), &l).unwrap();
        let made = commit(&mut mem, |tx| {
            put_movement(tx, "ngo", &v, "https://dss.example", &l, now())?;
            on_write(tx, Written::intent(v.id), &registry(), now())
        })
        .map(notifications)
        .unwrap();
        assert_eq!(made.len(), 2, "{made:?}");
        let armed = to(&made, "bravo");
        assert_eq!(armed.about, About::Movement);
        match &armed.disclosure {
            Disclosure::Movement {
                movement,
                intersects,
                ..
            } => {
                assert_eq!(movement.content.name, "Convoy");
                assert_eq!(intersects.id, op.to_string());
            }
            other => panic!("{other:?}"),
        }
        match &to(&made, "ngo").disclosure {
            Disclosure::Operation {
                intersects,
                operator,
                ..
            } => {
                assert_eq!(intersects.kind, ExtentKind::Movement);
                assert_eq!(intersects.id, v.id.to_string());
                assert_eq!(operator.party, "bravo");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn protected_extents_do_not_conflict_with_each_other_nor_a_party_with_itself() {
        let mut mem = MemState::default();
        site(&mut mem, "ngo", 37.15);
        let s2 = site(&mut mem, "ngo2", 37.1505);
        assert!(notification::after(&mem, "ngo", 0, 10).unwrap().is_empty());
        assert!(notification::after(&mem, "ngo2", 0, 10).unwrap().is_empty());
        assert!(mem.documents.of_kind(KIND).is_empty());
        // alpha's two operations over each other: its own, no conflict.
        let a = EntityId::new_random();
        operation(&mut mem, &registry(), "alpha", a, 37.4, (1, 2));
        assert!(operation(
            &mut mem,
            &registry(),
            "alpha",
            EntityId::new_random(),
            37.4,
            (1, 2)
        )
        .is_empty());
        // Two armed parties' operations: each learns only that the other's is there.
        let b = EntityId::new_random();
        let made = operation(&mut mem, &registry(), "bravo", b, 37.4, (1, 2));
        assert_eq!(made.len(), 4, "two of alpha's, each told to both: {made:?}");
        for n in &made {
            assert_eq!(n.about, About::Conflict);
            assert!(matches!(n.disclosure, Disclosure::Operation { .. }));
        }
        let _ = s2;
    }

    #[test]
    fn an_unregistered_uss_over_a_site_is_recorded_and_told_to_the_site_only() {
        let mut mem = MemState::default();
        site(&mut mem, "ngo", 37.15);
        let made = operation(
            &mut mem,
            &registry(),
            "plain-uss",
            EntityId::new_random(),
            37.15,
            (1, 2),
        );
        assert_eq!(made.len(), 1, "{made:?}");
        match &made[0].disclosure {
            Disclosure::Operation { operator, .. } => {
                assert_eq!(operator.party, "plain-uss");
                assert_eq!(operator.role, None);
                assert_eq!(operator.contact, None);
            }
            other => panic!("{other:?}"),
        }
        // Two unregistered USSs over each other are the DSS's business alone.
        let before = mem.documents.of_kind(KIND).len();
        operation(
            &mut mem,
            &registry(),
            "uss-b",
            EntityId::new_random(),
            37.15,
            (1, 2),
        );
        assert_eq!(
            mem.documents.of_kind(KIND).len(),
            before + 1,
            "only the site's"
        );
    }

    #[test]
    fn a_plain_dss_without_parties_records_nothing() {
        let mut mem = MemState::default();
        site(&mut mem, "ngo", 37.15);
        let made = operation(
            &mut mem,
            &Registry::default(),
            "alpha",
            EntityId::new_random(),
            37.15,
            (1, 2),
        );
        assert!(made.is_empty());
        assert!(mem.documents.of_kind(KIND).is_empty());
    }

    #[test]
    fn the_conflict_id_does_not_depend_on_the_order() {
        let (a, b) = (EntityId::new_random(), EntityId::new_random());
        assert_eq!(conflict_id(a, b), conflict_id(b, a));
        assert_ne!(conflict_id(a, b), conflict_id(a, a));
    }
}
