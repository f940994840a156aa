//! `/v1/incidents`: any party reports one; it is matched against the notified sites and
//! movements by place and time; refusals name the field and store nothing.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::humanitarian::{app, hospital, token, ARMED, COORD, NGO, OBSERVER};

/// An incident at (`lng`, `lat`) `minutes_ago`.
pub(crate) fn incident(lng: f64, lat: f64, minutes_ago: i64) -> Value {
    json!({
        "time": (Utc::now() - Duration::minutes(minutes_ago)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "location": {"type": "Point", "coordinates": [lng, lat]},
        "category": "airstrike", "source": "staff on site", "confidence": "confirmed",
        "description": "Explosion at the <east> wing & \"car park\"."
    })
}

async fn count(app: &TestApp) -> usize {
    let a = app.get("/v1/incidents", &token(app, OBSERVER)).await;
    a.expect(200);
    a.body["incidents"].as_array().unwrap().len()
}

async fn any_party_reports_and_it_matches_the_sites_it_concerns(backend: Backend) {
    let app = app(backend).await;
    let site = app
        .post("/v1/sites", &token(&app, NGO), &hospital("H-1"))
        .await;
    site.expect(201);
    let site_id = site.body["site"]["id"].as_str().unwrap().to_owned();

    // The hospital is a circle of 150 m at (6.505, 46.405); 300 m north is within the
    // 250 m margin, 1 km is not.
    let near = app
        .post(
            "/v1/incidents",
            &token(&app, OBSERVER),
            &incident(6.505, 46.405 + 300.0 / 111_195.0, 0),
        )
        .await;
    near.expect(201);
    let i = &near.body["incident"];
    assert_eq!(i["reporter"], OBSERVER);
    assert_eq!(i["category"], "airstrike");
    assert_eq!(i["matches"].as_array().unwrap().len(), 1, "{}", near.text);
    assert_eq!(i["matches"][0]["kind"], "site");
    assert_eq!(i["matches"][0]["record"]["id"], site_id.as_str());
    assert_eq!(i["matches"][0]["record"]["name"], "Hôpital du lac");
    let id = i["id"].as_str().unwrap().to_owned();

    let far = app
        .post(
            "/v1/incidents",
            &token(&app, ARMED),
            &incident(6.505, 46.405 + 1000.0 / 111_195.0, 0),
        )
        .await;
    far.expect(201);
    assert_eq!(far.body["incident"]["matches"], json!([]));
    // Before the site was notified (and its margin), it was not protected yet.
    let before = app
        .post(
            "/v1/incidents",
            &token(&app, COORD),
            &incident(6.505, 46.405, 90),
        )
        .await;
    before.expect(201);
    assert_eq!(before.body["incident"]["matches"], json!([]));

    // Withdrawn later, the site stays named in the incident.
    app.delete(&format!("/v1/sites/{site_id}"), &token(&app, NGO))
        .await
        .expect(200);
    let got = app
        .get(&format!("/v1/incidents/{id}"), &token(&app, ARMED))
        .await;
    got.expect(200);
    assert_eq!(
        got.body["incident"]["matches"][0]["record"]["id"],
        site_id.as_str()
    );
    assert_eq!(
        got.body["incident"]["description"],
        "Explosion at the <east> wing & \"car park\"."
    );
    assert_eq!(count(&app).await, 3);
    app.get(&format!("/v1/incidents/{}", new_id()), &token(&app, ARMED))
        .await
        .expect(404);
    app.get("/v1/incidents/not-an-id", &token(&app, ARMED))
        .await
        .expect_error(400, "id");
}

async fn bad_incidents_are_refused_naming_the_field_and_nothing_is_stored(backend: Backend) {
    let app = app(backend).await;
    let reporter = token(&app, OBSERVER);
    let with = |field: &str, value: Value| {
        let mut i = incident(6.5, 46.4, 0);
        i[field] = value;
        i
    };
    let mut no_source = incident(6.5, 46.4, 0);
    no_source.as_object_mut().unwrap().remove("source");
    let cases = [
        (with("category", json!("rumour")), "category"),
        (with("confidence", json!("sure")), "confidence"),
        (with("time", json!("yesterday")), "time"),
        (with("time", json!("2999-01-01T00:00:00Z")), "time"),
        (
            with(
                "location",
                json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            ),
            "location.type",
        ),
        (
            with(
                "location",
                json!({"type": "Point", "coordinates": [6.5, 95]}),
            ),
            "location.coordinates[1]",
        ),
        (with("radius_m", json!(-5)), "radius_m"),
        (with("source", json!("")), "source"),
        (no_source, "source"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        app.post("/v1/incidents", &reporter, &body)
            .await
            .expect_error(400, field);
    }
    // A token whose sub is not a party of the line may not report.
    app.post(
        "/v1/incidents",
        &app.token("stranger", &[SC]),
        &incident(6.5, 46.4, 0),
    )
    .await
    .expect_error(403, "not registered");
    app.get("/v1/incidents", &app.token("stranger", &[SC]))
        .await
        .expect_error(403, "not registered");
    assert_eq!(count(&app).await, 0);
}

backend_tests!(
    any_party_reports_and_it_matches_the_sites_it_concerns,
    bad_incidents_are_refused_naming_the_field_and_nothing_is_stored,
);
