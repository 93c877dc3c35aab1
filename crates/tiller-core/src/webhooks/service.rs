//! `Webhooks`: the management of a tenant's endpoints, one home for the HTTP API and the
//! CLI. Checks an endpoint before it is stored, issues and rotates its secrets.

use std::sync::Arc;

use chrono::Duration;

use super::{
    check_endpoint, encryption, signing, Endpoint, EndpointError, EndpointPatch, EndpointTarget,
    NewEndpoint,
};
use crate::{store::DynStore, Secret, SharedClock, StoreError, TenantId};

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
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => WebhookError::NoEndpoint,
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
}

impl Webhooks {
    pub fn new(
        store: DynStore,
        clock: SharedClock,
        addresses: Arc<dyn AddressPolicy>,
        rotation_grace: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            addresses,
            rotation_grace,
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
