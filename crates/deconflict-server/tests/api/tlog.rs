//! `/v1/log` through the whole serve path: the server opens the log beside its store, signs
//! checkpoints while it grows, and serves proofs that check against them; bad parameters get
//! 400 naming them.

use std::time::{Duration, Instant};

use deconflict_tlog::{
    check_consistency, check_inclusion, leaf_hash, Hash, Kind, Record, SignedCheckpoint,
};
use serde_json::Value;

use crate::helpers::*;

fn hashes(v: &Value) -> Vec<Hash> {
    v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::parse_hash(h.as_str().unwrap()).unwrap())
        .collect()
}

async fn the_log_serves_checkpoints_and_proofs_that_verify(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(backend, dir.path()).await;
    let served = server.state.log.clone().expect("serve opens the log");
    let vkey = served.key.verifier_key().to_string();
    let base = server.base.clone();
    let token = server.token("observer", &[SC]);
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{base}/v1/log{path}"))
            .bearer_auth(&token)
            .send()
    };

    let r = get("/key").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().trim(), vkey);
    assert_eq!(get("/checkpoint").await.unwrap().status(), 404);
    let r = client
        .get(format!("{base}/v1/log/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // 300 events (the humanitarian layer will append them); the checkpointer signs within
    // a few seconds.
    let records: Vec<Record> = (0..300)
        .map(|i| Record {
            kind: Kind::SiteNotified,
            time: "2026-11-27T21:00:00Z".into(),
            party: "ngo".into(),
            subject: format!("site-{i}"),
            body: Default::default(),
        })
        .collect();
    let log = served.log.clone();
    let appended = records.clone();
    tokio::task::spawn_blocking(move || log.append(&appended).unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let cp = loop {
        let r = get("/checkpoint").await.unwrap();
        if r.status() == 200 {
            break SignedCheckpoint::open(&r.text().await.unwrap(), &vkey).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no checkpoint after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(cp.size, 300);

    let r = answer(
        get("/proof/inclusion?index=257&tree_size=300")
            .await
            .unwrap(),
    )
    .await;
    r.expect(200);
    let record = r.body["record"].as_str().unwrap();
    assert_eq!(record.as_bytes(), records[257].to_bytes().unwrap());
    check_inclusion(
        &hashes(&r.body),
        300,
        cp.root,
        257,
        leaf_hash(record.as_bytes()),
    )
    .unwrap();

    let log = served.log.clone();
    let old_root = tokio::task::spawn_blocking(move || log.root(100).unwrap())
        .await
        .unwrap();
    let r = answer(
        get("/proof/consistency?first=100&second=300")
            .await
            .unwrap(),
    )
    .await;
    r.expect(200);
    check_consistency(&hashes(&r.body), 300, cp.root, 100, old_root).unwrap();

    for (path, field) in [
        ("/proof/inclusion?tree_size=300", "index"),
        ("/proof/inclusion?index=x&tree_size=300", "index"),
        ("/proof/inclusion?index=300&tree_size=300", "index"),
        ("/proof/inclusion?index=1&tree_size=301", "tree_size"),
        ("/proof/consistency?first=0&second=300", "first"),
        ("/proof/consistency?first=200&second=100", "first"),
        ("/proof/consistency?first=1&second=9999", "second"),
    ] {
        answer(get(path).await.unwrap())
            .await
            .expect_error(400, field);
    }

    server.stop().await;
}

/// `GET /v1/log/entries`: the entries under a term, in pages, each with a receipt that checks
/// offline; malformed queries get 400 naming the parameter.
async fn entries_are_found_by_term_with_their_receipts(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(backend, dir.path()).await;
    let served = server.state.log.clone().unwrap();
    let vkey = served.key.verifier_key().to_string();
    let token = server.token("observer", &[SC]);
    let client = reqwest::Client::new();
    let get = |query: &str| {
        client
            .get(format!("{}/v1/log/entries?{query}", server.base))
            .bearer_auth(&token)
            .send()
    };
    // 150 entries of one site, each with an OVN of its own.
    let indexed: Vec<(Vec<u8>, Vec<String>)> = (0..150)
        .map(|i| {
            let mut r = Record {
                kind: Kind::SiteNotified,
                time: "2026-11-27T21:00:00Z".into(),
                party: "ngo".into(),
                subject: "site-a".into(),
                body: Default::default(),
            };
            r.body.insert("ovn".into(), format!("o-{i}").into());
            (r.to_bytes().unwrap(), r.index_terms())
        })
        .collect();
    let log = served.log.clone();
    tokio::task::spawn_blocking(move || log.append_indexed(indexed).unwrap())
        .await
        .unwrap();

    let one = answer(get("term=ovn:o-7").await.unwrap()).await;
    one.expect(200);
    assert_eq!(one.body["term"], "ovn:o-7");
    assert_eq!(one.body["entries"].as_array().unwrap().len(), 1);
    assert!(one.body.get("next_after").is_none());
    let (index, record) = crate::receipts::checked_receipt(&one.body["entries"][0], &vkey);
    assert_eq!(index, 7);
    assert_eq!(record.body["ovn"], "o-7");

    let first = answer(get("term=subject:site-a").await.unwrap()).await;
    first.expect(200);
    let page = first.body["entries"].as_array().unwrap();
    assert_eq!(page.len(), 100);
    assert_eq!(first.body["next_after"], 99);
    let rest = answer(get("term=subject:site-a&after=99&limit=60").await.unwrap()).await;
    rest.expect(200);
    let rest_page = rest.body["entries"].as_array().unwrap();
    assert_eq!(rest_page.len(), 50);
    assert!(rest.body.get("next_after").is_none());
    let indexes: Vec<u64> = page
        .iter()
        .chain(rest_page)
        .map(|e| crate::receipts::checked_receipt(e, &vkey).0)
        .collect();
    assert_eq!(indexes, (0..150).collect::<Vec<u64>>());

    let none = answer(get("term=key:nobody").await.unwrap()).await;
    none.expect(200);
    assert_eq!(none.body["entries"], serde_json::json!([]));

    let long = format!("term=ovn:{}", "x".repeat(600));
    for (query, field) in [
        ("", "term"),
        ("term=ovn", "term"),
        ("term=ovn:", "term"),
        ("term=colour:red", "term"),
        ("term=ovn:a%0Ab", "term"),
        (long.as_str(), "term"),
        ("term=ovn:o-7&limit=0", "limit"),
        ("term=ovn:o-7&limit=101", "limit"),
        ("term=ovn:o-7&after=-1", "after"),
        ("term=ovn:o-7&since=3", "since"),
    ] {
        answer(get(query).await.unwrap())
            .await
            .expect_error(400, field);
    }
    let anonymous = client
        .get(format!("{}/v1/log/entries?term=ovn:o-7", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    server.stop().await;
}

backend_tests!(
    the_log_serves_checkpoints_and_proofs_that_verify,
    entries_are_found_by_term_with_their_receipts,
);
