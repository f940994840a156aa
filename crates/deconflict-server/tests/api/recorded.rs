//! What the server puts into the tamper-evident log, through the whole serve path: every DSS
//! write's key (who wrote what, the new OVN, the OVNs it proved it had seen), found by the
//! OVNs of the protected sites in its key; and receipts that check against a signed checkpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deconflict_core::store::{self, Change};
use deconflict_humanitarian::party::Role;
use deconflict_server::tlog::ServedLog;
use deconflict_tlog::{Kind, Record};
use serde_json::Value;

use crate::helpers::*;

/// The records of the entries found by `term`, waiting up to 10 s for `n` of them.
pub async fn found(log: &Arc<ServedLog>, term: &str, n: usize) -> Vec<(u64, Record)> {
    let started = Instant::now();
    loop {
        let (log, t) = (Arc::clone(log), term.to_owned());
        let got = tokio::task::spawn_blocking(move || {
            log.log
                .find(&t)
                .unwrap()
                .into_iter()
                .map(|i| {
                    let bytes = log.log.records(i, i + 1).unwrap().pop().unwrap();
                    (i, Record::from_bytes(&bytes).unwrap())
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{term}: {} entries after 10 s, {n} expected",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An intent whose subscription processes constraints: its key must hold theirs.
fn processing(key: &[&str]) -> Value {
    let mut body = intent(here(), key);
    body["new_subscription"]["notify_for_constraints"] = true.into();
    body
}

fn key_of(r: &Record) -> Vec<&str> {
    r.body["key"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect()
}

async fn dss_writes_are_logged_with_their_key(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start_with(backend, dir.path(), &[("ngo", Role::Humanitarian)]).await;
    let state = server.state.clone();
    let served = state.log.clone().unwrap();
    let base = server.base.clone();
    let authority = server.token("authority", &[CM]);
    let alpha = server.token("alpha", &[SC, CP]);
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, token: &str, body: Option<Value>| {
        let mut r = client
            .request(method, format!("{base}/dss/v1/{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { answer(r.send().await.unwrap()).await }
    };
    use reqwest::Method;

    let cid = new_id();
    let r = send(
        Method::PUT,
        format!("constraint_references/{cid}"),
        &authority,
        Some(constraint(here())),
    )
    .await;
    r.expect(201);
    let covn = r.body["constraint_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    // A protected site in the same place, published as a constraint too.
    let r = answer(
        client
            .post(format!("{base}/v1/sites"))
            .bearer_auth(server.token("ngo", &[]))
            .json(&serde_json::json!({
                "external_id": "H-1", "name": "Hôpital du lac", "category": "hospital",
                "geometry": {"type": "Point", "coordinates": [6.505, 46.405]}, "radius_m": 150
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.expect(201);
    let sovn = r.body["site"]["constraint"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    // Refused without the constraints' OVNs in the key: nothing is logged for it.
    let oid = new_id();
    let path = format!("operational_intent_references/{oid}");
    send(Method::PUT, path.clone(), &alpha, Some(processing(&[])))
        .await
        .expect(409);
    let r = send(Method::PUT, path, &alpha, Some(processing(&[&covn, &sovn]))).await;
    r.expect(201);
    let oovn = r.body["operational_intent_reference"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();

    let planned = found(&served, &format!("key:{sovn}"), 1).await;
    assert_eq!(planned.len(), 1, "only the accepted write carried the key");
    let (_, w) = &planned[0];
    assert_eq!(w.kind, Kind::DssWriteKey);
    assert_eq!(w.party, "alpha");
    assert_eq!(w.subject, oid);
    assert_eq!(w.body["entity_type"], "operational_intent");
    assert_eq!(w.body["op"], "create");
    assert_eq!(w.body["ovn"], oovn.as_str());
    let mut key = vec![covn.as_str(), sovn.as_str()];
    key.sort_unstable();
    assert_eq!(key_of(w), key, "the record holds the whole key");
    assert_eq!(w.body["in_view"], serde_json::json!([sovn]));
    // Only the OVNs of what the line protects are looked up, so only they are indexed.
    let (log, term) = (Arc::clone(&served), format!("key:{covn}"));
    let by_plain = tokio::task::spawn_blocking(move || log.log.find(&term).unwrap())
        .await
        .unwrap();
    assert!(by_plain.is_empty(), "{by_plain:?}");

    let c = found(&served, &format!("ovn:{covn}"), 1).await;
    assert_eq!(c[0].1.party, "authority");
    assert_eq!(c[0].1.body["entity_type"], "constraint");
    assert_eq!(c[0].1.body["op"], "create");

    send(
        Method::DELETE,
        format!("operational_intent_references/{oid}/{oovn}"),
        &alpha,
        None,
    )
    .await
    .expect(200);
    let history = found(&served, &format!("subject:{oid}"), 2).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].1.body["op"], "delete");
    assert_eq!(history[1].1.body["ovn"], oovn.as_str());
    assert!(
        history[0].0 < history[1].0,
        "entries in the order of writes"
    );

    // A receipt: the entry of an event recorded in a store write, proved in a checkpoint.
    let rec = state.recorder.clone();
    let event = Record {
        kind: Kind::Notification,
        time: "2026-11-28T00:00:00.000Z".into(),
        party: "alpha".into(),
        subject: "n-1".into(),
        body: Default::default(),
    };
    let recorded = event.clone();
    let store = Arc::clone(&state.store);
    let id = tokio::task::spawn_blocking(move || {
        store::write(&*store, |tx| {
            tx.apply(Change::PutDocument(Arc::new(
                deconflict_core::model::Document {
                    kind: "test".into(),
                    id: "n-1".into(),
                    owner: "alpha".into(),
                    body: "{}".into(),
                },
            )))?;
            rec.record(tx, &recorded)
        })
        .unwrap()
    })
    .await
    .unwrap();
    state.recorder.wake();
    let receipt = state.recorder.receipt(&id).await.unwrap();
    assert_eq!(receipt.record.as_bytes(), event.to_bytes().unwrap());
    crate::receipts::checked_receipt(
        &serde_json::to_value(&receipt).unwrap(),
        served.key.verifier_key(),
    );

    server.stop().await;
}

async fn sites_are_logged_when_notified_changed_and_withdrawn(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start_with(backend, dir.path(), &[("ngo", Role::Humanitarian)]).await;
    let served = server.state.log.clone().unwrap();
    let token = server.token("ngo", &[]);
    let client = reqwest::Client::new();
    let mut site = serde_json::json!({
        "external_id": "H-1", "name": "Hôpital du lac", "category": "hospital",
        "geometry": {"type": "Point", "coordinates": [6.505, 46.405]}, "radius_m": 150
    });
    let post = |body: &Value| {
        client
            .post(format!("{}/v1/sites", server.base))
            .bearer_auth(&token)
            .json(body)
            .send()
    };
    let r = answer(post(&site).await.unwrap()).await;
    r.expect(201);
    let id = r.body["site"]["id"].as_str().unwrap().to_owned();
    let ovn = r.body["site"]["constraint"]["ovn"]
        .as_str()
        .unwrap()
        .to_owned();
    answer(post(&site).await.unwrap()).await.expect(200); // unchanged: nothing logged
    site["radius_m"] = 200.into();
    answer(post(&site).await.unwrap()).await.expect(200);
    let r = client
        .delete(format!("{}/v1/sites/{id}", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let history = found(&served, &format!("subject:{id}"), 3).await;
    let ops: Vec<(Kind, &str)> = history
        .iter()
        .map(|(_, r)| (r.kind, r.body["op"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        [
            (Kind::SiteNotified, "created"),
            (Kind::SiteNotified, "updated"),
            (Kind::SiteWithdrawn, "withdrawn")
        ]
    );
    let (_, first) = &history[0];
    assert_eq!(first.party, "ngo");
    assert_eq!(first.body["ovn"], ovn.as_str());
    assert_eq!(first.body["name"], "Hôpital du lac");
    assert_eq!(first.body["category"], "hospital");
    assert_ne!(
        first.body["content_sha256"], history[1].1.body["content_sha256"],
        "the digest commits to the radius"
    );
    assert_eq!(found(&served, &format!("ovn:{ovn}"), 1).await.len(), 1);
    server.stop().await;
}

backend_tests!(
    dss_writes_are_logged_with_their_key,
    sites_are_logged_when_notified_changed_and_withdrawn
);
