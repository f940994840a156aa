//! Webhooks over real HTTP: a loopback receiver that is down at first, then fails once, gets
//! every notification of its party in order, each signed with the party's secret; the
//! registry never shows the secret; a bad webhook is refused naming the field.

use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deconflict_core::limits::Limits;
use deconflict_humanitarian::party::Webhook;
use deconflict_server::config::Humanitarian;
use deconflict_server::webhook::{self, Settings};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::notifications::{parties, token, ALPHA, BRAVO, COORD, NGO};

pub const SECRET: &str = "a secret of the NGO, 0123456789";

/// One delivery a receiver got: its signature, event id and event type headers, its body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub signature: String,
    pub event_id: String,
    pub kind: String,
    pub body: Bytes,
}

/// What a receiver got.
pub type Received = Arc<Mutex<Vec<Delivery>>>;

/// A webhook receiver on `port` that answers 500 to its first `fail_first` deliveries.
pub async fn receiver(port: u16, fail_first: usize) -> Received {
    let got: Received = Arc::default();
    let failures = Arc::new(AtomicUsize::new(fail_first));
    let state = (got.clone(), failures);
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State((got, failures)): State<(Received, Arc<AtomicUsize>)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    if failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let h = |name: &str| {
                        headers
                            .get(name)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    got.lock().unwrap().push(Delivery {
                        signature: h(webhook::SIGNATURE_HEADER),
                        event_id: h(webhook::EVENT_ID_HEADER),
                        kind: h(webhook::EVENT_TYPE_HEADER),
                        body,
                    });
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    got
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `got` holds `n` deliveries.
pub async fn received(got: &Received, n: usize, within: Duration) -> Vec<Delivery> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_receiver_down_at_first_gets_every_notification_signed_in_order(backend: Backend) {
    let port = free_port();
    let mut ps = parties();
    for p in &mut ps {
        if p.id == NGO {
            p.webhook = Some(Webhook {
                url: format!("http://127.0.0.1:{port}/hook"),
                secret: SECRET.into(),
            });
        }
    }
    let humanitarian = Humanitarian {
        parties: ps,
        ..Humanitarian::default()
    };
    let app = spawn_app_configured(backend, Limits::default(), humanitarian).await;
    let deliveries = webhook::spawn(
        app.state.clone(),
        Settings {
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
            lease: Duration::from_secs(60),
            instance: "test".into(),
        },
    );
    // Two conflicts while nothing listens: the writes are answered all the same.
    crate::notifications::site_and_operation(&app).await;
    app.put(
        &format!("{OI}/{}", new_id()),
        &token(&app, BRAVO),
        &intent(volume(46.40, 6.50, 0.01, 70, 90), &[]),
    )
    .await
    .expect(201);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let receiving = receiver(port, 1).await;
    let got = received(&receiving, 2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let listed = app.get("/v1/notifications", &token(&app, NGO)).await;
    let now = chrono::Utc::now().timestamp();
    for (
        i,
        Delivery {
            signature,
            event_id,
            kind,
            body,
        },
    ) in got.iter().enumerate()
    {
        assert_eq!(kind, "notification", "no log, no receipts");
        assert!(
            webhook::verify(SECRET, signature, body, now, 60),
            "bad signature {signature}"
        );
        assert!(!webhook::verify(
            "another secret 0123",
            signature,
            body,
            now,
            60
        ));
        assert_eq!(event_id, &(i + 1).to_string());
        let n: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(n, listed.body["notifications"][i]);
    }
    // Each was delivered once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiving.lock().unwrap().len(), 2);
    deliveries.abort();
}

async fn the_registry_keeps_webhook_secrets_and_refuses_bad_webhooks(backend: Backend) {
    let app = crate::notifications::app(backend).await;
    let coord = token(&app, COORD);
    let body = |url: &str, secret: &str| {
        json!({"role": "humanitarian", "name": "Water NGO",
               "webhook": {"url": url, "secret": secret}})
    };
    app.put(
        "/v1/parties/water",
        &coord,
        &body("https://water.example/hook", "short"),
    )
    .await
    .expect_error(400, "webhook.secret");
    app.put("/v1/parties/water", &coord, &body("mailto:x", SECRET))
        .await
        .expect_error(400, "webhook.url");
    app.put(
        "/v1/parties/water",
        &coord,
        &json!({"role": "humanitarian", "webhook": {"url": "https://w.example"}}),
    )
    .await
    .expect_error(400, "webhook");
    app.get("/v1/parties/water", &coord).await.expect(404);
    let created = app
        .put(
            "/v1/parties/water",
            &coord,
            &body("https://water.example/hook", SECRET),
        )
        .await;
    created.expect(201);
    assert!(!created.text.contains(SECRET));
    assert_eq!(created.body["webhook"]["url"], "https://water.example/hook");
    // The party itself and coordinators see the URL; others not even that; nobody the secret.
    for (who, sees_url) in [("water", true), (COORD, true), (ALPHA, false)] {
        let t = app.token(who, &[SC]);
        let one = app.get("/v1/parties/water", &t).await;
        one.expect(200);
        let all = app.get("/v1/parties", &t).await;
        all.expect(200);
        for text in [&one.text, &all.text] {
            assert!(!text.contains(SECRET), "{text}");
            assert_eq!(
                text.contains("water.example/hook"),
                sees_url,
                "{who}: {text}"
            );
        }
    }
}

backend_tests!(
    a_receiver_down_at_first_gets_every_notification_signed_in_order,
    the_registry_keeps_webhook_secrets_and_refuses_bad_webhooks,
);
