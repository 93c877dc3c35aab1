//! Prometheus metrics, one registry per [`crate::App`] (no global recorder), so tests can
//! run several apps in one process and read each one's numbers.

use std::{sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};

/// Metric names, in one place.
pub mod names {
    pub const HTTP_REQUESTS: &str = "tiller_http_requests";
    /// Exposed with the unit suffix: `tiller_http_request_duration_seconds`.
    pub const HTTP_REQUEST_DURATION: &str = "tiller_http_request_duration";
    pub const OUTBOX_PENDING: &str = "tiller_outbox_pending";
    pub const OUTBOX_IN_FLIGHT: &str = "tiller_outbox_in_flight";
    /// Exposed as `tiller_outbox_attempts_total{outcome}`.
    pub const OUTBOX_ATTEMPTS: &str = "tiller_outbox_attempts";
    /// Exposed with the unit suffix: `tiller_outbox_attempt_duration_seconds`.
    pub const OUTBOX_ATTEMPT_DURATION: &str = "tiller_outbox_attempt_duration";
    /// Exposed with the unit suffix: `tiller_outbox_enqueue_to_first_attempt_seconds`.
    pub const OUTBOX_ENQUEUE_TO_FIRST_ATTEMPT: &str = "tiller_outbox_enqueue_to_first_attempt";
    /// Exposed as `tiller_robot_turns_total{outcome}` (`ran`, `failed`).
    pub const ROBOT_TURNS: &str = "tiller_robot_turns";
    /// Exposed with the unit suffix: `tiller_robot_turn_duration_seconds`.
    pub const ROBOT_TURN_DURATION: &str = "tiller_robot_turn_duration";
    /// Exposed as `tiller_sessions_expired_total`.
    pub const SESSIONS_EXPIRED: &str = "tiller_sessions_expired";
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

type HistogramMaker = fn() -> Histogram;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, HistogramMaker>,
    outbox_pending: Gauge,
    outbox_in_flight: Gauge,
    outbox_attempts: Family<OutcomeLabels, Counter>,
    outbox_attempt_duration: Histogram,
    outbox_enqueue_to_first_attempt: Histogram,
    robot_turns: Family<OutcomeLabels, Counter>,
    robot_turn_duration: Histogram,
    sessions_expired: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            names::HTTP_REQUESTS,
            "HTTP requests by method, matched route template and status",
            requests.clone(),
        );
        let durations: Family<RouteLabels, Histogram, HistogramMaker> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            names::HTTP_REQUEST_DURATION,
            "HTTP request latency by method and matched route template",
            Unit::Seconds,
            durations.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            names::OUTBOX_PENDING,
            "Webhook deliveries not yet delivered or dead",
            outbox_pending.clone(),
        );
        let outbox_in_flight = Gauge::default();
        registry.register(
            names::OUTBOX_IN_FLIGHT,
            "Webhook deliveries leased to a worker",
            outbox_in_flight.clone(),
        );
        let outbox_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            names::OUTBOX_ATTEMPTS,
            "Webhook delivery attempts by outcome",
            outbox_attempts.clone(),
        );
        let outbox_attempt_duration = latency_histogram();
        registry.register_with_unit(
            names::OUTBOX_ATTEMPT_DURATION,
            "Time from sending a webhook to its answer",
            Unit::Seconds,
            outbox_attempt_duration.clone(),
        );
        let outbox_enqueue_to_first_attempt = latency_histogram();
        registry.register_with_unit(
            names::OUTBOX_ENQUEUE_TO_FIRST_ATTEMPT,
            "Time from writing an event to its first delivery attempt",
            Unit::Seconds,
            outbox_enqueue_to_first_attempt.clone(),
        );
        let robot_turns = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            names::ROBOT_TURNS,
            "Robot turns by outcome (a failed turn stays due and is retried)",
            robot_turns.clone(),
        );
        let robot_turn_duration = latency_histogram();
        registry.register_with_unit(
            names::ROBOT_TURN_DURATION,
            "Time to claim, run and commit one robot turn, HTTP calls included",
            Unit::Seconds,
            robot_turn_duration.clone(),
        );
        let sessions_expired = Counter::default();
        registry.register(
            names::SESSIONS_EXPIRED,
            "Sessions ended for inactivity",
            sessions_expired.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            durations,
            outbox_pending,
            outbox_in_flight,
            outbox_attempts,
            outbox_attempt_duration,
            outbox_enqueue_to_first_attempt,
            robot_turns,
            robot_turn_duration,
            sessions_expired,
        }
    }

    /// A robot turn that ran (`ok`) or failed, and how long it took.
    pub fn observe_robot_turn(&self, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ran" } else { "failed" };
        self.robot_turns
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.robot_turn_duration.observe(elapsed.as_secs_f64());
    }

    pub fn observe_sessions_expired(&self, n: usize) {
        self.sessions_expired
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route,
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_webhook_attempt(&self, outcome: &str, elapsed: Duration) {
        self.outbox_attempts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.outbox_attempt_duration.observe(elapsed.as_secs_f64());
    }

    pub fn observe_enqueue_to_first_attempt(&self, waited: Duration) {
        self.outbox_enqueue_to_first_attempt
            .observe(waited.as_secs_f64());
    }

    pub fn set_outbox(&self, pending: u64, in_flight: u64) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.outbox_in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.lock().map_err(|_| std::fmt::Error)?;
        encode(&mut out, &registry)?;
        Ok(out)
    }
}
