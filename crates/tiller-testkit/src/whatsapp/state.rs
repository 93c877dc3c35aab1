//! What the fake remembers: its business numbers, media, templates, every accepted send,
//! the users' last inbound messages, the pacing counters and the webhook log.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    future::Future,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tiller_core::SharedClock;
use tokio::{sync::watch, task::JoinSet, time::Instant};

use super::{errors::Failure, GraphError, Limits, Retry, StatusMode, WebhookPost};

/// One send the fake accepted, as the client posted it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub wamid: String,
    pub phone_number_id: String,
    /// The request body, parsed.
    pub body: Value,
    /// The error code of the `failed` status this send will get (131047, 131026), if any.
    pub failure: Option<u32>,
}

/// A read receipt the client sent for an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedRead {
    pub phone_number_id: String,
    pub message_id: String,
}

#[derive(Debug, Clone)]
pub(super) struct Number {
    pub waba_id: String,
    pub display_phone_number: String,
}

#[derive(Debug, Clone)]
pub(super) struct Media {
    pub bytes: Vec<u8>,
    pub mime_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub(super) struct StoredTemplate {
    pub id: String,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub components: Value,
}

/// What the status webhooks of one accepted send say.
#[derive(Debug, Clone)]
pub(super) struct Outbound {
    pub phone_number_id: String,
    pub recipient: String,
    pub failure: Option<Failure>,
    pub pricing: Pricing,
    /// The conversation's id and expiry; none for a send that fails.
    pub conversation: Option<(String, DateTime<Utc>)>,
    pub biz_opaque_callback_data: Option<String>,
}

/// `pricing` of a status under per-message pricing: free-form replies inside the customer
/// service window are free, templates are charged by their category.
#[derive(Debug, Clone)]
pub(super) struct Pricing {
    pub billable: bool,
    pub kind: &'static str,
    pub category: String,
}

#[derive(Debug, Clone)]
struct Conversation {
    id: String,
    expires: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    pub webhook_url: Option<String>,
    pub status_mode: StatusMode,
    pub numbers: HashMap<String, Number>,
    pub templates: Vec<StoredTemplate>,
    pub media: HashMap<String, Media>,
    pub sent: Vec<SentMessage>,
    pub outbound: HashMap<String, Outbound>,
    pub marked_read: Vec<MarkedRead>,
    pub undeliverable: HashSet<String>,
    pub webhooks: Vec<WebhookPost>,
    /// (phone_number_id, wa_id) → when the user last wrote to that number.
    pub last_inbound: HashMap<(String, String), DateTime<Utc>>,
    conversations: HashMap<(String, String), Conversation>,
    throughput: HashMap<String, VecDeque<Instant>>,
    /// Pair pacing as a GCRA: the theoretical arrival time of the next allowed send.
    pair_tat: HashMap<(String, String), Instant>,
    next_id: u64,
}

impl Inner {
    /// A numeric id like Meta's media and template ids.
    pub fn numeric_id(&mut self) -> String {
        self.next_id += 1;
        (1_037_543_291_543_636 + self.next_id).to_string()
    }

    /// Charges one send against the number's throughput and the pair rate, or says which
    /// limit it breaks. A rejected send uses up nothing.
    pub fn admit(
        &mut self,
        limits: &Limits,
        phone_number_id: &str,
        wa_id: &str,
        now: Instant,
    ) -> Result<(), GraphError> {
        let second_ago = now.checked_sub(Duration::from_secs(1));
        let window = self
            .throughput
            .entry(phone_number_id.to_owned())
            .or_default();
        while let (Some(front), Some(edge)) = (window.front(), second_ago) {
            if *front > edge {
                break;
            }
            window.pop_front();
        }
        if let Some(max) = limits.throughput_per_second {
            if window.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
                return Err(GraphError::rate_limit());
            }
        }
        let key = (phone_number_id.to_owned(), wa_id.to_owned());
        if let Some(pair) = &limits.pair {
            let tat = self.pair_tat.get(&key).copied().unwrap_or(now).max(now);
            let next = tat + pair.interval;
            // A burst may borrow up to `burst` intervals ahead of real time.
            if next.duration_since(now) > pair.interval * pair.burst.max(1) {
                return Err(GraphError::pair_rate_limit());
            }
            self.pair_tat.insert(key, next);
        }
        window.push_back(now);
        Ok(())
    }

    /// The conversation a delivered send belongs to: the open one of that pair, or a new
    /// one that lasts 24 hours.
    pub fn conversation(
        &mut self,
        phone_number_id: &str,
        wa_id: &str,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let key = (phone_number_id.to_owned(), wa_id.to_owned());
        if let Some(open) = self.conversations.get(&key).filter(|c| c.expires > now) {
            return (open.id.clone(), open.expires);
        }
        let c = Conversation {
            id: uuid::Uuid::new_v4().simple().to_string(),
            expires: now + chrono::Duration::hours(24),
        };
        self.conversations.insert(key, c.clone());
        (c.id, c.expires)
    }

    /// Whether the user wrote to the number within the customer service window.
    pub fn in_window(
        &self,
        window: Option<Duration>,
        phone_number_id: &str,
        wa_id: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(window) = window else {
            return true;
        };
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        self.last_inbound
            .get(&(phone_number_id.to_owned(), wa_id.to_owned()))
            .is_some_and(|at| now.signed_duration_since(*at) <= window)
    }
}

/// A message id in Meta's shape: `wamid.` and base64 over the user and a unique part.
pub(super) fn wamid(wa_id: &str) -> String {
    let mut raw = wa_id.as_bytes().to_vec();
    raw.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!("wamid.{}", STANDARD.encode(raw))
}

/// Everything the handlers and the webhook tasks share.
#[derive(Debug)]
pub(super) struct Shared {
    pub app_secret: String,
    pub access_token: Option<String>,
    pub limits: Limits,
    pub status_delay: Duration,
    pub auto_read: bool,
    pub retry: Retry,
    pub clock: SharedClock,
    pub base_url: String,
    pub http: reqwest::Client,
    inner: Mutex<Inner>,
    /// How many webhook tasks are running; `idle()` waits for 0.
    pending: watch::Sender<usize>,
    tasks: Mutex<JoinSet<()>>,
}

impl Shared {
    pub fn new(config: super::FakeWhatsAppConfig, base_url: String) -> Self {
        let inner = Inner {
            webhook_url: config.webhook_url,
            status_mode: config.status_mode,
            undeliverable: config.undeliverable,
            ..Inner::default()
        };
        Self {
            app_secret: config.app_secret,
            access_token: config.access_token,
            limits: config.limits,
            status_delay: config.status_delay,
            auto_read: config.auto_read,
            retry: config.webhook_retry,
            clock: config.clock,
            base_url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            inner: Mutex::new(inner),
            pending: watch::Sender::new(0),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// The state; a panicked holder leaves it usable (tests read it after failures).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs webhook work in the background, counted for [`Shared::idle`], aborted on drop.
    pub fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        self.pending.send_modify(|n| *n += 1);
        let done = PendingGuard(self.pending.clone());
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let _done = done;
            work.await;
        });
    }

    pub async fn idle(&self) {
        let mut rx = self.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    pub fn abort_all(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

/// Counts a task as finished however it ends, aborted included.
struct PendingGuard(watch::Sender<usize>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::super::PairLimit;
    use super::*;

    #[test]
    fn throughput_counts_one_second_per_number() {
        let mut inner = Inner::default();
        let limits = Limits {
            throughput_per_second: Some(2),
            pair: None,
            service_window: None,
        };
        let t0 = Instant::now();
        assert!(inner.admit(&limits, "p", "1", t0).is_ok());
        assert!(inner.admit(&limits, "p", "2", t0).is_ok());
        assert_eq!(
            inner.admit(&limits, "p", "3", t0).unwrap_err().code,
            130_429
        );
        assert!(inner.admit(&limits, "other", "3", t0).is_ok());
        let later = t0 + Duration::from_millis(1001);
        assert!(inner.admit(&limits, "p", "3", later).is_ok());
    }

    #[test]
    fn pair_pacing_allows_a_burst_then_one_per_interval() {
        let mut inner = Inner::default();
        let interval = Duration::from_secs(6);
        let limits = Limits {
            throughput_per_second: None,
            pair: Some(PairLimit { interval, burst: 3 }),
            service_window: None,
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(inner.admit(&limits, "p", "u", t0).is_ok());
        }
        assert_eq!(
            inner.admit(&limits, "p", "u", t0).unwrap_err().code,
            131_056
        );
        assert!(inner.admit(&limits, "p", "v", t0).is_ok());
        assert!(inner.admit(&limits, "p", "u", t0 + interval).is_ok());
        assert!(inner.admit(&limits, "p", "u", t0 + interval).is_err());
    }
}
