//! The webhook delivery worker.
//!
//! Guarantee: at-least-once, with a stable event id. A delivery is leased in the database
//! (`lease_until` = now + send timeout + margin, longer than any attempt can take) before
//! it is sent, outside any transaction; its outcome is written afterwards. If the process
//! dies in between, the lease expires and another worker (or this one, restarted) sends it
//! again under the same `webhook-id`. Per-session order holds because a delivery is not
//! claimable while an earlier one with the same ordering key waits for the same endpoint.

use std::{sync::Arc, time::Instant};

use chrono::Duration;
use futures_util::future::join_all;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tiller_core::{
    jobs::Failure,
    store::DynStore,
    webhooks::{encryption, signing, AttemptRecord, ClaimedDelivery, Outcome},
    SharedClock,
};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{Config, RetryPolicies},
    metrics::Metrics,
    outbound::{OutboundClient, OutboundError},
};

/// Added to the send timeout to make the lease: a live worker always reports in time.
const LEASE_MARGIN_SECS: i64 = 5;
/// Characters of a response body kept in the attempt log.
const EXCERPT_CHARS: usize = 500;

pub struct OutboxWorker {
    /// The whole store, not a service: the worker is the apply side of the outbox (claim,
    /// finish, disable), the one place those port methods are called from.
    store: DynStore,
    clock: SharedClock,
    client: OutboundClient,
    cfg: Arc<Config>,
    /// Parsed once from `cfg`, so an attempt or a pass never parses configuration.
    policies: RetryPolicies,
    disable_after: Duration,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(
        store: DynStore,
        clock: SharedClock,
        client: OutboundClient,
        cfg: Arc<Config>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            clock,
            client,
            policies: cfg.retry_policies()?,
            disable_after: cfg.disable_after()?,
            cfg,
            metrics,
            wake,
        })
    }

    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.cfg.webhooks.timeout_secs)
    }

    /// One pass: claims up to `limit` due deliveries, attempts them concurrently and records
    /// each outcome. Returns how many were attempted. Tests drive the worker with this.
    pub async fn tick(&self, limit: u32) -> anyhow::Result<usize> {
        let claimed = self.claim(limit).await?;
        let n = claimed.len();
        join_all(claimed.into_iter().map(|d| self.deliver(d))).await;
        Ok(n)
    }

    async fn claim(&self, limit: u32) -> anyhow::Result<Vec<ClaimedDelivery>> {
        let now = self.clock.now();
        let lease = Duration::seconds(
            i64::try_from(self.cfg.webhooks.timeout_secs).unwrap_or(i64::MAX / 2_000)
                + LEASE_MARGIN_SECS,
        );
        Ok(self.store.claim_deliveries(now, now + lease, limit).await?)
    }

    /// Disables the endpoints that have failed for longer than `webhooks.disable_after`.
    pub async fn disable_failing_endpoints(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let disabled = self
            .store
            .disable_failing_endpoints(now - self.disable_after, now)
            .await?;
        for e in &disabled {
            tracing::warn!(endpoint_id = %e.id, tenant = e.tenant.0, url = %e.url, "webhook endpoint disabled after failing continuously");
        }
        Ok(disabled.len())
    }

    /// Runs until `stop`: keeps up to `webhooks.concurrency` attempts in flight, sleeping
    /// until woken (an event was enqueued here) or the poll interval passes.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.cfg.webhooks.concurrency));
        let poll = std::time::Duration::from_millis(self.cfg.webhooks.poll_interval_ms);
        let mut last_disable_check = Instant::now();
        loop {
            // Wait for a free slot (not for the poll interval: a busy worker must refill as
            // soon as an attempt ends), then claim as many as are free.
            let first = tokio::select! {
                () = stop.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let free = u32::try_from(slots.available_permits() + 1).unwrap_or(u32::MAX);
            let claimed = self.claim(free).await.unwrap_or_else(|e| {
                tracing::error!(error = ?e, "claiming webhook deliveries failed");
                Vec::new()
            });
            // Fewer than asked for: nothing more is due now, so wait before asking again.
            let drained = (claimed.len() as u64) < u64::from(free);
            let mut permits = std::iter::once(first);
            for delivery in claimed {
                let permit = match permits.next() {
                    Some(p) => p,
                    // Other slots only free up meanwhile, so this does not wait.
                    None => match slots.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                };
                let worker = self.clone();
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(permit);
                });
            }
            drop(permits);
            if last_disable_check.elapsed() >= std::time::Duration::from_mins(1) {
                last_disable_check = Instant::now();
                if let Err(e) = self.disable_failing_endpoints().await {
                    tracing::error!(error = ?e, "checking failing webhook endpoints failed");
                }
            }
            if drained {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.wake.notified() => {},
                    () = tokio::time::sleep(poll) => {},
                }
            }
        }
        // Finish the attempts in flight: their outcomes are recorded before we return.
        let _ = slots
            .acquire_many(u32::try_from(self.cfg.webhooks.concurrency).unwrap_or(u32::MAX))
            .await;
    }

    /// Attempts one delivery and records the outcome.
    async fn deliver(&self, d: ClaimedDelivery) {
        let started = self.clock.now();
        if d.attempt == 1 {
            let waited = (started - d.event.created_at).to_std().unwrap_or_default();
            self.metrics.observe_enqueue_to_first_attempt(waited);
        }
        let (status_code, body_excerpt, error, failure) =
            match self.send(&d, started.timestamp()).await {
                Ok(res) if (200..300).contains(&res.status) => {
                    (Some(res.status), excerpt(&res.body), None, None)
                }
                Ok(res) => {
                    let retry_after = res
                        .headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(std::time::Duration::from_secs);
                    let failure = Failure::Status {
                        code: res.status,
                        retry_after,
                    };
                    (Some(res.status), excerpt(&res.body), None, Some(failure))
                }
                Err(OutboundError::Timeout(t)) => (
                    None,
                    String::new(),
                    Some(format!("no answer within {t:?}")),
                    Some(Failure::Timeout),
                ),
                Err(e) => (
                    None,
                    String::new(),
                    Some(e.to_string()),
                    Some(Failure::Network),
                ),
            };
        let outcome = match failure {
            None => Outcome::Delivered,
            Some(f) => Outcome::from(self.policies.of(d.event.tenant).after_failure(
                d.attempt,
                f,
                self.clock.now(),
                rand::random::<f64>(),
            )),
        };
        let latency = (self.clock.now() - started).to_std().unwrap_or_default();
        let outcome_name = outcome.label();
        self.metrics.observe_webhook_attempt(outcome_name, latency);
        let record = AttemptRecord {
            delivery_id: d.delivery_id,
            event_id: d.event.event_id.clone(),
            endpoint_id: d.endpoint.id.clone(),
            attempt: d.attempt,
            started_at: started,
            status_code,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            response_excerpt: body_excerpt,
            error,
            outcome: outcome_name.to_owned(),
        };
        match self
            .store
            .finish_attempt(&record, &outcome, self.clock.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(event_id = %record.event_id, "delivery was re-leased before its outcome was recorded");
            }
            // The lease will expire and the delivery be attempted again: at-least-once.
            Err(e) => {
                tracing::error!(error = ?e, event_id = %record.event_id, "recording a webhook attempt failed");
            }
        }
    }

    async fn send(
        &self,
        d: &ClaimedDelivery,
        timestamp: i64,
    ) -> Result<crate::outbound::OutboundResponse, OutboundError> {
        let payload = tiller_core::webhooks::payload_at_send(
            &d.event.event_type,
            &d.event.payload,
            timestamp,
        );
        let plain =
            serde_json::to_vec(&*payload).map_err(|e| OutboundError::Refused(e.to_string()))?;
        let body = match &d.endpoint.encryption_key {
            Some(key) => {
                let envelope = encryption::encrypt(key.expose(), &plain)
                    .map_err(|e| OutboundError::Refused(e.to_string()))?;
                serde_json::to_vec(&envelope).map_err(|e| OutboundError::Refused(e.to_string()))?
            }
            None => plain,
        };
        let sig = signing::sign(&d.event.event_id, timestamp, &body, &d.endpoint.secrets);
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", sig.webhook_id.as_str()),
            ("webhook-timestamp", sig.webhook_timestamp.as_str()),
            ("webhook-signature", sig.webhook_signature.as_str()),
            ("x-airudder-sign", sig.airudder_sign.as_str()),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        self.client
            .post_json(&d.endpoint.url, headers, body, self.timeout())
            .await
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}
