//! `deconflict serve`.

use anyhow::Context;
use deconflict_server::{shutdown_signal, Config, ServeArgs, Server};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let config = Config::load(&args).context("configuration")?;
    let data_dir = config.data_dir.clone();
    let dev = config.dev;
    let parties: Vec<String> = config
        .humanitarian
        .parties
        .iter()
        .map(|p| format!("{} ({})", p.id, p.role.as_str()))
        .collect();
    // The hint names a party the server knows, so that the token it mints is good for /v1 too.
    let hint_sub = config
        .humanitarian
        .parties
        .first()
        .map_or_else(|| "uss1".to_owned(), |p| p.id.clone());
    let server = Server::bind(config).await.context("starting the server")?;
    let addr = server.local_addr()?;
    tracing::info!(address = %addr, "serving the DSS at http://{addr}");
    if !parties.is_empty() {
        tracing::info!("registered parties: {}", parties.join(", "));
    }
    if dev {
        tracing::info!(
            "get a token with: deconflict dev-token --data-dir {} --sub {hint_sub} \
             --scope utm.strategic_coordination (then send `Authorization: Bearer <token>`)",
            data_dir.display()
        );
    }
    server.run(shutdown_signal()).await?;
    Ok(())
}
