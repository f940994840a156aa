//! Random JSON, and random mutations of valid bodies, sent to every endpoint: the server must
//! answer 2xx or 4xx, never 5xx, never drop the connection.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const FIELDS: &[&str] = &[
    "extents",
    "volume",
    "outline_polygon",
    "outline_circle",
    "vertices",
    "lat",
    "lng",
    "center",
    "radius",
    "altitude_lower",
    "altitude_upper",
    "value",
    "reference",
    "units",
    "time_start",
    "time_end",
    "format",
    "state",
    "key",
    "uss_base_url",
    "subscription_id",
    "new_subscription",
    "requested_ovn_suffix",
    "area_of_interest",
    "notify_for_operational_intents",
    "notify_for_constraints",
    "availability",
    "old_version",
    "exchange",
    "report_id",
    "type",
    "geometry",
    "coordinates",
    "radius_m",
    "category",
    "name",
    "external_id",
    "valid_from",
    "valid_until",
    "route",
    "corridor_width_m",
    "departure",
    "arrival",
    "earliest",
    "latest",
    "stops",
    "location",
    "sites",
    "skip_invalid",
    "role",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(90.0),
            Just(-90.0),
            Just(90.000001),
            Just(180.0),
            Just(-180.0),
            Just(1e308),
            Just(-1e308),
            Just(f64::MIN_POSITIVE),
            Just(1e-9),
            Just(2147483648.0),
            Just(-2147483649.0),
        ]
        .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("RFC3339"),
            Just("W84"),
            Just("M"),
            Just("FT"),
            Just("Accepted"),
            Just("Activated"),
            Just("Contingent"),
            Just("Down"),
            Just("Normal"),
            Just("2026-01-01T00:00:00Z"),
            Just("9999-12-31T23:59:59Z"),
            Just("0000-01-01T00:00:00Z"),
            Just("https://uss.example"),
            Just("00000000-0000-4000-8000-000000000000"),
            Just("0191b794-9628-745a-a598-aa1fcd4a82bf"),
            Just("Point"),
            Just("Polygon"),
            Just("LineString"),
            Just("hospital"),
            Just("under_way"),
            Just("coordinator"),
        ]
        .prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path of a JSON tree, as a list of steps.
fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Step::Index(i));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                here.push(Step::Key(k.clone()));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Index(usize),
    Key(String),
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        Step::Index(i) => &mut v[*i],
        Step::Key(k) => &mut v[k.as_str()],
    })
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    Replace,
    Remove,
    Duplicate,
}

fn mutate(mut v: Value, edits: &[(usize, Mutation, Value)]) -> Value {
    for (pick, how, with) in edits {
        let mut all = Vec::new();
        paths(&v, &mut Vec::new(), &mut all);
        let path = &all[pick % all.len()];
        match (how, path.split_last()) {
            (Mutation::Remove, Some((last, parent))) => match (at(&mut v, parent), last) {
                (Value::Object(m), Step::Key(k)) => {
                    m.remove(k);
                }
                (Value::Array(a), Step::Index(i)) => {
                    a.remove(*i);
                }
                _ => {}
            },
            (Mutation::Duplicate, Some((Step::Index(i), parent))) => {
                if let Value::Array(a) = at(&mut v, parent) {
                    let x = a[*i].clone();
                    a.push(x);
                }
            }
            _ => *at(&mut v, path) = with.clone(),
        }
    }
    v
}

/// Endpoints with a body: method, path (with `{id}` and `{v}` to fill) and a valid body.
fn endpoints() -> Vec<(Method, &'static str, Value)> {
    let oi = intent(here(), &[]);
    let sub = subscription(here(), true, true);
    vec![
        (
            Method::PUT,
            "/dss/v1/operational_intent_references/{id}",
            oi.clone(),
        ),
        (
            Method::PUT,
            "/dss/v1/operational_intent_references/{id}/{v}",
            oi,
        ),
        (
            Method::POST,
            "/dss/v1/operational_intent_references/query",
            query(here()),
        ),
        (
            Method::PUT,
            "/dss/v1/constraint_references/{id}",
            constraint(here()),
        ),
        (
            Method::PUT,
            "/dss/v1/constraint_references/{id}/{v}",
            constraint(here()),
        ),
        (
            Method::POST,
            "/dss/v1/constraint_references/query",
            query(here()),
        ),
        (Method::PUT, "/dss/v1/subscriptions/{id}", sub.clone()),
        (Method::PUT, "/dss/v1/subscriptions/{id}/{v}", sub),
        (Method::POST, "/dss/v1/subscriptions/query", query(here())),
        (
            Method::POST,
            "/dss/v1/reports",
            json!({"exchange": {"url": "https://x.example"}}),
        ),
        (
            Method::PUT,
            "/dss/v1/uss_availability/{v}",
            json!({"availability": "Normal"}),
        ),
        (
            Method::GET,
            "/dss/v1/operational_intent_references/{id}",
            Value::Null,
        ),
        (
            Method::DELETE,
            "/dss/v1/operational_intent_references/{id}/{v}",
            Value::Null,
        ),
        (
            Method::GET,
            "/dss/v1/constraint_references/{id}",
            Value::Null,
        ),
        (
            Method::DELETE,
            "/dss/v1/constraint_references/{id}/{v}",
            Value::Null,
        ),
        (Method::GET, "/dss/v1/subscriptions/{id}", Value::Null),
        (
            Method::DELETE,
            "/dss/v1/subscriptions/{id}/{v}",
            Value::Null,
        ),
        (Method::GET, "/dss/v1/uss_availability/{v}", Value::Null),
        (Method::GET, "/aux/v1/validate_oauth", Value::Null),
    ]
}

/// The humanitarian layer's endpoints, for a humanitarian party.
fn layer_endpoints() -> Vec<(Method, &'static str, Value)> {
    let site = json!({
        "external_id": "H-1", "name": "Hospital", "category": "hospital",
        "geometry": {"type": "Point", "coordinates": [6.505, 46.405]}, "radius_m": 150
    });
    let polygon = json!({
        "name": "Camp", "category": "shelter",
        "geometry": {"type": "Polygon", "coordinates": [[[6.5, 46.4], [6.51, 46.4], [6.51, 46.41], [6.5, 46.4]]]}
    });
    let t = |m: i64| (chrono::Utc::now() + chrono::Duration::minutes(m)).to_rfc3339();
    let movement = json!({
        "external_id": "C-1", "name": "Convoy", "corridor_width_m": 100, "state": "planned",
        "route": {"type": "LineString", "coordinates": [[6.49, 46.405], [6.52, 46.405]]},
        "departure": {"earliest": t(10), "latest": t(20)},
        "arrival": {"earliest": t(40), "latest": t(60)},
        "stops": [{"name": "stop", "location": {"type": "Point", "coordinates": [6.5, 46.405]}}]
    });
    vec![
        (Method::POST, "/v1/sites", site.clone()),
        (Method::POST, "/v1/sites", polygon.clone()),
        (Method::PUT, "/v1/sites/{id}", site.clone()),
        (
            Method::POST,
            "/v1/sites/import",
            json!({"sites": [site, polygon], "skip_invalid": true}),
        ),
        (Method::POST, "/v1/movements", movement.clone()),
        (Method::PUT, "/v1/movements/{id}", movement),
        (Method::PUT, "/v1/parties/{v}", json!({"role": "observer"})),
        (Method::GET, "/v1/sites/{id}", Value::Null),
        (Method::DELETE, "/v1/sites/{id}", Value::Null),
        (Method::DELETE, "/v1/movements/{id}", Value::Null),
        (Method::GET, "/uss/v1/constraints/{id}", Value::Null),
        (Method::GET, "/uss/v1/operational_intents/{id}", Value::Null),
        (
            Method::POST,
            "/v1/incidents",
            json!({
                "time": t(-5), "category": "shelling", "source": "staff", "confidence": "probable",
                "location": {"type": "Polygon", "coordinates": [[[6.5, 46.4], [6.51, 46.4], [6.51, 46.41], [6.5, 46.4]]]}
            }),
        ),
        (Method::GET, "/v1/incidents/{id}", Value::Null),
    ]
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Body {
    Random(Value),
    Mutated(Vec<(usize, Mutation, Value)>),
}

fn case(endpoints: usize) -> impl Strategy<Value = (usize, Body, Option<String>, String)> {
    let mutation = prop_oneof![
        Just(Mutation::Replace),
        Just(Mutation::Remove),
        Just(Mutation::Duplicate)
    ];
    (
        0..endpoints,
        prop_oneof![
            1 => any_json().prop_map(Body::Random),
            2 => prop::collection::vec((any::<usize>(), mutation, leaf()), 1..4)
                .prop_map(Body::Mutated),
        ],
        prop::option::weighted(0.3, ".{0,40}"),
        prop_oneof![Just("0123456789abcdef0123".to_owned()), ".{1,40}"],
    )
}

#[test]
fn random_requests_never_get_a_5xx_on_sqlite() {
    random_requests_never_get_a_5xx(Backend::Sqlite, false);
}

#[test]
fn random_requests_never_get_a_5xx_on_postgres() {
    if postgres_available("fuzz::random_requests_never_get_a_5xx_on_postgres") {
        random_requests_never_get_a_5xx(Backend::Postgres, false);
    }
}

#[test]
fn random_humanitarian_requests_never_get_a_5xx_on_sqlite() {
    random_requests_never_get_a_5xx(Backend::Sqlite, true);
}

#[test]
fn random_humanitarian_requests_never_get_a_5xx_on_postgres() {
    if postgres_available("fuzz::random_humanitarian_requests_never_get_a_5xx_on_postgres") {
        random_requests_never_get_a_5xx(Backend::Postgres, true);
    }
}

/// Against the DSS endpoints as a plain USS, or (`layer`) the humanitarian layer's as a
/// humanitarian party.
fn random_requests_never_get_a_5xx(backend: Backend, layer: bool) {
    use deconflict_humanitarian::party::Role;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app_with_parties(
        backend,
        &[("cell", Role::Humanitarian)],
    ));
    let (token, endpoints) = if layer {
        (
            app.token("cell", &[SC, CM, CP, CMSA, AA]),
            layer_endpoints(),
        )
    } else {
        (app.token("fuzzer", &[SC, CM, CP, CMSA, AA]), endpoints())
    };
    let mut runner = TestRunner::new(Config {
        cases: 600,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(endpoints.len()), |(e, body, id, version)| {
            let (method, template, valid) = &endpoints[e];
            let id = id.map_or_else(new_id, |s| encode(&s));
            let path = template
                .replace("{id}", &id)
                .replace("{v}", &encode(&version));
            let body = match body {
                Body::Random(v) => v,
                Body::Mutated(edits) => mutate(valid.clone(), &edits),
            };
            let status = rt.block_on(async {
                let mut req = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.base))
                    .bearer_auth(&token);
                if !valid.is_null() {
                    req = req.json(&body);
                }
                match req.send().await {
                    Ok(r) => {
                        let s = r.status();
                        let text = r.text().await.unwrap_or_default();
                        Ok((s, text))
                    }
                    Err(e) => Err(e.to_string()),
                }
            });
            match status {
                Ok((s, text)) => {
                    prop_assert!(
                        s.is_success() || s.is_client_error(),
                        "{method} {path} {body} -> {s} {text}"
                    );
                    if s.is_client_error() {
                        let v: Value = serde_json::from_str(&text)
                            .map_err(|e| TestCaseError::fail(format!("{s} {text}: {e}")))?;
                        prop_assert!(v["message"].is_string(), "{s} {text}");
                    }
                    Ok(())
                }
                Err(e) => Err(TestCaseError::fail(format!("{method} {path} {body}: {e}"))),
            }
        })
        .unwrap();
}
