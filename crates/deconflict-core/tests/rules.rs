//! The F3548 rules against an in-memory transaction: keys, OVNs, versions, transitions,
//! subscriber notification, implicit subscriptions.

#![allow(clippy::unwrap_used)]
use std::sync::Mutex;

use chrono::{Duration, Utc};
use deconflict_core::limits::Limits;
use deconflict_core::memstate::{MemState, Overlay};
use deconflict_core::rules::{operational_intents as ois, subscriptions as subs, Caller};
use deconflict_core::store::{read, write, Expired, ReadTx, Store, Tx};
use deconflict_core::{parse, wire, DssError, Result};

/// A store kept in memory: enough to exercise the rules' atomicity contract.
#[derive(Default)]
struct MemStore(Mutex<MemState>);

impl Store for MemStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        f(&*self.0.lock().unwrap())
    }
    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let mut mem = self.0.lock().unwrap();
        let pending = {
            let mut ov = Overlay::new(&*mem);
            f(&mut ov)?;
            ov.into_pending()
        };
        mem.apply(pending.changes());
        Ok(())
    }
    fn expired(&self, cutoff: chrono::DateTime<Utc>) -> Result<Expired> {
        Ok(self.0.lock().unwrap().expired(cutoff))
    }
    fn health(&self) -> Result<()> {
        Ok(())
    }
}

fn caller(name: &str) -> Caller {
    Caller {
        manager: name.into(),
        strategic_coordination: true,
        constraint_processing: true,
    }
}

fn t(d: chrono::DateTime<Utc>) -> wire::Time {
    wire::Time {
        value: d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        format: "RFC3339".into(),
    }
}

fn square(lng: f64, half: f64) -> wire::Volume4D {
    let now = Utc::now();
    let alt = |v: f64| wire::Altitude {
        value: v,
        reference: "W84".into(),
        units: "M".into(),
    };
    let p = |lat: f64, lng: f64| wire::LatLngPoint { lat, lng };
    wire::Volume4D {
        volume: wire::Volume3D {
            outline_circle: None,
            outline_polygon: Some(wire::Polygon {
                vertices: vec![
                    p(-half, lng - half),
                    p(-half, lng + half),
                    p(half, lng + half),
                    p(half, lng - half),
                ],
            }),
            altitude_lower: Some(alt(0.0)),
            altitude_upper: Some(alt(120.0)),
        },
        time_start: Some(t(now)),
        time_end: Some(t(now + Duration::hours(1))),
    }
}

fn body(lng: f64, state: &str, key: &[&str]) -> wire::PutOperationalIntentReferenceParameters {
    wire::PutOperationalIntentReferenceParameters {
        extents: vec![square(lng, 0.001)],
        key: Some(key.iter().map(|s| s.to_string()).collect()),
        state: state.into(),
        uss_base_url: "https://uss.example".into(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

fn put(
    store: &MemStore,
    who: &str,
    id: &str,
    ovn: Option<&str>,
    b: &wire::PutOperationalIntentReferenceParameters,
) -> Result<wire::ChangeOperationalIntentReferenceResponse> {
    let now = Utc::now();
    let req = parse::put_operational_intent(id, ovn, b, &Limits::default(), now)?;
    write(store, |tx| ois::put(tx, &caller(who), &req, now)).map(|(r, _)| r)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[test]
fn the_key_must_list_every_intersecting_intent_and_the_409_names_exactly_those() {
    let store = MemStore::default();
    let a = put(&store, "uss1", &new_id(), None, &body(0.0, "Accepted", &[])).unwrap();
    let far = put(&store, "uss1", &new_id(), None, &body(1.0, "Accepted", &[])).unwrap();
    let b_id = new_id();
    let err = put(&store, "uss2", &b_id, None, &body(0.0005, "Accepted", &[])).unwrap_err();
    let DssError::AirspaceConflict(resp) = err else {
        panic!("expected an airspace conflict, got {err:?}")
    };
    let missing: Vec<_> = resp
        .missing_operational_intents
        .iter()
        .map(|o| o.id.clone())
        .collect();
    assert_eq!(missing, vec![a.operational_intent_reference.id.clone()]);
    // Other parties never see an OVN in the references.
    assert!(resp.missing_operational_intents[0].ovn.is_none());
    assert_ne!(
        far.operational_intent_reference.id,
        a.operational_intent_reference.id
    );

    let a_ovn = a.operational_intent_reference.ovn.clone().unwrap();
    let ok = put(
        &store,
        "uss2",
        &b_id,
        None,
        &body(0.0005, "Accepted", &[&a_ovn]),
    )
    .unwrap();
    assert_eq!(ok.operational_intent_reference.version, 1);
}

#[test]
fn nonconforming_intents_need_no_key_and_do_not_count() {
    let store = MemStore::default();
    let a_id = new_id();
    let a = put(&store, "uss1", &a_id, None, &body(0.0, "Accepted", &[])).unwrap();
    let mut nc = body(0.0, "Nonconforming", &[]);
    nc.new_subscription = Some(wire::ImplicitSubscriptionParameters {
        uss_base_url: "https://uss.example".into(),
        notify_for_constraints: None,
    });
    let a_ovn = a.operational_intent_reference.ovn.unwrap();
    put(&store, "uss1", &a_id, Some(&a_ovn), &nc).unwrap();
    // A Nonconforming intent is not relevant for others' keys.
    put(&store, "uss2", &new_id(), None, &body(0.0, "Accepted", &[])).unwrap();
}

#[test]
fn stale_ovn_gets_409_and_changes_nothing() {
    let store = MemStore::default();
    let id = new_id();
    let v1 = put(&store, "uss1", &id, None, &body(0.0, "Accepted", &[])).unwrap();
    let ovn1 = v1.operational_intent_reference.ovn.clone().unwrap();
    let v2 = put(
        &store,
        "uss1",
        &id,
        Some(&ovn1),
        &body(0.0, "Activated", &[]),
    )
    .unwrap_err();
    // Activated needs a subscription.
    assert!(matches!(v2, DssError::BadRequest { ref field, .. } if field == "new_subscription"));
    let mut act = body(0.0, "Activated", &[]);
    act.new_subscription = Some(wire::ImplicitSubscriptionParameters {
        uss_base_url: "https://uss.example".into(),
        notify_for_constraints: None,
    });
    let v2 = put(&store, "uss1", &id, Some(&ovn1), &act).unwrap();
    let ovn2 = v2.operational_intent_reference.ovn.clone().unwrap();
    assert_ne!(ovn1, ovn2);
    assert_eq!(v2.operational_intent_reference.version, 2);

    let err = put(&store, "uss1", &id, Some(&ovn1), &act).unwrap_err();
    assert!(matches!(err, DssError::Conflict(_)));
    let id_parsed = parse::entity_id("id", &id).unwrap();
    let now = Utc::now();
    let got = read(&store, |tx| ois::get(tx, &caller("uss1"), id_parsed, now)).unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.ovn.as_deref(), Some(ovn2.as_str()));

    // Someone else may not touch it, even with the right OVN.
    let err = put(&store, "uss2", &id, Some(&ovn2), &act).unwrap_err();
    assert!(matches!(err, DssError::Forbidden(_)));
    // Contingent must end: no way back to Activated.
    let mut cont = act.clone();
    cont.state = "Contingent".into();
    let v3 = put(&store, "uss1", &id, Some(&ovn2), &cont).unwrap();
    let ovn3 = v3.operational_intent_reference.ovn.unwrap();
    let err = put(&store, "uss1", &id, Some(&ovn3), &act).unwrap_err();
    assert!(matches!(err, DssError::BadRequest { ref field, .. } if field == "state"));
}

fn subscription(store: &MemStore, who: &str, lng: f64) -> wire::Subscription {
    let now = Utc::now();
    // Starts now, ends after any intent of these tests.
    let mut extents = square(lng, 0.002);
    extents.time_start = Some(t(now - Duration::minutes(1)));
    extents.time_end = Some(t(now + Duration::hours(2)));
    let b = wire::PutSubscriptionParameters {
        extents,
        uss_base_url: format!("https://{who}.example"),
        notify_for_operational_intents: Some(true),
        notify_for_constraints: None,
    };
    let req = parse::put_subscription(&new_id(), None, &b, &Limits::default(), now).unwrap();
    write(store, |tx| subs::put(tx, &caller(who), &req, now))
        .unwrap()
        .subscription
}

#[test]
fn each_intersecting_subscription_is_told_once_per_change() {
    let store = MemStore::default();
    let near = subscription(&store, "watcher", 0.0);
    let far = subscription(&store, "other", 5.0);
    let id = new_id();
    let r = put(&store, "uss1", &id, None, &body(0.0, "Accepted", &[])).unwrap();
    assert_eq!(r.subscribers.len(), 1);
    assert_eq!(r.subscribers[0].uss_base_url, "https://watcher.example");
    assert_eq!(r.subscribers[0].subscriptions[0].subscription_id, near.id);
    assert_eq!(
        r.subscribers[0].subscriptions[0].notification_index,
        near.notification_index + 1
    );
    // An update whose old and new extents both touch the subscription bumps it once more.
    let ovn = r.operational_intent_reference.ovn.unwrap();
    let r2 = put(
        &store,
        "uss1",
        &id,
        Some(&ovn),
        &body(0.0001, "Accepted", &[]),
    )
    .unwrap();
    assert_eq!(
        r2.subscribers[0].subscriptions[0].notification_index,
        near.notification_index + 2
    );
    assert!(r2
        .subscribers
        .iter()
        .all(|s| s.uss_base_url != far.uss_base_url));
}

#[test]
fn implicit_subscription_lives_and_dies_with_its_intent() {
    let store = MemStore::default();
    let id = new_id();
    let mut b = body(0.0, "Accepted", &[]);
    b.new_subscription = Some(wire::ImplicitSubscriptionParameters {
        uss_base_url: "https://uss.example".into(),
        notify_for_constraints: Some(true),
    });
    let r = put(&store, "uss1", &id, None, &b).unwrap();
    let sid = parse::entity_id("s", &r.operational_intent_reference.subscription_id).unwrap();
    let now = Utc::now();
    let sub = read(&store, |tx| subs::get(tx, &caller("uss1"), sid, now)).unwrap();
    assert!(sub.implicit_subscription);
    assert_eq!(sub.dependent_operational_intents, vec![id.clone()]);
    // It cannot be deleted while the intent depends on it.
    let err = write(&store, |tx| {
        subs::delete(tx, &caller("uss1"), sid, &sub.version, now)
    })
    .unwrap_err();
    assert!(matches!(err, DssError::BadRequest { .. }));

    let ovn = r.operational_intent_reference.ovn.unwrap();
    let oid = parse::entity_id("id", &id).unwrap();
    write(&store, |tx| {
        ois::delete(tx, &caller("uss1"), oid, &ovn, now)
    })
    .unwrap();
    let err = read(&store, |tx| subs::get(tx, &caller("uss1"), sid, now)).unwrap_err();
    assert!(matches!(err, DssError::NotFound(_)));
}

#[test]
fn an_explicit_subscription_must_cover_the_intent_and_keep_covering_it() {
    let store = MemStore::default();
    let sub = subscription(&store, "uss1", 0.0);
    let mut b = body(0.0, "Activated", &[]);
    b.subscription_id = Some(sub.id.clone());
    let id = new_id();
    put(&store, "uss1", &id, None, &b).unwrap();

    // An intent sticking out of the subscription's square is refused.
    let mut wide = body(0.0, "Activated", &[]);
    wide.extents = vec![square(0.0, 0.01)];
    wide.subscription_id = Some(sub.id.clone());
    let err = put(&store, "uss1", &new_id(), None, &wide).unwrap_err();
    assert!(
        matches!(err, DssError::BadRequest { ref field, .. } if field == "subscription_id"),
        "{err:?}"
    );

    // Shrinking the subscription away from its dependent intent is refused, and changes nothing.
    let now = Utc::now();
    let sid = parse::entity_id("s", &sub.id).unwrap();
    let shrink = wire::PutSubscriptionParameters {
        extents: square(3.0, 0.002),
        uss_base_url: "https://uss1.example".into(),
        notify_for_operational_intents: Some(true),
        notify_for_constraints: None,
    };
    let req = parse::put_subscription(
        &sub.id,
        Some(&sub.version),
        &shrink,
        &Limits::default(),
        now,
    )
    .unwrap();
    let err = write(&store, |tx| subs::put(tx, &caller("uss1"), &req, now)).unwrap_err();
    assert!(
        matches!(err, DssError::BadRequest { ref field, .. } if field == "extents"),
        "{err:?}"
    );
    let after = read(&store, |tx| subs::get(tx, &caller("uss1"), sid, now)).unwrap();
    assert_eq!(after.version, sub.version);
    assert_eq!(after.dependent_operational_intents, vec![id]);
}

#[test]
fn an_intent_that_has_ended_is_refused_naming_the_volume() {
    let store = MemStore::default();
    let mut b = body(0.0, "Accepted", &[]);
    let past = Utc::now() - Duration::hours(2);
    let mut late = square(0.0, 0.001);
    late.time_start = Some(t(past));
    late.time_end = Some(t(past + Duration::minutes(30)));
    b.extents = vec![late.clone(), late];
    let err = put(&store, "uss1", &new_id(), None, &b).unwrap_err();
    assert!(
        matches!(err, DssError::BadRequest { ref field, .. } if field == "extents[0].time_end"),
        "{err:?}"
    );
}

/// The query answer is written without the wire types; it must be exactly what serde makes of
/// them, for the manager (who sees the OVN) and for anyone else.
#[test]
fn query_answers_are_the_json_of_the_references() {
    let store = MemStore::default();
    let odd = "uss \"one\" \u{e9}\u{1}/\\";
    let (a, b) = (new_id(), new_id());
    put(&store, odd, &a, None, &body(10.0, "Accepted", &[])).unwrap();
    put(&store, "two", &b, None, &body(10.01, "Accepted", &[])).unwrap();
    let now = Utc::now();
    let area = parse::query_area(
        &wire::QueryParameters {
            area_of_interest: Some(square(10.0, 0.05)),
        },
        &Limits::default(),
    )
    .unwrap();
    for viewer in [odd, "two", "three"] {
        let got = read(&store, |tx| {
            ois::query(tx, &caller(viewer), &area, now, 100)
        })
        .unwrap();
        let mut refs: Vec<wire::OperationalIntentReference> = [&a, &b]
            .iter()
            .map(|id| {
                let id = parse::entity_id("id", id).unwrap();
                read(&store, |tx| ois::get(tx, &caller(viewer), id, now)).unwrap()
            })
            .collect();
        refs.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(
            refs.iter().filter(|r| r.ovn.is_some()).count(),
            usize::from(viewer != "three")
        );
        let want = serde_json::to_vec(&wire::QueryOperationalIntentReferenceResponse {
            operational_intent_references: refs,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(got.0).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}

#[test]
fn a_malformed_key_entry_is_refused_by_its_index() {
    let store = MemStore::default();
    let good = "x".repeat(20);
    let err = put(
        &store,
        "uss1",
        &new_id(),
        None,
        &body(0.0, "Accepted", &[&good, "short"]),
    )
    .unwrap_err();
    let DssError::BadRequest { field, .. } = err else {
        panic!("expected a bad request, got {err:?}")
    };
    assert_eq!(field, "key[1]");
}

/// The same for constraints, whose references have no state and no subscription.
#[test]
fn constraint_query_answers_are_the_json_of_the_references() {
    use deconflict_core::rules::constraints;
    let store = MemStore::default();
    let odd = "authority \"A\" \u{e9}";
    let id = new_id();
    let now = Utc::now();
    let b = wire::PutConstraintReferenceParameters {
        extents: vec![square(20.0, 0.001)],
        uss_base_url: "https://authority.example".into(),
    };
    let req = parse::put_constraint(&id, None, &b, &Limits::default(), now).unwrap();
    write(&store, |tx| constraints::put(tx, &caller(odd), &req, now)).unwrap();
    let area = parse::query_area(
        &wire::QueryParameters {
            area_of_interest: Some(square(20.0, 0.05)),
        },
        &Limits::default(),
    )
    .unwrap();
    for viewer in [odd, "two"] {
        let got = read(&store, |tx| {
            constraints::query(tx, &caller(viewer), &area, now, 100)
        })
        .unwrap();
        let one = parse::entity_id("id", &id).unwrap();
        let reference = read(&store, |tx| constraints::get(tx, &caller(viewer), one, now)).unwrap();
        assert_eq!(reference.ovn.is_some(), viewer == odd);
        let want = serde_json::to_vec(&wire::QueryConstraintReferencesResponse {
            constraint_references: vec![reference],
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(got.0).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}
