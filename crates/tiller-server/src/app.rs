//! Build, then serve: [`App::build`] binds the listener and opens the store, so tests can
//! read [`App::local_addr`] before anything runs; [`App::run`] serves until `shutdown`.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use tiller_core::{
    auth::Tokens,
    bus::{CommitBus, CommitListener, Committed, Work},
    channels::WhatsAppInbound,
    conversations::Conversations,
    robots::RobotEngine,
    seats::Seats,
    store::DynStore,
    tenant::Tenants,
    SharedClock,
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    files::LocalFiles,
    http::{
        self,
        auth::CredentialCache,
        serve::{fit_connections, raise_fd_limit, ConnLimits},
    },
    metrics::Metrics,
    outbound::{AddressGuard, OutboundClient},
    state::{AppState, Services},
    workers::{OutboxWorker, RobotWorker, TurnSpawner},
};

pub struct App {
    listener: TcpListener,
    limits: ConnLimits,
    state: AppState,
    store: DynStore,
    bus: Arc<CommitBus>,
    outbox: Arc<OutboxWorker>,
    robot_worker: Arc<RobotWorker>,
}

/// Wakes the delivery worker when this node, or another on the same database, enqueues
/// events.
struct DeliveryWaker(Arc<Notify>);

impl CommitListener for DeliveryWaker {
    fn on_commit(&self, committed: &Committed) {
        if committed.work() == Work::Deliveries {
            self.0.notify_one();
        }
    }
}

/// Wakes the robot worker when another node makes a turn due (its own run inline, unless
/// `robots.inline_turns` is off: then its own wake the worker too).
struct TurnWaker {
    wake: Arc<Notify>,
    inline: bool,
}

impl CommitListener for TurnWaker {
    fn on_commit(&self, committed: &Committed) {
        if committed.work() == Work::Turns && (!committed.is_local() || !self.inline) {
            self.wake.notify_one();
        }
    }
}

/// How the store is opened, from the `[database]` settings.
fn store_options(cfg: &Config) -> tiller_store::ConnectOptions {
    tiller_store::ConnectOptions {
        max_connections: cfg.database.max_connections,
        migrate: cfg.database.migrate_on_start,
        migration_lock: cfg.database.migration_lock,
    }
}

impl App {
    pub async fn build(cfg: Config, clock: SharedClock) -> anyhow::Result<App> {
        let opts = store_options(&cfg);
        // Bind first: a busy port is reported before the database file is created.
        let listener = TcpListener::bind(cfg.server.listen)
            .await
            .with_context(|| {
                format!(
                "cannot listen on {} (is another server using it? choose another with --listen)",
                cfg.server.listen
            )
            })?;
        let store = tiller_store::connect(&cfg.database.url, &opts)
            .await
            .with_context(|| format!("opening the store at {}", cfg.redacted().database.url))?;
        let limits = conn_limits(&cfg);
        let files = Arc::new(LocalFiles::new(&cfg.files.dir));
        let wake = Arc::new(Notify::new());
        let bus = CommitBus::new();
        bus.subscribe(Arc::new(DeliveryWaker(wake.clone())));
        let turn_wake = Arc::new(Notify::new());
        bus.subscribe(Arc::new(TurnWaker {
            wake: turn_wake.clone(),
            inline: cfg.robots.inline_turns,
        }));
        // A database without LISTEN/NOTIFY (CockroachDB, say) still serves: the workers poll.
        match tiller_store::relay_commits(&cfg.database.url, &bus).await {
            Ok(true) => tracing::info!("commits are relayed to the other nodes on this database"),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "cross-node wake-ups are off (no LISTEN/NOTIFY?): other nodes' work waits for the workers' polls"
            ),
        }
        let guard = AddressGuard::new(cfg.allowed_networks()?);
        let client = OutboundClient::new(guard.clone(), cfg.outbound.max_response_bytes)?;
        let webhooks = cfg.webhooks_service(store.clone(), clock.clone(), guard, bus.clone())?;
        let metrics = Arc::new(Metrics::new());
        let conversations = Conversations::new(store.clone(), clock.clone(), bus.clone());
        let robots = Arc::new(RobotEngine::new(
            store.clone(),
            clock.clone(),
            Arc::new(client.clone()),
            conversations.clone(),
            chrono::Duration::seconds(i64::try_from(cfg.robots.turn_lease_secs).unwrap_or(30)),
        ));
        if cfg.robots.inline_turns {
            bus.subscribe(Arc::new(TurnSpawner {
                engine: robots.clone(),
                metrics: metrics.clone(),
            }));
        }
        let credential_cache = Arc::new(CredentialCache::new(std::time::Duration::from_secs(
            cfg.auth.credential_cache_secs,
        )));
        bus.subscribe(credential_cache.clone());
        let tokens = Tokens::new(Arc::new(store.clone()), clock.clone(), cfg.token_ttl());
        let cfg = Arc::new(cfg);
        let outbox = Arc::new(OutboxWorker::new(
            store.clone(),
            clock.clone(),
            client,
            cfg.clone(),
            metrics.clone(),
            wake,
        )?);
        let robot_worker = Arc::new(RobotWorker::new(
            robots.clone(),
            conversations.clone(),
            clock.clone(),
            cfg.clone(),
            metrics.clone(),
            turn_wake,
        )?);
        let state = AppState::new(Services {
            // First: `conversations` moves into its own field below.
            whatsapp: WhatsAppInbound::new(store.clone(), conversations.clone()),
            tenants: Tenants::new(Arc::new(store.clone()), clock.clone()),
            seats: Seats::new(Arc::new(store.clone()), clock.clone()),
            tokens,
            credentials: Arc::new(store.clone()),
            readiness: Arc::new(store.clone()),
            clock,
            cfg,
            metrics,
            conversations,
            robots,
            files,
            credential_cache,
            webhooks,
        });
        Ok(App {
            listener,
            limits,
            state,
            store,
            bus,
            outbox,
            robot_worker,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The store this app opened, for tests and the bench to set up what no API writes (a
    /// tenant with an old key's shape, a lease a crashed node left). The app itself hands
    /// it only to services, ports and the delivery worker.
    pub fn store(&self) -> DynStore {
        self.store.clone()
    }

    /// The node's commit bus, for the bench to wake the delivery worker as services do.
    pub fn bus(&self) -> Arc<CommitBus> {
        self.bus.clone()
    }

    /// The webhook delivery worker; tests drive it with `tick()` when `webhooks.worker` is off.
    pub fn outbox_worker(&self) -> Arc<OutboxWorker> {
        self.outbox.clone()
    }

    /// The robot worker; tests drive it when `robots.worker` is off.
    pub fn robot_worker(&self) -> Arc<RobotWorker> {
        self.robot_worker.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            addr = %self.local_addr(),
            backend = self.state.readiness.backend(),
            "tiller is serving"
        );
        let stop = CancellationToken::new();
        let worker = self
            .state
            .cfg
            .webhooks
            .worker
            .then(|| tokio::spawn(self.outbox.clone().run(stop.clone())));
        let robot_worker = self
            .state
            .cfg
            .robots
            .worker
            .then(|| tokio::spawn(self.robot_worker.clone().run(stop.clone())));
        let router = http::router(self.state);
        http::serve::serve(self.listener, router, self.limits, shutdown).await;
        // Requests have drained; let the worker record the attempts it has in flight.
        stop.cancel();
        for worker in [worker, robot_worker].into_iter().flatten() {
            let _ = worker.await;
        }
        tracing::info!("tiller stopped");
        Ok(())
    }
}

/// `[server]`'s connection limits, with `max_connections` fitted into the open-file limit
/// (raised to its hard limit first): each connection is one descriptor, and the database
/// pool, uploads and logs need some more.
fn conn_limits(cfg: &Config) -> ConnLimits {
    let fd_limit = raise_fd_limit();
    let reserve = u64::from(cfg.database.max_connections) + 64;
    let max_connections = fit_connections(cfg.server.max_connections, fd_limit, reserve);
    if max_connections < cfg.server.max_connections {
        tracing::warn!(
            configured = cfg.server.max_connections,
            max_connections,
            fd_limit,
            "server.max_connections lowered to fit the open-file limit"
        );
    }
    ConnLimits {
        max_connections,
        header_read_timeout: std::time::Duration::from_secs(cfg.server.header_read_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(cfg.server.idle_timeout_secs),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
