//! JWKS key source and the dummy OAuth router, over real HTTP on loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use deconflict_auth::{dev_oauth_router, AuthError, DevKeys, Verifier, VerifierConfig};
use serde_json::Value;

use crate::helpers::now;

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn jwks_config(url: String, min_refresh: Duration) -> VerifierConfig {
    VerifierConfig {
        jwks_url: Some(url),
        audiences: vec!["localhost".to_owned()],
        jwks_min_refresh_interval: min_refresh,
        jwks_refresh_interval: Duration::from_secs(3600),
        ..VerifierConfig::default()
    }
}

async fn get_token(client: &reqwest::Client, base: &str, query: &str) -> (u16, Value) {
    let resp = client
        .get(format!("{base}/token?{query}"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn token_from_dummy_oauth_verifies_through_its_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(DevKeys::load_or_create(dir.path()).unwrap());
    let addr = serve(dev_oauth_router(Arc::clone(&keys))).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let v = Verifier::new(jwks_config(
        format!("{base}/.well-known/jwks.json"),
        Duration::from_secs(30),
    ))
    .await
    .unwrap();

    let expire = now() + 300;
    let (status, body) = get_token(
        &client,
        &base,
        &format!(
            "sub=uss2&scope=utm.strategic_coordination%20utm.availability_arbitration\
             &intended_audience=localhost&issuer=test-issuer&expire={expire}"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let claims = v.verify(token).unwrap();
    assert_eq!(claims.sub, "uss2");
    assert_eq!(claims.iss, "test-issuer");
    assert_eq!(claims.exp, expire);
    assert!(claims.scopes.has("utm.availability_arbitration"));
    assert_eq!(claims.scopes.len(), 2);

    // The /jwks.json alias serves the same set, with the dev key's kid.
    let jwks: Value = client
        .get(format!("{base}/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], keys.kid());
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private part published"
    );

    // Defaults: sub uss1, an hour of life, no scope.
    let (status, body) = get_token(&client, &base, "intended_audience=localhost").await;
    assert_eq!(status, 200);
    let claims = v.verify(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims.sub, "uss1");
    assert!((claims.exp - (now() + 3600)).abs() < 10);
    assert!(claims.scopes.is_empty());

    // A key the JWKS does not publish is refused, naming its kid.
    let other_dir = tempfile::tempdir().unwrap();
    let other = DevKeys::load_or_create(other_dir.path()).unwrap();
    let token = other.sign("x", ["s"], "localhost", "i", Duration::from_secs(60));
    let err = v.verify(&token).unwrap_err();
    assert_eq!(
        err,
        AuthError::UnknownKey {
            alg: "ES256",
            kid: Some(other.kid().to_owned())
        }
    );
}

#[tokio::test]
async fn token_endpoint_rejects_bad_parameters_with_json_messages() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(DevKeys::load_or_create(dir.path()).unwrap());
    let base = format!("http://{}", serve(dev_oauth_router(keys)).await);
    let client = reqwest::Client::new();

    for (query, names) in [
        ("sub=uss1&scope=a", "intended_audience"),
        ("intended_audience=", "intended_audience"),
        ("intended_audience=localhost&expire=tomorrow", "expire"),
        ("intended_audience=localhost&expire=1000", "expire"),
        ("intended_audience=localhost&scope=a%22b", "scope"),
    ] {
        let (status, body) = get_token(&client, &base, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(names), "{query}: {message}");
    }
}

/// A JWKS server whose content the test swaps, counting fetches.
#[derive(Clone, Default)]
struct FakeIdp {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl FakeIdp {
    async fn start(keys: &[&DevKeys]) -> (Self, String) {
        let idp = FakeIdp::default();
        idp.publish(keys);
        let router = Router::new()
            .route(
                "/jwks",
                get(|State(idp): State<FakeIdp>| async move {
                    idp.fetches.fetch_add(1, Ordering::SeqCst);
                    Json(idp.jwks.lock().unwrap().clone())
                }),
            )
            .with_state(idp.clone());
        let url = format!("http://{}/jwks", serve(router).await);
        (idp, url)
    }

    fn publish(&self, keys: &[&DevKeys]) {
        let list: Vec<_> = keys.iter().map(|k| k.jwk().clone()).collect();
        *self.jwks.lock().unwrap() = serde_json::json!({ "keys": list });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn two_dev_keys() -> (DevKeys, DevKeys, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let a = DevKeys::load_or_create(&dir.path().join("a")).unwrap();
    let b = DevKeys::load_or_create(&dir.path().join("b")).unwrap();
    (a, b, dir)
}

fn token(keys: &DevKeys) -> String {
    keys.sign("uss1", ["s"], "localhost", "i", Duration::from_secs(60))
}

#[tokio::test]
async fn rotated_key_is_picked_up_in_the_background() {
    let (a, b, _dir) = two_dev_keys();
    let (idp, url) = FakeIdp::start(&[&a]).await;
    let v = Verifier::new(jwks_config(url, Duration::from_millis(200)))
        .await
        .unwrap();
    v.verify(&token(&a)).unwrap();
    assert!(matches!(
        v.verify(&token(&b)),
        Err(AuthError::UnknownKey { .. })
    ));

    idp.publish(&[&a, &b]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // Each failure asks for a refresh; `verify` itself never waits on the network.
        match v.verify(&token(&b)) {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() > deadline => panic!("never refreshed: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    // A removed key stops being trusted after the next refresh.
    idp.publish(&[&b]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while v.verify(&token(&a)).is_ok() {
        assert!(std::time::Instant::now() < deadline, "a is still trusted");
        // Unknown kids trigger refreshes, so use one to hurry it along.
        let (c, _, _d) = two_dev_keys();
        let _ = v.verify(&token(&c));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn unknown_kids_do_not_hammer_the_jwks() {
    let (a, b, _dir) = two_dev_keys();
    let (idp, url) = FakeIdp::start(&[&a]).await;
    let v = Verifier::new(jwks_config(url, Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(idp.fetches(), 1);
    for _ in 0..50 {
        assert!(v.verify(&token(&b)).is_err());
        assert!(v.verify_async(&token(&b)).await.is_err());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(idp.fetches(), 1, "refreshes must be rate limited");
}

#[tokio::test]
async fn verify_async_fetches_a_rotated_key_at_once() {
    let (a, b, _dir) = two_dev_keys();
    let (idp, url) = FakeIdp::start(&[&a]).await;
    let v = Verifier::new(jwks_config(url, Duration::ZERO))
        .await
        .unwrap();
    idp.publish(&[&b]);
    let claims = v.verify_async(&token(&b)).await.unwrap();
    assert_eq!(claims.sub, "uss1");
}

#[tokio::test]
async fn unreachable_jwks_is_not_fatal_and_is_explained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    drop(listener);
    let v = Verifier::new(jwks_config(url.clone(), Duration::from_secs(30)))
        .await
        .unwrap();
    let (a, _, _dir) = two_dev_keys();
    let err = v.verify(&token(&a)).unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable(_)), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}
