//! Timeouts, an unavailable store, the body limit and the party rate, with a store wrapper
//! that can be made slow or failing (it delegates everything else to the real SQLite store).
//! The wrapper's tests run on SQLite only (what they check is the server's handling of a slow
//! or failing store, the same for any backend; a real PostgreSQL outage is
//! `deconflict-cli/tests/pool.rs`); the body limit runs on both.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deconflict_core::limits::Limits;
use deconflict_core::model::Timestamp;
use deconflict_core::store::{Expired, ReadTx, Store, Tx};
use deconflict_core::{DssError, Result};
use deconflict_store::SqliteStore;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

struct Faulty {
    inner: SqliteStore,
    slow: AtomicBool,
    down: AtomicBool,
    _dir: tempfile::TempDir,
}

impl Faulty {
    fn check(&self) -> Result<()> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(400));
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(DssError::Unavailable(
                "disk /very/secret/path unplugged".into(),
            ));
        }
        Ok(())
    }
}

impl Store for Faulty {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.check()?;
        self.inner.read(f)
    }
    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.check()?;
        self.inner.write(f)
    }
    fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        self.check()?;
        self.inner.expired(cutoff)
    }
    fn health(&self) -> Result<()> {
        self.check()?;
        self.inner.health()
    }
}

async fn faulty_app(limits: Limits) -> (TestApp, Arc<Faulty>) {
    let mut app = spawn_app_with(Backend::Sqlite, limits).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Faulty {
        inner: SqliteStore::open(&dir.path().join("faulty.sqlite3")).unwrap(),
        slow: AtomicBool::new(false),
        down: AtomicBool::new(false),
        _dir: dir,
    });
    let mut state = app.state.clone();
    state.store = store.clone();
    state.request_timeout = Duration::from_millis(100);
    serve_instead(&mut app, state).await;
    (app, store)
}

/// Points `app` at a new server on `state` (a changed copy of its own).
async fn serve_instead(app: &mut TestApp, state: deconflict_server::AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    app.base = format!("http://{}", listener.local_addr().unwrap());
    app.state = state.clone();
    tokio::spawn(async move {
        axum::serve(listener, deconflict_server::router(state))
            .await
            .unwrap();
    });
}

/// A party that sends more than `party_rate` requests a second gets 429 with `Retry-After`,
/// naming the setting and the party; other parties, and the same party a second later, are
/// served.
#[tokio::test]
async fn a_party_over_its_rate_gets_429_and_others_are_served() {
    let mut app = spawn_app_with(Backend::Sqlite, Limits::default()).await;
    let mut state = app.state.clone();
    state.party_rate = Some(Arc::new(deconflict_server::rate::PartyRate::new(1)));
    serve_instead(&mut app, state).await;
    let (alpha, bravo) = (app.token("alpha", &[SC]), app.token("bravo", &[SC]));
    let path = format!("{OI}/{}", new_id());
    app.get(&path, &alpha).await.expect(404);
    let refused = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let refused = answer(refused).await;
    refused.expect_error(429, "party_rate");
    assert!(refused.message().contains("\"alpha\""), "{}", refused.text);
    app.get(&path, &bravo).await.expect(404);
    // A request without a valid token is refused for that, not counted against anybody.
    app.get(&path, "not-a-token").await.expect(401);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.get(&path, &alpha).await.expect(404);
}

#[tokio::test]
async fn a_slow_request_is_answered_503_after_the_timeout() {
    let (app, store) = faulty_app(Limits::default()).await;
    let t = app.token("uss1", &[SC]);
    app.get(&format!("{OI}/{}", new_id()), &t).await.expect(404);
    store.slow.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    app.get(&format!("{OI}/{}", new_id()), &t)
        .await
        .expect_error(503, "retry");
    assert!(started.elapsed() < Duration::from_millis(390));
}

#[tokio::test]
async fn an_unavailable_store_is_503_without_details() {
    let (app, store) = faulty_app(Limits::default()).await;
    let health = format!("{}/healthy", app.base);
    assert_eq!(app.client.get(&health).send().await.unwrap().status(), 200);
    store.down.store(true, Ordering::SeqCst);
    let r = answer(app.client.get(&health).send().await.unwrap()).await;
    r.expect(503);
    let t = app.token("uss1", &[SC]);
    let r = app
        .put(&format!("{OI}/{}", new_id()), &t, &intent(here(), &[]))
        .await;
    r.expect(503);
    assert!(!r.text.contains("secret"), "{}", r.text);
}

async fn a_body_over_the_configured_limit_is_413(backend: Backend) {
    let limits = Limits {
        max_body_bytes: 2048,
        ..Limits::default()
    };
    let app = spawn_app_with(backend, limits).await;
    let t = app.token("uss1", &[SC]);
    let id = new_id();
    let mut body = intent(here(), &[]);
    body["padding"] = json!("x".repeat(4096));
    app.put(&format!("{OI}/{id}"), &t, &body)
        .await
        .expect_error(413, "body");
    // Without a Content-Length (chunked) the limit holds too.
    let payload = body.to_string();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT {OI}/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {t}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n{:x}\r\n{payload}\r\n0\r\n\r\n",
        payload.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"message\":\"body: "), "{reply}");
    app.get(&format!("{OI}/{id}"), &t).await.expect(404);
}

async fn a_body_under_the_default_limit_is_accepted_even_above_axums_own_default(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.token("uss1", &[SC]);
    let mut body = intent(here(), &[]);
    body["padding"] = json!("x".repeat(3 * 1024 * 1024));
    app.put(&format!("{OI}/{}", new_id()), &t, &body)
        .await
        .expect(201);
}

backend_tests!(
    a_body_over_the_configured_limit_is_413,
    a_body_under_the_default_limit_is_accepted_even_above_axums_own_default,
);
