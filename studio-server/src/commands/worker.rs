// SPDX-License-Identifier: MPL-2.0
//! `reenact worker`: runs jobs from a shared database and storage, so work can
//! spread over processes and machines (PostgreSQL and shared storage).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::storage::StorageArgs;
use reenact_server::db;

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Database URL (the same as the server's).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Data directory: with `--storage s3://…` only a local cache and work folder,
    /// otherwise shared with the server (its `storage/` holds the files).
    #[arg(long, env = "REENACT_DATA")]
    data: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
    /// Name in logs and in the job's `worker` column (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    /// Seconds a job stays claimed without a heartbeat: after a worker dies, its job is run
    /// again by another once this has passed.
    #[arg(long, default_value_t = 30, env = "REENACT_LEASE_S", value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease_s: u64,
    /// Serve this worker's Prometheus metrics (job durations, render speed) at
    /// http://ADDR/metrics; off by default.
    #[arg(long, env = "REENACT_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
}

pub(crate) fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let storage = args.storage.open(&args.data)?;
    reenact_server::credentials::init_process_identity(&args.data)?;
    let name = args.name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let db = db::connect(&args.database_url).await?;
        if let Some(addr) = args.metrics_listen {
            serve_metrics(addr).await?;
        }
        tracing::info!(%name, "worker started");
        eprintln!("reenact worker {name}: waiting for jobs (Ctrl-C or SIGTERM stops after the current job)");
        let lease = std::time::Duration::from_secs(args.lease_s);
        let mut worker = reenact_server::jobs::handlers::worker(db.clone(), storage.clone(), name.clone());
        worker.lease = lease;
        // Clip overviews (seconds each) run in a lane of their own beside the long jobs.
        let mut overviews = reenact_server::jobs::handlers::overview_worker(db, storage, format!("{name}-overview"));
        overviews.lease = lease;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let lanes = [tokio::spawn(worker.run(until_stopped())), tokio::spawn(overviews.run(until_stopped()))];
        reenact_server::shutdown_signal().await;
        let _ = stop.send(true);
        for lane in lanes {
            let _ = lane.await;
        }
        eprintln!("reenact worker {name}: stopped");
        Ok(())
    })
}

/// Answers `/metrics` on `addr` in the background for as long as the worker runs.
async fn serve_metrics(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let app = axum::Router::new().route("/metrics", axum::routing::get(reenact_server::http::metrics::scrape_worker));
    tracing::info!("metrics at http://{}/metrics", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "metrics server stopped");
        }
    });
    Ok(())
}
