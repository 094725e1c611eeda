// SPDX-License-Identifier: MPL-2.0
//! `reenact serve`: the studio server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use reenact_engine::PresetLibrary;
use reenact_server::{app, AppState};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "REENACT_LISTEN")]
    listen: SocketAddr,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let presets = Arc::new(PresetLibrary::load()?);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!("listening on http://{addr}");
        println!("Reenact Studio is running at http://{addr}/ (Ctrl-C to stop)");
        axum::serve(listener, app(AppState { presets }))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server failed")
    })
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
