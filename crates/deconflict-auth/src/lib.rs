//! OAuth2 bearer-token identity for the deconflict DSS (ASTM F3548-21).
//!
//! - [`Verifier`] checks `Authorization: Bearer <JWT>` tokens: RS256/ES256 signatures against
//!   keys from PEM files, PEM text and/or a JWKS URL; `aud` against the configured audiences;
//!   `exp`/`nbf` with leeway; `iss` and `sub` present. It yields [`Claims`].
//! - [`scopes`] names the F3548 scopes; [`require_any`] checks an OpenAPI-style requirement.
//! - [`DevKeys`] keeps a local ES256 key pair for `--dev` mode and mints tokens;
//!   [`dev_oauth_router`] serves them over the InterUSS "dummy OAuth" interface.
//!
//! Every [`AuthError`] should become HTTP 401 with its message; a [`ScopeError`] is HTTP 403.
//!
//! ```no_run
//! use std::path::Path;
//! use deconflict_auth::{require_any, scopes, DevKeys, Verifier, VerifierConfig};
//!
//! # async fn demo(authorization: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
//! // At start-up (in `--dev` mode the dev key and audiences are added):
//! let dev = DevKeys::load_or_create(Path::new("./data"))?;
//! let verifier = Verifier::new(
//!     VerifierConfig {
//!         jwks_url: Some("https://auth.example.com/.well-known/jwks.json".into()),
//!         audiences: vec!["dss.example.com".into()],
//!         ..VerifierConfig::default()
//!     }
//!     .with_dev_keys(&dev),
//! )
//! .await?;
//!
//! // Per request, from the `Authorization` header value:
//! let claims = verifier.verify_header(authorization)?; // Err -> 401
//! require_any(&claims, &[&[scopes::STRATEGIC_COORDINATION]])?; // Err -> 403
//! println!("request from {}", claims.sub);
//! # Ok(())
//! # }
//! ```

mod claims;
mod dev;
mod error;
mod jwks;
mod keys;
mod oauth;
pub mod scopes;
mod verifier;

pub use claims::Claims;
pub use dev::{DevKeys, DEV_AUDIENCES, DEV_ISSUER};
pub use error::{AuthError, ConfigError};
pub use oauth::{dev_oauth_router, DEFAULT_LIFETIME_SECS, DEFAULT_SUB};
pub use scopes::{require_any, ScopeError, Scopes};
pub use verifier::{bearer_from_header, Verifier, VerifierConfig};
