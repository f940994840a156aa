//! The humanitarian layer's share of the server state: the party registry and the base URL at
//! which this server serves the details of the sites and movements it publishes.
//!
//! The registry lives in memory: the parties of the configuration file, plus those registered
//! through `/v1/parties` (documents in the store), read at start-up, replaced after every
//! change this instance makes, and re-read every [`REFRESH`] when the store is shared by a
//! pool (so a change made through another instance takes effect here within that time).

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use deconflict_core::store::{self, Store};
use deconflict_core::DssError;
use deconflict_humanitarian::party::{self, Action, Party, Registry};
use deconflict_humanitarian::publish;

use crate::config::Humanitarian;

/// How often an instance of a pool re-reads the parties registered through the API.
pub const REFRESH: Duration = Duration::from_secs(10);

pub struct Layer {
    /// The `uss_base_url` of what this server publishes, without a trailing `/`.
    pub base_url: String,
    pub dss_registered_only: bool,
    /// How long a notification may wait for its acknowledgment before it is escalated.
    pub ack_deadline: Duration,
    /// Replaced whole on a change, so that a write can hold a snapshot for its conflicts.
    registry: RwLock<Arc<Registry>>,
    /// The store's id salt ([`publish::id_salt`]), once read.
    id_salt: OnceLock<String>,
}

fn poisoned<T>(_: T) -> DssError {
    DssError::Internal("the party registry lock was poisoned".into())
}

impl Layer {
    /// The layer of `config`; `default_base_url` serves when the configuration names none.
    pub fn new(config: &Humanitarian, default_base_url: String) -> Result<Self, DssError> {
        Ok(Self {
            base_url: config.base_url.clone().unwrap_or(default_base_url),
            dss_registered_only: config.dss_registered_only,
            ack_deadline: config.ack_deadline,
            registry: RwLock::new(Arc::new(Registry::new(config.parties.clone())?)),
            id_salt: OnceLock::new(),
        })
    }

    /// A layer with no party registered yet, publishing under `base_url`.
    pub fn without_parties(base_url: String) -> Self {
        Self {
            base_url,
            dss_registered_only: false,
            ack_deadline: crate::config::Humanitarian::default().ack_deadline,
            registry: RwLock::new(Arc::new(Registry::default())),
            id_salt: OnceLock::new(),
        }
    }

    /// `sub`'s party if it may do `action`, else 403 naming why.
    pub fn authorize(&self, sub: &str, action: Action) -> Result<Party, DssError> {
        self.registry
            .read()
            .map_err(poisoned)?
            .authorize(sub, action)
    }

    /// On the DSS, a registered party acts within its role; an unregistered `sub` is a plain
    /// USS, refused only when `dss_registered_only` is set.
    pub fn check_dss(&self, sub: &str, action: Action) -> Result<(), DssError> {
        let reg = self.registry.read().map_err(poisoned)?;
        if reg.get(sub).is_none() && !self.dss_registered_only {
            return Ok(());
        }
        reg.authorize(sub, action).map(|_| ())
    }

    /// The registry as it is now, for a write's conflicts (who to tell, how to reach whom).
    pub fn registry(&self) -> Result<Arc<Registry>, DssError> {
        Ok(Arc::clone(&*self.registry.read().map_err(poisoned)?))
    }

    pub fn party(&self, id: &str) -> Result<Option<Party>, DssError> {
        Ok(self.registry.read().map_err(poisoned)?.get(id).cloned())
    }

    pub fn parties(&self) -> Result<Vec<Party>, DssError> {
        Ok(self.registry.read().map_err(poisoned)?.all())
    }

    /// The ids of the parties with `role`.
    pub fn with_role(&self, role: party::Role) -> Result<Vec<String>, DssError> {
        Ok(self
            .parties()?
            .into_iter()
            .filter(|p| p.role == role)
            .map(|p| p.id)
            .collect())
    }

    pub fn is_configured(&self, id: &str) -> Result<bool, DssError> {
        Ok(self.registry.read().map_err(poisoned)?.is_configured(id))
    }

    /// The store's id salt for the ids of sites and movements, made by the first call (a
    /// write, so that instances of a pool agree on it) and then kept in memory.
    pub fn id_salt(&self, store: &dyn Store) -> Result<String, DssError> {
        if let Some(s) = self.id_salt.get() {
            return Ok(s.clone());
        }
        let salt = store::write(store, publish::id_salt)?;
        Ok(self.id_salt.get_or_init(|| salt).clone())
    }

    /// Re-reads the parties registered through the API from `store`.
    pub fn reload(&self, store: &dyn Store) -> Result<(), DssError> {
        let parties = store::read(store, |tx| publish::all::<Party>(tx, party::KIND))?;
        let mut reg = self.registry.write().map_err(poisoned)?;
        Arc::make_mut(&mut reg).set_registered(parties);
        Ok(())
    }

    /// Re-reads the registry every [`REFRESH`], for an instance of a pool.
    pub fn spawn_refresh(self: &Arc<Self>, store: Arc<dyn Store>) -> tokio::task::JoinHandle<()> {
        let layer = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            loop {
                tick.tick().await;
                let (layer, store) = (Arc::clone(&layer), Arc::clone(&store));
                let done = tokio::task::spawn_blocking(move || layer.reload(&*store)).await;
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %e, "re-reading the party registry failed");
                }
            }
        })
    }
}
