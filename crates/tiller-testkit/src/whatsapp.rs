//! A fake of Meta's WhatsApp Cloud API: a small stateful HTTP server that speaks the Graph
//! wire format (sends, read receipts, media, templates, the error objects) and posts signed
//! webhooks (statuses of its sends, messages injected as if users wrote them), so the
//! WhatsApp connector is tested against the real shapes offline.
//!
//! Graph routes (`{version}` is any `vNN.N`; every one wants `Authorization: Bearer <token>`
//! when the config has a token):
//! - `POST /{version}/{phone_number_id}/messages`: a send or a read receipt;
//! - `POST /{version}/{phone_number_id}/media`: a multipart upload;
//! - `GET /{version}/{media_id}`, then `GET /fake/media/{media_id}` for the bytes;
//! - `GET /{version}/{waba_id}/message_templates?limit=&after=&before=`.
//!
//! The fake's own routes: `POST /fake/inbound` (see [`Inbound`]) and `GET /fake/sent`.

mod errors;
mod inbound;
mod media;
mod sends;
mod state;
mod templates;
mod validate;
mod webhooks;

use std::{collections::HashSet, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::{from_fn, from_fn_with_state, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tiller_core::{SharedClock, SystemClock};
use tokio::{net::TcpListener, task::JoinHandle};

pub use errors::{GraphError, ERROR_CODES_URL};
pub use inbound::{Inbound, InboundOutcome, InjectError};
pub use state::{MarkedRead, SentMessage};
pub use templates::TemplateSpec;
pub use webhooks::{sign, Retry, Signature, StatusKind, StatusMode, WebhookPost, SIGNATURE_HEADER};

use state::{Number, Shared};

/// The pair rate: one message per `interval` from a business number to one user, with up
/// to `burst` sent ahead of that pace (Meta: 6 s and 45).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLimit {
    pub interval: Duration,
    pub burst: u32,
}

/// Meta's limits; each `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sends per business number in any one second (Meta: 80); more get 130429.
    pub throughput_per_second: Option<u32>,
    /// Over it, 131056.
    pub pair: Option<PairLimit>,
    /// How long after a user's last message free-form sends may go to them (Meta: 24 h);
    /// later (or never written), the send is accepted and then fails with 131047.
    pub service_window: Option<Duration>,
}

impl Limits {
    /// No limit at all, for throughput benches: every send is accepted and delivered.
    pub fn off() -> Self {
        Self {
            throughput_per_second: None,
            pair: None,
            service_window: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            throughput_per_second: Some(80),
            pair: Some(PairLimit {
                interval: Duration::from_secs(6),
                burst: 45,
            }),
            service_window: Some(Duration::from_hours(24)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeWhatsAppConfig {
    /// Where webhooks are posted; settable later with [`FakeWhatsApp::set_webhook_url`].
    pub webhook_url: Option<String>,
    /// Signs every webhook (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// When set, Graph calls without `Authorization: Bearer <it>` get 401 / code 190.
    pub access_token: Option<String>,
    pub limits: Limits,
    /// The wait before each status webhook of a send.
    pub status_delay: Duration,
    /// Whether delivered sends go on to `read`.
    pub auto_read: bool,
    pub status_mode: StatusMode,
    pub webhook_retry: Retry,
    /// Users whose sends are accepted and then fail with 131026.
    pub undeliverable: HashSet<String>,
    /// Stamps webhook timestamps and judges the service window; a `ManualClock` moves it.
    pub clock: SharedClock,
}

impl FakeWhatsAppConfig {
    pub fn new(app_secret: impl Into<String>) -> Self {
        Self {
            webhook_url: None,
            app_secret: app_secret.into(),
            access_token: None,
            limits: Limits::default(),
            status_delay: Duration::from_millis(10),
            auto_read: true,
            status_mode: StatusMode::default(),
            webhook_retry: Retry::default(),
            undeliverable: HashSet::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The running fake; dropping it stops the server and its webhook tasks.
#[derive(Debug)]
pub struct FakeWhatsApp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl FakeWhatsApp {
    /// Serves on a free loopback port.
    pub async fn start(config: FakeWhatsAppConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake WhatsApp");
        Self::serve(listener, config).expect("fake WhatsApp address")
    }

    /// Serves on a listener the caller bound (the CLI's `--listen`).
    pub fn serve(listener: TcpListener, config: FakeWhatsAppConfig) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            shared,
            addr,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: the Graph base URL, before the version segment.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn add_number(&self, phone_number_id: &str, waba_id: &str, display_phone_number: &str) {
        self.shared.lock().numbers.insert(
            phone_number_id.to_owned(),
            Number {
                waba_id: waba_id.to_owned(),
                display_phone_number: display_phone_number.to_owned(),
            },
        );
    }

    /// Registers media; the id is what `GET /{version}/{id}` and sends by `id` accept.
    pub fn add_media(&self, bytes: impl Into<Vec<u8>>, mime_type: &str) -> String {
        self.shared.lock().add_media(bytes.into(), mime_type)
    }

    /// Registers a template under a WABA; answers its id.
    pub fn add_template(&self, waba_id: &str, spec: TemplateSpec) -> String {
        self.shared.lock().add_template(waba_id, spec)
    }

    pub fn set_webhook_url(&self, url: impl Into<String>) {
        self.shared.lock().webhook_url = Some(url.into());
    }

    /// How the statuses of later sends are posted.
    pub fn set_status_mode(&self, mode: StatusMode) {
        self.shared.lock().status_mode = mode;
    }

    /// Later sends to this user are accepted and then fail with 131026.
    pub fn add_undeliverable(&self, wa_id: &str) {
        self.shared.lock().undeliverable.insert(wa_id.to_owned());
    }

    /// Records that the user wrote to the number at `at`, without posting a webhook: opens
    /// (or, in the past, lets lapse) the customer service window.
    pub fn note_inbound(&self, phone_number_id: &str, wa_id: &str, at: DateTime<Utc>) {
        self.shared
            .lock()
            .last_inbound
            .insert((phone_number_id.to_owned(), wa_id.to_owned()), at);
    }

    /// The user writes: builds, signs and posts the `messages` webhook, now by the clock.
    pub async fn inject_inbound(&self, inbound: Inbound) -> Result<InboundOutcome, InjectError> {
        inbound::inject(&self.shared, inbound).await
    }

    /// Every accepted send, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }

    pub fn marked_read(&self) -> Vec<MarkedRead> {
        self.shared.lock().marked_read.clone()
    }

    /// Every webhook posted so far, in the order their posting ended.
    pub fn webhooks(&self) -> Vec<WebhookPost> {
        self.shared.lock().webhooks.clone()
    }

    /// The webhook bodies of the statuses a send gets, in WhatsApp's order (sent, delivered,
    /// read; or failed), stamped now; empty for an unknown wamid. Post them with
    /// [`FakeWhatsApp::post_signed`] in any order.
    pub fn status_payloads(&self, wamid: &str) -> Vec<Value> {
        let kinds = match self.shared.lock().outbound.get(wamid) {
            Some(out) => webhooks::sequence(out, self.shared.auto_read),
            None => return Vec::new(),
        };
        kinds
            .into_iter()
            .filter_map(|k| self.status_payload(wamid, k))
            .collect()
    }

    /// The webhook body of one status of a send, whether or not it would get it.
    pub fn status_payload(&self, wamid: &str, kind: StatusKind) -> Option<Value> {
        webhooks::status_body(&self.shared, wamid, kind)
    }

    /// Posts one status now (a late `read`, a repeat, a `sent` after `read`).
    pub async fn post_status(&self, wamid: &str, kind: StatusKind) -> Option<WebhookPost> {
        let body = self.status_payload(wamid, kind)?;
        self.post_signed(&body).await
    }

    /// Posts a body signed with the app secret; `None` without a webhook URL.
    pub async fn post_signed(&self, body: &Value) -> Option<WebhookPost> {
        self.post_raw(body.to_string().into_bytes(), Signature::Valid)
            .await
    }

    /// Posts these exact bytes, signed as told.
    pub async fn post_raw(&self, body: Vec<u8>, signature: Signature) -> Option<WebhookPost> {
        webhooks::post(&self.shared, body, signature).await
    }

    /// Meta's subscription check: `GET <webhook>?hub.mode=subscribe&hub.challenge=…&
    /// hub.verify_token=…`; true when the answer is 200 with the challenge as the body.
    pub async fn verify_webhook(&self, verify_token: &str) -> Option<bool> {
        let url = self.shared.lock().webhook_url.clone()?;
        let challenge = rand::random::<u32>().to_string();
        let answer = self
            .shared
            .http
            .get(url)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.challenge", challenge.as_str()),
                ("hub.verify_token", verify_token),
            ])
            .send()
            .await
            .ok()?;
        let ok = answer.status().is_success();
        Some(ok && answer.text().await.ok()? == challenge)
    }

    /// Waits until every status webhook due so far has been posted (retries included).
    pub async fn idle(&self) {
        self.shared.idle().await;
    }

    /// Stops serving and drops pending webhooks; dropping the fake does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FakeWhatsApp {
    fn drop(&mut self) {
        self.server.abort();
        self.shared.abort_all();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{version}/{id}/messages", post(sends::messages))
        .route("/{version}/{id}/media", post(media::upload))
        .route("/{version}/{id}/message_templates", get(templates::list))
        .route("/{version}/{id}", get(media::info))
        .route_layer(from_fn(versioned))
        .route("/fake/media/{id}", get(media::download))
        .route_layer(from_fn_with_state(shared.clone(), bearer))
        .route("/fake/inbound", post(inbound::route))
        .route("/fake/sent", get(sent_route))
        .with_state(shared)
}

/// Graph paths start with an API version: `v21.0`.
async fn versioned(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let version = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let digits = version.strip_prefix('v').unwrap_or("");
    let valid = !digits.is_empty()
        && digits.split('.').count() <= 2
        && digits
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        next.run(request).await
    } else {
        GraphError::unknown_path(path).into_response()
    }
}

async fn bearer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some(token) = &shared.access_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    if presented == Some(token.as_str()) {
        next.run(request).await
    } else {
        GraphError::bad_token().into_response()
    }
}

async fn sent_route(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let sent: Vec<Value> = shared
        .lock()
        .sent
        .iter()
        .map(|s| {
            json!({
                "id": s.wamid,
                "phone_number_id": s.phone_number_id,
                "body": s.body,
                "failure": s.failure,
            })
        })
        .collect();
    Json(Value::Array(sent))
}
