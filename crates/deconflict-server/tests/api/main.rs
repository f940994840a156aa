//! Full-stack tests: the real router on a real port, a real SQLite store in a temporary
//! directory, and real tokens signed by a dev key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod aux;
mod availability;
mod bad_input;
mod constraints;
mod fuzz;
mod helpers;
mod operational_intents;
mod purge;
mod robustness;
mod shutdown;
mod subscriptions;
