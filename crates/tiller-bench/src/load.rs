//! Closed-loop load: `clients` tasks each send one request, wait for the whole answer, and
//! send the next, for a warm-up and then a measured window. A request counts when it was
//! both sent and answered inside the window; its latency (send to last body byte) goes into
//! an HDR histogram in microseconds. Bodies are prepared and signed beforehand, so the
//! generator spends its CPU on HTTP only.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use tiller_core::signing::airudder;

use crate::cpu;

/// Highest latency the histograms track: one minute, in microseconds.
const MAX_LATENCY_US: u64 = 60_000_000;

/// One signed request body.
pub struct Prepared {
    pub body: String,
    pub sign: String,
}

/// The requests a run picks from at random, and where it sends them.
pub struct Workload {
    pub url: String,
    /// Further nodes of the same Tiller: client `i` sends to node `i mod nodes`.
    pub more_urls: Vec<String>,
    pub sign_key: String,
    pub items: Vec<Prepared>,
}

impl Workload {
    /// Where client `i` sends its requests.
    fn url_for(&self, client: usize) -> &str {
        match client % (1 + self.more_urls.len()) {
            0 => &self.url,
            n => &self.more_urls[n - 1],
        }
    }

    /// Signs each body with `sign_secret`, as an integrator does (`X-AIRudder-Sign`).
    pub fn signed(url: String, sign_key: &str, sign_secret: &str, bodies: Vec<String>) -> Self {
        let items = bodies
            .into_iter()
            .map(|body| Prepared {
                sign: airudder::sign(sign_secret, None, body.as_bytes()),
                body,
            })
            .collect();
        Workload {
            url,
            more_urls: Vec::new(),
            sign_key: sign_key.to_owned(),
            items,
        }
    }

    /// The same bodies and headers, sent to another server (the baseline).
    pub fn aimed_at(self: &Arc<Self>, url: String) -> Arc<Self> {
        Arc::new(Workload {
            url,
            more_urls: Vec::new(),
            sign_key: self.sign_key.clone(),
            items: self
                .items
                .iter()
                .map(|p| Prepared {
                    body: p.body.clone(),
                    sign: p.sign.clone(),
                })
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one measured window saw.
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub latency_us: Histogram<u64>,
    pub seconds: f64,
    pub cpu: cpu::Split,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        crate::report::f(self.ok) / self.seconds
    }
}

/// Runs `plan` against `work` with a client of its own (one keep-alive connection per
/// client task). Call it on the client runtime.
pub async fn run(work: Arc<Workload>, plan: Plan) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let start = Instant::now();
    let window = (start + plan.warmup, start + plan.warmup + plan.measure);
    let tasks: Vec<_> = (0..plan.clients)
        .map(|i| tokio::spawn(client_loop(http.clone(), work.clone(), i, window, seed(i))))
        .collect();
    tokio::time::sleep_until(window.0.into()).await;
    let before = cpu::snapshot();
    tokio::time::sleep_until(window.1.into()).await;
    let after = cpu::snapshot();
    let mut total = Tally::new();
    for t in tasks {
        total.merge(t.await?);
    }
    Ok(Outcome {
        ok: total.ok,
        errors: total.errors,
        latency_us: total.latency_us,
        seconds: plan.measure.as_secs_f64(),
        cpu: cpu::between(&before, &after),
        first_error: total.first_error,
    })
}

struct Tally {
    ok: u64,
    errors: u64,
    latency_us: Histogram<u64>,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            ok: 0,
            errors: 0,
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("static histogram bounds are valid"),
            first_error: None,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share bounds");
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn client_loop(
    http: reqwest::Client,
    work: Arc<Workload>,
    client: usize,
    (from, until): (Instant, Instant),
    mut rng: u64,
) -> Tally {
    let mut tally = Tally::new();
    loop {
        let sent = Instant::now();
        if sent >= until {
            return tally;
        }
        let item = &work.items[pick(&mut rng, work.items.len())];
        let result = exchange(&http, &work, work.url_for(client), item).await;
        let done = Instant::now();
        if sent < from || done > until {
            continue;
        }
        match result {
            Ok(()) => {
                tally.ok += 1;
                let us = u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
                tally.latency_us.saturating_record(us.max(1));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
            }
        }
    }
}

/// Sends one request and reads the whole answer; success is HTTP 2xx with the envelope's
/// `"code":200` (Tiller also answers some errors with HTTP 200 and another code).
async fn exchange(
    http: &reqwest::Client,
    work: &Workload,
    url: &str,
    item: &Prepared,
) -> Result<(), String> {
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .header("X-AIRudder-Sign-Key", &work.sign_key)
        .header("X-AIRudder-Sign", &item.sign)
        .body(item.body.clone())
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| format!("reading: {e}"))?;
    let head = &body[..body.len().min(256)];
    if status.is_success() && head.windows(10).any(|w| w == b"\"code\":200") {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    }
}

/// A per-client seed for [`pick`]; the runs need spread, not secrecy.
fn seed(client: usize) -> u64 {
    0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(client as u64 + 1) | 1
}

/// xorshift64*: a uniform-enough index below `n`, without a dependency.
pub fn pick(state: &mut u64, n: usize) -> usize {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    // n is a Vec length, far below 2^32 here; the modulo bias is irrelevant for load.
    usize::try_from(r % n as u64).unwrap_or(0)
}
