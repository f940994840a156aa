//! Integration tests for deconflict-auth: real keys, real signatures, a real HTTP JWKS.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

mod dev_keys;
mod helpers;
mod jwks;
mod scopes;
mod verify;
