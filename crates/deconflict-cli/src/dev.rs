//! `deconflict dev-token` and `deconflict dev-oauth`: tokens signed by the dev key that a
//! server started with `--dev` on the same data directory trusts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deconflict_auth::{dev_oauth_router, DevKeys, DEFAULT_LIFETIME_SECS, DEFAULT_SUB, DEV_ISSUER};
use deconflict_server::config::DEFAULT_DATA_DIR;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The party the token is issued to (the F3548 manager).
    #[arg(long, default_value = DEFAULT_SUB)]
    pub sub: String,
    /// Scopes, space-separated and/or repeated, e.g. 'utm.strategic_coordination'.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<String>,
    /// The `aud` of the token: the host name the client uses for the DSS.
    #[arg(long, default_value = "localhost")]
    pub audience: String,
    /// Data directory of the server (the dev key is kept in it).
    #[arg(long, env = "DECONFLICT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Lifetime of the token, seconds.
    #[arg(long, default_value_t = DEFAULT_LIFETIME_SECS as u64)]
    pub lifetime: u64,
}

#[derive(Debug, clap::Args)]
pub struct OauthArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8085")]
    pub listen: SocketAddr,
    /// Data directory of the server (the dev key is kept in it).
    #[arg(long, env = "DECONFLICT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let keys = DevKeys::load_or_create(&args.data_dir)
        .with_context(|| format!("dev key in {}", args.data_dir.display()))?;
    let scopes: Vec<&str> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    anyhow::ensure!(!scopes.is_empty(), "--scope: give at least one scope");
    let token = keys.sign(
        &args.sub,
        scopes,
        &args.audience,
        DEV_ISSUER,
        Duration::from_secs(args.lifetime),
    );
    println!("{token}");
    Ok(())
}

pub async fn oauth(args: OauthArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let keys = DevKeys::load_or_create(&args.data_dir)
        .with_context(|| format!("dev key in {}", args.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::warn!(
        "dummy OAuth at http://{addr}: it grants any token to anyone; for local testing only. \
         Try http://{addr}/token?sub=uss1&scope=utm.strategic_coordination&intended_audience=localhost"
    );
    axum::serve(listener, dev_oauth_router(Arc::new(keys)))
        .with_graceful_shutdown(deconflict_server::shutdown_signal())
        .await?;
    Ok(())
}
