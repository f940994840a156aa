//! `spawn_app`, tokens and request bodies shared by the tests, and the backends they run on.
//!
//! Every test that goes through the store takes a [`Backend`] and is listed in its module's
//! [`backend_tests!`], which makes an `on_sqlite::name` and an `on_postgres::name` test of it.
//! A PostgreSQL test gets a database of its own (`CREATE DATABASE t_<uuid>` on the server in
//! `DECONFLICT_TEST_POSTGRES`, dropped afterwards). Without that variable it fails under
//! `CI=true` and otherwise prints a loud NOT RUN notice and passes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use deconflict_auth::{scopes, DevKeys, Verifier, VerifierConfig, DEV_ISSUER};
use deconflict_core::limits::Limits;
use deconflict_core::store::Store;
use deconflict_humanitarian::party::{Party, Role};
use deconflict_server::config::{Humanitarian, StoreConfig};
use deconflict_server::layer::Layer;
use deconflict_server::{router, AppState, Config};
use deconflict_store::{PostgresStore, SqliteStore};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const SC: &str = scopes::STRATEGIC_COORDINATION;
pub const CM: &str = scopes::CONSTRAINT_MANAGEMENT;
pub const CP: &str = scopes::CONSTRAINT_PROCESSING;
pub const CMSA: &str = scopes::CONFORMANCE_MONITORING_SA;
pub const AA: &str = scopes::AVAILABILITY_ARBITRATION;

/// The store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server in `DECONFLICT_TEST_POSTGRES`.
    Postgres,
}

/// Makes `on_sqlite::$name` and `on_postgres::$name` tests of each `async fn $name(Backend)`
/// of the module.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::helpers::postgres_available(
                        concat!(module_path!(), "::", stringify!($name)),
                    ) {
                        super::$name($crate::helpers::Backend::Postgres).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

pub use deconflict_testkit::{TestDb, PG_ENV};

/// Whether PostgreSQL tests can run (see [`deconflict_testkit::available`]).
pub fn postgres_available(test: &str) -> bool {
    deconflict_testkit::available(test, &[PG_ENV])
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub keys: Arc<DevKeys>,
    pub state: AppState,
    /// Seconds added to the wall clock as the server sees it.
    pub clock_offset: Arc<AtomicI64>,
    _dir: TempDir,
    /// Dropped after the fields above, so after the test's own handle on the store.
    _db: Option<TestDb>,
}

/// A store of the given kind, fresh; the database (for PostgreSQL) goes with the app.
pub async fn open_store(
    backend: Backend,
    dir: &std::path::Path,
) -> (Arc<dyn Store>, Option<TestDb>) {
    match backend {
        Backend::Sqlite => (
            Arc::new(SqliteStore::open(&dir.join("dss.sqlite3")).unwrap()),
            None,
        ),
        Backend::Postgres => {
            let db = tokio::task::spawn_blocking(TestDb::create).await.unwrap();
            let url = db.url.clone();
            let store = tokio::task::spawn_blocking(move || PostgresStore::open(&url))
                .await
                .unwrap()
                .unwrap();
            (Arc::new(store), Some(db))
        }
    }
}

/// A development configuration for the whole `serve` path on `backend`, data in `dir/data`,
/// listening on a free loopback port; the PostgreSQL database (if any) goes with it.
pub fn serve_config(backend: Backend, dir: &std::path::Path) -> (Config, Option<TestDb>) {
    let db = (backend == Backend::Postgres).then(TestDb::create);
    let store = match &db {
        None => StoreConfig::Sqlite,
        Some(db) => StoreConfig::Postgres {
            url: db.url.clone(),
        },
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.join("data"),
        store,
        dev: true,
        ..Config::default()
    };
    (config, db)
}

/// A whole `serve` (the path `deconflict serve` runs: log, recorder, checkpointer ...) on
/// `backend` with data in `dir/data`, running until [`Served::stop`].
pub struct Served {
    pub base: String,
    pub state: AppState,
    pub keys: DevKeys,
    /// What it was started with (for [`Served::another`]).
    pub config: Config,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<Result<(), deconflict_server::ServeError>>,
    _db: Option<TestDb>,
}

impl Served {
    pub async fn start(backend: Backend, dir: &std::path::Path) -> Self {
        Self::start_with(backend, dir, &[]).await
    }

    /// With `parties` registered.
    pub async fn start_with(
        backend: Backend,
        dir: &std::path::Path,
        parties: &[(&str, Role)],
    ) -> Self {
        let (mut config, db) = serve_config(backend, dir);
        config.humanitarian.parties = parties
            .iter()
            .map(|(id, role)| Party {
                id: (*id).to_owned(),
                role: *role,
                name: format!("Party {id}"),
                contact: None,
                webhook: None,
                public_key: None,
            })
            .collect();
        Self::run(config, db).await
    }

    /// Another instance of a pool: the same configuration (PostgreSQL database, data folder
    /// with its keys), its own port. Stop it before the first.
    pub async fn another(&self) -> Self {
        Self::run(self.config.clone(), None).await
    }

    async fn run(config: Config, db: Option<TestDb>) -> Self {
        let data_dir = config.data_dir.clone();
        let server = deconflict_server::Server::bind(config.clone())
            .await
            .unwrap();
        let state = server.state().clone();
        let base = format!("http://{}", server.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let keys = DevKeys::load_or_create(&data_dir).unwrap();
        Self {
            base,
            state,
            keys,
            config,
            stop,
            running,
            _db: db,
        }
    }

    /// A token of `sub` with `scopes`, valid for a minute.
    pub fn token(&self, sub: &str, scopes: &[&str]) -> String {
        let scopes = scopes.iter().copied();
        let aud = "localhost";
        self.keys
            .sign(sub, scopes, aud, DEV_ISSUER, Duration::from_secs(60))
    }

    /// Shuts the server down and checks it stopped cleanly within 10 s.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.running)
            .await
            .expect("the server stops within 10 s")
            .unwrap()
            .unwrap();
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Limits::default()).await
}

pub async fn spawn_app_with(backend: Backend, limits: Limits) -> TestApp {
    spawn_app_configured(backend, limits, Humanitarian::default()).await
}

/// An app whose configuration file registers `parties` (id, role).
pub async fn spawn_app_with_parties(backend: Backend, parties: &[(&str, Role)]) -> TestApp {
    let humanitarian = Humanitarian {
        parties: parties
            .iter()
            .map(|(id, role)| Party {
                id: (*id).to_owned(),
                role: *role,
                name: format!("Party {id}"),
                contact: None,
                webhook: None,
                public_key: None,
            })
            .collect(),
        ..Humanitarian::default()
    };
    spawn_app_configured(backend, Limits::default(), humanitarian).await
}

pub async fn spawn_app_configured(
    backend: Backend,
    limits: Limits,
    humanitarian: Humanitarian,
) -> TestApp {
    spawn(backend, limits, humanitarian, false).await
}

/// [`spawn_app_configured`] with the tamper-evident log beside the store, its recorder and the
/// recorder's forwarder, as `serve` runs them.
pub async fn spawn_app_logged(backend: Backend, humanitarian: Humanitarian) -> TestApp {
    spawn(backend, Limits::default(), humanitarian, true).await
}

async fn spawn(
    backend: Backend,
    limits: Limits,
    humanitarian: Humanitarian,
    logged: bool,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(DevKeys::load_or_create(dir.path()).unwrap());
    let verifier = Verifier::new(VerifierConfig::default().with_dev_keys(&keys))
        .await
        .unwrap();
    let (store, db) = open_store(backend, dir.path()).await;
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = Layer::new(&humanitarian, format!("http://{addr}")).unwrap();
    let state = AppState::new(store, Arc::new(verifier), limits)
        .with_clock(Arc::new(move || {
            Utc::now() + chrono::Duration::seconds(offset.load(Ordering::SeqCst))
        }))
        .with_layer(layer);
    let state = if logged {
        let config = Config {
            data_dir: dir.path().join("log"),
            store: match &db {
                None => StoreConfig::Sqlite,
                Some(db) => StoreConfig::Postgres {
                    url: db.url.clone(),
                },
            },
            ..Config::default()
        };
        std::fs::create_dir_all(&config.data_dir).unwrap();
        let log = tokio::task::spawn_blocking(move || {
            deconflict_server::tlog::open_blocking(&config).unwrap()
        })
        .await
        .unwrap();
        let state = state.with_log(log, backend == Backend::Sqlite);
        state.recorder.spawn_forwarder();
        state
    } else {
        state
    };
    let app = router(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        keys,
        state,
        clock_offset,
        _dir: dir,
        _db: db,
    }
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }

    /// Asserts a 4xx whose JSON message names `field`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, field: &str) -> &Self {
        self.expect(status);
        assert!(
            self.message().contains(field),
            "message {:?} does not name {field}",
            self.message()
        );
        self
    }
}

impl TestApp {
    pub fn token(&self, sub: &str, scopes: &[&str]) -> String {
        self.keys.sign(
            sub,
            scopes,
            "localhost",
            DEV_ISSUER,
            Duration::from_secs(3600),
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn time(t: DateTime<Utc>) -> Value {
    json!({"value": t.to_rfc3339_opts(SecondsFormat::Millis, true), "format": "RFC3339"})
}

/// A square `size` degrees wide with its south-west corner at (`lat`, `lng`), 0-100 m, from
/// `start_min` to `end_min` minutes after now.
pub fn volume(lat: f64, lng: f64, size: f64, start_min: i64, end_min: i64) -> Value {
    let now = Utc::now();
    json!({
        "volume": {
            "outline_polygon": {"vertices": [
                {"lat": lat, "lng": lng},
                {"lat": lat, "lng": lng + size},
                {"lat": lat + size, "lng": lng + size},
                {"lat": lat + size, "lng": lng},
            ]},
            "altitude_lower": {"value": 0.0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 100.0, "reference": "W84", "units": "M"},
        },
        "time_start": time(now + chrono::Duration::minutes(start_min)),
        "time_end": time(now + chrono::Duration::minutes(end_min)),
    })
}

/// Somewhere over the lake of Geneva, and somewhere far from it.
pub fn here() -> Value {
    volume(46.40, 6.50, 0.01, 5, 65)
}
pub fn elsewhere() -> Value {
    volume(-33.90, 151.20, 0.01, 5, 65)
}

/// An Accepted intent with an implicit subscription.
pub fn intent(extent: Value, key: &[&str]) -> Value {
    json!({
        "extents": [extent],
        "key": key,
        "state": "Accepted",
        "uss_base_url": "https://uss.example/api",
        "new_subscription": {"uss_base_url": "https://uss.example/api"},
    })
}

pub fn constraint(extent: Value) -> Value {
    json!({"extents": [extent], "uss_base_url": "https://uss.example/api"})
}

pub fn subscription(extent: Value, ois: bool, constraints: bool) -> Value {
    json!({
        "extents": extent,
        "uss_base_url": "https://watcher.example/api",
        "notify_for_operational_intents": ois,
        "notify_for_constraints": constraints,
    })
}

pub fn query(extent: Value) -> Value {
    json!({"area_of_interest": extent})
}

pub const OI: &str = "/dss/v1/operational_intent_references";
pub const CR: &str = "/dss/v1/constraint_references";
pub const SUB: &str = "/dss/v1/subscriptions";
