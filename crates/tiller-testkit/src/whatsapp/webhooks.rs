//! Webhooks as Meta posts them: the `whatsapp_business_account` envelope, signed with
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, retried on non-2xx;
//! and the status sequence (sent → delivered → read, or failed) of each accepted send.

use std::{sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::state::{Number, Outbound, Shared};

/// The header Meta signs webhooks with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// `sha256=<hex>`: the signature header's value for `body` under `app_secret`.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How a raw post is signed, for negative tests of the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Signed with the app secret, as Meta does.
    Valid,
    /// Signed with another secret.
    Wrong,
    /// No signature header at all.
    Missing,
    /// This exact header value.
    Header(String),
}

/// A status of an outbound message, in the order WhatsApp reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
        }
    }
}

/// How the fake posts the statuses of each accepted send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusMode {
    /// sent → delivered → read (read only with `auto_read`), `status_delay` apart.
    #[default]
    InOrder,
    /// The same statuses, last first.
    Reversed,
    /// The same statuses in a random order.
    Shuffled,
    /// In order, each posted twice (Meta delivers at least once).
    Duplicated,
    /// None: a test takes them from `status_payloads` and posts them itself.
    Manual,
}

/// Re-posting a webhook answered with a non-2xx status or not answered at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Posts after the first one; 0 posts once.
    pub retries: u32,
    /// Wait before the first retry, doubled before each next one.
    pub backoff: Duration,
}

impl Retry {
    pub fn off() -> Self {
        Self {
            retries: 0,
            backoff: Duration::ZERO,
        }
    }
}

impl Default for Retry {
    /// Three quick retries: Meta's own schedule (up to 7 days) is too slow for tests.
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// One webhook the fake posted, with every attempt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPost {
    pub url: String,
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` value sent, if any.
    pub signature: Option<String>,
    /// One per attempt: the HTTP status, or why no status came back.
    pub attempts: Vec<Result<u16, String>>,
}

impl WebhookPost {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The last attempt's HTTP status.
    pub fn status(&self) -> Option<u16> {
        self.attempts.last().and_then(|a| a.as_ref().ok().copied())
    }

    pub fn delivered(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }
}

/// Posts `body` to the webhook URL (nothing without one), retrying per [`Retry`], and logs it.
pub(super) async fn post(
    shared: &Shared,
    body: Vec<u8>,
    signature: Signature,
) -> Option<WebhookPost> {
    let url = shared.lock().webhook_url.clone()?;
    let signature = match signature {
        Signature::Valid => Some(sign(&shared.app_secret, &body)),
        Signature::Wrong => Some(sign(&format!("not-{}", shared.app_secret), &body)),
        Signature::Missing => None,
        Signature::Header(value) => Some(value),
    };
    let mut attempts = Vec::new();
    let mut backoff = shared.retry.backoff;
    for attempt in 0..=shared.retry.retries {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        let mut request = shared
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("user-agent", "facebookexternalua")
            .body(body.clone());
        if let Some(s) = &signature {
            request = request.header(SIGNATURE_HEADER, s);
        }
        let outcome = match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(e.to_string()),
        };
        let done = matches!(outcome, Ok(s) if (200..300).contains(&s));
        attempts.push(outcome);
        if done {
            break;
        }
    }
    let logged = WebhookPost {
        url,
        body,
        signature,
        attempts,
    };
    tracing::info!(
        url = %logged.url,
        status = ?logged.status(),
        attempts = logged.attempts.len(),
        "fake WhatsApp posted a webhook"
    );
    shared.lock().webhooks.push(logged.clone());
    Some(logged)
}

/// The `whatsapp_business_account` envelope around one `messages` change.
pub(super) fn envelope(phone_number_id: &str, number: &Number, value: Map<String, Value>) -> Value {
    let mut value = value;
    value.insert("messaging_product".into(), "whatsapp".into());
    value.insert(
        "metadata".into(),
        json!({
            "display_phone_number": number.display_phone_number,
            "phone_number_id": phone_number_id,
        }),
    );
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": number.waba_id,
            "changes": [{"field": "messages", "value": value}],
        }],
    })
}

/// The statuses a send gets, in WhatsApp's order.
pub(super) fn sequence(outbound: &Outbound, auto_read: bool) -> Vec<StatusKind> {
    if outbound.failure.is_some() {
        vec![StatusKind::Failed]
    } else if auto_read {
        vec![StatusKind::Sent, StatusKind::Delivered, StatusKind::Read]
    } else {
        vec![StatusKind::Sent, StatusKind::Delivered]
    }
}

/// The full webhook body of one status of `wamid`, stamped now; `None` for an unknown wamid.
pub(super) fn status_body(shared: &Shared, wamid: &str, kind: StatusKind) -> Option<Value> {
    let inner = shared.lock();
    let out = inner.outbound.get(wamid)?;
    let number = inner.numbers.get(&out.phone_number_id)?;
    let mut status = Map::new();
    status.insert("id".into(), wamid.into());
    status.insert("status".into(), kind.as_str().into());
    status.insert(
        "timestamp".into(),
        shared.now().timestamp().to_string().into(),
    );
    status.insert("recipient_id".into(), out.recipient.clone().into());
    if let Some(data) = &out.biz_opaque_callback_data {
        status.insert("biz_opaque_callback_data".into(), data.clone().into());
    }
    // Conversation and pricing ride on sent and delivered; the expiry on sent alone.
    let priced = matches!(kind, StatusKind::Sent | StatusKind::Delivered);
    if let (true, Some((id, expires))) = (priced, &out.conversation) {
        let mut conversation = json!({"id": id, "origin": {"type": out.pricing.category}});
        if kind == StatusKind::Sent {
            conversation["expiration_timestamp"] = expires.timestamp().to_string().into();
        }
        status.insert("conversation".into(), conversation);
        status.insert(
            "pricing".into(),
            json!({
                "billable": out.pricing.billable,
                "pricing_model": "PMP",
                "type": out.pricing.kind,
                "category": out.pricing.category,
            }),
        );
    }
    if kind == StatusKind::Failed {
        if let Some(f) = out.failure {
            status.insert("errors".into(), json!([f.status_error()]));
        }
    }
    let mut value = Map::new();
    value.insert("statuses".into(), json!([status]));
    Some(envelope(&out.phone_number_id, number, value))
}

/// Posts a send's statuses as the mode at send time says; runs as a background task.
pub(super) async fn deliver_statuses(shared: Arc<Shared>, wamid: String) {
    let (mode, mut kinds) = {
        let inner = shared.lock();
        let Some(out) = inner.outbound.get(&wamid) else {
            return;
        };
        (inner.status_mode, sequence(out, shared.auto_read))
    };
    match mode {
        StatusMode::InOrder => {}
        StatusMode::Reversed => kinds.reverse(),
        StatusMode::Shuffled => kinds.shuffle(&mut rand::thread_rng()),
        StatusMode::Duplicated => kinds = kinds.into_iter().flat_map(|k| [k, k]).collect(),
        StatusMode::Manual => return,
    }
    for kind in kinds {
        tokio::time::sleep(shared.status_delay).await;
        if let Some(body) = status_body(&shared, &wamid, kind) {
            post(&shared, body.to_string().into_bytes(), Signature::Valid).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231-style check computed independently: HMAC-SHA256("key", "The quick brown
        // fox jumps over the lazy dog").
        assert_eq!(
            sign("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
