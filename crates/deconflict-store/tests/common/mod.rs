//! Shared helpers of the store's integration tests: fresh PostgreSQL databases and the
//! requests the tests send.

#![allow(dead_code)]

use chrono::{Duration, Utc};
use deconflict_core::limits::Limits;
use deconflict_core::rules::{operational_intents as ois, Caller};
use deconflict_core::store::{write, Store};
use deconflict_core::{parse, wire, Result};

pub use deconflict_testkit::TestDb;

/// A fresh, empty database, or `None` (with a loud notice, or a panic under CI) without
/// PostgreSQL.
pub fn fresh_db(test: &str) -> Option<TestDb> {
    TestDb::fresh(test)
}

pub fn caller(name: &str) -> Caller {
    Caller {
        manager: name.into(),
        strategic_coordination: true,
        constraint_processing: false,
    }
}

pub fn square(lat: f64, lng: f64, half_deg: f64) -> wire::Volume4D {
    let now = Utc::now();
    let t = |d: chrono::DateTime<Utc>| wire::Time {
        value: d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        format: "RFC3339".into(),
    };
    let alt = |v: f64| wire::Altitude {
        value: v,
        reference: "W84".into(),
        units: "M".into(),
    };
    let p = |la: f64, ln: f64| wire::LatLngPoint { lat: la, lng: ln };
    wire::Volume4D {
        volume: wire::Volume3D {
            outline_circle: None,
            outline_polygon: Some(wire::Polygon {
                vertices: vec![
                    p(lat - half_deg, lng - half_deg),
                    p(lat - half_deg, lng + half_deg),
                    p(lat + half_deg, lng + half_deg),
                    p(lat + half_deg, lng - half_deg),
                ],
            }),
            altitude_lower: Some(alt(0.0)),
            altitude_upper: Some(alt(120.0)),
        },
        time_start: Some(t(now)),
        time_end: Some(t(now + Duration::hours(1))),
    }
}

pub fn put_body(
    lat: f64,
    lng: f64,
    key: Vec<String>,
) -> wire::PutOperationalIntentReferenceParameters {
    wire::PutOperationalIntentReferenceParameters {
        extents: vec![square(lat, lng, 0.001)],
        key: Some(key),
        state: "Accepted".into(),
        uss_base_url: "https://uss.example/u".into(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

/// The parsed request that creates an Accepted intent (a fresh id) around (lat, 10.0).
pub fn create_request(lat: f64, key: Vec<String>) -> ois::PutOperationalIntent {
    let id = uuid::Uuid::new_v4().to_string();
    parse::put_operational_intent(
        &id,
        None,
        &put_body(lat, 10.0, key),
        &Limits::default(),
        Utc::now(),
    )
    .expect("a valid request")
}

/// Creates an Accepted intent (a fresh id) around (lat, 10.0) through the rules.
pub fn create(
    store: &dyn Store,
    who: &str,
    lat: f64,
    key: Vec<String>,
) -> Result<wire::ChangeOperationalIntentReferenceResponse> {
    let req = create_request(lat, key);
    write(store, |tx| ois::put(tx, &caller(who), &req, Utc::now())).map(|(r, _)| r)
}
