//! A write that returned 2xx survives `kill -9` of the server: a real server process is killed
//! in the middle of a write load, restarted on the same data folder, and every acknowledged
//! intent must be there with the OVN the client was given.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use deconflict_auth::DevKeys;
use serde_json::{json, Value};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(["serve", "--dev", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthy")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
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

    let mut server = start(&data, port);
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

    let mut server = start(&data, port);
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
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "kill -9 after {} acknowledged writes: {} missing after restart",
        acked.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}
