//! Shared by the binary's tests: fresh PostgreSQL databases for tests that need one.

#![allow(dead_code)]

#[allow(unused_imports)]
pub use deconflict_testkit::{available, TestDb, PGCTL_ENV, PG_ENV};
