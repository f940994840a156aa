//! Publication into the DSS on a party's behalf, inside one store transaction: a site becomes
//! a constraint, a movement an operational intent, each managed by the party (the F3548
//! `manager`) with deconflict's own base URL, where `/uss/v1` serves their details. The record
//! and its DSS entity are written by the same transaction, through the F3548 rules of
//! `deconflict-core` (OVNs, versions, subscribers to notify), so they never disagree.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deconflict_core::ids::EntityId;
use deconflict_core::limits::Limits;
use deconflict_core::model::{Availability, Document};
use deconflict_core::rules::constraints::{self, PutConstraint};
use deconflict_core::rules::operational_intents::{
    self as ois, ImplicitSubscription, PutOperationalIntent,
};
use deconflict_core::rules::Caller;
use deconflict_core::store::{Change, ReadTx, Tx};
use deconflict_core::{present, wire, DssError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::movement::{self, Movement, ValidMovement};
use crate::notification::DssType;
use crate::party::Action;
use crate::site::{self, Site, ValidSite};

/// What a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    /// The same content was already published: nothing was written, the OVN is unchanged.
    Unchanged,
}

/// The party as the DSS rules see it when deconflict writes for it.
fn caller(party: &str) -> Caller {
    Caller {
        manager: party.to_owned(),
        strategic_coordination: true,
        constraint_processing: false,
    }
}

/// The document that holds the deployment's id salt.
const SALT: (&str, &str) = ("deconflict", "id-salt");

/// The deployment's secret salt for [`crate::stable_id`], created at random by the first write
/// that needs it and never changed (changing it would orphan every site and movement).
pub fn id_salt(tx: &mut dyn Tx) -> Result<String, DssError> {
    if let Some(d) = tx.document(SALT.0, SALT.1)? {
        return Ok(d.body.clone());
    }
    let salt = deconflict_core::ids::random_token(16);
    tx.apply(Change::PutDocument(Arc::new(Document {
        kind: SALT.0.to_owned(),
        id: SALT.1.to_owned(),
        owner: String::new(),
        body: salt.clone(),
    })))?;
    Ok(salt)
}

/// The stored record of `kind` with `id`.
pub fn stored<T: DeserializeOwned>(
    tx: &dyn ReadTx,
    kind: &str,
    id: &str,
) -> Result<Option<T>, DssError> {
    tx.document(kind, id)?
        .map(|d| crate::from_body(kind, &d.body))
        .transpose()
}

/// Every stored record of `kind`.
pub fn all<T: DeserializeOwned>(tx: &dyn ReadTx, kind: &str) -> Result<Vec<T>, DssError> {
    tx.documents(kind)?
        .iter()
        .map(|d| crate::from_body(kind, &d.body))
        .collect()
}

/// Stores `value` as the record of `kind` with `id`, owned by `owner`.
pub fn put_record<T: Serialize>(
    tx: &mut dyn Tx,
    kind: &str,
    id: &str,
    owner: &str,
    value: &T,
) -> Result<(), DssError> {
    tx.apply(Change::PutDocument(Arc::new(Document {
        kind: kind.to_owned(),
        id: id.to_owned(),
        owner: owner.to_owned(),
        body: crate::to_body(value)?,
    })))
}

/// A record a party notifies and deconflict publishes for it (a site, a movement): what the
/// HTTP layer needs to serve every kind the same way.
pub trait Notified: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The document kind, also its name in messages.
    const KIND: &'static str;
    /// The name of a list of them in answers.
    const PLURAL: &'static str;
    /// The field under which an answer shows the DSS entity.
    const DSS_FIELD: &'static str;
    /// What a party must be allowed to notify one.
    const ACTION: Action;
    /// What its DSS entity is.
    const DSS_TYPE: DssType;
    /// As notified.
    type Input: DeserializeOwned + Send + 'static;
    /// Checked, ready to publish.
    type Valid: Send + Sync + 'static;
    /// Its DSS entity as answers show it.
    type Reference: Serialize + Send + 'static;

    fn party(&self) -> &str;
    fn id(&self) -> &str;
    fn external_id(&self) -> &str;
    /// The external id an input gives, to fill in or check on an update.
    fn input_external_id(input: &mut Self::Input) -> &mut Option<String>;
    fn validate(
        input: &Self::Input,
        party: &str,
        salt: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Self::Valid, DssError>;
    /// Creates or updates it and its DSS entity.
    fn put(
        tx: &mut dyn Tx,
        party: &str,
        valid: &Self::Valid,
        base_url: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<(Self, Outcome), DssError>;
    /// Withdraws it and its DSS entity.
    fn withdraw(
        tx: &mut dyn Tx,
        party: &str,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Self, DssError>;
    /// Its live DSS entity, with the OVN.
    fn reference(
        tx: &dyn ReadTx,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Option<Self::Reference>, DssError>;
}

impl Notified for Site {
    const KIND: &'static str = site::KIND;
    const PLURAL: &'static str = "sites";
    const DSS_FIELD: &'static str = "constraint";
    const ACTION: Action = Action::NotifySites;
    const DSS_TYPE: DssType = DssType::Constraint;
    type Input = site::SiteInput;
    type Valid = ValidSite;
    type Reference = wire::ConstraintReference;
    fn party(&self) -> &str {
        &self.party
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn external_id(&self) -> &str {
        &self.content.external_id
    }
    fn input_external_id(input: &mut Self::Input) -> &mut Option<String> {
        &mut input.external_id
    }
    fn validate(
        input: &Self::Input,
        party: &str,
        salt: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Self::Valid, DssError> {
        input.validate(party, salt, now, limits)
    }
    fn put(
        tx: &mut dyn Tx,
        party: &str,
        valid: &Self::Valid,
        base_url: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<(Self, Outcome), DssError> {
        put_site(tx, party, valid, base_url, limits, now)
    }
    fn withdraw(
        tx: &mut dyn Tx,
        party: &str,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Self, DssError> {
        delete_site(tx, party, id, now)
    }
    fn reference(
        tx: &dyn ReadTx,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Option<Self::Reference>, DssError> {
        constraint_reference(tx, id, now)
    }
}

impl Notified for Movement {
    const KIND: &'static str = movement::KIND;
    const PLURAL: &'static str = "movements";
    const DSS_FIELD: &'static str = "operational_intent";
    const ACTION: Action = Action::NotifyMovements;
    const DSS_TYPE: DssType = DssType::OperationalIntent;
    type Input = movement::MovementInput;
    type Valid = ValidMovement;
    type Reference = wire::OperationalIntentReference;
    fn party(&self) -> &str {
        &self.party
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn external_id(&self) -> &str {
        &self.content.external_id
    }
    fn input_external_id(input: &mut Self::Input) -> &mut Option<String> {
        &mut input.external_id
    }
    fn validate(
        input: &Self::Input,
        party: &str,
        salt: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Self::Valid, DssError> {
        input.validate(party, salt, now, limits)
    }
    fn put(
        tx: &mut dyn Tx,
        party: &str,
        valid: &Self::Valid,
        base_url: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<(Self, Outcome), DssError> {
        put_movement(tx, party, valid, base_url, limits, now)
    }
    fn withdraw(
        tx: &mut dyn Tx,
        party: &str,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Self, DssError> {
        delete_movement(tx, party, id, now)
    }
    fn reference(
        tx: &dyn ReadTx,
        id: EntityId,
        now: DateTime<Utc>,
    ) -> Result<Option<Self::Reference>, DssError> {
        intent_reference(tx, id, now)
    }
}

/// 403 unless `party` notified `record`: nobody changes another party's objects.
pub fn check_owner<T: Notified>(record: &T, party: &str) -> Result<(), DssError> {
    if record.party() != party {
        return Err(DssError::Forbidden(format!(
            "{} {} was notified by party \"{}\"; only it may change it",
            T::KIND,
            record.id(),
            record.party()
        )));
    }
    Ok(())
}

/// The stored record `id`, if any, which only `party` may change: nobody changes another
/// party's objects (403).
fn previous<T: Notified>(tx: &dyn ReadTx, id: &str, party: &str) -> Result<Option<T>, DssError> {
    let old: Option<T> = stored(tx, T::KIND, id)?;
    if let Some(o) = &old {
        check_owner(o, party)?;
    }
    Ok(old)
}

fn outcome<T>(old: &Option<T>) -> Outcome {
    if old.is_none() {
        Outcome::Created
    } else {
        Outcome::Updated
    }
}

/// Withdraws record `id` of `party`: 404 if there is none, 403 if it is another's;
/// `unpublish` removes its DSS entity in the same transaction.
fn withdraw<T: Notified>(
    tx: &mut dyn Tx,
    party: &str,
    id: EntityId,
    unpublish: impl FnOnce(&mut dyn Tx) -> Result<(), DssError>,
) -> Result<T, DssError> {
    let key = id.to_string();
    let old: T = previous(tx, &key, party)?
        .ok_or_else(|| DssError::NotFound(format!("{} {key} not found", T::KIND)))?;
    unpublish(tx)?;
    tx.apply(Change::DeleteDocument {
        kind: T::KIND.to_owned(),
        id: key,
    })?;
    Ok(old)
}

/// Creates or updates a site and its constraint. Notifying the same content again writes
/// nothing.
pub fn put_site(
    tx: &mut dyn Tx,
    party: &str,
    valid: &ValidSite,
    base_url: &str,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<(Site, Outcome), DssError> {
    let id = valid.id.to_string();
    let old: Option<Site> = previous(tx, &id, party)?;
    let live = tx.constraint(valid.id)?.filter(|c| c.extents.is_live(now));
    if let (Some(o), Some(_)) = (&old, &live) {
        if o.content == valid.content {
            return Ok((o.clone(), Outcome::Unchanged));
        }
    }
    let site = Site {
        id: id.clone(),
        party: party.to_owned(),
        content: valid.content.clone(),
        notified: old.as_ref().map_or(now, |o| o.notified),
        updated: now,
    };
    let extents = site.extents(&valid.shape, now, limits)?;
    constraints::put(
        tx,
        &caller(party),
        &PutConstraint {
            id: valid.id,
            old_ovn: live.map(|c| c.ovn.to_string()),
            extents,
            uss_base_url: base_url.to_owned(),
        },
        now,
    )?;
    put_record(tx, site::KIND, &id, party, &site)?;
    Ok((site, outcome(&old)))
}

/// Withdraws a site: its constraint leaves the DSS and the record is removed.
pub fn delete_site(
    tx: &mut dyn Tx,
    party: &str,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<Site, DssError> {
    withdraw(tx, party, id, |tx| {
        if let Some(c) = tx.constraint(id)?.filter(|c| c.extents.is_live(now)) {
            constraints::delete(tx, &caller(party), id, c.ovn.as_str(), now)?;
        }
        Ok(())
    })
}

/// Creates or updates a movement and its operational intent.
///
/// A movement is a notification, not a request for room: deconflict, which sees the whole DSS,
/// writes it with a key holding every intent it intersects, so it is never refused for a
/// conflict (the conflict is the armed party's to resolve: its own writes must carry the
/// movement's OVN). State changes follow F3548: under way (Activated) cannot go back to
/// planned (Accepted).
pub fn put_movement(
    tx: &mut dyn Tx,
    party: &str,
    valid: &ValidMovement,
    base_url: &str,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<(Movement, Outcome), DssError> {
    let id = valid.id.to_string();
    let old: Option<Movement> = previous(tx, &id, party)?;
    let live = tx
        .operational_intent(valid.id)?
        .filter(|o| o.extents.is_live(now));
    if let (Some(o), Some(_)) = (&old, &live) {
        if o.content == valid.content {
            return Ok((o.clone(), Outcome::Unchanged));
        }
    }
    let extents = valid.extents(limits)?;
    let state = valid.content.state.dss_state();
    let key = ois::complete_key(tx, valid.id, &extents, false, now)?;
    let req = PutOperationalIntent {
        id: valid.id,
        old_ovn: live.map(|o| o.ovn.to_string()),
        extents,
        key,
        state,
        uss_base_url: base_url.to_owned(),
        subscription_id: None,
        new_subscription: state.requires_subscription().then(|| ImplicitSubscription {
            uss_base_url: base_url.to_owned(),
            notify_for_constraints: false,
        }),
        requested_ovn: None,
    };
    ois::put(tx, &caller(party), &req, now)?;
    let m = Movement {
        id: id.clone(),
        party: party.to_owned(),
        content: valid.content.clone(),
        notified: old.as_ref().map_or(now, |o| o.notified),
        updated: now,
    };
    put_record(tx, movement::KIND, &id, party, &m)?;
    Ok((m, outcome(&old)))
}

/// Withdraws a movement: its operational intent leaves the DSS and the record is removed.
pub fn delete_movement(
    tx: &mut dyn Tx,
    party: &str,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<Movement, DssError> {
    withdraw(tx, party, id, |tx| {
        if let Some(o) = tx
            .operational_intent(id)?
            .filter(|o| o.extents.is_live(now))
        {
            ois::delete(tx, &caller(party), id, o.ovn.as_str(), now)?;
        }
        Ok(())
    })
}

fn availability(tx: &dyn ReadTx, manager: &str) -> Result<Availability, DssError> {
    Ok(tx
        .availability(manager)?
        .map_or(Availability::Unknown, |a| a.availability))
}

/// The live constraint `id` as its manager sees it (with the OVN), if any.
pub fn constraint_reference(
    tx: &dyn ReadTx,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<Option<wire::ConstraintReference>, DssError> {
    tx.constraint(id)?
        .filter(|c| c.extents.is_live(now))
        .map(|c| {
            Ok(present::constraint(
                &c,
                &c.manager,
                availability(tx, &c.manager)?,
            ))
        })
        .transpose()
}

/// The live operational intent `id` as its manager sees it (with the OVN), if any.
pub fn intent_reference(
    tx: &dyn ReadTx,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<Option<wire::OperationalIntentReference>, DssError> {
    tx.operational_intent(id)?
        .filter(|o| o.extents.is_live(now))
        .map(|o| {
            Ok(present::operational_intent(
                &o,
                &o.manager,
                availability(tx, &o.manager)?,
            ))
        })
        .transpose()
}

/// The live constraint of a site deconflict manages, with its OVN, as `GET
/// /uss/v1/constraints/{entityid}` answers (404 for anything else).
pub fn site_details(
    tx: &dyn ReadTx,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<wire::GetConstraintDetailsResponse, DssError> {
    let not_found = || {
        DssError::NotFound(format!(
            "constraint {id} is not a protected site managed here"
        ))
    };
    let c = tx
        .constraint(id)?
        .filter(|c| c.extents.is_live(now))
        .ok_or_else(not_found)?;
    let site: Site = stored(tx, site::KIND, &id.to_string())?.ok_or_else(not_found)?;
    Ok(wire::GetConstraintDetailsResponse {
        constraint: wire::Constraint {
            // The details carry the OVN: reading them is how a party proves awareness.
            reference: present::constraint(&c, &c.manager, availability(tx, &c.manager)?),
            details: wire::ConstraintDetails {
                volumes: present::volumes(&c.extents.volumes),
                kind: Some(site.constraint_type()),
            },
        },
    })
}

/// The live operational intent of a movement deconflict manages, with its OVN, as `GET
/// /uss/v1/operational_intents/{entityid}` answers (404 for anything else).
pub fn movement_details(
    tx: &dyn ReadTx,
    id: EntityId,
    now: DateTime<Utc>,
) -> Result<wire::GetOperationalIntentDetailsResponse, DssError> {
    let not_found = || {
        DssError::NotFound(format!(
            "operational intent {id} is not a movement managed here"
        ))
    };
    let o = tx
        .operational_intent(id)?
        .filter(|o| o.extents.is_live(now))
        .ok_or_else(not_found)?;
    stored::<Movement>(tx, movement::KIND, &id.to_string())?.ok_or_else(not_found)?;
    Ok(wire::GetOperationalIntentDetailsResponse {
        operational_intent: wire::OperationalIntent {
            reference: present::operational_intent(&o, &o.manager, availability(tx, &o.manager)?),
            details: wire::OperationalIntentDetails {
                volumes: present::volumes(&o.extents.volumes),
                off_nominal_volumes: Vec::new(),
                priority: 0,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::commit as write;
    use deconflict_core::memstate::MemState;
    use deconflict_core::model::OiState;

    fn now() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn site_input(radius: f64) -> site::SiteInput {
        serde_json::from_value(serde_json::json!({
            "external_id": "H-1", "name": "Hospital", "category": "hospital",
            "geometry": {"type": "Point", "coordinates": [37.15, 36.2]}, "radius_m": radius
        }))
        .unwrap()
    }

    /// Runs `f` in a transaction over `mem` and commits it.
    #[test]
    fn the_id_salt_is_made_once_and_kept() {
        let mut mem = MemState::default();
        let a = write(&mut mem, id_salt).unwrap();
        let b = write(&mut mem, id_salt).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_ne!(a, write(&mut MemState::default(), id_salt).unwrap());
    }

    #[test]
    fn a_site_is_its_constraint_and_renotifying_it_changes_nothing() {
        let l = Limits::default();
        let mut mem = MemState::default();
        let v = site_input(150.0)
            .validate("ngo", "salt", now(), &l)
            .unwrap();
        let (_, o) = write(&mut mem, |tx| {
            put_site(tx, "ngo", &v, "https://dss.example", &l, now())
        })
        .unwrap();
        assert_eq!(o, Outcome::Created);
        let c = mem.constraints.get(v.id).unwrap();
        assert_eq!(c.manager, "ngo");
        assert_eq!(c.uss_base_url, "https://dss.example");
        let (_, o) = write(&mut mem, |tx| {
            put_site(tx, "ngo", &v, "https://dss.example", &l, now())
        })
        .unwrap();
        assert_eq!(o, Outcome::Unchanged);
        assert_eq!(
            mem.constraints.get(v.id).unwrap().ovn,
            c.ovn,
            "unchanged keeps the OVN"
        );
        let v2 = site_input(300.0)
            .validate("ngo", "salt", now(), &l)
            .unwrap();
        assert_eq!(v2.id, v.id);
        let (_, o) = write(&mut mem, |tx| {
            put_site(tx, "ngo", &v2, "https://dss.example", &l, now())
        })
        .unwrap();
        assert_eq!(o, Outcome::Updated);
        let c2 = mem.constraints.get(v.id).unwrap();
        assert_ne!(c2.ovn, c.ovn);
        assert_eq!(c2.version, 2);
        let d = site_details(&mem, v.id, now()).unwrap();
        assert_eq!(d.constraint.reference.ovn.as_deref(), Some(c2.ovn.as_str()));
        assert_eq!(
            d.constraint.details.kind.as_deref(),
            Some("org.deconflict.protected_site.hospital")
        );
        assert_eq!(d.constraint.details.volumes.len(), 1);
    }

    #[test]
    fn only_the_notifying_party_changes_or_withdraws_a_site() {
        let l = Limits::default();
        let mut mem = MemState::default();
        let v = site_input(150.0)
            .validate("ngo", "salt", now(), &l)
            .unwrap();
        write(&mut mem, |tx| {
            put_site(tx, "ngo", &v, "https://dss.example", &l, now())
        })
        .unwrap();
        let e = write(&mut mem, |tx| delete_site(tx, "other", v.id, now())).unwrap_err();
        assert!(matches!(e, DssError::Forbidden(_)), "{e}");
        let e = write(&mut mem, |tx| {
            put_site(tx, "other", &v, "https://dss.example", &l, now())
        })
        .unwrap_err();
        assert!(matches!(e, DssError::Forbidden(_)), "{e}");
        write(&mut mem, |tx| delete_site(tx, "ngo", v.id, now())).unwrap();
        assert!(mem.constraints.get(v.id).is_none());
        assert!(mem.documents.get(site::KIND, &v.id.to_string()).is_none());
        assert!(matches!(
            site_details(&mem, v.id, now()),
            Err(DssError::NotFound(_))
        ));
    }

    fn movement_input(state: &str) -> movement::MovementInput {
        serde_json::from_value(serde_json::json!({
            "external_id": "C-1", "name": "Convoy", "corridor_width_m": 100, "state": state,
            "route": {"type": "LineString", "coordinates": [[37.10, 36.20], [37.20, 36.20]]},
            "departure": {"earliest": "2030-01-01T06:00:00Z", "latest": "2030-01-01T07:00:00Z"},
            "arrival": {"earliest": "2030-01-01T08:00:00Z", "latest": "2030-01-01T09:00:00Z"}
        }))
        .unwrap()
    }

    #[test]
    fn a_movement_is_published_over_existing_intents_and_goes_under_way() {
        let l = Limits::default();
        let mut mem = MemState::default();
        // An armed party's intent across the route, written first.
        let armed = movement_input("planned");
        let mut armed_v = armed.validate("armed", "salt", now(), &l).unwrap();
        armed_v.id = EntityId::new_random();
        write(&mut mem, |tx| {
            ois::put(
                tx,
                &caller("armed"),
                &PutOperationalIntent {
                    id: armed_v.id,
                    old_ovn: None,
                    extents: armed_v.extents(&l)?,
                    key: Default::default(),
                    state: OiState::Accepted,
                    uss_base_url: "https://armed.example".into(),
                    subscription_id: None,
                    new_subscription: None,
                    requested_ovn: None,
                },
                now(),
            )
        })
        .unwrap();
        let v = movement_input("planned")
            .validate("ngo", "salt", now(), &l)
            .unwrap();
        let (_, o) = write(&mut mem, |tx| {
            put_movement(tx, "ngo", &v, "https://dss.example", &l, now())
        })
        .unwrap();
        assert_eq!(o, Outcome::Created);
        assert_eq!(
            mem.operational_intents.get(v.id).unwrap().state,
            OiState::Accepted
        );
        let under_way = movement_input("under_way")
            .validate("ngo", "salt", now(), &l)
            .unwrap();
        write(&mut mem, |tx| {
            put_movement(tx, "ngo", &under_way, "https://dss.example", &l, now())
        })
        .unwrap();
        let oi = mem.operational_intents.get(v.id).unwrap();
        assert_eq!(oi.state, OiState::Activated);
        assert!(oi.subscription_id.is_some());
        let e = write(&mut mem, |tx| {
            put_movement(tx, "ngo", &v, "https://dss.example", &l, now())
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("state:"), "{e}");
        let d = movement_details(&mem, v.id, now()).unwrap();
        assert_eq!(
            d.operational_intent.reference.ovn.as_deref(),
            Some(oi.ovn.as_str())
        );
        write(&mut mem, |tx| delete_movement(tx, "ngo", v.id, now())).unwrap();
        assert!(mem.operational_intents.get(v.id).is_none());
    }
}
