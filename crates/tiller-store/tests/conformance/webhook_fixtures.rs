//! Fixtures of the webhook stories: endpoints and events named for reading, and a delivery
//! worker that claims and finishes on the story's clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tiller_core::{
    store::DynStore,
    webhooks::{
        AttemptRecord, ClaimedDelivery, DeliveryState, Endpoint, EventQuery, EventRecord,
        NewEndpoint, NewEvent, Outcome,
    },
    Clock, Secret,
};
use tiller_testkit::ManualClock;

pub use crate::conversations::fixtures::Scope;

/// How long every claim in the stories leases its deliveries.
pub fn lease() -> Duration {
    Duration::seconds(30)
}

/// Endpoint `name` listens at `https://{name}.test/hook`.
pub fn url(name: &str) -> String {
    format!("https://{name}.test/hook")
}

fn name_of(url: &str) -> &str {
    let host = url.trim_start_matches("https://");
    host.split('.').next().unwrap_or(host)
}

pub fn secret(name: &str) -> Secret {
    Secret::new(format!("whsec_{name}"))
}

pub fn new_endpoint(name: &str, types: Option<&[&str]>) -> NewEndpoint {
    NewEndpoint {
        url: url(name),
        event_types: types.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
        secret: secret(name),
        encryption_key: None,
    }
}

/// Endpoint `name`, wanting `types` (every type when `None`).
pub async fn endpoint(s: &Scope, name: &str, types: Option<&[&str]>) -> Endpoint {
    let new = new_endpoint(name, types);
    s.store.create_endpoint(s.id, &new, s.now()).await.unwrap()
}

/// An event whose payload is `{"name": name}`.
pub fn event(name: &str, event_type: &str, key: Option<&str>) -> NewEvent {
    NewEvent::new(event_type, key.map(str::to_owned), json!({ "name": name }))
}

/// Unordered `test.ping` events, one per name.
pub fn pings(names: &[&str]) -> Vec<NewEvent> {
    names.iter().map(|n| event(n, "test.ping", None)).collect()
}

pub async fn enqueue(s: &Scope, events: &[NewEvent]) -> Vec<EventRecord> {
    s.store.enqueue(s.id, events, s.now()).await.unwrap()
}

/// `event@endpoint`, by the names the stories gave them.
pub fn tag(d: &ClaimedDelivery) -> String {
    let event = d.event.payload["name"].as_str().unwrap_or("?");
    format!("{event}@{}", name_of(&d.endpoint.url))
}

pub fn tags(claimed: &[ClaimedDelivery]) -> Vec<String> {
    claimed.iter().map(tag).collect()
}

pub fn retry_at(at: DateTime<Utc>) -> Outcome {
    Outcome::Retry { at }
}

/// The tenant's events, newest first, as `(name, [(endpoint id, state, attempts)])`.
pub async fn events(
    s: &Scope,
    state: Option<DeliveryState>,
) -> Vec<(String, Vec<(String, DeliveryState, u32)>)> {
    let q = EventQuery {
        state,
        limit: 100,
        ..EventQuery::default()
    };
    let found = s.store.list_events(s.id, &q).await.unwrap();
    found
        .into_iter()
        .map(|e| {
            let name = e.event.payload["name"].as_str().unwrap_or("?").to_owned();
            (name, e.deliveries)
        })
        .collect()
}

/// The names of the tenant's events, newest first.
pub async fn event_names(s: &Scope, state: Option<DeliveryState>) -> Vec<String> {
    events(s, state).await.into_iter().map(|e| e.0).collect()
}

/// A delivery worker on the story's clock. An attempt starts when it is finished.
#[derive(Clone)]
pub struct Worker {
    pub store: DynStore,
    pub clock: ManualClock,
}

impl Worker {
    pub fn new(store: &DynStore, clock: &ManualClock) -> Self {
        Self {
            store: store.clone(),
            clock: clock.clone(),
        }
    }

    pub async fn claim(&self, limit: u32) -> Vec<ClaimedDelivery> {
        let now = self.clock.now();
        let lease_until = now + lease();
        self.store
            .claim_deliveries(now, lease_until, limit)
            .await
            .unwrap()
    }

    /// Claims everything due; returns the tags.
    pub async fn claim_tags(&self) -> Vec<String> {
        tags(&self.claim(100).await)
    }

    /// The log record of attempting `d` with `outcome`: 200 when delivered, 503 before a
    /// retry, no answer at all before giving up.
    pub fn attempt(&self, d: &ClaimedDelivery, outcome: &Outcome) -> AttemptRecord {
        let (status_code, label) = match outcome {
            Outcome::Delivered => (Some(200), "delivered"),
            Outcome::Retry { .. } => (Some(503), "retry"),
            Outcome::Dead => (None, "dead"),
        };
        AttemptRecord {
            delivery_id: d.delivery_id,
            event_id: d.event.event_id.clone(),
            endpoint_id: d.endpoint.id.clone(),
            attempt: d.attempt,
            started_at: self.clock.now(),
            status_code,
            latency_ms: 12,
            response_excerpt: status_code.map_or(String::new(), |c| format!("status {c}")),
            error: status_code
                .is_none()
                .then(|| "connection refused".to_owned()),
            outcome: label.to_owned(),
        }
    }

    pub async fn finish(&self, d: &ClaimedDelivery, outcome: &Outcome) -> bool {
        let attempt = self.attempt(d, outcome);
        self.store
            .finish_attempt(&attempt, outcome, self.clock.now())
            .await
            .unwrap()
    }

    /// Claims everything due and finishes it all with `outcome`; returns the tags.
    pub async fn settle(&self, outcome: &Outcome) -> Vec<String> {
        self.settle_with(|_| outcome.clone()).await
    }

    /// Claims everything due and finishes each with the outcome `of` its tag.
    pub async fn settle_with(&self, of: impl Fn(&str) -> Outcome) -> Vec<String> {
        let claimed = self.claim(100).await;
        for d in &claimed {
            assert!(self.finish(d, &of(&tag(d))).await, "{} was current", tag(d));
        }
        tags(&claimed)
    }
}
