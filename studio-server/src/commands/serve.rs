// SPDX-License-Identifier: MPL-2.0
//! `reenact serve`: the studio server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::network::NetworkArgs;
use super::storage::StorageArgs;
use reenact_engine::PresetLibrary;
use reenact_server::{app, db, AppState, JwtKeys};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "REENACT_LISTEN")]
    listen: SocketAddr,
    /// Data directory: SQLite database, signing key, stored media (default: the user data dir).
    #[arg(long, env = "REENACT_DATA")]
    data: Option<PathBuf>,
    /// PostgreSQL (or SQLite) URL; default: SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Largest accepted upload, in megabytes.
    #[arg(long, default_value_t = 4096, env = "REENACT_UPLOAD_LIMIT_MB")]
    upload_limit_mb: usize,
    /// Create a demo account and project from the shared test media (once). Its password is
    /// published, so this is refused unless the server listens on a loopback address.
    #[arg(long)]
    demo: bool,
    /// Create the demo account even though the server listens on a public address (anyone who
    /// reaches it can sign in as the demo user).
    #[arg(long, requires = "demo")]
    demo_on_public_address: bool,
    /// Job workers run inside this process (0 when separate `reenact worker` processes run them).
    /// With any, one more runs the clip overviews (thumbnail and waveform of each new clip).
    #[arg(long, default_value_t = 1, env = "REENACT_WORKERS")]
    workers: usize,
    /// Jobs one user may have queued or running at once (renders and imports included).
    #[arg(long, default_value_t = 20, env = "REENACT_MAX_ACTIVE_JOBS")]
    max_active_jobs: i64,
    /// Storage allowed per user, in megabytes.
    #[arg(long, default_value_t = 20_000, env = "REENACT_QUOTA_MB")]
    quota_mb: u64,
    /// Let URL imports reach loopback, private and link-local addresses (the server's own
    /// network) on any port; off by default (public addresses, ports 80 and 443) so an
    /// import cannot read internal services.
    #[arg(long, env = "REENACT_IMPORTS_ALLOW_PRIVATE")]
    imports_allow_private: bool,
    /// TOML file of installations: live shows started with the server, each shown full
    /// screen at /kiosk/TOKEN (a random token kept per name, printed at start) and started
    /// again whenever it fails.
    #[arg(long, env = "REENACT_INSTALLATIONS")]
    installations: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// comma-separated); sign-in limits count per client address, and without this the
    /// socket peer is the client.
    #[arg(long, env = "REENACT_TRUSTED_PROXIES", value_parser = parse_proxies, default_value = "")]
    trusted_proxies: Proxies,
    /// Studio session cookie without `Secure` (and the `__Host-` prefix): only for plain
    /// http on an address other than localhost, where browsers drop `Secure` cookies.
    #[arg(long, env = "REENACT_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// Live shows one user may run at once.
    #[arg(long, default_value_t = reenact_server::live::DEFAULT_SHOWS_PER_USER, env = "REENACT_LIVE_SHOWS_PER_USER")]
    live_shows_per_user: usize,
    /// Emails of the accounts that may open this machine's cameras (`camera:` live sources),
    /// comma-separated; nobody else may (403).
    #[arg(long, value_delimiter = ',', env = "REENACT_LIVE_CAMERA_USERS")]
    live_camera_users: Vec<String>,
    /// Emails of the administrator accounts, comma-separated: they may install model files
    /// through `POST /api/admin/models` (into `REENACT_MODELS`, else the user's model folder).
    #[arg(long, value_delimiter = ',', env = "REENACT_ADMINS")]
    admins: Vec<String>,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Parsed `--trusted-proxies`.
#[derive(Debug, Clone, Default)]
struct Proxies(Vec<ipnet::IpNet>);

fn parse_proxies(text: &str) -> Result<Proxies, String> {
    reenact_server::http::limits::parse_trusted_proxies(text).map(Proxies)
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    check_demo_address(&args)?;
    let data = args.data.clone().unwrap_or_else(reenact_server::datadir::default_dir);
    reenact_server::datadir::prepare(&data)
        .with_context(|| format!("cannot create a private data directory {}", data.display()))?;
    let network = args.network.live_network()?;
    let presets = Arc::new(PresetLibrary::load()?);
    let keys = Arc::new(JwtKeys::new(&signing_secret(&data)?));
    reenact_server::credentials::init_process_identity(&data)?;
    let url = match args.database_url.clone() {
        Some(url) => url,
        None => {
            let file = data.join("reenact.db");
            // SQLite gives its journals the database file's mode.
            for path in [file.clone(), data.join("reenact.db-wal"), data.join("reenact.db-shm")] {
                reenact_server::datadir::tighten(&path)
                    .with_context(|| format!("cannot protect {}", path.display()))?;
            }
            reenact_server::datadir::touch_private(&file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            db::sqlite_url(&data)
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let db = db::connect(&url).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(data = %data.display(), "listening on http://{addr}");
        println!("Reenact Studio is running at http://{addr}/ (data in {}; Ctrl-C to stop)", data.display());
        let storage = args.storage.open(&data)?;
        // Hash the models now (the result is cached) so that the first readiness check is quick.
        tokio::task::spawn_blocking(|| match reenact_server::http::model_problem() {
            Some(problem) => tracing::warn!(%problem, "models: not ready"),
            None => tracing::info!("models: every manifest entry present and intact"),
        });
        // Workers finish the job in hand once the server has stopped taking requests.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        let mut lanes = Vec::new();
        for i in 0..args.workers {
            lanes.push(reenact_server::jobs::handlers::worker(db.clone(), storage.clone(), format!("serve-{i}")));
        }
        if args.workers > 0 {
            let name = "serve-overview".to_owned();
            lanes.push(reenact_server::jobs::handlers::overview_worker(db.clone(), storage.clone(), name));
        }
        for worker in lanes {
            let mut stopped = stopped.clone();
            workers.push(tokio::spawn(worker.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })));
        }
        let state = AppState {
            presets,
            db,
            keys,
            login_limiter: Arc::new(reenact_server::http::limits::LoginLimiter::new(
                Default::default(),
                args.trusted_proxies.0.clone(),
            )),
            storage,
            upload_limit: args.upload_limit_mb * 1_000_000,
            quota_bytes: args.quota_mb * 1_000_000,
            imports_allow_private: args.imports_allow_private,
            max_active_jobs: args.max_active_jobs.max(1),
            live: Arc::new(reenact_server::live::LiveHub::new(reenact_server::live::LivePolicy {
                shows_per_user: args.live_shows_per_user,
                camera_users: args.live_camera_users.iter().map(|e| e.trim().to_owned()).collect(),
                network: Arc::new(network),
            })),
            cookies: reenact_ui::CookiePolicy { secure: !args.insecure_cookies },
            models: Arc::new(reenact_server::http::models::ModelAdmin::new(
                args.admins.iter().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect(),
                reenact_models::install_dir(),
            )),
        };
        if args.demo {
            let done = reenact_server::demo::seed(&state, &reenact_server::demo::media_dir()).await?;
            println!("{done}");
        }
        let mut installations = match &args.installations {
            Some(file) => reenact_server::installations::read(file, &state.presets)?,
            None => Vec::new(),
        };
        reenact_server::installations::assign_tokens(&state.db, &mut installations).await?;
        let mut keepers = Vec::new();
        for installation in installations {
            println!("Installation {}: http://{addr}{}", installation.name, installation.kiosk_path());
            keepers.push(tokio::spawn(reenact_server::installations::keep_running(state.live.clone(), installation)));
        }
        let live = state.live.clone();
        // The socket peer is the client address that sign-in limits count against.
        let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service).with_graceful_shutdown(reenact_server::shutdown_signal()).await;
        eprintln!("Stopping: finishing the jobs in hand and closing live shows ...");
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        // Recordings of running shows are closed and renamed into place; installations are not
        // started again while that happens.
        for keeper in keepers {
            keeper.abort();
        }
        live.stop_all().await;
        eprintln!("Reenact Studio stopped.");
        served.context("server failed")
    })
}

/// The demo account's password is in the README: it may only exist where no one else can
/// reach the server, unless the operator says otherwise in so many words.
fn check_demo_address(args: &ServeArgs) -> anyhow::Result<()> {
    if args.demo && !args.listen.ip().is_loopback() && !args.demo_on_public_address {
        anyhow::bail!(
            "--demo creates an account with a published password, so it needs a loopback address \
             (--listen 127.0.0.1:PORT), not {}; add --demo-on-public-address to create it anyway",
            args.listen
        );
    }
    Ok(())
}

/// `REENACT_JWT_SECRET`, else a random key kept in the data directory so
/// sessions survive a restart.
fn signing_secret(data: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(secret) = std::env::var("REENACT_JWT_SECRET") {
        anyhow::ensure!(secret.len() >= 32, "REENACT_JWT_SECRET must be at least 32 characters");
        return Ok(secret.into_bytes());
    }
    let file = data.join("jwt-secret");
    reenact_server::datadir::tighten(&file).with_context(|| format!("cannot protect {}", file.display()))?;
    if let Ok(secret) = std::fs::read(&file) {
        if secret.len() >= 32 {
            return Ok(secret);
        }
    }
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()).into_bytes();
    reenact_server::datadir::write_private(&file, &secret)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(secret)
}
