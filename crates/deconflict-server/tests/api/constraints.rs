use serde_json::json;

use crate::helpers::*;

async fn create_get_query_update_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let cm = app.token("authority", &[CM]);
    let cp = app.token("uss1", &[CP]);
    let id = new_id();

    let c = app
        .put(&format!("{CR}/{id}"), &cm, &constraint(here()))
        .await;
    c.expect(201);
    let cr = &c.body["constraint_reference"];
    assert_eq!(cr["manager"], "authority");
    assert_eq!(cr["version"], 1);
    let ovn1 = cr["ovn"].as_str().unwrap().to_owned();

    let got = app.get(&format!("{CR}/{id}"), &cp).await;
    got.expect(200);
    assert_eq!(got.body["constraint_reference"]["id"], id.as_str());
    let q = app.post(&format!("{CR}/query"), &cp, &query(here())).await;
    q.expect(200);
    assert_eq!(q.body["constraint_references"].as_array().unwrap().len(), 1);
    let q = app
        .post(&format!("{CR}/query"), &cp, &query(elsewhere()))
        .await;
    assert_eq!(q.body["constraint_references"], json!([]));

    // A processor may read but not write constraints.
    app.put(&format!("{CR}/{}", new_id()), &cp, &constraint(here()))
        .await
        .expect(403);

    let u = app
        .put(&format!("{CR}/{id}/{ovn1}"), &cm, &constraint(elsewhere()))
        .await;
    u.expect(200);
    let ovn2 = u.body["constraint_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(u.body["constraint_reference"]["version"], 2);
    app.put(&format!("{CR}/{id}/{ovn1}"), &cm, &constraint(here()))
        .await
        .expect(409);

    let other = app.token("authority2", &[CM]);
    app.delete(&format!("{CR}/{id}/{ovn2}"), &other)
        .await
        .expect(403);
    app.delete(&format!("{CR}/{id}/{ovn2}"), &cm)
        .await
        .expect(200);
    app.get(&format!("{CR}/{id}"), &cp).await.expect(404);
}

async fn an_intent_that_processes_constraints_must_know_the_ones_it_crosses(backend: Backend) {
    let app = spawn_app(backend).await;
    let cm = app.token("authority", &[CM]);
    let cid = new_id();
    let c = app
        .put(&format!("{CR}/{cid}"), &cm, &constraint(here()))
        .await;
    let c_ovn = c.body["constraint_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app.token("uss1", &[SC, CP]);
    let mut body = intent(here(), &[]);
    body["new_subscription"]["notify_for_constraints"] = json!(true);

    let r = app.put(&format!("{OI}/{}", new_id()), &t, &body).await;
    r.expect(409);
    let missing = r.body["missing_constraints"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{}", r.text);
    assert_eq!(missing[0]["id"], cid.as_str());
    assert_eq!(r.body["missing_operational_intents"], json!([]));

    body["key"] = json!([c_ovn]);
    let first = app.put(&format!("{OI}/{}", new_id()), &t, &body).await;
    first.expect(201);
    let first_ovn = first.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    // An intent whose subscription ignores constraints needs no constraint in its key (only
    // the intent it crosses).
    app.put(
        &format!("{OI}/{}", new_id()),
        &t,
        &intent(here(), &[&first_ovn]),
    )
    .await
    .expect(201);
}

backend_tests!(
    create_get_query_update_delete,
    an_intent_that_processes_constraints_must_know_the_ones_it_crosses,
);
