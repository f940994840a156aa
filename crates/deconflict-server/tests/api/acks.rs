//! Acknowledgments over HTTP: only the recipient acknowledges, once (again changes nothing),
//! optionally signed with its registered key; coordinators list what is outstanding; past the
//! deadline each overdue notification is escalated to the coordinators once. Every refusal
//! leaves everything as it was.

use base64::prelude::*;
use chrono::{SecondsFormat, Utc};
use deconflict_humanitarian::acknowledgment::log_record;
use deconflict_humanitarian::notification::Notification;
use deconflict_server::config::Humanitarian;
use deconflict_tlog::SignedAck;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use crate::helpers::*;
use crate::notifications::{
    parties, site_and_operation, token, ALPHA, BRAVO, COORD, NGO, OBSERVER,
};

/// Alpha's signing key; its public half is registered with Alpha.
pub fn alpha_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// The parties of the notification tests, Alpha with its public key; a deadline of 60 s.
pub async fn app(backend: Backend) -> TestApp {
    let mut parties = parties();
    for p in &mut parties {
        if p.id == ALPHA {
            p.public_key = Some(BASE64_STANDARD.encode(alpha_key().verifying_key().as_bytes()));
        }
    }
    let humanitarian = Humanitarian {
        parties,
        ack_deadline: std::time::Duration::from_secs(60),
        ..Humanitarian::default()
    };
    spawn_app_logged(backend, humanitarian).await
}

/// `party`'s notifications about a site.
async fn about_sites(app: &TestApp, party: &str) -> Vec<Value> {
    let a = app.get("/v1/notifications", &token(app, party)).await;
    a.expect(200);
    a.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["about"] == "site")
        .cloned()
        .collect()
}

async fn outstanding(app: &TestApp) -> Value {
    let a = app
        .get("/v1/notifications/outstanding", &token(app, COORD))
        .await;
    a.expect(200);
    a.body.clone()
}

/// The body of an acknowledgment signed with `key` at `time`.
pub fn signed(n: &Value, party: &str, key: &SigningKey, time: &str) -> Value {
    let n: Notification = serde_json::from_value(n.clone()).unwrap();
    let s = SignedAck::sign(log_record(&n, party, time), key).unwrap();
    json!({"time": time, "signature": s.record().body["signature"]})
}

async fn only_the_recipient_acknowledges_once_and_refusals_change_nothing(backend: Backend) {
    let app = app(backend).await;
    site_and_operation(&app).await;
    let told = about_sites(&app, ALPHA).await;
    assert_eq!(told.len(), 1);
    let n = &told[0];
    assert_eq!(n["ack_required"], true);
    let id = n["id"].as_str().unwrap().to_owned();
    let ack = format!("/v1/notifications/{id}/ack");

    // The coordinator sees it outstanding; nobody else may list.
    let out = outstanding(&app).await;
    assert_eq!(out["deadline_secs"], 60);
    assert_eq!(out["parties"][0]["party"], ALPHA);
    assert_eq!(out["parties"][0]["count"], 1);
    assert_eq!(
        out["parties"][0]["notifications"][0]["notification"],
        id.as_str()
    );
    assert_eq!(out["parties"][0]["notifications"][0]["overdue"], false);
    for who in [ALPHA, NGO, OBSERVER] {
        app.get("/v1/notifications/outstanding", &token(&app, who))
            .await
            .expect_error(403, "may not");
    }

    // Nobody acknowledges another party's notification.
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    for (who, status, says) in [
        (BRAVO, 404, "not found"),
        (NGO, 404, "not found"),
        (OBSERVER, 404, "not found"),
        (COORD, 403, "only its recipient"),
        ("stranger", 403, "not registered"),
    ] {
        app.post(&ack, &token(&app, who), &json!({}))
            .await
            .expect_error(status, says);
    }
    // Bravo signing with Alpha's key is still not Alpha.
    app.post(
        &ack,
        &token(&app, BRAVO),
        &signed(n, BRAVO, &alpha_key(), &now),
    )
    .await
    .expect(404);
    // Alpha's own bad acknowledgments: a forged signature, a time without one, one without time.
    let forged = signed(n, ALPHA, &SigningKey::from_bytes(&[8; 32]), &now);
    app.post(&ack, &token(&app, ALPHA), &forged)
        .await
        .expect_error(400, "signature");
    let mut other_time = signed(n, ALPHA, &alpha_key(), &now);
    other_time["time"] = json!(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
    app.post(&ack, &token(&app, ALPHA), &other_time)
        .await
        .expect_error(400, "signature");
    app.post(&ack, &token(&app, ALPHA), &json!({"time": now}))
        .await
        .expect_error(400, "time");
    app.post(&ack, &token(&app, ALPHA), &json!({"signature": "AAAA"}))
        .await
        .expect_error(400, "time");
    let stale = "2020-01-01T00:00:00.000Z";
    app.post(
        &ack,
        &token(&app, ALPHA),
        &signed(n, ALPHA, &alpha_key(), stale),
    )
    .await
    .expect_error(400, "time");
    app.post(&ack, &token(&app, ALPHA), &json!({"colour": 1}))
        .await
        .expect_error(400, "colour");
    app.post(
        &format!("/v1/notifications/{}/ack", new_id()),
        &token(&app, ALPHA),
        &json!({}),
    )
    .await
    .expect(404);
    app.post(
        "/v1/notifications/nope/ack",
        &token(&app, ALPHA),
        &json!({}),
    )
    .await
    .expect_error(400, "id");
    // ... and nothing changed.
    assert_eq!(outstanding(&app).await["parties"][0]["count"], 1);
    assert!(about_sites(&app, ALPHA).await[0]["acknowledged"].is_null());

    // Alpha acknowledges, signed with its own key.
    let done = app
        .post(
            &ack,
            &token(&app, ALPHA),
            &signed(n, ALPHA, &alpha_key(), &now),
        )
        .await;
    done.expect(201);
    assert_eq!(done.body["outcome"], "acknowledged");
    assert_eq!(done.body["acknowledgment"]["time"], now.as_str());
    assert!(done.body["acknowledgment"]["signature"].is_string());
    assert!(done.body["notification"]["acknowledged"].is_string());
    // The receipt: the log entry, which Alpha's own key verifies, and its inclusion proof.
    let receipt = &done.body["receipt"];
    let record = receipt["record"].as_str().unwrap();
    let entry = deconflict_tlog::Record::from_bytes(record.as_bytes()).unwrap();
    assert_eq!(entry.subject, id);
    let key = deconflict_tlog::PartyKey::from_base64(
        ALPHA,
        &BASE64_STANDARD.encode(alpha_key().verifying_key().as_bytes()),
    )
    .unwrap();
    SignedAck::from_record(entry).unwrap().verify(&key).unwrap();
    assert!(receipt["index"].is_u64());
    assert!(receipt["checkpoint"].as_str().unwrap().contains('\n'));
    assert!(receipt["tree_size"].as_u64().unwrap() > receipt["index"].as_u64().unwrap());
    assert_eq!(outstanding(&app).await["parties"], json!([]));
    assert_eq!(
        about_sites(&app, ALPHA).await[0]["acknowledged"],
        done.body["notification"]["acknowledged"]
    );

    // Again: nothing changes, the first acknowledgment stands.
    let again = app.post(&ack, &token(&app, ALPHA), &json!({})).await;
    again.expect(200);
    assert_eq!(again.body["outcome"], "already");
    assert_eq!(again.body["acknowledgment"], done.body["acknowledgment"]);
    assert_eq!(again.body["receipt"]["index"], receipt["index"]);

    // A notification that asks for no acknowledgment (the NGO's) is refused.
    let ngo = app.get("/v1/notifications", &token(&app, NGO)).await;
    let ngo_id = ngo.body["notifications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/notifications/{ngo_id}/ack"),
        &token(&app, NGO),
        &json!({}),
    )
    .await
    .expect_error(409, "no acknowledgment");
}

async fn an_overdue_notification_is_escalated_to_the_coordinator_once(backend: Backend) {
    let app = app(backend).await;
    site_and_operation(&app).await;
    let id = about_sites(&app, ALPHA).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        deconflict_server::escalate_overdue(&app.state)
            .await
            .unwrap(),
        0
    );
    app.clock_offset.store(61, Ordering::SeqCst);
    let out = outstanding(&app).await;
    assert_eq!(out["parties"][0]["notifications"][0]["overdue"], true);
    assert!(out["parties"][0]["oldest_secs"].as_i64().unwrap() >= 61);

    assert_eq!(
        deconflict_server::escalate_overdue(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        deconflict_server::escalate_overdue(&app.state)
            .await
            .unwrap(),
        0
    );
    let coord = app.get("/v1/notifications", &token(&app, COORD)).await;
    coord.expect(200);
    let esc: Vec<&Value> = coord.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["about"] == "escalation")
        .collect();
    assert_eq!(esc.len(), 1, "{}", coord.text);
    assert_eq!(esc[0]["disclosure"]["notification"], id.as_str());
    assert_eq!(esc[0]["disclosure"]["recipient"], ALPHA);
    assert_eq!(esc[0]["disclosure"]["subject"]["name"], "Hôpital du lac");
    assert_eq!(esc[0]["ack_required"], false);
    // Still outstanding until Alpha acknowledges.
    let out = outstanding(&app).await;
    assert!(out["parties"][0]["notifications"][0]["escalated"].is_string());
    app.post(
        &format!("/v1/notifications/{id}/ack"),
        &token(&app, ALPHA),
        &json!({}),
    )
    .await
    .expect(201);
    assert_eq!(outstanding(&app).await["parties"], json!([]));
}

async fn a_party_registers_its_public_key(backend: Backend) {
    let app = app(backend).await;
    let key = BASE64_STANDARD.encode(SigningKey::from_bytes(&[9; 32]).verifying_key().as_bytes());
    app.put(
        "/v1/parties/charlie",
        &token(&app, COORD),
        &json!({"role": "armed", "public_key": "not a key"}),
    )
    .await
    .expect_error(400, "public_key");
    app.get("/v1/parties/charlie", &token(&app, COORD))
        .await
        .expect(404);
    app.put(
        "/v1/parties/charlie",
        &token(&app, COORD),
        &json!({"role": "armed", "public_key": key}),
    )
    .await
    .expect(201);
    let p = app.get("/v1/parties/charlie", &token(&app, ALPHA)).await;
    p.expect(200);
    assert_eq!(p.body["public_key"], key.as_str());
    let a = app
        .get(&format!("/v1/parties/{ALPHA}"), &token(&app, NGO))
        .await;
    assert_eq!(
        a.body["public_key"],
        BASE64_STANDARD.encode(alpha_key().verifying_key().as_bytes())
    );
}

/// Site notified, Alpha's operation with the site's OVN in its key, Alpha's signed
/// acknowledgment, an incident at the site: the report names all of it, citing the log.
async fn the_report_names_the_notification_the_acknowledgment_and_the_planning(backend: Backend) {
    let app = app(backend).await;
    let site = app
        .post(
            "/v1/sites",
            &token(&app, NGO),
            &crate::notifications::hospital(),
        )
        .await;
    site.expect(201);
    let ovn = site.body["site"]["constraint"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    let alpha = app.token(ALPHA, &[SC, CP]);
    let mut op = intent(here(), &[&ovn]);
    op["new_subscription"]["notify_for_constraints"] = json!(true);
    app.put(&format!("{OI}/{}", new_id()), &alpha, &op)
        .await
        .expect(201);
    let n = about_sites(&app, ALPHA).await[0].clone();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    app.post(
        &format!("/v1/notifications/{}/ack", n["id"].as_str().unwrap()),
        &token(&app, ALPHA),
        &signed(&n, ALPHA, &alpha_key(), &now),
    )
    .await
    .expect(201);
    let incident = app
        .post(
            "/v1/incidents",
            &token(&app, OBSERVER),
            &crate::incidents::incident(6.505, 46.405, 0),
        )
        .await;
    incident.expect(201);
    let id = incident.body["incident"]["id"].as_str().unwrap().to_owned();

    let r = app
        .get(&format!("/v1/incidents/{id}/report"), &token(&app, NGO))
        .await;
    r.expect(200);
    let c = &r.body["concerns"][0];
    assert_eq!(c["record"]["name"], "Hôpital du lac", "{}", r.text);
    assert_eq!(c["notified_by"]["id"], NGO);
    assert_eq!(c["ovns"][0], ovn.as_str());
    assert!(c["notified_log"][0]["index"].is_u64());
    assert_eq!(c["told"][0]["party"]["id"], ALPHA);
    assert_eq!(c["told"][0]["acknowledged"]["signed"], true);
    assert!(c["told"][0]["acknowledged"]["log"]["index"].is_u64());
    assert!(c["told"][0]["log"]["index"].is_u64());
    assert_eq!(c["planned_with"][0]["party"]["id"], ALPHA);
    assert_eq!(c["planned_with"][0]["ovn"], ovn.as_str());
    assert!(
        !c["planned_with"][0]["log"]["proof"]
            .as_array()
            .unwrap()
            .is_empty()
            || r.body["log"]["tree_size"] == 1
    );

    let md = app
        .client
        .get(format!("{}/v1/incidents/{id}/report?format=md", app.base))
        .bearer_auth(token(&app, NGO))
        .send()
        .await
        .unwrap();
    assert!(md.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = md.text().await.unwrap();
    assert!(
        md.contains("Hôpital du lac") && md.contains("signed with the party's own key"),
        "{md}"
    );
    let html = app
        .client
        .get(format!("{}/v1/incidents/{id}/report", app.base))
        .header("Accept", "text/html")
        .bearer_auth(token(&app, NGO))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("&lt;east&gt; wing &amp;"),
        "the description is escaped: {html}"
    );
    app.get(
        &format!("/v1/incidents/{id}/report?format=pdf"),
        &token(&app, NGO),
    )
    .await
    .expect_error(400, "format");
}

backend_tests!(
    only_the_recipient_acknowledges_once_and_refusals_change_nothing,
    an_overdue_notification_is_escalated_to_the_coordinator_once,
    a_party_registers_its_public_key,
    the_report_names_the_notification_the_acknowledgment_and_the_planning,
);
