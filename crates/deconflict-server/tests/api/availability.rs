use serde_json::json;

use crate::helpers::*;

async fn a_manager_marked_down_may_not_create_intents(backend: Backend) {
    let app = spawn_app(backend).await;
    let arbiter = app.token("arbiter", &[AA]);
    let t = app.token("uss1", &[SC]);

    let initial = app.get("/dss/v1/uss_availability/uss1", &arbiter).await;
    initial.expect(200);
    assert_eq!(initial.body["status"]["availability"], "Unknown");
    assert_eq!(initial.body["version"], "");

    let down = app
        .put(
            "/dss/v1/uss_availability/uss1",
            &arbiter,
            &json!({"old_version": "", "availability": "Down"}),
        )
        .await;
    down.expect(200);
    assert_eq!(down.body["status"]["availability"], "Down");
    let version = down.body["version"].as_str().unwrap().to_owned();
    // Setting it again from a stale version is a conflict.
    app.put(
        "/dss/v1/uss_availability/uss1",
        &arbiter,
        &json!({"old_version": "", "availability": "Normal"}),
    )
    .await
    .expect(409);

    let id = new_id();
    app.put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await
        .expect(412);
    app.get(&format!("{OI}/{id}"), &t).await.expect(404);

    app.put(
        "/dss/v1/uss_availability/uss1",
        &arbiter,
        &json!({"old_version": version, "availability": "Normal"}),
    )
    .await
    .expect(200);
    app.put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await
        .expect(201);
}

async fn a_report_is_stored_with_an_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let r = app
        .post(
            "/dss/v1/reports",
            &t,
            &json!({"exchange": {"url": "https://uss2.example/x", "method": "GET"}}),
        )
        .await;
    r.expect(201);
    assert!(r.body["report_id"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(r.body["exchange"]["method"], "GET");
}

backend_tests!(
    a_manager_marked_down_may_not_create_intents,
    a_report_is_stored_with_an_id,
);
