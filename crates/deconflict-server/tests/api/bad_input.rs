use serde_json::{json, Value};

use crate::helpers::*;

/// Sends `body` to create an intent and expects `status` with a message naming `field`, then
/// checks that nothing was stored.
async fn refused(app: &TestApp, body: Value, status: u16, field: &str) {
    let t = app.token("uss1", &[SC]);
    let id = new_id();
    app.put(&format!("{OI}/{id}"), &t, &body)
        .await
        .expect_error(status, field);
    app.get(&format!("{OI}/{id}"), &t).await.expect(404);
}

async fn invalid_extents_name_the_field_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut bowtie = intent(here(), &[]);
    bowtie["extents"][0]["volume"]["outline_polygon"]["vertices"] = json!([
        {"lat": 46.40, "lng": 6.50}, {"lat": 46.41, "lng": 6.51},
        {"lat": 46.40, "lng": 6.51}, {"lat": 46.41, "lng": 6.50},
    ]);
    refused(
        &app,
        bowtie,
        400,
        "extents[0].volume.outline_polygon.vertices",
    )
    .await;

    let mut lat91 = intent(here(), &[]);
    lat91["extents"][0]["volume"]["outline_polygon"]["vertices"][1]["lat"] = json!(91.0);
    refused(
        &app,
        lat91,
        400,
        "extents[0].volume.outline_polygon.vertices[1].lat",
    )
    .await;

    let mut backwards = intent(here(), &[]);
    backwards["extents"][0]["time_end"] = time(chrono::Utc::now() + chrono::Duration::minutes(1));
    refused(&app, backwards, 400, "extents[0].time_end").await;

    refused(
        &app,
        intent(volume(46.4, 6.5, 0.01, -120, -60), &[]),
        400,
        "past",
    )
    .await;

    let mut altitude = intent(here(), &[]);
    altitude["extents"][0]["volume"]["altitude_lower"]["reference"] = json!("SFC");
    refused(
        &app,
        altitude,
        400,
        "extents[0].volume.altitude_lower.reference",
    )
    .await;

    let mut state = intent(here(), &[]);
    state["state"] = json!("Flying");
    refused(&app, state, 400, "state").await;

    let mut url = intent(here(), &[]);
    url["uss_base_url"] = json!("ftp://uss.example");
    refused(&app, url, 400, "uss_base_url").await;
}

async fn malformed_bodies_name_the_field_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut wrong_type = intent(here(), &[]);
    wrong_type["extents"][0]["volume"]["outline_polygon"]["vertices"][2]["lng"] = json!("east");
    refused(
        &app,
        wrong_type,
        400,
        "extents[0].volume.outline_polygon.vertices[2].lng",
    )
    .await;

    let mut missing = intent(here(), &[]);
    missing.as_object_mut().unwrap().remove("extents");
    refused(&app, missing, 400, "extents").await;

    refused(&app, json!("an intent"), 400, "body").await;
    // serde reads a struct from an array of its fields in order: the path names the element.
    refused(&app, json!([1, 2, 3]), 400, "[0]").await;

    let t = app.token("uss1", &[SC]);
    let id = new_id();
    let path = format!("{}{OI}/{id}", app.base);
    let not_json = app
        .client
        .put(&path)
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{\"extents\": [")
        .send()
        .await
        .unwrap();
    answer(not_json).await.expect_error(400, "body");

    let trailing = app
        .client
        .put(&path)
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(format!("{} {{}}", intent(here(), &[])))
        .send()
        .await
        .unwrap();
    answer(trailing).await.expect_error(400, "body");

    let text = app
        .client
        .put(&path)
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body(intent(here(), &[]).to_string())
        .send()
        .await
        .unwrap();
    answer(text).await.expect_error(415, "body");

    let mut huge = intent(here(), &[]);
    huge["padding"] = json!("x".repeat(5 * 1024 * 1024));
    let r = app
        .client
        .put(&path)
        .bearer_auth(&t)
        .json(&huge)
        .send()
        .await;
    match r {
        Ok(r) => {
            answer(r).await.expect_error(413, "body");
        }
        // The server may answer before the client has sent the whole body and close the
        // connection; what matters is that nothing was stored.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }

    app.get(&format!("{OI}/{id}"), &t).await.expect(404);
}

async fn malformed_path_segments_name_the_parameter(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC, CP, CM]);
    app.get(&format!("{OI}/not-a-uuid"), &t)
        .await
        .expect_error(400, "entityid");
    app.put(&format!("{OI}/1234"), &t, &intent(here(), &[]))
        .await
        .expect_error(400, "entityid");
    app.get(&format!("{CR}/zzz"), &t)
        .await
        .expect_error(400, "entityid");
    app.get(&format!("{SUB}/zzz"), &t)
        .await
        .expect_error(400, "subscriptionid");
    app.delete(
        &format!("{SUB}/{}/v1", "00000000-0000-0000-0000-000000000000"),
        &t,
    )
    .await
    .expect_error(400, "subscriptionid");
    app.delete(&format!("{OI}/{}/short", new_id()), &t)
        .await
        .expect_error(400, "ovn");
    // A percent-encoded segment that is not UTF-8.
    app.get(&format!("{OI}/%FF%FE"), &t).await.expect(400);
}

async fn queries_need_an_area(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    app.post(&format!("{OI}/query"), &t, &json!({}))
        .await
        .expect_error(400, "area_of_interest");
    let mut q = query(here());
    q["area_of_interest"]["volume"]["outline_circle"] =
        json!({"center": {"lat": 46.4, "lng": 6.5}, "radius": {"value": 100.0, "units": "M"}});
    app.post(&format!("{OI}/query"), &t, &q)
        .await
        .expect_error(400, "area_of_interest.volume");
}

backend_tests!(
    invalid_extents_name_the_field_and_store_nothing,
    malformed_bodies_name_the_field_and_store_nothing,
    malformed_path_segments_name_the_parameter,
    queries_need_an_area,
);
