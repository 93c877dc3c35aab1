//! `tiller-bench`: the load tool behind BENCHMARKS.md. One run starts the real Tiller app
//! in-process on a fresh database (SQLite file, or a new PostgreSQL database that is dropped
//! at the end), plus a no-I/O axum baseline, drives both over 127.0.0.1 with the same
//! client count and bodies, and stops by itself. Results go to stdout as Markdown tables;
//! progress goes to stderr.
//!
//! ```text
//! tiller-bench inbound [--store sqlite|postgres] [--pg-url URL] [--clients 64] [--seconds 15]
//! tiller-bench list [--store …] [--messages 1000000] [--sessions 10000] [--clients 64] [--seconds 15]
//! tiller-bench webhooks [--store …] [--endpoints 1] [--events 20000] [--rate 0] [--timeout 120]
//! tiller-bench robots [--store …] [--sessions 1000] [--rate 3000] [--seconds 15] [--long-session 10000]
//! ```
//!
//! Runtimes split the process so the CPU table can say who used the cores: the servers
//! run on `bench-server` threads, the load generator on `bench-client` threads, and the
//! webhook scenario's receiver on `bench-receiver` threads.
//! Build with `--release`; debug numbers mean nothing.

mod cpu;
mod load;
mod outbox;
mod preload;
mod receiver;
mod report;
mod robots;
mod target;
mod webhooks;

use std::{
    io::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _};
use clap::{Args, Parser, Subcommand};
use tiller_core::{conversations::ChatRecordQuery, store::DynStore, TenantId};
use tokio::runtime::{Builder, Handle, Runtime};

use crate::{
    load::{Plan, Workload},
    report::Row,
    target::{StoreKind, Tiller},
};

const INBOUND_PATH: &str = "/api/v1/channel/chatbot/message";
const LIST_PATH: &str = "/api/v1/session/messages";
const BASELINE: &str = "baseline (axum, parse only)";

#[derive(Debug, Parser)]
#[command(
    name = "tiller-bench",
    about = "Load-test Tiller in-process over 127.0.0.1"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Signed "user send message" requests, each a committed message.
    Inbound(InboundArgs),
    /// Pre-load a store, then query a random session's newest messages.
    List(ListArgs),
    /// Enqueue events for endpoints on a local receiver and time their delivery.
    Webhooks(WebhooksArgs),
    /// Robot turns on many sessions at an offered rate, and turn latency by session length.
    Robots(robots::RobotsArgs),
}

#[derive(Debug, Args)]
struct Common {
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreKind,
    /// Admin URL of a PostgreSQL server on 127.0.0.1 (a fresh database is made there).
    #[arg(long, env = "TILLER_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of the measured window.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Unmeasured load before the window.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// database.max_connections (default: the server's default).
    #[arg(long)]
    db_connections: Option<u32>,
}

#[derive(Debug, Args)]
struct InboundArgs {
    #[command(flatten)]
    common: Common,
    /// Distinct call_ids the requests are spread over.
    #[arg(long, default_value_t = 10_000)]
    call_ids: usize,
    /// Tiller nodes on the one database (PostgreSQL), the clients spread over them.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// User messages to pre-load.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Sessions the messages are spread over.
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
}

#[derive(Debug, Args)]
struct WebhooksArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreKind,
    /// Admin URL of a PostgreSQL server on 127.0.0.1 (a fresh database is made there).
    #[arg(long, env = "TILLER_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Endpoints on the receiver; every event goes to each of them.
    #[arg(long, default_value_t = 1)]
    endpoints: u16,
    /// Events to enqueue; deliveries = events × endpoints.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Ordering keys the events take in turn (event i has key i mod keys).
    #[arg(long, default_value_t = 1_000)]
    keys: usize,
    /// Events per enqueue transaction.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Offered load in deliveries/s (events/s × endpoints); 0 enqueues back to back.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop waiting for missing deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// webhooks.concurrency, and the raw-POST baseline's requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// webhooks.poll_interval_ms (default: the server's default).
    #[arg(long)]
    poll_ms: Option<u64>,
    /// database.max_connections (default: the server's default).
    #[arg(long)]
    db_connections: Option<u32>,
}

impl Scenario {
    fn store(&self) -> (StoreKind, Option<&str>) {
        match self {
            Self::Inbound(InboundArgs { common: c, .. })
            | Self::List(ListArgs { common: c, .. }) => (c.store, c.pg_url.as_deref()),
            Self::Webhooks(a) => (a.store, a.pg_url.as_deref()),
            Self::Robots(a) => (a.store, a.pg_url.as_deref()),
        }
    }
}

/// A PostgreSQL admin URL, when the store needs one, must be on the loopback interface.
fn check_store(store: StoreKind, pg_url: Option<&str>) -> anyhow::Result<()> {
    if store == StoreKind::Postgres {
        let raw = pg_url.context("--store postgres needs --pg-url")?;
        let url = url::Url::parse(raw).context("--pg-url is not a URL")?;
        let host = url.host_str().unwrap_or_default();
        ensure!(
            matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
            "--pg-url must point at 127.0.0.1, not {host:?}"
        );
    }
    Ok(())
}

impl Common {
    /// Keeps every run bounded in time and count.
    fn check(&self) -> anyhow::Result<()> {
        ensure!(
            (1..=1024).contains(&self.clients),
            "--clients must be 1..=1024"
        );
        ensure!(
            (1..=600).contains(&self.seconds),
            "--seconds must be 1..=600"
        );
        ensure!(self.warmup <= 60, "--warmup must be at most 60");
        Ok(())
    }

    fn plan(&self) -> Plan {
        Plan {
            clients: self.clients,
            warmup: Duration::from_secs(self.warmup),
            measure: Duration::from_secs(self.seconds),
        }
    }

    fn heading(&self, scenario: &str) -> String {
        format!(
            "### {scenario} on {}: {} clients, {} s measured after {} s warm-up",
            self.store.as_str(),
            self.clients,
            self.seconds,
            self.warmup
        )
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.scenario {
        Scenario::Inbound(a) => a.common.check()?,
        Scenario::List(a) => a.common.check()?,
        Scenario::Webhooks(a) => a.check()?,
        Scenario::Robots(a) => a.check()?,
    }
    let (store, pg_url) = cli.scenario.store();
    check_store(store, pg_url)?;
    if let (StoreKind::Postgres, Some(url)) = (store, pg_url) {
        // Read by TestDatabase::postgres; set before any thread exists.
        std::env::set_var(tiller_store::testing::PG_URL_ENV, url);
    }
    let server = runtime(cpu::SERVER_THREADS)?;
    let client = runtime(cpu::CLIENT_THREADS)?;
    let receiving = match cli.scenario {
        Scenario::Webhooks(_) => Some(runtime(cpu::RECEIVER_THREADS)?),
        _ => None,
    };
    let load_before = loadavg();
    let handle = server.handle().clone();
    let recv = receiving.as_ref().map(|r| r.handle().clone());
    let markdown = client.block_on(async move {
        match (cli.scenario, recv) {
            (Scenario::Inbound(a), _) => inbound(a, handle).await,
            (Scenario::List(a), _) => list(a, handle).await,
            (Scenario::Webhooks(a), Some(recv)) => webhooks::webhooks(a, handle, recv).await,
            (Scenario::Webhooks(_), None) => bail!("no receiver runtime"),
            (Scenario::Robots(a), _) => robots::robots(a, handle).await,
        }
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{markdown}")?;
    writeln!(
        out,
        "Machine: {} CPUs; load average before the run {load_before}, after {}.",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        loadavg()
    )?;
    drop(client);
    server.shutdown_timeout(Duration::from_secs(5));
    if let Some(r) = receiving {
        r.shutdown_timeout(Duration::from_secs(5));
    }
    Ok(())
}

fn runtime(name: &str) -> anyhow::Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
        .thread_name(name)
        .enable_all()
        .build()
        .context("building a runtime")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "n/a".into(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

async fn inbound(args: InboundArgs, srv: Handle) -> anyhow::Result<String> {
    let c = &args.common;
    ensure!(
        (1..=1_000_000).contains(&args.call_ids),
        "--call-ids must be 1..=1000000"
    );
    ensure!(
        (1..=4).contains(&args.nodes) && (args.nodes == 1 || c.store == StoreKind::Postgres),
        "--nodes must be 1..=4, and more than 1 only on PostgreSQL"
    );
    eprintln!("starting Tiller on {} and the baseline", c.store.as_str());
    let tiller = Arc::new(
        srv.spawn(Tiller::start(c.store, c.db_connections))
            .await??,
    );
    let mut more = Vec::new();
    for _ in 1..args.nodes {
        let (t, connections) = (tiller.clone(), c.db_connections);
        let joined = srv.spawn(async move { t.join(connections).await });
        more.push(joined.await??);
    }
    let baseline = srv.spawn(target::start_baseline()).await??;
    let bodies = (0..args.call_ids).map(inbound_body).collect();
    let mut work = Workload::signed(
        tiller.server.url(INBOUND_PATH),
        &tiller.sign_key,
        &tiller.sign_secret,
        bodies,
    );
    work.more_urls = more.iter().map(|n| n.url(INBOUND_PATH)).collect();
    let work = Arc::new(work);
    let (base, tiller_out) = measure(c, &work, &baseline.url(INBOUND_PATH)).await?;
    let stored = srv
        .spawn(stored_messages(tiller.store.clone(), tiller.tenant))
        .await??;
    baseline.stop().await?;
    for node in more {
        srv.spawn(node.stop()).await??;
    }
    let tiller = Arc::into_inner(tiller).context("the nodes let go of the first")?;
    srv.spawn(tiller.stop()).await??;

    let label = match args.nodes {
        1 => format!("Tiller inbound ({})", c.store.as_str()),
        n => format!("Tiller inbound ({}, {n} nodes)", c.store.as_str()),
    };
    let rows = [
        Row {
            label: &label,
            outcome: &tiller_out,
        },
        Row {
            label: BASELINE,
            outcome: &base,
        },
    ];
    let mut md = Vec::new();
    writeln!(md, "{}\n", c.heading("inbound"))?;
    report::throughput_table(&mut md, "requests", c.clients, &rows)?;
    report::cpu_table(&mut md, &rows)?;
    report::errors(&mut md, &rows)?;
    writeln!(
        md,
        "Messages committed in the store after the run: {stored} (warm-up included, plus one \
         conversation.start per session opened; {} call_ids).",
        args.call_ids
    )?;
    Ok(String::from_utf8(md)?)
}

async fn list(args: ListArgs, srv: Handle) -> anyhow::Result<String> {
    let c = &args.common;
    ensure!(
        (1..=10_000_000).contains(&args.messages),
        "--messages must be 1..=10000000"
    );
    let sessions_u64 = u64::try_from(args.sessions)?;
    ensure!(
        (1..=args.messages).contains(&sessions_u64) && args.sessions <= 1_000_000,
        "--sessions must be 1..=min(--messages, 1000000)"
    );
    eprintln!("starting Tiller on {} and the baseline", c.store.as_str());
    let tiller = srv
        .spawn(Tiller::start(c.store, c.db_connections))
        .await??;
    let baseline = srv.spawn(target::start_baseline()).await??;
    eprintln!(
        "loading {} messages over {} sessions into {}",
        args.messages,
        args.sessions,
        tiller.database_url()
    );
    let (store, tenant) = (tiller.store.clone(), tiller.tenant);
    let (messages, sessions) = (args.messages, args.sessions);
    let loaded = srv
        .spawn(async move { preload::load(&store, tenant, messages, sessions).await })
        .await??;
    eprintln!(
        "loaded {} rows in {:.1} s",
        loaded.rows,
        loaded.elapsed.as_secs_f64()
    );
    let stored = srv
        .spawn(stored_messages(tiller.store.clone(), tiller.tenant))
        .await??;
    let bodies = (0..args.sessions).map(list_body).collect();
    let work = Arc::new(Workload::signed(
        tiller.server.url(LIST_PATH),
        &tiller.sign_key,
        &tiller.sign_secret,
        bodies,
    ));
    let page = probe(&work).await?;
    eprintln!("probe: a query returns {page} messages");
    let (base, tiller_out) = measure(c, &work, &baseline.url(LIST_PATH)).await?;
    baseline.stop().await?;
    srv.spawn(tiller.stop()).await??;

    let label = format!("Tiller list ({}, {} msgs)", c.store.as_str(), args.messages);
    let rows = [
        Row {
            label: &label,
            outcome: &tiller_out,
        },
        Row {
            label: BASELINE,
            outcome: &base,
        },
    ];
    let secs = loaded.elapsed.as_secs_f64();
    let mut md = Vec::new();
    writeln!(md, "{}\n", c.heading("list"))?;
    writeln!(
        md,
        "| store | user messages | sessions | rows written | rows in store | load s | rows/s |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        md,
        "| {} | {} | {} | {} | {stored} | {secs:.1} | {:.0} |\n",
        c.store.as_str(),
        args.messages,
        args.sessions,
        loaded.rows,
        report::f(loaded.rows) / secs
    )?;
    report::throughput_table(&mut md, "queries", c.clients, &rows)?;
    report::cpu_table(&mut md, &rows)?;
    report::errors(&mut md, &rows)?;
    writeln!(
        md,
        "Each query: `size` 20, newest first, a uniformly random session; one page holds {page} \
         messages."
    )?;
    Ok(String::from_utf8(md)?)
}

/// The baseline, then Tiller, with the same plan and bodies.
async fn measure(
    c: &Common,
    work: &Arc<Workload>,
    baseline_url: &str,
) -> anyhow::Result<(load::Outcome, load::Outcome)> {
    let plan = c.plan();
    let total = plan.warmup + plan.measure;
    eprintln!(
        "baseline: {} clients for {} s",
        plan.clients,
        total.as_secs()
    );
    let base = load::run(work.aimed_at(baseline_url.to_owned()), plan).await?;
    eprintln!("  {:.0}/s, {} errors", base.per_second(), base.errors);
    eprintln!("tiller: {} clients for {} s", plan.clients, total.as_secs());
    let started = Instant::now();
    let out = load::run(work.clone(), plan).await?;
    eprintln!(
        "  {:.0}/s, {} errors ({:.1} s)",
        out.per_second(),
        out.errors,
        started.elapsed().as_secs_f64()
    );
    Ok((base, out))
}

fn inbound_body(k: usize) -> String {
    serde_json::json!({
        "call_id": format!("bench-in-{k:06}"),
        "channel": "chatbot",
        "channel_id": "bench",
        "user": { "id": format!("u{k}"), "name": "n" },
        "messages": [{ "type": "text", "text": format!("hello, this is user {k}; when is my repayment due?") }],
    })
    .to_string()
}

fn list_body(session: usize) -> String {
    serde_json::json!({
        "call_id": preload::call_id(session),
        "last_msg_id": "",
        "size": 20,
        "type": "single",
    })
    .to_string()
}

/// One list query before the run, to show that pages are full (not empty or failing).
async fn probe(work: &Workload) -> anyhow::Result<usize> {
    let item = work.items.first().context("no sessions")?;
    let res = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(&work.url)
        .header("content-type", "application/json")
        .header("X-AIRudder-Sign-Key", &work.sign_key)
        .header("X-AIRudder-Sign", &item.sign)
        .body(item.body.clone())
        .send()
        .await?;
    let v: serde_json::Value = res.json().await?;
    match v["data"].as_array() {
        Some(page) => Ok(page.len()),
        None => bail!("the list query failed: {v}"),
    }
}

/// All messages of the tenant (nxlink chat records' total).
async fn stored_messages(store: DynStore, t: TenantId) -> anyhow::Result<u64> {
    let q = ChatRecordQuery {
        page: 1,
        page_size: 1,
        ..ChatRecordQuery::default()
    };
    Ok(store.chat_records(t, &q).await?.0)
}
