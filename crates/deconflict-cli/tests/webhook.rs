//! Webhook deliveries survive `kill -9`: a real server process makes a notification for a
//! party whose webhook (a real loopback receiver) is down, retries, is killed, restarts on the
//! same data folder, and the receiver, once up, gets that notification and the next, each
//! followed by its log receipt, each once, in order, signed with the party's secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, wait_healthy};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{SecondsFormat, Utc};
use deconflict_auth::DevKeys;
use deconflict_server::webhook;
use serde_json::{json, Value};

const SECRET: &str = "the cell's webhook secret 42";

fn start(data: &Path, config: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(["serve", "--dev", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

/// Each delivery's signature, event type and event id headers, and its body.
type Received = Arc<Mutex<Vec<(String, String, String, Bytes)>>>;

async fn receiver(port: u16) -> Received {
    let got: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(got): State<Received>, headers: HeaderMap, body: Bytes| async move {
                    let h = |n: &str| headers[n].to_str().unwrap().to_owned();
                    got.lock().unwrap().push((
                        h(webhook::SIGNATURE_HEADER),
                        h(webhook::EVENT_TYPE_HEADER),
                        h(webhook::EVENT_ID_HEADER),
                        body,
                    ));
                    StatusCode::OK
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    got
}

async fn wait_for(got: &Received, n: usize) -> Vec<(String, String, String, Bytes)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An Accepted operation over the hospital, from `from` to `to` minutes ahead.
fn operation(from: i64, to: i64) -> Value {
    let t = |m: i64| {
        json!({"value": (Utc::now() + chrono::Duration::minutes(m))
            .to_rfc3339_opts(SecondsFormat::Millis, true), "format": "RFC3339"})
    };
    json!({
        "extents": [{
            "volume": {
                "outline_circle": {"center": {"lat": 36.2, "lng": 37.15},
                                   "radius": {"value": 300, "units": "M"}},
                "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}
            },
            "time_start": t(from),
            "time_end": t(to)
        }],
        "state": "Accepted",
        "uss_base_url": "https://alpha.example",
        "key": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_survive_kill_9_and_a_receiver_down_at_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = DevKeys::load_or_create(&data).unwrap();
    let token = |sub: &str| {
        keys.sign(
            sub,
            ["utm.strategic_coordination"],
            "localhost",
            deconflict_auth::DEV_ISSUER,
            Duration::from_secs(3600),
        )
    };
    let hook_port = free_port();
    let config = dir.path().join("deconflict.toml");
    std::fs::write(
        &config,
        format!(
            "[humanitarian]\nwebhook_retry_max_secs = 1\n\
             [[humanitarian.party]]\nid = \"cell\"\nrole = \"humanitarian\"\n\
             webhook = {{ url = \"http://127.0.0.1:{hook_port}/hook\", secret = \"{SECRET}\" }}\n\
             [[humanitarian.party]]\nid = \"alpha\"\nrole = \"armed\"\ncontact = \"alpha ops\"\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start(&data, &config, port);
    wait_healthy(&client, &base).await;

    let site = client
        .post(format!("{base}/v1/sites"))
        .bearer_auth(token("cell"))
        .json(
            &json!({"external_id": "H-1", "name": "Hospital", "category": "hospital",
            "geometry": {"type": "Point", "coordinates": [37.15, 36.2]}, "radius_m": 150}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(site.status(), 201);
    let put_op = |from, to| {
        let req = client
            .put(format!(
                "{base}/dss/v1/operational_intent_references/{}",
                uuid::Uuid::new_v4()
            ))
            .bearer_auth(token("alpha"))
            .json(&operation(from, to));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(put_op(10, 40).await, 201);
    // The receiver is down: the server tries, fails, backs off; then it is killed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let mut server = start(&data, &config, port);
    wait_healthy(&client, &base).await;
    // The log's public key, as a party keeps it.
    let key = client
        .get(format!("{base}/v1/log/key"))
        .bearer_auth(token("cell"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let got = receiver(hook_port).await;
    let first = wait_for(&got, 2).await;
    assert_eq!(
        first.len(),
        2,
        "the notification made before the kill arrives, then its receipt"
    );
    assert_eq!(put_op(50, 70).await, 201);
    let both = wait_for(&got, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = got.lock().unwrap().clone();
    server.kill().unwrap();
    server.wait().unwrap();

    assert_eq!(both.len(), 4);
    assert_eq!(all.len(), 4, "each delivered once: {all:?}");
    let now = Utc::now().timestamp();
    for (i, pair) in all.chunks(2).enumerate() {
        let seq = i + 1;
        for (signature, _, event_id, body) in pair {
            assert!(webhook::verify(SECRET, signature, body, now, 300));
            assert_eq!(event_id, &seq.to_string());
        }
        let (_, kind, _, body) = &pair[0];
        assert_eq!(kind, "notification");
        let n: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(n["recipient"], "cell");
        assert_eq!(n["seq"], seq);
        assert_eq!(n["about"], "conflict");
        assert_eq!(n["disclosure"]["operator"]["contact"], "alpha ops");
        let (_, kind, _, body) = &pair[1];
        assert_eq!(kind, "receipt");
        let r: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(r["notification"], n["id"]);
        let record = deconflict_tlog::Record::from_bytes(
            r["receipt"]["record"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
        assert_eq!(record.kind, deconflict_tlog::Kind::Notification);
        assert_eq!(record.subject, n["id"].as_str().unwrap());
    }

    // What the cell kept, checked offline with `deconflict verify-receipt`.
    let (kept_n, kept_r) = (dir.path().join("n.json"), dir.path().join("r.json"));
    std::fs::write(&kept_n, &all[0].3).unwrap();
    std::fs::write(&kept_r, &all[1].3).unwrap();
    let verify = |key: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_deconflict"))
            .arg("verify-receipt")
            .arg(&kept_r)
            .args(["--key", key.trim(), "--content"])
            .arg(&kept_n)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, out) = verify(&key);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("verified: entry "), "{out}");
    let mut changed = all[0].3.to_vec();
    let at = changed.iter().position(|&b| b == b'c').unwrap();
    changed[at] = b'k';
    std::fs::write(&kept_n, &changed).unwrap();
    let (code, out) = verify(&key);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("NOT verified: content:"), "{out}");
    std::fs::write(&kept_n, &all[0].3).unwrap();
    let (other, _) = deconflict_tlog::LogKey::generate("localhost/log").unwrap();
    let (code, out) = verify(other.verifier_key());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("NOT verified: checkpoint:"), "{out}");
}
