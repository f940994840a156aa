//! A write that returned 2xx survives `kill -9` of the server: a real server process is killed
//! in the middle of a write load, restarted on the same data folder (or PostgreSQL database),
//! and every acknowledged intent must be there with the OVN the client was given, and its
//! record in the tamper-evident log, once: `deconflict log-export` then `deconflict verify`
//! accept the log, and the bundle holds a `dss_write_key` entry for each acknowledged write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, wait_healthy};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use deconflict_auth::DevKeys;
use serde_json::{json, Value};

/// `--store URL` for a PostgreSQL run, nothing for SQLite.
fn store_args(store: Option<&str>) -> Vec<String> {
    store
        .map(|url| vec!["--store".to_owned(), url.to_owned()])
        .unwrap_or_default()
}

fn start(data: &Path, port: u16, store: Option<&str>) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(["serve", "--dev", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .args(store_args(store))
        .env_remove("DECONFLICT_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

fn intent(n: usize) -> Value {
    // Disjoint 100 m squares on a grid, so that no write needs a key.
    let lat = 10.0 + (n / 100) as f64 * 0.002;
    let lng = 20.0 + (n % 100) as f64 * 0.002;
    let d = 0.0009;
    let now = Utc::now();
    let t = |x: chrono::DateTime<Utc>| json!({"value": x.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "format": "RFC3339"});
    json!({
        "extents": [{
            "volume": {
                "outline_polygon": {"vertices": [
                    {"lat": lat, "lng": lng}, {"lat": lat, "lng": lng + d},
                    {"lat": lat + d, "lng": lng + d}, {"lat": lat + d, "lng": lng}]},
                "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}
            },
            "time_start": t(now),
            "time_end": t(now + chrono::Duration::hours(2))
        }],
        "state": "Accepted",
        "uss_base_url": "https://crash.example",
        "key": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    survive_kill_9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    if !common::available(
        "crash::acknowledged_writes_survive_kill_9_on_postgres",
        &[common::PG_ENV],
    ) {
        return;
    }
    let db = common::TestDb::create();
    survive_kill_9(Some(&db.url)).await;
}

async fn survive_kill_9(store: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = DevKeys::load_or_create(&data).unwrap();
    let token = keys.sign(
        "crash-tester",
        ["utm.strategic_coordination"],
        "localhost",
        deconflict_auth::DEV_ISSUER,
        Duration::from_secs(3600),
    );
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let mut server = start(&data, port, store);
    wait_healthy(&client, &base).await;

    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, base, token, acked, next) = (
            client.clone(),
            base.clone(),
            token.clone(),
            acked.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let id = uuid::Uuid::new_v4().to_string();
                let resp = client
                    .put(format!("{base}/dss/v1/operational_intent_references/{id}"))
                    .bearer_auth(&token)
                    .json(&intent(n))
                    .send()
                    .await;
                let Ok(resp) = resp else { return };
                if resp.status().as_u16() != 201 {
                    return;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    return;
                };
                let ovn = body["operational_intent_reference"]["ovn"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                acked.lock().unwrap().push((id, ovn));
            }
        }));
    }
    // Let the load run, then kill the server without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} writes acknowledged",
        acked.len()
    );

    let mut server = start(&data, port, store);
    wait_healthy(&client, &base).await;
    let mut missing = Vec::new();
    for (id, ovn) in &acked {
        let r = client
            .get(format!("{base}/dss/v1/operational_intent_references/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() != 200 {
            missing.push(id.clone());
            continue;
        }
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["operational_intent_reference"]["ovn"],
            json!(ovn),
            "{id}"
        );
    }
    eprintln!(
        "kill -9 after {} acknowledged writes: {} missing after restart",
        acked.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");

    // The log: the restarted server forwards what the kill left in the outbox (at once on
    // SQLite; on PostgreSQL, where it might be another live instance's, after 10 s); wait until
    // a checkpoint covers every acknowledged write and no new one comes for two intervals.
    let (mut size, mut stable_since) = (0u64, Instant::now());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client
            .get(format!("{base}/v1/log/checkpoint"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 200 {
            let note = r.text().await.unwrap();
            let s: u64 = note.lines().nth(1).unwrap().parse().unwrap();
            if s != size {
                (size, stable_since) = (s, Instant::now());
            }
        }
        if size >= acked.len() as u64 && stable_since.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(Instant::now() < deadline, "the log holds {size} entries");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let bundle = dir.path().join("bundle.json");
    let export = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(["log-export", "--data-dir"])
        .arg(&data)
        .args(store_args(store))
        .arg("--out")
        .arg(&bundle)
        .env_remove("DECONFLICT_CONFIG")
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let verify = Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .arg("verify")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let mut logged = std::collections::HashMap::new();
    for e in bundle["entries"].as_array().unwrap() {
        let r =
            deconflict_tlog::Record::from_bytes(e["record"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(r.kind, deconflict_tlog::Kind::DssWriteKey);
        let ovn = r.body["ovn"].as_str().unwrap().to_owned();
        let twice = logged.insert(ovn, r.subject.clone());
        assert!(twice.is_none(), "{} is logged twice", r.subject);
    }
    let unlogged: Vec<&String> = acked
        .iter()
        .filter(|(id, ovn)| logged.get(ovn) != Some(id))
        .map(|(id, _)| id)
        .collect();
    eprintln!(
        "the log holds {} write records; {} acknowledged writes are not in it",
        logged.len(),
        unlogged.len()
    );
    assert!(
        unlogged.is_empty(),
        "acknowledged, not logged: {unlogged:?}"
    );
}
