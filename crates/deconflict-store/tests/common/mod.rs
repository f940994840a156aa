//! Shared helpers of the store's integration tests: fresh PostgreSQL databases and the
//! requests the tests send.

#![allow(dead_code)]

use std::io::Write;

use chrono::{Duration, Utc};
use deconflict_core::limits::Limits;
use deconflict_core::rules::{operational_intents as ois, Caller};
use deconflict_core::store::{write, Store};
use deconflict_core::{parse, wire, Result};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const PG_ENV: &str = "DECONFLICT_TEST_POSTGRES";

/// A database of its own for one test, dropped afterwards.
pub struct TestDb {
    admin: String,
    name: String,
    pub url: String,
}

/// `url` with its database replaced by `db`.
fn with_dbname(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh, empty database on the server in `DECONFLICT_TEST_POSTGRES`. Without that variable
/// the test cannot run: under CI (`CI=true`) that fails the test; elsewhere it prints a loud
/// notice and returns `None`, and the caller returns without checking anything.
pub fn fresh_db(test: &str) -> Option<TestDb> {
    let Ok(admin) = std::env::var(PG_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{PG_ENV} is not set, and CI=true: PostgreSQL tests must run in CI. \
                 Run the suite with scripts/test.sh (or scripts/pg.sh cargo test)."
            );
        }
        // Straight to stderr: the test harness captures eprintln! of passing tests, and this
        // must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! NOT RUN: {test} needs PostgreSQL and {PG_ENV} is not set.\n\
             !!! Run `scripts/pg.sh cargo test -p deconflict-store` (throw-away server) or set \
             {PG_ENV}=postgres://user:password@host:port/database.\n"
        );
        return None;
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    Some(TestDb {
        url: with_dbname(&admin, &name),
        admin,
        name,
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
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

#[test]
fn with_dbname_replaces_only_the_database() {
    assert_eq!(
        with_dbname("postgres://u:p@127.0.0.1:5432/postgres", "t_1"),
        "postgres://u:p@127.0.0.1:5432/t_1"
    );
    assert_eq!(
        with_dbname("postgresql://u@h:1/db?sslmode=disable", "t"),
        "postgresql://u@h:1/t?sslmode=disable"
    );
    assert_eq!(with_dbname("postgres://h:1", "t"), "postgres://h:1/t");
}
