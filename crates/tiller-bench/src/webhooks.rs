//! The `webhooks` scenario: events enqueued through the store, delivered by the real worker
//! to an in-process receiver, against a raw-POST baseline to the same receiver.

use std::{
    io::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _};
use tiller_core::{
    store::DynStore,
    webhooks::{signing, NewEndpoint},
    Clock as _, SystemClock,
};
use tokio::runtime::Handle;

use crate::{
    outbox, outbox::Deliveries, receiver, report, report::DeliveryRow, target::Tiller, WebhooksArgs,
};

impl WebhooksArgs {
    /// Keeps every run bounded in time and count.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        ensure!(
            (1..=100).contains(&self.endpoints),
            "--endpoints must be 1..=100"
        );
        ensure!(
            (1..=1_000_000).contains(&self.events),
            "--events must be 1..=1000000"
        );
        ensure!(
            self.events * usize::from(self.endpoints) <= 10_000_000,
            "--events × --endpoints must be at most 10000000"
        );
        ensure!(
            (1..=self.events).contains(&self.keys),
            "--keys must be 1..=--events"
        );
        ensure!(
            (1..=10_000).contains(&self.batch),
            "--batch must be 1..=10000"
        );
        ensure!(self.rate <= 1_000_000, "--rate must be at most 1000000");
        ensure!(
            (1..=600).contains(&self.timeout),
            "--timeout must be 1..=600"
        );
        ensure!(
            (1..=1024).contains(&self.concurrency),
            "--concurrency must be 1..=1024"
        );
        ensure!(
            self.poll_ms.is_none_or(|ms| (1..=60_000).contains(&ms)),
            "--poll-ms must be 1..=60000"
        );
        Ok(())
    }

    fn pacing(&self) -> String {
        if self.rate == 0 {
            format!("back to back in transactions of {}", self.batch)
        } else {
            format!(
                "paced at {} deliveries/s ({:.0} events/s, every {} ms, at most {} a transaction)",
                self.rate,
                self.events_per_second(),
                outbox::PACE_TICK.as_millis(),
                self.batch
            )
        }
    }

    fn events_per_second(&self) -> f64 {
        report::f(self.rate) / f64::from(self.endpoints)
    }
}

pub(crate) async fn webhooks(
    args: WebhooksArgs,
    srv: Handle,
    recv: Handle,
) -> anyhow::Result<String> {
    let log = Arc::new(receiver::Log::default());
    let hooks = recv.spawn(receiver::start(log.clone())).await??;
    eprintln!(
        "starting Tiller on {} with its delivery worker, and the receiver",
        args.store.as_str()
    );
    let (concurrency, poll_ms) = (args.concurrency, args.poll_ms);
    let tiller = srv
        .spawn(Tiller::start_with(
            args.store,
            args.db_connections,
            move |cfg| {
                cfg.outbound.allowed_networks = "127.0.0.1/32".into();
                cfg.webhooks.worker = true;
                cfg.webhooks.concurrency = concurrency;
                if let Some(ms) = poll_ms {
                    cfg.webhooks.poll_interval_ms = ms;
                }
            },
        ))
        .await??;
    let (store, tenant) = (tiller.store.clone(), tiller.tenant);
    let mut urls = Vec::new();
    for n in 0..args.endpoints {
        let new = NewEndpoint {
            url: receiver::endpoint_url(&hooks, n),
            event_types: None,
            secret: signing::new_secret(),
            encryption_key: None,
        };
        let endpoint = store
            .create_endpoint(tenant, &new, SystemClock.now())
            .await
            .context("creating an endpoint")?;
        urls.push(endpoint.url);
    }
    let d = Arc::new(Deliveries::new(args.events, args.keys, urls)?);
    let total = d.total();
    eprintln!(
        "raw POSTs: {total} deliveries, {} in flight",
        args.concurrency
    );
    let base = outbox::raw_posts(&d, &log, args.concurrency).await?;
    eprintln!("  {:.0}/s, {} errors", base.per_second(), base.errors);
    eprintln!(
        "tiller: {} events × {} endpoints, enqueued {}",
        args.events,
        args.endpoints,
        args.pacing()
    );
    let per_second = if args.rate == 0 {
        0.0
    } else {
        args.events_per_second()
    };
    let limits = (args.batch, per_second, Duration::from_secs(args.timeout));
    let (run, batches) = outbox::tiller(
        &srv,
        (store.clone(), tiller.bus.clone()),
        tenant,
        &d,
        &log,
        limits,
    )
    .await?;
    eprintln!(
        "  {:.0}/s, {} of {} arrived{}",
        run.per_second(),
        run.delivered,
        run.expected,
        if run.timed_out { " (timed out)" } else { "" }
    );
    let pending = srv.spawn(settled_outbox(store)).await??;
    srv.spawn(tiller.stop()).await??;
    let late = log.take().len();
    hooks.stop().await?;

    let after = After {
        batches: &batches,
        pending,
        late,
    };
    webhooks_report(&args, &run, &base, &after)
}

/// What the webhook run left behind, for the report.
struct After<'a> {
    batches: &'a [outbox::Batch],
    /// Deliveries still pending in the store once the worker settled.
    pending: u64,
    /// Requests the receiver answered after the measured window.
    late: usize,
}

fn webhooks_report(
    args: &WebhooksArgs,
    run: &outbox::Run,
    base: &outbox::Run,
    after: &After<'_>,
) -> anyhow::Result<String> {
    let label = format!("Tiller outbox ({})", args.store.as_str());
    let raw = format!("raw POSTs (reqwest, {} in flight)", args.concurrency);
    let rows = [
        DeliveryRow { label: &label, run },
        DeliveryRow {
            label: &raw,
            run: base,
        },
    ];
    let mut md = Vec::new();
    writeln!(
        md,
        "### webhooks on {}: {} events × {} endpoints = {} deliveries, {} keys, \
         webhooks.concurrency {}{}\n",
        args.store.as_str(),
        args.events,
        args.endpoints,
        args.events * usize::from(args.endpoints),
        args.keys,
        args.concurrency,
        args.poll_ms
            .map_or_else(String::new, |ms| format!(", poll_interval_ms {ms}")),
    )?;
    report::delivery_table(&mut md, &rows)?;
    report::delivery_cpu_table(&mut md, &rows)?;
    let enqueued = enqueue_summary(after.batches, run);
    writeln!(md, "Events enqueued {}: {enqueued}", args.pacing())?;
    if let Some(h) = &run.latency_from_call_us {
        writeln!(
            md,
            "Tiller's latency is enqueue commit → first arrival; from the start of the \
             enqueue call (the event's `created_at`, as in the server's own metric) it is \
             p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms. The raw POSTs' latency is send → arrival.\n",
            report::f(h.value_at_quantile(0.50)) / 1000.0,
            report::f(h.value_at_quantile(0.99)) / 1000.0,
            report::f(h.max()) / 1000.0,
        )?;
    }
    writeln!(
        md,
        "After the run: {} deliveries still pending in the store, {} requests arrived \
         after the measured window.",
        after.pending, after.late
    )?;
    Ok(String::from_utf8(md)?)
}

/// How fast the enqueue went, and how long one transaction took.
fn enqueue_summary(batches: &[outbox::Batch], run: &outbox::Run) -> String {
    let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
        return "nothing.\n".into();
    };
    let events: usize = batches.iter().map(|b| b.len).sum();
    let secs = last.committed.duration_since(first.called).as_secs_f64();
    let mut took: Vec<f64> = batches
        .iter()
        .map(|b| b.committed.duration_since(b.called).as_secs_f64() * 1000.0)
        .collect();
    took.sort_by(f64::total_cmp);
    let p50 = took[took.len() / 2];
    let max = took[took.len() - 1];
    format!(
        "{events} events in {} transactions over {secs:.2} s ({:.0} events/s, {:.0} \
         deliveries/s offered); a transaction took p50 {p50:.1} ms, max {max:.1} ms. \
         Deliveries/s is distinct first arrivals over the time from the first enqueue to the \
         last first arrival ({:.2} s).\n",
        batches.len(),
        report::f(events as u64) / secs.max(1e-9),
        report::f(run.expected) / secs.max(1e-9),
        run.seconds,
    )
}

/// Pending deliveries once the worker has had up to five seconds to record its outcomes.
async fn settled_outbox(store: DynStore) -> anyhow::Result<u64> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let pending = store.outbox_stats(SystemClock.now()).await?.pending;
        if pending == 0 || Instant::now() >= until {
            return Ok(pending);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
