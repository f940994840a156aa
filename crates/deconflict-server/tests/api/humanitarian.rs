//! The humanitarian layer over HTTP: parties and roles, sites published as constraints,
//! movements as intents, their `/uss/v1` details, bulk import; every refusal names why and
//! leaves nothing changed.

use chrono::{Duration, SecondsFormat, Utc};
use deconflict_humanitarian::party::Role;
use serde_json::{json, Value};

use crate::helpers::*;

pub(crate) const COORD: &str = "coord";
pub(crate) const NGO: &str = "ngo";
pub(crate) const NGO2: &str = "ngo2";
pub(crate) const ARMED: &str = "armed";
pub(crate) const OBSERVER: &str = "observer";

pub(crate) async fn app(backend: Backend) -> TestApp {
    spawn_app_with_parties(
        backend,
        &[
            (COORD, Role::Coordinator),
            (NGO, Role::Humanitarian),
            (NGO2, Role::Humanitarian),
            (ARMED, Role::Armed),
            (OBSERVER, Role::Observer),
        ],
    )
    .await
}

/// A token of `party` with every DSS scope it could want.
pub(crate) fn token(app: &TestApp, party: &str) -> String {
    app.token(party, &[SC, CP, CM])
}

/// A hospital by the lake of Geneva, inside [`here`].
pub(crate) fn hospital(external_id: &str) -> Value {
    json!({
        "external_id": external_id, "name": "Hôpital du lac", "category": "hospital",
        "geometry": {"type": "Point", "coordinates": [6.505, 46.405]}, "radius_m": 150
    })
}

pub(crate) fn at(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A convoy across [`here`], leaving in 10 minutes.
pub(crate) fn convoy(state: &str) -> Value {
    json!({
        "external_id": "convoy-1", "name": "Convoy 1", "corridor_width_m": 100, "state": state,
        "route": {"type": "LineString", "coordinates": [[6.49, 46.405], [6.52, 46.405]]},
        "departure": {"earliest": at(10), "latest": at(20)},
        "arrival": {"earliest": at(40), "latest": at(60)},
        "stops": [{"name": "checkpoint", "location": {"type": "Point", "coordinates": [6.505, 46.405]}}]
    })
}

/// An intent over [`here`] whose subscription processes constraints.
pub(crate) fn intent_processing_constraints(key: &[&str]) -> Value {
    let mut i = intent(here(), key);
    i["new_subscription"]["notify_for_constraints"] = json!(true);
    i
}

async fn sites(app: &TestApp) -> Value {
    let a = app.get("/v1/sites", &token(app, OBSERVER)).await;
    a.expect(200);
    a.body["sites"].clone()
}

async fn parties_are_managed_by_coordinators_only(backend: Backend) {
    let app = app(backend).await;
    let body = json!({"role": "humanitarian", "name": "Water NGO", "contact": "+41 00 000"});
    for (who, status, says) in [
        (NGO, 403, "role humanitarian"),
        (OBSERVER, 403, "role observer"),
        ("stranger", 403, "not registered"),
    ] {
        app.put("/v1/parties/water", &token(&app, who), &body)
            .await
            .expect_error(status, says);
    }
    app.get("/v1/parties/water", &token(&app, COORD))
        .await
        .expect(404);
    let created = app
        .put("/v1/parties/water", &token(&app, COORD), &body)
        .await;
    created.expect(201);
    assert_eq!(created.body["source"], "api");
    // The new party acts within its role at once.
    app.post("/v1/sites", &token(&app, "water"), &hospital("W-1"))
        .await
        .expect(201);
    app.put("/v1/parties/ngo", &token(&app, COORD), &body)
        .await
        .expect_error(409, "configuration file");
    app.put(
        "/v1/parties/water",
        &token(&app, COORD),
        &json!({"role": "general"}),
    )
    .await
    .expect_error(400, "role");
    let list = app.get("/v1/parties", &token(&app, ARMED)).await;
    list.expect(200);
    let ids: Vec<_> = list.body["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p["source"].clone()))
        .collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert!(ids.contains(&("water".into(), json!("api"))));
    assert!(ids.contains(&(COORD.into(), json!("configuration"))));
    app.delete("/v1/parties/water", &token(&app, NGO))
        .await
        .expect(403);
    app.delete("/v1/parties/water", &token(&app, COORD))
        .await
        .expect(200);
    app.post("/v1/sites", &token(&app, "water"), &hospital("W-2"))
        .await
        .expect_error(403, "not registered");
}

async fn a_site_is_a_constraint_whose_details_carry_its_ovn(backend: Backend) {
    let app = app(backend).await;
    let created = app
        .post("/v1/sites", &token(&app, NGO), &hospital("H-1"))
        .await;
    created.expect(201);
    assert_eq!(created.body["outcome"], "created");
    let site = &created.body["site"];
    let id = site["id"].as_str().unwrap().to_owned();
    let ovn = site["constraint"]["ovn"].as_str().unwrap().to_owned();
    assert_eq!(site["constraint"]["manager"], NGO);
    assert_eq!(site["constraint"]["uss_base_url"], app.base.as_str());

    // The DSS shows it to a USS that processes constraints, like any other constraint.
    let uss = app.token("uss1", &[CP]);
    let q = app.post(&format!("{CR}/query"), &uss, &query(here())).await;
    q.expect(200);
    assert_eq!(q.body["constraint_references"][0]["id"], id.as_str());
    assert!(q.body["constraint_references"][0]["ovn"].is_null());

    // Its details, at the uss_base_url the DSS gave, carry the OVN.
    let details = app.get(&format!("/uss/v1/constraints/{id}"), &uss).await;
    details.expect(200);
    let c = &details.body["constraint"];
    assert_eq!(c["reference"]["ovn"], ovn.as_str());
    assert_eq!(
        c["details"]["type"],
        "org.deconflict.protected_site.hospital"
    );
    assert_eq!(
        c["details"]["volumes"][0]["volume"]["outline_circle"]["radius"]["value"],
        150.0
    );
    app.get(&format!("/uss/v1/constraints/{}", new_id()), &uss)
        .await
        .expect(404);
    app.get(
        &format!("/uss/v1/constraints/{id}"),
        &app.token("uss1", &[SC]),
    )
    .await
    .expect(403);

    // An operation planned over it, processing constraints, must prove it has seen it.
    let armed = token(&app, ARMED);
    let oi = new_id();
    let refused = app
        .put(
            &format!("{OI}/{oi}"),
            &armed,
            &intent_processing_constraints(&[]),
        )
        .await;
    refused.expect(409);
    assert_eq!(refused.body["missing_constraints"][0]["id"], id.as_str());
    app.put(
        &format!("{OI}/{oi}"),
        &armed,
        &intent_processing_constraints(&[&ovn]),
    )
    .await
    .expect(201);

    // Notifying the same site again changes nothing, not even the OVN.
    let again = app
        .post("/v1/sites", &token(&app, NGO), &hospital("H-1"))
        .await;
    again.expect(200);
    assert_eq!(again.body["outcome"], "unchanged");
    assert_eq!(again.body["site"]["constraint"]["ovn"], ovn.as_str());

    // A change is a new version with a new OVN; withdrawing removes the constraint.
    let mut bigger = hospital("H-1");
    bigger["radius_m"] = json!(300);
    let changed = app
        .put(&format!("/v1/sites/{id}"), &token(&app, NGO), &bigger)
        .await;
    changed.expect(200);
    assert_eq!(changed.body["outcome"], "updated");
    assert_eq!(changed.body["site"]["constraint"]["version"], 2);
    assert_ne!(changed.body["site"]["constraint"]["ovn"], ovn.as_str());
    app.delete(&format!("/v1/sites/{id}"), &token(&app, NGO))
        .await
        .expect(200);
    app.get(&format!("{CR}/{id}"), &uss).await.expect(404);
    assert_eq!(sites(&app).await, json!([]));
}

async fn each_role_acts_only_within_it_and_refusals_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let created = app
        .post("/v1/sites", &token(&app, NGO), &hospital("H-1"))
        .await;
    created.expect(201);
    let id = created.body["site"]["id"].as_str().unwrap().to_owned();
    let before = sites(&app).await;
    let ovn_before = created.body["site"]["constraint"]["ovn"].clone();

    let site_path = format!("/v1/sites/{id}");
    let mut moved = hospital("H-1");
    moved["radius_m"] = json!(5000);
    for (who, says) in [
        (ARMED, "role armed"),
        (OBSERVER, "role observer"),
        (COORD, "role coordinator"),
        ("stranger", "not registered"),
    ] {
        app.post("/v1/sites", &token(&app, who), &hospital("X-1"))
            .await
            .expect_error(403, says);
        app.put(&site_path, &token(&app, who), &moved)
            .await
            .expect_error(403, says);
        app.delete(&site_path, &token(&app, who))
            .await
            .expect_error(403, says);
        app.post("/v1/movements", &token(&app, who), &convoy("planned"))
            .await
            .expect_error(403, says);
    }
    // Another humanitarian party cannot touch this one's site.
    app.put(&site_path, &token(&app, NGO2), &moved)
        .await
        .expect_error(403, "notified by party \"ngo\"");
    app.delete(&site_path, &token(&app, NGO2))
        .await
        .expect_error(403, "notified by party \"ngo\"");
    // On the DSS, a humanitarian party writes no operations and an observer nothing.
    for (who, path, body, says) in [
        (
            NGO,
            format!("{OI}/{}", new_id()),
            intent(elsewhere(), &[]),
            "operational intents",
        ),
        (
            NGO,
            format!("{CR}/{}", new_id()),
            constraint(elsewhere()),
            "constraints",
        ),
        (
            OBSERVER,
            format!("{SUB}/{}", new_id()),
            subscription(elsewhere(), true, false),
            "subscriptions",
        ),
        (
            COORD,
            format!("{OI}/{}", new_id()),
            intent(elsewhere(), &[]),
            "operational intents",
        ),
    ] {
        app.put(&path, &token(&app, who), &body)
            .await
            .expect_error(403, says);
    }
    // The site's own constraint cannot be changed through the DSS by its party either.
    let ovn = ovn_before.as_str().unwrap();
    app.delete(&format!("{CR}/{id}/{ovn}"), &token(&app, NGO))
        .await
        .expect_error(403, "constraints");
    app.delete(&format!("{CR}/{id}/{ovn}"), &token(&app, ARMED))
        .await
        .expect(403);

    assert_eq!(sites(&app).await, before);
    let now = app.get(&site_path, &token(&app, OBSERVER)).await;
    assert_eq!(now.body["constraint"]["ovn"], ovn_before);
    assert_eq!(
        app.get("/v1/movements", &token(&app, COORD)).await.body["movements"],
        json!([])
    );
    // A USS that is not a party still uses the DSS as a plain F3548 DSS.
    app.put(
        &format!("{OI}/{}", new_id()),
        &app.token("uss9", &[SC]),
        &intent(elsewhere(), &[]),
    )
    .await
    .expect(201);
}

async fn bad_sites_are_refused_naming_the_field(backend: Backend) {
    let app = app(backend).await;
    let ngo = token(&app, NGO);
    type Spoil = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Spoil, &str)> = vec![
        (Box::new(|s| s["category"] = json!("barracks")), "category"),
        (
            Box::new(|s| s["geometry"]["coordinates"] = json!([6.5, 91])),
            "geometry.coordinates[1]",
        ),
        (Box::new(|s| s["radius_m"] = json!(-5)), "radius_m"),
        (Box::new(|s| s["radius_m"] = json!(null)), "radius_m"),
        (Box::new(|s| s["name"] = json!("")), "name"),
        (
            Box::new(|s| s["valid_until"] = json!("2001-01-01T00:00:00Z")),
            "valid_until",
        ),
        (Box::new(|s| s["colour"] = json!("red")), "colour"),
        (
            Box::new(|s| {
                s["geometry"] = json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})
            }),
            "geometry.type",
        ),
    ];
    for (spoil, field) in cases {
        let mut s = hospital("H-1");
        spoil(&mut s);
        app.post("/v1/sites", &ngo, &s)
            .await
            .expect_error(400, field);
    }
    app.get("/v1/sites/not-a-uuid", &ngo)
        .await
        .expect_error(400, "id");
    assert_eq!(sites(&app).await, json!([]));
}

async fn a_movement_is_an_intent_accepted_then_activated(backend: Backend) {
    let app = app(backend).await;
    let ngo = token(&app, NGO);
    let created = app.post("/v1/movements", &ngo, &convoy("planned")).await;
    created.expect(201);
    let m = &created.body["movement"];
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(m["operational_intent"]["state"], "Accepted");
    assert_eq!(m["operational_intent"]["manager"], NGO);

    // An armed party's operation across the route must carry the movement's OVN, which the
    // details at the intent's uss_base_url give.
    let armed = token(&app, ARMED);
    let oi = new_id();
    let refused = app
        .put(&format!("{OI}/{oi}"), &armed, &intent(here(), &[]))
        .await;
    refused.expect(409);
    assert_eq!(
        refused.body["missing_operational_intents"][0]["id"],
        id.as_str()
    );
    let details = app
        .get(&format!("/uss/v1/operational_intents/{id}"), &armed)
        .await;
    details.expect(200);
    let ovn = details.body["operational_intent"]["reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        details.body["operational_intent"]["details"]["volumes"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    app.put(&format!("{OI}/{oi}"), &armed, &intent(here(), &[&ovn]))
        .await
        .expect(201);

    // Under way: Activated, with a subscription; it cannot go back to planned.
    let under_way = app
        .put(&format!("/v1/movements/{id}"), &ngo, &convoy("under_way"))
        .await;
    under_way.expect(200);
    assert_eq!(
        under_way.body["movement"]["operational_intent"]["state"],
        "Activated"
    );
    app.put(&format!("/v1/movements/{id}"), &ngo, &convoy("planned"))
        .await
        .expect_error(400, "state");
    let mut bad = convoy("under_way");
    bad["corridor_width_m"] = json!(0);
    app.put(&format!("/v1/movements/{id}"), &ngo, &bad)
        .await
        .expect_error(400, "corridor_width_m");
    app.delete(&format!("/v1/movements/{id}"), &token(&app, NGO2))
        .await
        .expect(403);
    app.delete(&format!("/v1/movements/{id}"), &ngo)
        .await
        .expect(200);
    app.get(&format!("{OI}/{id}"), &armed).await.expect(404);
}

async fn an_import_is_all_or_nothing_and_idempotent(backend: Backend) {
    let app = app(backend).await;
    let ngo = token(&app, NGO);
    let mut bad = hospital("H-2");
    bad["category"] = json!("barracks");
    let body = json!({"sites": [hospital("H-1"), bad, hospital("H-3")]});
    app.post("/v1/sites/import", &ngo, &body)
        .await
        .expect_error(400, "sites[1].category");
    assert_eq!(sites(&app).await, json!([]));

    let mut skipping = body.clone();
    skipping["skip_invalid"] = json!(true);
    let r = app.post("/v1/sites/import", &ngo, &skipping).await;
    r.expect(200);
    assert_eq!(r.body["imported"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["refused"][0]["index"], 1);
    assert!(r.body["refused"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("category:"));
    let listed = sites(&app).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let again = app.post("/v1/sites/import", &ngo, &skipping).await;
    again.expect(200);
    for i in again.body["imported"].as_array().unwrap() {
        assert_eq!(i["outcome"], "unchanged");
    }
    assert_eq!(sites(&app).await, listed);
    app.post("/v1/sites/import", &token(&app, ARMED), &skipping)
        .await
        .expect(403);
}

async fn a_closed_line_refuses_unregistered_subs_on_the_dss_too(backend: Backend) {
    use deconflict_humanitarian::party::Party;
    use deconflict_server::config::Humanitarian;
    let app = spawn_app_configured(
        backend,
        deconflict_core::limits::Limits::default(),
        Humanitarian {
            dss_registered_only: true,
            parties: vec![Party {
                id: ARMED.into(),
                role: Role::Armed,
                name: String::new(),
                contact: None,
                webhook: None,
                public_key: None,
            }],
            ..Humanitarian::default()
        },
    )
    .await;
    let stranger = app.token("uss9", &[SC, CP]);
    app.put(
        &format!("{OI}/{}", new_id()),
        &stranger,
        &intent(elsewhere(), &[]),
    )
    .await
    .expect_error(403, "\"uss9\" (the token's sub) is not registered");
    app.get(&format!("/uss/v1/constraints/{}", new_id()), &stranger)
        .await
        .expect_error(403, "not registered");
    // Reading the DSS stays open; writing is for parties, within their role.
    app.post(&format!("{OI}/query"), &stranger, &query(elsewhere()))
        .await
        .expect(200);
    app.put(
        &format!("{OI}/{}", new_id()),
        &token(&app, ARMED),
        &intent(elsewhere(), &[]),
    )
    .await
    .expect(201);
}

backend_tests!(
    a_closed_line_refuses_unregistered_subs_on_the_dss_too,
    parties_are_managed_by_coordinators_only,
    a_site_is_a_constraint_whose_details_carry_its_ovn,
    each_role_acts_only_within_it_and_refusals_change_nothing,
    bad_sites_are_refused_naming_the_field,
    a_movement_is_an_intent_accepted_then_activated,
    an_import_is_all_or_nothing_and_idempotent,
);
