//! What the load is aimed at: the real Tiller app on a fresh database, and the baseline,
//! an axum server that parses the same JSON and answers without any I/O. Both bind
//! 127.0.0.1:0. Start them from a task on the server runtime so their work is counted there.
//! [`serve`] also runs the webhook scenario's receiver, on a runtime of its own.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context as _;
use axum::{routing::post, Json, Router};
use serde_json::{json, Value};
use tiller_core::{
    bus::CommitBus, store::DynStore, tenant::NewTenant, Clock as _, SystemClock, TenantId,
};
use tiller_server::{App, Config};
use tiller_store::testing::TestDatabase;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Which store backs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A running server and the way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("server task")?
    }
}

/// The Tiller app with one tenant, as an integrator would see it.
pub struct Tiller {
    pub server: Running,
    /// The app's store, for preloading data and writing events as fast as the store takes them.
    pub store: DynStore,
    /// The app's commit bus, to wake its delivery worker after such writes.
    pub bus: Arc<CommitBus>,
    /// The app's services, for scenarios that drive them in-process.
    pub state: tiller_server::state::AppState,
    pub tenant: TenantId,
    pub sign_key: String,
    pub sign_secret: String,
    /// Held so a PostgreSQL database is dropped (or the SQLite directory removed) at the end.
    db: TestDatabase,
    files: PathBuf,
}

impl Tiller {
    /// Builds the app on a fresh database. For PostgreSQL the admin URL must already be in
    /// `TILLER_TEST_PG_URL` (set by `main` before any thread starts): `TestDatabase` reads it,
    /// creates `tiller_t_<uuid>` there and drops it when this value is dropped.
    pub async fn start(kind: StoreKind, db_connections: Option<u32>) -> anyhow::Result<Tiller> {
        Self::start_with(kind, db_connections, |_| {}).await
    }

    /// [`Tiller::start`], with `adjust` applied to the configuration before it is checked.
    pub async fn start_with(
        kind: StoreKind,
        db_connections: Option<u32>,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Tiller> {
        let db = match kind {
            StoreKind::Sqlite => TestDatabase::sqlite(),
            StoreKind::Postgres => TestDatabase::postgres()
                .await
                .context("no PostgreSQL admin URL (give --pg-url)")?,
        };
        let files = std::env::temp_dir().join(format!("tiller-bench-files-{}", std::process::id()));
        let mut cfg = Config::defaults();
        cfg.server.listen = "127.0.0.1:0".parse().context("loopback address")?;
        cfg.database.url.clone_from(&db.url);
        if let Some(n) = db_connections {
            cfg.database.max_connections = n;
        }
        cfg.files.dir.clone_from(&files);
        adjust(&mut cfg);
        cfg.validate()?;
        let app = App::build(cfg, Arc::new(SystemClock)).await?;
        let state = app.state().clone();
        let (store, bus) = (app.store(), app.bus());
        let (new, issued) = NewTenant::generate("Bench Lending")?;
        let tenant = store
            .insert_tenant(&new, SystemClock.now())
            .await
            .context("creating the bench tenant")?;
        let addr = app.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Ok(Tiller {
            server: Running {
                addr,
                shutdown: tx,
                task,
            },
            store,
            bus,
            state,
            tenant: tenant.id,
            sign_key: issued.sign_key,
            sign_secret: issued.sign_secret.expose().to_owned(),
            db,
            files,
        })
    }

    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// Another node of this Tiller: its own app (pool, writers, workers) on the same
    /// database, as a second `tiller serve` would be. Stop it before this one.
    pub async fn join(&self, db_connections: Option<u32>) -> anyhow::Result<Running> {
        let mut cfg = Config::defaults();
        cfg.server.listen = "127.0.0.1:0".parse().context("loopback address")?;
        cfg.database.url.clone_from(&self.db.url);
        if let Some(n) = db_connections {
            cfg.database.max_connections = n;
        }
        cfg.files.dir = self.files.with_extension("node");
        cfg.validate()?;
        let app = App::build(cfg, Arc::new(SystemClock)).await?;
        let addr = app.local_addr();
        let (shutdown, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Ok(Running {
            addr,
            shutdown,
            task,
        })
    }

    /// Stops the server, then drops the database and the files directory.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await?;
        drop(self.store);
        let _ = std::fs::remove_dir_all(&self.files);
        // TestDatabase's Drop joins a thread of its own; keep it off the async workers.
        let db = self.db;
        tokio::task::spawn_blocking(move || drop(db))
            .await
            .context("dropping the bench database")
    }
}

/// The baseline: one POST handler per benchmarked path that parses the body into a
/// `serde_json::Value` and answers a small envelope of the same shape, doing no I/O.
pub async fn start_baseline() -> anyhow::Result<Running> {
    let router = Router::new()
        .route("/api/v1/channel/chatbot/message", post(parse_only))
        .route("/api/v1/session/messages", post(parse_only));
    serve(router, "the baseline").await
}

/// Serves `router` on 127.0.0.1:0 from a task on the current runtime until stopped.
pub async fn serve(router: Router, what: &'static str) -> anyhow::Result<Running> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .with_context(|| format!("binding {what}"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .with_context(|| format!("serving {what}"))
    });
    Ok(Running {
        addr,
        shutdown: tx,
        task,
    })
}

async fn parse_only(Json(body): Json<Value>) -> Json<Value> {
    let call_id = body.get("call_id").cloned().unwrap_or(Value::Null);
    Json(json!({
        "request_id": "baseline",
        "code": 200,
        "message": "Success",
        "data": { "call_id": call_id },
    }))
}
