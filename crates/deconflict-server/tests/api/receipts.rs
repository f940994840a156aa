//! Receipts delivered with notifications, through the whole serve path: a real SSE client
//! and a real webhook receiver on loopback get each notification and then its receipt, and
//! check the receipt offline with nothing but the log's public key; a reconnection resumes
//! the receipts where it stood, on the same instance or another of a pool.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deconflict_core::store;
use deconflict_humanitarian::notification;
use deconflict_server::config::Humanitarian;

use deconflict_humanitarian::party::Role;
use deconflict_server::webhook;
use deconflict_tlog::{check_content, Kind, Receipt, Record};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::notifications::{
    served_hospital, served_site_and_operation, EventStream, ALPHA, COORD, NGO,
};
use crate::webhooks::{free_port, received, receiver, SECRET};

/// What a party does with a receipt it keeps (the JSON of a `Receipt`), offline, knowing only
/// the log's public key `key` ([`Receipt::check`]: the checkpoint is signed by it, the leaf
/// hash is the record's, the inclusion proof leads from it to the checkpoint's root). Returns
/// the entry's index and record.
pub fn checked_receipt(receipt: &Value, key: &str) -> (u64, Record) {
    let receipt: Receipt = serde_json::from_value(receipt.clone()).unwrap();
    let record = receipt.check(key).unwrap();
    // Another record at that place does not check.
    let forged = Receipt {
        record: format!("{} ", receipt.record),
        ..receipt.clone()
    };
    assert!(forged.check(key).is_err());
    (receipt.index, record)
}

/// Checks the receipt `sent` (a `NotificationReceipt`) of the notification delivered as the
/// bytes `delivered`: its entry is that notification's record, hashing exactly those bytes.
fn check_notification_receipt(sent: &Value, delivered: &[u8], key: &str) -> u64 {
    let n: Value = serde_json::from_slice(delivered).unwrap();
    assert_eq!(sent["notification"], n["id"]);
    assert_eq!(sent["seq"], n["seq"]);
    let (index, record) = checked_receipt(&sent["receipt"], key);
    assert_eq!(record.kind, Kind::Notification);
    assert_eq!(record.subject, n["id"].as_str().unwrap());
    assert_eq!(record.party, n["recipient"].as_str().unwrap());
    check_content(&record, delivered).expect("the record hashes the notification as delivered");
    index
}

const SOON: Duration = Duration::from_secs(15);

async fn notifications_arrive_with_their_receipts_over_sse_and_webhook(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start_with(
        backend,
        dir.path(),
        &[(COORD, Role::Coordinator), (ALPHA, Role::Armed)],
    )
    .await;
    let client = reqwest::Client::new();
    let (ngo, alpha) = (server.token(NGO, &[SC]), server.token(ALPHA, &[SC]));
    // What a party keeps beforehand: the log's public key.
    let key = client
        .get(format!("{}/v1/log/key", server.base))
        .bearer_auth(&ngo)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    // The NGO, registered with its webhook, which is down for its first delivery.
    let port = free_port();
    let hook = receiver(port, 1).await;
    register_ngo_webhook(&server, port).await;
    let mut stream = EventStream::connect(&server.base, &ngo, None).await;

    // A conflict: the NGO is told, at once, then gets the receipt.
    served_hospital(&server, &ngo).await;
    let put_operation = |from: i64| {
        client
            .put(format!("{}{OI}/{}", server.base, new_id()))
            .bearer_auth(&alpha)
            .json(&intent(volume(46.40, 6.50, 0.01, from, from + 20), &[]))
            .send()
    };
    assert_eq!(put_operation(10).await.unwrap().status(), 201);
    let (id, kind, first) = stream.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("1:0", "notification"));
    let (id, kind, receipt) = stream.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("1", "receipt"));
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    let index = check_notification_receipt(&receipt, first.as_bytes(), &key);
    // The same as the notification's own receipt endpoint.
    let n: Value = serde_json::from_str(&first).unwrap();
    let asked: Value = client
        .get(format!(
            "{}/v1/notifications/{}/receipt",
            server.base,
            n["id"].as_str().unwrap()
        ))
        .bearer_auth(&ngo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asked["index"], index);
    assert_eq!(asked["record"], receipt["receipt"]["record"]);

    // A client that dropped after the notification gets its receipt on reconnecting; one that
    // had the receipt gets nothing again, then the next notification live, then its receipt.
    let mut resumed = EventStream::connect(&server.base, &ngo, Some("1:0")).await;
    let (id, kind, again) = resumed.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("1", "receipt"));
    let again: Value = serde_json::from_str(&again).unwrap();
    check_notification_receipt(&again, first.as_bytes(), &key);
    drop(resumed);
    let mut resumed = EventStream::connect(&server.base, &ngo, Some("1")).await;
    assert!(resumed
        .next_event(Duration::from_millis(300))
        .await
        .is_none());
    assert_eq!(put_operation(40).await.unwrap().status(), 201);
    let (id, kind, second) = resumed.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("2:1", "notification"));
    let (id, kind, receipt) = resumed.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("2", "receipt"));
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    assert!(check_notification_receipt(&receipt, second.as_bytes(), &key) > index);

    // The webhook, after its failure, gets the same: each notification, then its receipt, each
    // signed; each notification exactly the bytes the stream sent.
    let got = received(&hook, 4, SOON).await;
    let now = chrono::Utc::now().timestamp();
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|d| (d.kind.as_str(), d.event_id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("notification", "1"),
            ("receipt", "1"),
            ("notification", "2"),
            ("receipt", "2")
        ]
    );
    for d in &got {
        assert!(webhook::verify(SECRET, &d.signature, &d.body, now, 60));
    }
    assert_eq!(&got[0].body[..], first.as_bytes());
    assert_eq!(&got[2].body[..], second.as_bytes());
    for (n, r) in [(&got[0], &got[1]), (&got[2], &got[3])] {
        let r: Value = serde_json::from_slice(&r.body).unwrap();
        check_notification_receipt(&r, &n.body, &key);
    }

    // Alpha acknowledges its notification; replayed afterwards, it is still the notification
    // as made, which its receipt's record hashes.
    let mut alpha_stream = EventStream::connect(&server.base, &alpha, None).await;
    let (_, _, told) = alpha_stream.next_event(SOON).await.unwrap();
    let told_id = serde_json::from_str::<Value>(&told).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = client
        .post(format!("{}/v1/notifications/{told_id}/ack", server.base))
        .bearer_auth(&alpha)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 201);
    let mut replay = EventStream::connect(&server.base, &alpha, None).await;
    let (_, kind, replayed) = replay.next_event(SOON).await.unwrap();
    assert_eq!(kind, "notification");
    assert_eq!(replayed, told);
    let (_, kind, receipt) = replay.next_event(SOON).await.unwrap();
    assert_eq!(kind, "receipt");
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    check_notification_receipt(&receipt, replayed.as_bytes(), &key);
    server.stop().await;
}

/// The NGO registered (by the coordinator, through `server`) with the webhook on `port`.
async fn register_ngo_webhook(server: &Served, port: u16) {
    let registered = reqwest::Client::new()
        .put(format!("{}/v1/parties/{NGO}", server.base))
        .bearer_auth(server.token(COORD, &[SC]))
        .json(&json!({"role": "humanitarian", "name": "NGO",
                      "webhook": {"url": format!("http://127.0.0.1:{port}/hook"), "secret": SECRET}}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
}

/// Two instances of a pool on one PostgreSQL database: a notification made through one reaches
/// a stream of the other with its receipt (the entry the first appended, proved by the
/// second); a stream resumed on the first after the second shut down gets the receipt it
/// missed; the webhook gets each notification and receipt once although both instances
/// deliver.
#[tokio::test]
async fn a_pool_delivers_receipts_whichever_instance_made_the_notification() {
    if !postgres_available(concat!(module_path!(), "::a_pool_delivers_receipts")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = Served::start_with(
        Backend::Postgres,
        dir.path(),
        &[(COORD, Role::Coordinator), (ALPHA, Role::Armed)],
    )
    .await;
    let port = free_port();
    let hook = receiver(port, 0).await;
    register_ngo_webhook(&a, port).await;
    let b = a.another().await;
    let key = a.state.log.as_ref().unwrap().key.verifier_key().to_owned();
    assert_eq!(b.state.log.as_ref().unwrap().key.verifier_key(), key);
    let (ngo, alpha) = (a.token(NGO, &[SC]), a.token(ALPHA, &[SC]));
    let mut on_b = EventStream::connect(&b.base, &ngo, None).await;

    served_site_and_operation(&a, &ngo, &alpha).await;
    let (id, kind, told) = on_b.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("1:0", "notification"));
    // Both instances deliver webhooks; one at a time (before either stops: a claim outlives
    // its holder by a minute).
    let got = received(&hook, 2, SOON).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = hook.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got_all.len(), 2, "each delivered once");
    assert_eq!(
        (got[0].kind.as_str(), &got[0].body[..]),
        ("notification", told.as_bytes())
    );
    assert_eq!(got[1].kind, "receipt");
    let r: Value = serde_json::from_slice(&got[1].body).unwrap();
    check_notification_receipt(&r, &got[0].body, &key);
    // The stream ends when its instance shuts down (which waits for open requests).
    b.stop().await;
    let stopped = std::time::Instant::now();
    while on_b.next_event(SOON).await.is_some() {}
    assert!(stopped.elapsed() < SOON, "the stream ended");

    let mut on_a = EventStream::connect(&a.base, &ngo, Some("1:0")).await;
    let (id, kind, receipt) = on_a.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("1", "receipt"));
    let receipt: Value = serde_json::from_str(&receipt).unwrap();
    check_notification_receipt(&receipt, told.as_bytes(), &key);

    a.stop().await;
}

/// A notification with no log entry (made while the server kept none): once it is long past
/// its making and no record of it waits in the outbox, its receipt is sent as `null` and the
/// stream moves on, instead of holding every later receipt back.
async fn a_notification_never_logged_gets_an_empty_receipt(backend: Backend) {
    let humanitarian = Humanitarian {
        parties: crate::notifications::parties(),
        ..Humanitarian::default()
    };
    let app = spawn_app_logged(backend, humanitarian).await;
    crate::notifications::site_and_operation(&app).await;
    // The second, written straight into the store, as a server without a log made them.
    let store = Arc::clone(&app.state.store);
    let unlogged = tokio::task::spawn_blocking(move || {
        store::write(&*store, |tx| {
            let first = notification::after(tx, NGO, 0, 1)?.remove(0);
            notification::create(tx, NGO, &first.conflict, first.disclosure, Utc::now())
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(unlogged.seq, 2);

    let mut stream = EventStream::open(&app, NGO, None).await;
    let ids_and_kinds = [
        ("1:0", "notification"),
        ("1", "receipt"),
        ("2:1", "notification"),
    ];
    for (want_id, want_kind) in ids_and_kinds {
        let (id, kind, _) = stream.next_event(SOON).await.unwrap();
        assert_eq!((id.as_str(), kind.as_str()), (want_id, want_kind));
    }
    assert!(
        stream
            .next_event(Duration::from_millis(1500))
            .await
            .is_none(),
        "a fresh notification's receipt may still be on its way"
    );
    app.clock_offset.store(120, Ordering::SeqCst);
    let (id, kind, data) = stream.next_event(SOON).await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("2", "receipt"));
    let r: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(r["notification"], unlogged.id.as_str());
    assert_eq!(r["receipt"], Value::Null);
}

backend_tests!(
    notifications_arrive_with_their_receipts_over_sse_and_webhook,
    a_notification_never_logged_gets_an_empty_receipt,
);
