use serde_json::json;

use crate::helpers::*;

async fn create_get_query_update_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let id = new_id();

    let created = app
        .put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await;
    created.expect(201);
    let oir = &created.body["operational_intent_reference"];
    assert_eq!(oir["id"], id.as_str());
    assert_eq!(oir["manager"], "uss1");
    assert_eq!(oir["version"], 1);
    let ovn1 = oir["ovn"].as_str().unwrap().to_owned();

    let got = app.get(&format!("{OI}/{id}"), &t).await;
    got.expect(200);
    assert_eq!(
        got.body["operational_intent_reference"]["ovn"],
        ovn1.as_str()
    );

    let found = app.post(&format!("{OI}/query"), &t, &query(here())).await;
    found.expect(200);
    let ids: Vec<_> = found.body["operational_intent_references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![id.clone()]);
    let none = app
        .post(&format!("{OI}/query"), &t, &query(elsewhere()))
        .await;
    none.expect(200);
    assert_eq!(none.body["operational_intent_references"], json!([]));

    let mut body = intent(here(), &[]);
    body["state"] = json!("Activated");
    let updated = app.put(&format!("{OI}/{id}/{ovn1}"), &t, &body).await;
    updated.expect(200);
    let oir = &updated.body["operational_intent_reference"];
    assert_eq!(oir["version"], 2);
    assert_eq!(oir["state"], "Activated");
    let ovn2 = oir["ovn"].as_str().unwrap().to_owned();
    assert_ne!(ovn1, ovn2);

    app.delete(&format!("{OI}/{id}/{ovn2}"), &t)
        .await
        .expect(200);
    app.get(&format!("{OI}/{id}"), &t).await.expect(404);
    // Creating the same id twice is a conflict, not an overwrite.
    let again = new_id();
    app.put(&format!("{OI}/{again}"), &t, &intent(elsewhere(), &[]))
        .await
        .expect(201);
    app.put(&format!("{OI}/{again}"), &t, &intent(elsewhere(), &[]))
        .await
        .expect(409);
}

async fn a_conflict_lists_exactly_the_missing_intent_then_the_key_resolves_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let t1 = app.token("uss1", &[SC]);
    let t2 = app.token("uss2", &[SC]);
    let (a, far) = (new_id(), new_id());
    let a_ovn = app
        .put(&format!("{OI}/{a}"), &t1, &intent(here(), &[]))
        .await;
    a_ovn.expect(201);
    let a_ovn = a_ovn.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(&format!("{OI}/{far}"), &t1, &intent(elsewhere(), &[]))
        .await
        .expect(201);

    let b = new_id();
    let refused = app
        .put(&format!("{OI}/{b}"), &t2, &intent(here(), &[]))
        .await;
    refused.expect(409);
    let missing = refused.body["missing_operational_intents"]
        .as_array()
        .unwrap();
    assert_eq!(missing.len(), 1, "{}", refused.text);
    assert_eq!(missing[0]["id"], a.as_str());
    // Another manager's OVN is never shown.
    assert!(
        missing[0].get("ovn").is_none_or(|o| o.is_null()),
        "{}",
        refused.text
    );
    assert_eq!(refused.body["missing_constraints"], json!([]));
    assert!(!refused.message().is_empty());
    app.get(&format!("{OI}/{b}"), &t2).await.expect(404);

    let accepted = app
        .put(&format!("{OI}/{b}"), &t2, &intent(here(), &[&a_ovn]))
        .await;
    accepted.expect(201);
}

async fn a_stale_ovn_is_a_conflict_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let id = new_id();
    let c = app
        .put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await;
    let ovn1 = c.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = app
        .put(&format!("{OI}/{id}/{ovn1}"), &t, &intent(here(), &[]))
        .await;
    u.expect(200);
    let ovn2 = u.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut moved = intent(elsewhere(), &[]);
    moved["state"] = json!("Activated");
    app.put(&format!("{OI}/{id}/{ovn1}"), &t, &moved)
        .await
        .expect_error(409, "ovn");
    app.delete(&format!("{OI}/{id}/{ovn1}"), &t)
        .await
        .expect(409);

    let now = app.get(&format!("{OI}/{id}"), &t).await;
    now.expect(200);
    let oir = &now.body["operational_intent_reference"];
    assert_eq!(oir["version"], 2);
    assert_eq!(oir["ovn"], ovn2.as_str());
    assert_eq!(oir["state"], "Accepted");
}

async fn another_manager_may_not_change_an_intent(backend: Backend) {
    let app = spawn_app(backend).await;
    let t1 = app.token("uss1", &[SC]);
    let t2 = app.token("uss2", &[SC]);
    let id = new_id();
    let c = app
        .put(&format!("{OI}/{id}"), &t1, &intent(here(), &[]))
        .await;
    let ovn = c.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    app.put(
        &format!("{OI}/{id}/{ovn}"),
        &t2,
        &intent(elsewhere(), &[&ovn]),
    )
    .await
    .expect(403);
    app.delete(&format!("{OI}/{id}/{ovn}"), &t2)
        .await
        .expect(403);

    let now = app.get(&format!("{OI}/{id}"), &t1).await;
    now.expect(200);
    assert_eq!(
        now.body["operational_intent_reference"]["ovn"],
        ovn.as_str()
    );
    assert_eq!(now.body["operational_intent_reference"]["version"], 1);
    assert_eq!(now.body["operational_intent_reference"]["manager"], "uss1");
}

async fn an_implicit_subscription_is_created_and_deleted_with_its_intent(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let id = new_id();
    let c = app
        .put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await;
    c.expect(201);
    let oir = &c.body["operational_intent_reference"];
    let sub = oir["subscription_id"].as_str().unwrap().to_owned();
    let ovn = oir["ovn"].as_str().unwrap().to_owned();

    let s = app.get(&format!("{SUB}/{sub}"), &t).await;
    s.expect(200);
    assert_eq!(s.body["subscription"]["implicit_subscription"], true);
    assert_eq!(
        s.body["subscription"]["dependent_operational_intents"],
        json!([id])
    );
    assert_eq!(
        s.body["subscription"]["notify_for_operational_intents"],
        true
    );

    app.delete(&format!("{OI}/{id}/{ovn}"), &t)
        .await
        .expect(200);
    app.get(&format!("{SUB}/{sub}"), &t).await.expect(404);
}

backend_tests!(
    create_get_query_update_delete,
    a_conflict_lists_exactly_the_missing_intent_then_the_key_resolves_it,
    a_stale_ovn_is_a_conflict_and_changes_nothing,
    another_manager_may_not_change_an_intent,
    an_implicit_subscription_is_created_and_deleted_with_its_intent,
);
