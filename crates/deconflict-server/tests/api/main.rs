//! Full-stack tests: the real router on a real port, a real store, and real tokens signed by a
//! dev key. Every test that goes through the store runs twice, `on_sqlite` (a temporary
//! folder) and `on_postgres` (a fresh database on `DECONFLICT_TEST_POSTGRES`); see `helpers.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acks;
mod auth;
mod aux;
mod availability;
mod bad_input;
mod constraints;
mod fuzz;
mod helpers;
mod humanitarian;
mod incidents;
mod notifications;
mod operational_intents;
mod outbox;
mod purge;
mod receipts;
mod recorded;
mod robustness;
mod shutdown;
mod subscriptions;
mod tlog;
mod webhooks;
