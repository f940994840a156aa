//! `deconflict serve`.

use anyhow::Context;
use deconflict_server::{shutdown_signal, Config, ServeArgs, Server};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let config = Config::load(&args).context("configuration")?;
    let data_dir = config.data_dir.clone();
    let dev = config.dev;
    let server = Server::bind(config).await.context("starting the server")?;
    let addr = server.local_addr()?;
    tracing::info!(address = %addr, "serving the DSS at http://{addr}");
    if dev {
        tracing::info!(
            "get a token with: deconflict dev-token --data-dir {} --sub uss1 \
             --scope utm.strategic_coordination (then send `Authorization: Bearer <token>`)",
            data_dir.display()
        );
    }
    server.run(shutdown_signal()).await?;
    Ok(())
}
