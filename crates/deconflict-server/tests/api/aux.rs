use serde_json::json;

use crate::helpers::*;

async fn healthy_needs_no_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .client
        .get(format!("{}/healthy", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
}

async fn version_needs_a_valid_token_with_a_dss_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/aux/v1/version", &app.token("uss1", &[SC])).await;
    r.expect(200);
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    app.get(
        "/aux/v1/version",
        &app.token("uss1", &["dss.read.identification_service_areas"]),
    )
    .await
    .expect(200);
    app.send(reqwest::Method::GET, "/aux/v1/version", None, None)
        .await
        .expect(401);
    app.get("/aux/v1/version", &app.token("uss1", &["openid"]))
        .await
        .expect(403);
}

async fn validate_oauth_checks_the_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let ok = app.get("/aux/v1/validate_oauth", &t).await;
    ok.expect(200);
    assert_eq!(ok.body, json!({}));
    app.get("/aux/v1/validate_oauth?owner=uss1", &t)
        .await
        .expect(200);
    app.get("/aux/v1/validate_oauth?owner=uss2", &t)
        .await
        .expect_error(403, "owner");
    app.send(
        reqwest::Method::GET,
        "/aux/v1/validate_oauth?owner=uss1",
        Some("garbage"),
        None,
    )
    .await
    .expect(401);
}

async fn unknown_paths_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    app.get("/dss/v1/nothing_here", &t)
        .await
        .expect_error(404, "/dss/v1/nothing_here");
    // The static `query` segment wins over `{entityid}`.
    app.get(&format!("{OI}/query"), &t)
        .await
        .expect_error(405, "GET");
    app.delete(&format!("{OI}/query"), &t).await.expect(405);
}

backend_tests!(
    healthy_needs_no_token,
    version_needs_a_valid_token_with_a_dss_scope,
    validate_oauth_checks_the_owner,
    unknown_paths_and_methods_answer_json,
);
