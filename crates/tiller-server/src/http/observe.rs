//! Per-request observation: assigns the request id, opens the request span (method,
//! matched route template, request id; `tenant` is filled in by the auth extractors),
//! records the Prometheus metrics and writes one access-log line.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use tracing::Instrument as _;

use super::RequestId;
use crate::state::AppState;

const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(tiller_core::ids::random_hex32, str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        http.method = %method,
        http.route = %route,
        request_id = %request_id,
        tenant = tracing::field::Empty,
    );

    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    state
        .metrics
        .observe_request(method_label(&method), &route, status, elapsed);

    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if route.starts_with("/healthz") || route.starts_with("/readyz") || route == "/metrics" {
            tracing::debug!(status, latency_ms, "response");
        } else {
            tracing::info!(status, latency_ms, "response");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    res
}

/// The `method` label: the standard methods by name, any other token as `other`, so a
/// client inventing methods cannot grow `/metrics`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    const KNOWN: [M; 9] = [
        M::GET,
        M::POST,
        M::PUT,
        M::DELETE,
        M::PATCH,
        M::HEAD,
        M::OPTIONS,
        M::CONNECT,
        M::TRACE,
    ];
    const NAMES: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .position(|m| m == method)
        .map_or("other", |i| NAMES[i])
}

/// A propagated id is kept only if it is short and plain, so logs stay clean.
fn is_sane_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        use axum::http::Method;
        assert_eq!(super::method_label(&Method::POST), "POST");
        assert_eq!(super::method_label(&Method::TRACE), "TRACE");
        let odd = Method::from_bytes(b"FROB").unwrap();
        assert_eq!(super::method_label(&odd), "other");
    }

    #[test]
    fn request_ids_from_clients_are_filtered() {
        assert!(super::is_sane_request_id("abc-123_X"));
        assert!(!super::is_sane_request_id(""));
        assert!(!super::is_sane_request_id("has space"));
        assert!(!super::is_sane_request_id(&"a".repeat(65)));
    }
}
