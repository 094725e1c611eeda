// SPDX-License-Identifier: MPL-2.0
//! reenact-server: the studio's HTTP back end and the `reenact` command line.
//!
//! The server knows users, projects, jobs and storage; it hands media work to
//! the engine and never touches pixels itself.

pub mod casting;
pub mod config;
pub mod credentials;
pub mod datadir;
pub mod db;
pub mod demo;
pub mod http;
pub mod installations;
pub mod intake;
pub mod jobs;
pub mod library;
pub mod live;
pub mod quota;
pub mod storage;

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the signal container engines and
/// process managers stop a service with.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

pub use http::{app, AppState, JwtKeys};
