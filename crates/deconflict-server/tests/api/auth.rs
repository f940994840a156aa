use std::time::Duration;

use deconflict_auth::DEV_ISSUER;
use reqwest::Method;

use crate::helpers::*;

async fn a_missing_or_unacceptable_token_is_401_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = new_id();
    let path = format!("{OI}/{id}");
    let body = intent(here(), &[]);
    let expired = app
        .keys
        .sign_until("uss1", [SC], "localhost", DEV_ISSUER, 1_000_000_000);
    let wrong_audience = app.keys.sign(
        "uss1",
        [SC],
        "dss.elsewhere.example",
        DEV_ISSUER,
        Duration::from_secs(600),
    );
    let foreign_key = {
        let dir = tempfile::tempdir().unwrap();
        deconflict_auth::DevKeys::load_or_create(dir.path())
            .unwrap()
            .sign(
                "uss1",
                [SC],
                "localhost",
                DEV_ISSUER,
                Duration::from_secs(600),
            )
    };
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("none", None, "Authorization"),
        ("garbage", Some("not.a.jwt"), "malformed"),
        ("expired", Some(&expired), "expired"),
        ("wrong audience", Some(&wrong_audience), "audience"),
        ("foreign key", Some(&foreign_key), "signature"),
    ];
    for (what, token, says) in cases {
        let r = app.send(Method::PUT, &path, token, Some(&body)).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert!(
            r.message().to_lowercase().contains(&says.to_lowercase()),
            "{what}: {}",
            r.text
        );
    }
    // A header that is not a bearer token.
    let r = app
        .client
        .get(format!("{}{OI}/{id}", app.base))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    let t = app.token("uss1", &[SC]);
    app.get(&path, &t).await.expect(404);
}

async fn each_path_accepts_exactly_its_scopes(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = new_id();
    let oi = format!("{OI}/{id}");
    let cr = format!("{CR}/{id}");
    let sub = format!("{SUB}/{id}");

    // A constraint manager may not touch intents; a strategic coordinator may not touch
    // constraints, nor set availability.
    let cm = app.token("uss1", &[CM]);
    app.put(&oi, &cm, &intent(here(), &[]))
        .await
        .expect_error(403, SC);
    app.get(&oi, &cm).await.expect(403);
    app.post(&format!("{OI}/query"), &cm, &query(here()))
        .await
        .expect(403);
    app.put(&sub, &cm, &subscription(here(), false, true))
        .await
        .expect(403);

    let sc = app.token("uss1", &[SC]);
    app.put(&cr, &sc, &constraint(here()))
        .await
        .expect_error(403, CM);
    app.get(&cr, &sc).await.expect(403);
    app.put(
        "/dss/v1/uss_availability/uss1",
        &sc,
        &serde_json::json!({"availability": "Down"}),
    )
    .await
    .expect(403);

    let nothing = app.token("uss1", &[]);
    app.post(
        "/dss/v1/reports",
        &nothing,
        &serde_json::json!({"exchange": {}}),
    )
    .await
    .expect(403);

    // Conformance monitoring reads intents; the alternatives of utm.yaml all work.
    let cmsa = app.token("uss1", &[CMSA]);
    app.get(&oi, &cmsa).await.expect(404);
    let cp = app.token("uss1", &[CP]);
    app.get(&cr, &cp).await.expect(404);
    app.get(&sub, &cp).await.expect(404);
    app.get("/dss/v1/uss_availability/uss1", &cmsa)
        .await
        .expect(200);

    // Nothing was stored by the refused writes.
    app.get(&oi, &sc).await.expect(404);
    app.get(&cr, &cm).await.expect(404);
}

backend_tests!(
    a_missing_or_unacceptable_token_is_401_and_stores_nothing,
    each_path_accepts_exactly_its_scopes,
);
