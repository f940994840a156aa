//! Running the server: open the store (the embedded SQLite database, or a PostgreSQL database
//! shared by a pool of instances), set up token verification, bind, serve until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use deconflict_auth::{DevKeys, Verifier, VerifierConfig};
use deconflict_core::store::Store;
use deconflict_store::{PostgresStore, SqliteStore};
use tokio::net::TcpListener;

use crate::config::{Config, StoreConfig};
use crate::layer::Layer;
use crate::rate::PartyRate;
use crate::state::AppState;
use crate::{purge, router, tlog, webhook};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "deconflict.sqlite3";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the store {what}: {source}")]
    Store {
        /// The SQLite file, or the PostgreSQL URL without its password.
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("token verification: {0}")]
    Auth(#[from] deconflict_auth::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Startup(String),
}

/// A server bound to its address, not serving yet.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    config: Config,
}

/// How often the server looks for notifications past their acknowledgment deadline (or
/// every deadline, if shorter).
pub const ESCALATE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Server {
    /// Opens the store (SQLite in `config.data_dir`, or the PostgreSQL database of
    /// `config.store`, migrating its schema), builds the token verifier and binds the listener.
    pub async fn bind(config: Config) -> Result<Self, ServeError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let verifier = verifier(&config).await?;
        let store = open_store(&config).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let bound = listener.local_addr()?;
        let layer = Layer::new(&config.humanitarian, format!("http://{bound}"))
            .map_err(|e| ServeError::Startup(format!("humanitarian: {e}")))?;
        let reload = {
            let store = Arc::clone(&store);
            tokio::task::spawn_blocking(move || layer.reload(&*store).map(|()| layer))
        };
        let layer = reload
            .await
            .map_err(|e| ServeError::Startup(format!("reading the parties panicked: {e}")))?
            .map_err(|e| ServeError::Startup(format!("reading the parties: {e}")))?;
        let log = tlog::open(&config).await?;
        let mut state = AppState::new(store, Arc::new(verifier), config.limits.clone())
            .with_layer(layer)
            .with_log(log, matches!(config.store, StoreConfig::Sqlite));
        state.request_timeout = config.request_timeout;
        state.party_rate = config.party_rate.map(|n| Arc::new(PartyRate::new(n)));
        Ok(Self {
            listener,
            state,
            config,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests
    /// finish (a write already in the store commits before the process exits).
    pub async fn run<F>(self, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let purger = purge::spawn(
            self.state.clone(),
            self.config.purge_interval,
            self.config.purge_grace,
        );
        // A pool's other instances may register parties; one instance alone sees all its own.
        let pooled = matches!(self.config.store, StoreConfig::Postgres { .. });
        let refresher = pooled.then(|| {
            self.state
                .layer
                .spawn_refresh(Arc::clone(&self.state.store))
        });
        let checkpointer = self.state.log.as_deref().map(tlog::spawn_checkpointer);
        let forwarder = self.state.recorder.spawn_forwarder();
        let mut deliveries = webhook::Settings {
            // The bound address, not the configured one: instances started with port 0 on
            // one machine (tests do) must not share a name, or both would deliver.
            instance: webhook::instance_name(
                &webhook::host_name(),
                &self.local_addr()?.to_string(),
                &self.config.data_dir,
            ),
            ..webhook::Settings::default()
        };
        if let Some(max) = self.config.humanitarian.webhook_retry_max {
            deliveries.retry_max = max;
        }
        let webhooks = webhook::spawn(self.state.clone(), deliveries);
        let escalator = crate::routes::spawn_escalator(
            self.state.clone(),
            ESCALATE_EVERY.min(self.state.layer.ack_deadline),
        );
        tracing::info!(address = %self.local_addr()?, "deconflict DSS listening");
        let app = router(self.state.clone());
        let events = Arc::clone(&self.state.events);
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                events.close();
            })
            .await;
        purger.abort();
        webhooks.abort();
        escalator.abort();
        if let Some(c) = checkpointer {
            c.abort();
        }
        if let Some(f) = forwarder {
            f.abort();
        }
        if let Some(r) = refresher {
            r.abort();
        }
        tracing::info!("deconflict DSS stopped");
        Ok(served?)
    }
}

/// Opens the configured store off the async threads (both backends block on I/O).
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    fn failed<E>(what: String) -> impl FnOnce(E) -> ServeError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |source| ServeError::Store {
            what,
            source: Box::new(source),
        }
    }
    let joined =
        |e: tokio::task::JoinError| ServeError::Startup(format!("opening the store panicked: {e}"));
    match &config.store {
        StoreConfig::Sqlite => {
            let path = config.data_dir.join(DATABASE_FILE);
            let open_path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&open_path))
                .await
                .map_err(joined)?
                .map_err(failed(path.display().to_string()))?;
            tracing::info!(database = %path.display(), "store open (SQLite)");
            Ok(Arc::new(store))
        }
        StoreConfig::Postgres { url } => {
            let (open_url, options) = (url.clone(), config.postgres.clone());
            let store =
                tokio::task::spawn_blocking(move || PostgresStore::open_with(&open_url, options))
                    .await
                    .map_err(joined)?
                    .map_err(failed(config.store.describe()))?;
            tracing::info!(
                database = %store.target(),
                "store open (PostgreSQL, schema version {})",
                deconflict_store::SCHEMA_VERSION
            );
            Ok(Arc::new(store))
        }
    }
}

async fn verifier(config: &Config) -> Result<Verifier, ServeError> {
    let mut vc = VerifierConfig {
        public_key_pems: config.public_keys.clone(),
        jwks_url: config.jwks_url.clone(),
        audiences: config.audiences.clone(),
        ..VerifierConfig::default()
    };
    if config.dev {
        let dir = config.data_dir.clone();
        let keys = tokio::task::spawn_blocking(move || DevKeys::load_or_create(&dir))
            .await
            .map_err(|e| ServeError::Startup(format!("loading the dev key panicked: {e}")))??;
        tracing::warn!(
            key_dir = %keys.dir().display(),
            "DEVELOPMENT MODE: trusting the local dev key and the audiences localhost, 127.0.0.1; \
             never use --dev in production"
        );
        vc = vc.with_dev_keys(&keys);
    } else if config.public_keys.is_empty() && config.jwks_url.is_none() {
        tracing::error!(
            "NO TOKEN VERIFICATION KEY IS CONFIGURED: every request will be refused with 401. \
             Give --public-key or --jwks-url (or --dev for local testing)."
        );
    }
    if vc.audiences.is_empty() {
        return Err(ServeError::Startup(
            "no token audience is configured: give --audience with the host name clients use \
             to reach this DSS (or --dev for local testing)"
                .into(),
        ));
    }
    Ok(Verifier::new(vc).await?)
}

/// Serves `config` until `shutdown` completes.
pub async fn serve<F>(config: Config, shutdown: F) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Server::bind(config).await?.run(shutdown).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
