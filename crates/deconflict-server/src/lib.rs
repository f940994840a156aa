//! The HTTP face of the deconflict DSS (ASTM F3548-21): [`router`] serves every `/dss/v1`
//! path of `utm.yaml` plus `/healthy` and the InterUSS `/aux/v1` endpoints, and the
//! humanitarian layer (`/v1` and the `/uss/v1` details of what it publishes), over an
//! [`AppState`]; [`serve`] runs it with the configured store (embedded SQLite, or PostgreSQL
//! for a pool of instances), a token verifier, the expiry purge and graceful shutdown, from a
//! [`Config`].
//!
//! One request: the [`extract::Authorized`] extractor verifies the bearer token and the
//! route's scopes; [`extract::Json`] decodes the body, naming the field of any error;
//! `deconflict_core::parse` turns it into domain values; the rules run inside one store
//! transaction on the blocking pool; [`ApiError`] is the one place where a failure becomes a
//! status code.

pub mod config;
pub mod conflict_log;
pub mod error;
pub mod events;
pub mod extract;
pub mod feed;
pub mod layer;
pub mod purge;
pub mod rate;
pub mod recorder;
mod routes;
mod serve;
pub mod state;
pub mod tlog;
pub mod webhook;

pub use config::{Config, ServeArgs};
pub use error::ApiError;
pub use recorder::{Event, Receipt, Recorder};
pub use routes::{escalate_overdue, router};
pub use serve::{serve, shutdown_signal, ServeError, Server, DATABASE_FILE};
pub use state::AppState;
