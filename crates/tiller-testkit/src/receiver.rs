//! A webhook receiver for tests: a real HTTP server on 127.0.0.1:0 that records every
//! request and answers 200, unless told to fail requests whose body contains some text.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
    Router,
};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone)]
struct Failure {
    needle: String,
    remaining: usize,
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    received: Vec<Received>,
    failures: Vec<Failure>,
}

#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl WebhookReceiver {
    /// Binds 127.0.0.1:0 and serves until the test's runtime ends.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("receiver address")
        );
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner }
    }

    /// The next `times` requests whose body contains `needle` are answered with `status`
    /// (and a `Retry-After` when given); they are recorded all the same.
    pub fn fail(&self, needle: &str, times: usize, status: u16, retry_after: Option<u64>) {
        self.inner
            .lock()
            .expect("receiver lock")
            .failures
            .push(Failure {
                needle: needle.to_owned(),
                remaining: times,
                status,
                retry_after,
            });
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("receiver lock").received.clone()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut inner = inner.lock().expect("receiver lock");
    let text = String::from_utf8_lossy(&body).into_owned();
    inner.received.push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    let failure = inner
        .failures
        .iter_mut()
        .find(|f| f.remaining > 0 && text.contains(&f.needle));
    match failure {
        Some(f) => {
            f.remaining -= 1;
            let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut out = HeaderMap::new();
            if let Some(secs) = f.retry_after {
                out.insert("retry-after", secs.into());
            }
            (status, out, "failing on purpose").into_response()
        }
        None => (StatusCode::OK, "{}").into_response(),
    }
}
