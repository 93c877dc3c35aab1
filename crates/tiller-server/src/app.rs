//! Build, then serve: [`App::build`] binds the listener and opens the store, so tests can
//! read [`App::local_addr`] before anything runs; [`App::run`] serves until `shutdown`.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use tiller_core::{
    conversations::{Conversations, RecordOnly},
    SharedClock,
};
use tokio::net::TcpListener;

use crate::{config::Config, files::LocalFiles, http, metrics::Metrics, state::AppState};

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    pub async fn build(cfg: Config, clock: SharedClock) -> anyhow::Result<App> {
        let opts = tiller_store::ConnectOptions {
            max_connections: cfg.database.max_connections,
            migrate: cfg.database.migrate_on_start,
        };
        let store = tiller_store::connect(&cfg.database.url, &opts)
            .await
            .with_context(|| format!("opening the store at {}", cfg.redacted().database.url))?;
        let listener = TcpListener::bind(cfg.server.listen)
            .await
            .with_context(|| format!("binding {}", cfg.server.listen))?;
        let files = Arc::new(LocalFiles::new(&cfg.files.dir));
        let conversations = Conversations::new(store.clone(), clock.clone(), Arc::new(RecordOnly));
        let state = AppState {
            conversations,
            files,
            store,
            clock,
            cfg: Arc::new(cfg),
            metrics: Arc::new(Metrics::new()),
        };
        Ok(App { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            addr = %self.local_addr(),
            backend = self.state.store.backend(),
            "tiller is serving"
        );
        let router = http::router(self.state);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
        tracing::info!("tiller stopped");
        Ok(())
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
