//! The robots scenario: robot turns per second and turn latency, driven in-process through
//! the app's own services (`Conversations::receive`, then `RobotEngine::run_turn`), so the
//! figures are the engine and the store without HTTP.
//!
//! Open loop: each of `sessions` sessions sends a user message every `sessions / rate`
//! seconds (staggered), waits for its robot turn to commit, and falls behind if a turn
//! takes longer than its period. A turn's latency runs from the moment its message was
//! *due* to the commit of the robot's reply, so a store that cannot keep up shows it
//! (no coordinated omission). The robot is a pure flow (it echoes the user), so no
//! external-robot time is counted. Afterwards, the same turn on a 10-message and on a
//! 10,000-message session shows whether turn latency depends on the session's length.

use std::{
    io::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use tiller_core::{
    conversations::{CallId, ChatUser, NewSession, UserMessage},
    messages::Content,
    tenant::Tenant,
};
use tokio::runtime::Handle;

use crate::{
    cpu, report,
    target::{StoreKind, Tiller},
};

/// Echoes every user message: one capture and one reply per turn.
const ECHO: &str = "name: echo\nstart: listen\nnodes:\n  listen:\n    capture: {slot: said, kind: text, goto: reply}\n  reply:\n    say: [\"you said {{said}}\"]\n    goto: listen\n";

#[derive(Debug, clap::Args)]
pub struct RobotsArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// Admin URL of a PostgreSQL server on 127.0.0.1 (a fresh database is made there).
    #[arg(long, env = "TILLER_BENCH_PG_URL")]
    pub pg_url: Option<String>,
    /// Concurrent sessions, each with one message in flight at most.
    #[arg(long, default_value_t = 1_000)]
    pub sessions: usize,
    /// Offered turns per second over all sessions.
    #[arg(long, default_value_t = 3_000)]
    pub rate: u64,
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Messages in the long session of the length check.
    #[arg(long, default_value_t = 10_000)]
    pub long_session: usize,
}

impl RobotsArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=10_000).contains(&self.sessions),
            "--sessions must be 1..=10000"
        );
        anyhow::ensure!(
            (1..=100_000).contains(&self.rate),
            "--rate must be 1..=100000"
        );
        anyhow::ensure!(
            (1..=300).contains(&self.seconds),
            "--seconds must be 1..=300"
        );
        anyhow::ensure!(
            (10..=100_000).contains(&self.long_session),
            "--long-session must be 10..=100000"
        );
        Ok(())
    }
}

/// What one session's task saw.
struct SessionRun {
    turns: u64,
    errors: u64,
    first_error: Option<String>,
    /// Due time → reply committed, µs.
    latency: Histogram<u64>,
    /// The robot turn alone (claim, run, commit), µs.
    turn: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn session(i: usize) -> anyhow::Result<NewSession> {
    Ok(NewSession {
        call_id: CallId::parse(&format!("bench-robot-{i:06}"))?,
        channel: "chatbot".into(),
        channel_id: "bench".into(),
        user: ChatUser {
            id: format!("u{i}"),
            name: "n".into(),
        },
        robot_id: None,
        variables: serde_json::Map::new(),
    })
}

fn text(t: String) -> Vec<UserMessage> {
    vec![UserMessage {
        content: Content::plain_text(t),
        msg_id: None,
        timestamp: None,
        reply_to: None,
    }]
}

/// One user message and the robot's turn; returns the turn's own duration.
/// `tenant` is looked up once per session, as the API's credential cache does.
async fn exchange(
    tiller: &Tiller,
    tenant: &Tenant,
    s: &NewSession,
    n: u64,
) -> anyhow::Result<Duration> {
    tiller
        .state
        .conversations
        .receive(tenant, s.clone(), text(format!("message {n}")))
        .await?;
    let started = Instant::now();
    let ran = tiller
        .state
        .robots
        .run_turn(tiller.tenant, &s.call_id)
        .await?;
    anyhow::ensure!(ran, "the turn was not due");
    Ok(started.elapsed())
}

async fn drive(tiller: Arc<Tiller>, i: usize, args: (usize, u64, Instant, Instant)) -> SessionRun {
    let (sessions, rate, start, end) = args;
    let period = Duration::from_secs_f64(report::f(sessions as u64) / report::f(rate));
    let mut due = start + period.mul_f64(report::f(i as u64) / report::f(sessions as u64));
    let mut run = SessionRun {
        turns: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
        turn: histogram(),
    };
    let Ok(s) = session(i) else { return run };
    let Ok(tenant) = tiller.state.tenants.get(tiller.tenant).await else {
        return run;
    };
    let mut n = 0;
    while due < end {
        tokio::time::sleep_until(due.into()).await;
        n += 1;
        match exchange(&tiller, &tenant, &s, n).await {
            Ok(turn) => {
                run.turns += 1;
                let _ = run.latency.record(micros(due.elapsed()).max(1));
                let _ = run.turn.record(micros(turn).max(1));
            }
            Err(e) => {
                run.errors += 1;
                run.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        due += period;
    }
    run
}

/// Turn latency on a session that already holds `messages` messages.
async fn turns_on_long_session(
    tiller: &Tiller,
    i: usize,
    messages: usize,
) -> anyhow::Result<Histogram<u64>> {
    let s = session(i)?;
    let tenant = tiller.state.tenants.get(tiller.tenant).await?;
    // Fill it 100 user messages at a time; each fill's turn answers all of them.
    let mut written = 0;
    while written < messages {
        let batch = (written..written + 100).map(|k| UserMessage {
            content: Content::plain_text(format!("fill {k}")),
            msg_id: None,
            timestamp: None,
            reply_to: None,
        });
        tiller
            .state
            .conversations
            .receive(&tenant, s.clone(), batch.collect())
            .await?;
        tiller
            .state
            .robots
            .run_turn(tiller.tenant, &s.call_id)
            .await?;
        written += 200;
    }
    let mut h = histogram();
    for n in 0..200 {
        let d = exchange(tiller, &tenant, &s, n).await?;
        let _ = h.record(micros(d).max(1));
    }
    Ok(h)
}

pub async fn robots(args: RobotsArgs, srv: Handle) -> anyhow::Result<String> {
    eprintln!("starting Tiller on {}", args.store.as_str());
    let tiller = srv
        .spawn(Tiller::start_with(args.store, None, |cfg| {
            cfg.robots.inline_turns = false;
            cfg.robots.worker = false;
            cfg.webhooks.worker = false;
        }))
        .await??;
    let robot = tiller
        .state
        .robots
        .import(tiller.tenant, ECHO, true)
        .await?;
    let tiller = Arc::new(tiller);
    eprintln!(
        "robot {} ready; {} sessions at {} turns/s for {} s",
        robot.robot_id, args.sessions, args.rate, args.seconds
    );

    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(args.seconds);
    let before = cpu::snapshot();
    let tasks: Vec<_> = (0..args.sessions)
        .map(|i| {
            srv.spawn(drive(
                tiller.clone(),
                i,
                (args.sessions, args.rate, start, end),
            ))
        })
        .collect();
    let mut all = SessionRun {
        turns: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
        turn: histogram(),
    };
    for t in tasks {
        let r = t.await.context("session task")?;
        all.turns += r.turns;
        all.errors += r.errors;
        all.first_error = all.first_error.or(r.first_error);
        all.latency.add(&r.latency)?;
        all.turn.add(&r.turn)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let split = cpu::between(&before, &cpu::snapshot());

    eprintln!("length check: 10 and {} messages", args.long_session);
    let t2 = tiller.clone();
    let long = args.long_session;
    let (short_h, long_h) = srv
        .spawn(async move {
            let short = turns_on_long_session(&t2, 900_001, 10).await?;
            let long = turns_on_long_session(&t2, 900_002, long).await?;
            anyhow::Ok((short, long))
        })
        .await??;
    let tiller = Arc::into_inner(tiller).context("tasks still hold the app")?;
    srv.spawn(tiller.stop()).await??;

    let by_length = [
        ("10 messages".to_owned(), short_h),
        (format!("{long} messages"), long_h),
    ];
    render(
        &args,
        &all,
        elapsed,
        split.server + split.sqlite,
        &by_length,
    )
}

fn render(
    args: &RobotsArgs,
    all: &SessionRun,
    elapsed: f64,
    server_cores: f64,
    by_length: &[(String, Histogram<u64>)],
) -> anyhow::Result<String> {
    let (latency, turn) = (&all.latency, &all.turn);
    let ms = |us: u64| report::f(us) / 1000.0;
    let mut md = Vec::new();
    writeln!(
        md,
        "### robots on {}: {} sessions, {} turns/s offered, {} s\n",
        args.store.as_str(),
        args.sessions,
        args.rate,
        args.seconds
    )?;
    writeln!(md, "| turns | errors | turns/s | p50 ms | p99 ms | max ms | turn alone p50 / p99 ms | server CPU cores |")?;
    writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        md,
        "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} | {:.2} |\n",
        all.turns,
        all.errors,
        report::f(all.turns) / elapsed,
        ms(latency.value_at_quantile(0.5)),
        ms(latency.value_at_quantile(0.99)),
        ms(latency.max()),
        ms(turn.value_at_quantile(0.5)),
        ms(turn.value_at_quantile(0.99)),
        server_cores,
    )?;
    writeln!(md, "| session length | turns | turn p50 ms | turn p99 ms |")?;
    writeln!(md, "|---|---:|---:|---:|")?;
    for (label, h) in by_length {
        writeln!(
            md,
            "| {label} | {} | {:.2} | {:.2} |",
            h.len(),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99))
        )?;
    }
    if let Some(e) = &all.first_error {
        writeln!(md, "\nFirst error: `{e}`")?;
    }
    writeln!(
        md,
        "\nLatency runs from the moment a message was due (open loop) to the commit of the \
         robot's reply; \"turn alone\" is the claim, run and commit of the turn."
    )?;
    Ok(String::from_utf8(md)?)
}
