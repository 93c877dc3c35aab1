//! Prometheus metrics, one registry per [`crate::App`] (no global recorder), so tests can
//! run several apps in one process and read each one's numbers.

use std::{sync::Mutex, time::Duration};

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};

/// Metric names, in one place.
pub mod names {
    pub const HTTP_REQUESTS: &str = "tiller_http_requests";
    /// Exposed with the unit suffix: `tiller_http_request_duration_seconds`.
    pub const HTTP_REQUEST_DURATION: &str = "tiller_http_request_duration";
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

type HistogramMaker = fn() -> Histogram;

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, HistogramMaker>,
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
        // 0.5 ms … ~16 s.
        let durations: Family<RouteLabels, Histogram, HistogramMaker> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 16)));
        registry.register_with_unit(
            names::HTTP_REQUEST_DURATION,
            "HTTP request latency by method and matched route template",
            Unit::Seconds,
            durations.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            durations,
        }
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

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.lock().map_err(|_| std::fmt::Error)?;
        encode(&mut out, &registry)?;
        Ok(out)
    }
}
