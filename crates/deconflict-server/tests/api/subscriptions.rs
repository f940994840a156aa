use serde_json::{json, Value};

use crate::helpers::*;

async fn create_get_query_update_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC, CP]);
    let id = new_id();

    let c = app
        .put(
            &format!("{SUB}/{id}"),
            &t,
            &subscription(here(), true, false),
        )
        .await;
    c.expect(200); // utm.yaml: 200 for a created subscription too
    let s = &c.body["subscription"];
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["notification_index"], 0);
    assert_eq!(s["implicit_subscription"], false);
    let v1 = s["version"].as_str().unwrap().to_owned();
    assert!(c.body["operational_intent_references"].is_array());

    app.get(&format!("{SUB}/{id}"), &t).await.expect(200);
    let q = app.post(&format!("{SUB}/query"), &t, &query(here())).await;
    q.expect(200);
    assert_eq!(q.body["subscriptions"].as_array().unwrap().len(), 1);
    // Only one's own subscriptions are listed.
    let other = app.token("uss2", &[SC]);
    let q = app
        .post(&format!("{SUB}/query"), &other, &query(here()))
        .await;
    q.expect(200);
    assert_eq!(q.body["subscriptions"], json!([]));
    app.get(&format!("{SUB}/{id}"), &other).await.expect(403);

    let u = app
        .put(
            &format!("{SUB}/{id}/{v1}"),
            &t,
            &subscription(here(), true, true),
        )
        .await;
    u.expect(200);
    let v2 = u.body["subscription"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v1, v2);
    app.put(
        &format!("{SUB}/{id}/{v1}"),
        &t,
        &subscription(elsewhere(), true, false),
    )
    .await
    .expect(409);
    let now = app.get(&format!("{SUB}/{id}"), &t).await;
    assert_eq!(now.body["subscription"]["version"], v2.as_str());
    assert_eq!(now.body["subscription"]["notify_for_constraints"], true);

    app.delete(&format!("{SUB}/{id}/{v1}"), &t)
        .await
        .expect(409);
    let d = app.delete(&format!("{SUB}/{id}/{v2}"), &t).await;
    d.expect(200);
    assert_eq!(d.body["subscription"]["id"], id.as_str());
    app.get(&format!("{SUB}/{id}"), &t).await.expect(404);
}

async fn a_flag_needs_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let sc_only = app.token("uss1", &[SC]);
    app.put(
        &format!("{SUB}/{}", new_id()),
        &sc_only,
        &subscription(here(), false, true),
    )
    .await
    .expect_error(403, "notify_for_constraints");
}

fn subscribers(body: &Value) -> Vec<(String, i64)> {
    body["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["subscriptions"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["subscription_id"].as_str().unwrap().to_owned(),
                s["notification_index"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn a_change_notifies_intersecting_subscriptions_once_each(backend: Backend) {
    let app = spawn_app(backend).await;
    let watcher = app.token("uss2", &[SC]);
    let (near, far) = (new_id(), new_id());
    app.put(
        &format!("{SUB}/{near}"),
        &watcher,
        &subscription(volume(46.39, 6.49, 0.05, 0, 120), true, false),
    )
    .await
    .expect(200);
    app.put(
        &format!("{SUB}/{far}"),
        &watcher,
        &subscription(elsewhere(), true, false),
    )
    .await
    .expect(200);

    let t = app.token("uss1", &[SC]);
    let id = new_id();
    let c = app
        .put(&format!("{OI}/{id}"), &t, &intent(here(), &[]))
        .await;
    c.expect(201);
    let own = c.body["operational_intent_reference"]["subscription_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = subscribers(&c.body);
    assert_eq!(listed, vec![(near.clone(), 1)], "{}", c.text);
    assert!(!listed.iter().any(|(s, _)| s == &far || s == &own));

    let ovn = c.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = app
        .put(&format!("{OI}/{id}/{ovn}"), &t, &intent(here(), &[]))
        .await;
    u.expect(200);
    let listed = subscribers(&u.body);
    assert!(listed.contains(&(near.clone(), 2)), "{}", u.text);
    assert!(!listed.iter().any(|(s, _)| s == &far));

    let s = app.get(&format!("{SUB}/{near}"), &watcher).await;
    assert_eq!(s.body["subscription"]["notification_index"], 2);
    let s = app.get(&format!("{SUB}/{far}"), &watcher).await;
    assert_eq!(s.body["subscription"]["notification_index"], 0);
}

backend_tests!(
    create_get_query_update_delete,
    a_flag_needs_its_scope,
    a_change_notifies_intersecting_subscriptions_once_each,
);
