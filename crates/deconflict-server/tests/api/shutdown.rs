use std::time::Duration;

use deconflict_auth::{DevKeys, DEV_ISSUER};
use deconflict_server::{Config, Server};

use crate::helpers::*;

/// The whole `serve` path: config, dev keys from the data directory, the configured store
/// (opened, and for PostgreSQL migrated, by the server itself), purge task, graceful shutdown.
async fn serve_answers_then_stops_when_asked(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, _db) = serve_config(backend, dir.path());
    config.purge_interval = Duration::from_secs(1);
    let server = Server::bind(config).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let keys = DevKeys::load_or_create(&dir.path().join("data")).unwrap();
    let token = keys.sign(
        "uss1",
        [SC],
        "localhost",
        DEV_ISSUER,
        Duration::from_secs(60),
    );
    let client = reqwest::Client::new();
    let id = new_id();
    let r = client
        .put(format!("{base}{OI}/{id}"))
        .bearer_auth(&token)
        .json(&intent(here(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server stops within 10 s")
        .unwrap()
        .unwrap();
    assert!(client.get(format!("{base}/healthy")).send().await.is_err());
}

#[tokio::test]
async fn outside_dev_mode_no_audience_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let err = Server::bind(config).await.err().expect("refused");
    assert!(err.to_string().contains("audience"), "{err}");
}

backend_tests!(serve_answers_then_stops_when_asked);
