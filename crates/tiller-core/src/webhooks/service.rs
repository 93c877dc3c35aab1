//! `Webhooks`: a tenant's endpoints and event log, one home for the HTTP API and the CLI.
//! Checks an endpoint before it is stored, issues and rotates its secrets, lists events,
//! attempts and endpoint health, and replays events.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{
    check_endpoint, encryption, signing, AttemptRecord, Endpoint, EndpointError, EndpointHealth,
    EndpointPatch, EndpointTarget, EventQuery, EventSummary, NewEndpoint,
};
use crate::{
    bus::{CommitBus, Committed},
    store::DynStore,
    Entity, Secret, SharedClock, StoreError, TenantId,
};

/// Which addresses deliveries may reach: the outbound guard, asked when an endpoint is
/// added so the operator hears of a refusal then, not after the whole retry schedule.
#[async_trait::async_trait]
pub trait AddressPolicy: Send + Sync {
    /// `Err` says why deliveries to `target` would be refused, and what to do about it.
    async fn check(&self, target: &EndpointTarget) -> Result<(), String>;
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Invalid(#[from] EndpointError),
    #[error("url: {0} (or set force to store it anyway; its deliveries stay refused until the network is allowed)")]
    Refused(String),
    #[error("no such endpoint")]
    NoEndpoint,
    #[error("no such event")]
    NoEvent,
    #[error(transparent)]
    Store(StoreError),
}

/// An unknown event, said as such (the `From` impl says endpoint).
fn no_event(e: StoreError) -> WebhookError {
    match e {
        StoreError::NotFound(Entity::Event) => WebhookError::NoEvent,
        other => WebhookError::Store(other),
    }
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(Entity::Endpoint) => WebhookError::NoEndpoint,
            other => WebhookError::Store(other),
        }
    }
}

/// What a new endpoint is made of.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub url: String,
    /// `None` subscribes to every event.
    pub events: Option<Vec<String>>,
    pub encrypt: bool,
    /// Store what the address policy refuses, and unknown event types.
    pub force: bool,
}

/// A change to an endpoint, as asked: `events: Some(None)` subscribes to every event.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
    pub force: bool,
}

/// An endpoint with the secrets shown once: at creation and at rotation.
#[derive(Debug, Clone)]
pub struct IssuedEndpoint {
    pub endpoint: Endpoint,
    pub secret: Secret,
    pub encryption_key: Option<Secret>,
}

#[derive(Clone)]
pub struct Webhooks {
    store: DynStore,
    clock: SharedClock,
    addresses: Arc<dyn AddressPolicy>,
    /// How long a rotated-out secret keeps signing.
    rotation_grace: Duration,
    /// Told after a replay commits, so the delivery worker wakes.
    bus: Arc<CommitBus>,
}

impl Webhooks {
    pub fn new(
        store: DynStore,
        clock: SharedClock,
        addresses: Arc<dyn AddressPolicy>,
        rotation_grace: Duration,
        bus: Arc<CommitBus>,
    ) -> Self {
        Self {
            store,
            clock,
            addresses,
            rotation_grace,
            bus,
        }
    }

    /// Checks and stores a new endpoint with a fresh secret (and key, when encrypted).
    pub async fn create_endpoint(
        &self,
        t: TenantId,
        req: EndpointRequest,
    ) -> Result<IssuedEndpoint, WebhookError> {
        self.check(&req.url, req.events.as_deref(), req.force)
            .await?;
        let new = NewEndpoint {
            url: req.url,
            event_types: req.events,
            secret: signing::new_secret(),
            encryption_key: req.encrypt.then(encryption::new_key),
        };
        let endpoint = self
            .store
            .create_endpoint(t, &new, self.clock.now())
            .await?;
        Ok(IssuedEndpoint {
            endpoint,
            secret: new.secret,
            encryption_key: new.encryption_key,
        })
    }

    /// Changes an endpoint's URL, events or enabled flag; a new URL or event list is held
    /// to the rules of creation.
    pub async fn update_endpoint(
        &self,
        t: TenantId,
        id: &str,
        change: EndpointChange,
    ) -> Result<Endpoint, WebhookError> {
        let events = change.events.as_ref().and_then(Option::as_deref);
        match &change.url {
            Some(url) => self.check(url, events, change.force).await?,
            None if events.is_some() => {
                check_endpoint("https://example.invalid", events, change.force)?;
            }
            None => {}
        }
        let patch = EndpointPatch {
            url: change.url,
            event_types: change.events,
            enabled: change.enabled,
        };
        Ok(self
            .store
            .update_endpoint(t, id, &patch, self.clock.now())
            .await?)
    }

    /// A new signing secret; the old ones keep signing for the rotation grace.
    pub async fn rotate_secret(
        &self,
        t: TenantId,
        id: &str,
    ) -> Result<IssuedEndpoint, WebhookError> {
        let secret = signing::new_secret();
        let now = self.clock.now();
        let endpoint = self
            .store
            .rotate_secret(t, id, &secret, now + self.rotation_grace, now)
            .await?;
        Ok(IssuedEndpoint {
            endpoint,
            secret,
            encryption_key: None,
        })
    }

    /// The tenant's endpoints, oldest first, without secrets.
    pub async fn endpoints(&self, t: TenantId) -> Result<Vec<Endpoint>, WebhookError> {
        self.store.endpoints(t).await.map_err(WebhookError::Store)
    }

    /// Per endpoint: its deliveries by state, the last attempt, the failure run.
    pub async fn health(&self, t: TenantId) -> Result<Vec<EndpointHealth>, WebhookError> {
        self.store
            .endpoint_health(t)
            .await
            .map_err(WebhookError::Store)
    }

    /// Events, newest first, with the state of each delivery.
    pub async fn events(
        &self,
        t: TenantId,
        q: &EventQuery,
    ) -> Result<Vec<EventSummary>, WebhookError> {
        self.store
            .list_events(t, q)
            .await
            .map_err(WebhookError::Store)
    }

    /// Every attempt at an event, oldest first.
    pub async fn attempts(
        &self,
        t: TenantId,
        event_id: &str,
    ) -> Result<Vec<AttemptRecord>, WebhookError> {
        self.store.attempts(t, event_id).await.map_err(no_event)
    }

    /// Sends an event again to its endpoints under its original id, with a fresh retry
    /// schedule; returns the deliveries reset.
    pub async fn replay_event(&self, t: TenantId, event_id: &str) -> Result<u64, WebhookError> {
        let replayed = self
            .store
            .replay_event(t, event_id, self.clock.now())
            .await
            .map_err(no_event)?;
        self.bus.publish(&Committed::EventsEnqueued);
        Ok(replayed)
    }

    /// Replays every dead delivery of events created in `[from, to]`.
    pub async fn replay_dead(
        &self,
        t: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, WebhookError> {
        let replayed = self
            .store
            .replay_dead(t, from, to, self.clock.now())
            .await
            .map_err(WebhookError::Store)?;
        self.bus.publish(&Committed::EventsEnqueued);
        Ok(replayed)
    }

    async fn check(
        &self,
        url: &str,
        events: Option<&[String]>,
        force: bool,
    ) -> Result<(), WebhookError> {
        let target = check_endpoint(url, events, force)?;
        if !force {
            self.addresses
                .check(&target)
                .await
                .map_err(WebhookError::Refused)?;
        }
        Ok(())
    }
}
