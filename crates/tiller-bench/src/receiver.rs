//! The webhook receiver: an axum server on 127.0.0.1:0 that reads every `POST
//! /hook/{endpoint}` body, answers 200 `{}`, and logs the endpoint, the `webhook-id` header
//! and the arrival instant (after the whole body was read). Start it from a task on the
//! receiver runtime (threads [`crate::cpu::RECEIVER_THREADS`]) so the CPU table can tell
//! its share from Tiller's.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Instant,
};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap},
    routing::post,
    Router,
};

use crate::target::{self, Running};

/// One request the receiver answered.
pub struct Arrival {
    pub endpoint: u16,
    /// The `webhook-id` header; empty when it was missing.
    pub id: String,
    pub at: Instant,
}

/// Every arrival since the last [`Log::take`].
#[derive(Default)]
pub struct Log {
    arrivals: Mutex<Vec<Arrival>>,
    count: AtomicU64,
}

impl Log {
    /// Requests answered since the last [`Log::take`], duplicates included.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Hands over the arrivals and starts a new log.
    pub fn take(&self) -> Vec<Arrival> {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        self.count.store(0, Ordering::Relaxed);
        std::mem::take(&mut *arrivals)
    }

    fn push(&self, arrival: Arrival) {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(arrival);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The URL of endpoint `n` on a running receiver.
pub fn endpoint_url(server: &Running, n: u16) -> String {
    server.url(&format!("/hook/{n}"))
}

pub async fn start(log: Arc<Log>) -> anyhow::Result<Running> {
    let router = Router::new()
        .route("/hook/{endpoint}", post(receive))
        .with_state(log);
    target::serve(router, "the webhook receiver").await
}

async fn receive(
    State(log): State<Arc<Log>>,
    Path(endpoint): Path<u16>,
    headers: HeaderMap,
    // Read like a real receiver would, before it answers.
    _body: Bytes,
) -> ([(header::HeaderName, &'static str); 1], &'static str) {
    let at = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    log.push(Arrival { endpoint, id, at });
    ([(header::CONTENT_TYPE, "application/json")], "{}")
}
