//! The webhook scenario's two runs over the same deliveries: Tiller's outbox (events written
//! through the store port, delivered by the app's own worker) and the raw-POST baseline (a
//! plain reqwest client posting the same bodies under the same ids, with as many requests in
//! flight as the worker's `webhooks.concurrency`). The receiver's log is the single source
//! of truth for both: a delivery counts when its first request arrived.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tiller_core::{
    bus::{CommitBus, Committed},
    store::DynStore,
    webhooks::NewEvent,
    Clock as _, SystemClock, TenantId,
};
use tokio::{runtime::Handle, time::MissedTickBehavior};

use crate::{
    cpu,
    receiver::{Arrival, Log},
};

/// Highest latency the histograms track: ten minutes, in microseconds.
const MAX_LATENCY_US: u64 = 600_000_000;
/// How often a paced enqueue writes what is due.
pub const PACE_TICK: Duration = Duration::from_millis(10);

/// The deliveries both runs make: every event to every endpoint.
pub struct Deliveries {
    pub events: Vec<NewEvent>,
    /// Each event's body as Tiller sends it (no encryption).
    pub bodies: Vec<Vec<u8>>,
    pub endpoint_urls: Vec<String>,
    /// `event_id` → index in `events`.
    index: HashMap<String, usize>,
    /// Events share an ordering key when their indexes are equal modulo this.
    pub keys: usize,
}

impl Deliveries {
    pub fn new(events: usize, keys: usize, endpoint_urls: Vec<String>) -> anyhow::Result<Self> {
        let events: Vec<NewEvent> = (0..events)
            .map(|i| {
                NewEvent::new(
                    "bench.event",
                    Some(format!("k{}", i % keys)),
                    serde_json::json!({
                        "type": "bench.event",
                        "seq": i,
                        "call_id": format!("k{}", i % keys),
                        "data": {
                            "company": "Bench Lending",
                            "text": format!("reminder {i}: your repayment is due on the 28th"),
                        },
                    }),
                )
            })
            .collect();
        let bodies = events
            .iter()
            .map(|e| serde_json::to_vec(&e.payload))
            .collect::<Result<_, _>>()?;
        let index = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.event_id.clone(), i))
            .collect();
        Ok(Deliveries {
            events,
            bodies,
            endpoint_urls,
            index,
            keys,
        })
    }

    pub fn total(&self) -> usize {
        self.events.len() * self.endpoint_urls.len()
    }

    /// Delivery `k` is event `k / endpoints` to endpoint `k % endpoints`.
    fn split(&self, k: usize) -> (usize, usize) {
        let n = self.endpoint_urls.len();
        (k / n, k % n)
    }
}

/// One transaction of the enqueue.
pub struct Batch {
    pub first: usize,
    pub len: usize,
    pub called: Instant,
    pub committed: Instant,
}

/// Writes every event through `store.enqueue`, `batch` per transaction, and wakes the
/// worker after each (on the commit bus) as the services do: back to back when
/// `per_second` is zero, otherwise paced so that `per_second` events are due each second
/// (what is due is written every [`PACE_TICK`], at most `batch` at a time). Spawn it on the
/// server runtime: in production Tiller itself writes the events.
pub async fn enqueue(
    store: DynStore,
    bus: Arc<CommitBus>,
    tenant: TenantId,
    deliveries: Arc<Deliveries>,
    batch: usize,
    per_second: f64,
) -> anyhow::Result<Vec<Batch>> {
    let events = &deliveries.events;
    let start = Instant::now();
    let mut tick = tokio::time::interval(PACE_TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batches = Vec::new();
    let mut done = 0;
    while done < events.len() {
        let take = if per_second > 0.0 {
            tick.tick().await;
            let due = (start.elapsed().as_secs_f64() * per_second).floor();
            // Bounded by events.len(), so the cast cannot truncate.
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a non-negative count below events.len()"
            )]
            let due = due.min(crate::report::f(events.len() as u64)) as usize;
            due.saturating_sub(done).min(batch)
        } else {
            batch.min(events.len() - done)
        };
        if take == 0 {
            continue;
        }
        let called = Instant::now();
        store
            .enqueue(tenant, &events[done..done + take], SystemClock.now())
            .await
            .with_context(|| format!("enqueueing events {done}.."))?;
        // As the services do after a write that enqueued events.
        bus.publish(&Committed::EventsEnqueued);
        batches.push(Batch {
            first: done,
            len: take,
            called,
            committed: Instant::now(),
        });
        done += take;
    }
    Ok(batches)
}

/// What one run delivered, by the receiver's log.
pub struct Run {
    pub expected: u64,
    /// Distinct (event, endpoint) pairs that arrived.
    pub delivered: u64,
    /// Arrivals of a pair that had already arrived.
    pub duplicates: u64,
    /// Arrivals with an id or endpoint that is not one of the run's.
    pub unknown: u64,
    /// First arrivals that overtook an earlier event of the same ordering key and endpoint
    /// (`None` for the baseline, which keeps no order).
    pub out_of_order: Option<u64>,
    /// Requests the baseline's client saw fail (Tiller retries failures instead).
    pub errors: u64,
    /// From the first send (or enqueue) to the last first arrival.
    pub seconds: f64,
    /// Tiller: enqueue commit → first arrival. Baseline: send → arrival.
    pub latency_us: Histogram<u64>,
    /// Tiller: start of the enqueue call (the event's `created_at`) → first arrival.
    pub latency_from_call_us: Option<Histogram<u64>>,
    pub cpu: cpu::Split,
    pub timed_out: bool,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        crate::report::f(self.delivered) / self.seconds.max(1e-9)
    }

    /// CPU-seconds per 10,000 deliveries of `cores` over the CPU window.
    pub fn per_10k(&self, cores: f64) -> f64 {
        cores * self.cpu.seconds * 10_000.0 / crate::report::f(self.delivered.max(1))
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Reads the receiver's log against the deliveries. `from[k]` is when delivery `k` was
/// handed over (enqueue commit, or the baseline's send); `call[k]` the start of its enqueue.
struct Tally<'a> {
    d: &'a Deliveries,
    from: &'a [Instant],
    call: Option<&'a [Instant]>,
    ordered: bool,
}

impl Tally<'_> {
    fn run(&self, mut arrivals: Vec<Arrival>, started: Instant) -> Run {
        arrivals.sort_by_key(|a| a.at);
        let endpoints = self.d.endpoint_urls.len();
        let mut seen = vec![false; self.d.total()];
        // Highest event index delivered so far per (endpoint, ordering key).
        let mut order_head: Vec<Option<usize>> = vec![None; endpoints * self.d.keys];
        let (mut delivered, mut duplicates, mut unknown, mut out_of_order) = (0, 0, 0, 0);
        let mut last = started;
        let mut latency_us = histogram();
        let mut latency_from_call_us = self.call.map(|_| histogram());
        for a in &arrivals {
            let ep = usize::from(a.endpoint);
            let Some(&ev) = self.d.index.get(&a.id) else {
                unknown += 1;
                continue;
            };
            if ep >= endpoints {
                unknown += 1;
                continue;
            }
            let k = ev * endpoints + ep;
            if seen[k] {
                duplicates += 1;
                continue;
            }
            seen[k] = true;
            delivered += 1;
            last = last.max(a.at);
            latency_us.saturating_record(micros(a.at.saturating_duration_since(self.from[k])));
            if let (Some(h), Some(call)) = (latency_from_call_us.as_mut(), self.call) {
                h.saturating_record(micros(a.at.saturating_duration_since(call[k])));
            }
            let head = &mut order_head[ep * self.d.keys + ev % self.d.keys];
            if head.is_some_and(|h| h > ev) {
                out_of_order += 1;
            } else {
                *head = Some(ev);
            }
        }
        Run {
            expected: self.d.total() as u64,
            delivered,
            duplicates,
            unknown,
            out_of_order: self.ordered.then_some(out_of_order),
            errors: 0,
            seconds: last.duration_since(started).as_secs_f64(),
            latency_us,
            latency_from_call_us,
            cpu: cpu::Split::default(),
            timed_out: false,
        }
    }
}

/// Waits until the receiver has answered `expected` requests or `deadline` passes,
/// printing progress every five seconds. Returns whether the deadline passed first.
pub async fn wait_for(
    log: &Log,
    expected: u64,
    started: Instant,
    deadline: Instant,
    mut also: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let mut report_at = started + Duration::from_secs(5);
    loop {
        also()?;
        let n = log.count();
        let now = Instant::now();
        if n >= expected {
            return Ok(false);
        }
        if now >= deadline {
            return Ok(true);
        }
        if now >= report_at {
            report_at += Duration::from_secs(5);
            let secs = now.duration_since(started).as_secs_f64();
            eprintln!(
                "  {n} of {expected} arrived in {secs:.0} s ({:.0}/s)",
                crate::report::f(n) / secs
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Tiller's run: enqueues on `srv` while the app's worker delivers, until every delivery
/// arrived or `timeout` passed. Returns the run and the enqueue's transactions.
pub async fn tiller(
    srv: &Handle,
    (store, bus): (DynStore, Arc<CommitBus>),
    tenant: TenantId,
    d: &Arc<Deliveries>,
    log: &Arc<Log>,
    (batch, per_second, timeout): (usize, f64, Duration),
) -> anyhow::Result<(Run, Vec<Batch>)> {
    let expected = d.total() as u64;
    log.take();
    let before = cpu::snapshot();
    let started = Instant::now();
    let mut enq = srv.spawn(enqueue(store, bus, tenant, d.clone(), batch, per_second));
    let mut written = None;
    let timed_out = wait_for(log, expected, started, started + timeout, || {
        if written.is_none() && enq.is_finished() {
            let r = futures_util::FutureExt::now_or_never(&mut enq)
                .context("a finished task is ready")?;
            written = Some(r.context("enqueue task")??);
        }
        Ok(())
    })
    .await?;
    let after = cpu::snapshot();
    let batches = match written {
        Some(b) => b,
        None => enq.await.context("enqueue task")??,
    };
    let endpoints = d.endpoint_urls.len();
    let (mut from, mut call) = (vec![started; d.total()], vec![started; d.total()]);
    for b in &batches {
        for ev in b.first..b.first + b.len {
            for ep in 0..endpoints {
                from[ev * endpoints + ep] = b.committed;
                call[ev * endpoints + ep] = b.called;
            }
        }
    }
    let tally = Tally {
        d,
        from: &from,
        call: Some(&call),
        ordered: true,
    };
    let mut run = tally.run(log.take(), started);
    run.cpu = cpu::between(&before, &after);
    run.timed_out = timed_out;
    Ok((run, batches))
}

/// The baseline: `clients` tasks post the same bodies under the same ids to the same
/// endpoints, each waiting for its answer before the next, until every delivery was sent.
pub async fn raw_posts(d: &Arc<Deliveries>, log: &Arc<Log>, clients: usize) -> anyhow::Result<Run> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    log.take();
    let next = Arc::new(AtomicUsize::new(0));
    let before = cpu::snapshot();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(poster(http.clone(), d.clone(), next.clone())))
        .collect();
    let mut sent = vec![started; d.total()];
    let mut errors = 0;
    for t in tasks {
        let (times, errs) = t.await.context("poster task")?;
        errors += errs;
        for (k, at) in times {
            sent[k] = at;
        }
    }
    let after = cpu::snapshot();
    let tally = Tally {
        d,
        from: &sent,
        call: None,
        ordered: false,
    };
    let mut run = tally.run(log.take(), started);
    run.errors = errors;
    run.cpu = cpu::between(&before, &after);
    Ok(run)
}

async fn poster(
    http: reqwest::Client,
    d: Arc<Deliveries>,
    next: Arc<AtomicUsize>,
) -> (Vec<(usize, Instant)>, u64) {
    let mut sent = Vec::new();
    let mut errors = 0;
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= d.total() {
            return (sent, errors);
        }
        let (ev, ep) = d.split(k);
        let at = Instant::now();
        let res = http
            .post(&d.endpoint_urls[ep])
            .headers(look_alike_headers(&d.events[ev].event_id))
            .body(d.bodies[ev].clone())
            .send()
            .await;
        sent.push((k, at));
        match res {
            Ok(r) if r.status().is_success() => {
                if r.bytes().await.is_err() {
                    errors += 1;
                }
            }
            _ => errors += 1,
        }
    }
}

/// Headers of the same names and sizes as a Tiller delivery's, without computing the
/// signatures.
fn look_alike_headers(event_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let fixed = [
        ("content-type", "application/json".to_owned()),
        ("user-agent", "Airudder".to_owned()),
        ("webhook-timestamp", "1700000000".to_owned()),
        ("webhook-signature", format!("v1,{}=", "A".repeat(43))),
        ("x-airudder-sign", "0".repeat(64)),
        ("webhook-id", event_id.to_owned()),
    ];
    for (name, value) in fixed {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_first_arrivals_duplicates_strangers_and_overtaking() {
        // Four events over two keys (0, 2 share key k0; 1, 3 share k1), two endpoints.
        let d = Deliveries::new(4, 2, vec!["a".into(), "b".into()]).unwrap();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let arrival = |ev: usize, endpoint: u16, ms: u64| Arrival {
            endpoint,
            id: d.events[ev].event_id.clone(),
            at: at(ms),
        };
        let arrivals = vec![
            arrival(0, 0, 10),
            arrival(0, 0, 11), // a duplicate
            arrival(2, 1, 12),
            arrival(0, 1, 13), // event 0 after event 2 of the same key, on endpoint 1
            arrival(1, 0, 14),
            Arrival {
                endpoint: 0,
                id: "stranger".into(),
                at: at(15),
            },
            arrival(3, 5, 16), // no such endpoint
        ];
        let from = vec![t0; d.total()];
        let run = Tally {
            d: &d,
            from: &from,
            call: None,
            ordered: true,
        }
        .run(arrivals, t0);
        assert_eq!(run.expected, 8);
        assert_eq!(run.delivered, 4);
        assert_eq!(run.duplicates, 1);
        assert_eq!(run.unknown, 2);
        assert_eq!(run.out_of_order, Some(1));
        assert!((run.seconds - 0.014).abs() < 1e-9);
        // 14 ms, within the histogram's three significant digits.
        assert!((13_990..14_020).contains(&run.latency_us.max()));
    }
}
