//! What every handler can reach: the services, the two narrow ports (credential lookups
//! and readiness), the clock, the configuration and metrics. Never the raw store: a
//! handler's rule lives in a service.

use std::sync::Arc;

use tiller_core::{
    auth::{Credentials, Tokens},
    channels::WhatsAppInbound,
    conversations::Conversations,
    files::FileStorage,
    robots::RobotEngine,
    seats::Seats,
    store::Readiness,
    tenant::Tenants,
    webhooks::Webhooks,
    SharedClock,
};

use crate::{config::Config, http::auth::CredentialCache, metrics::Metrics};

/// Cheap to clone: axum clones the state for every extractor of every request, so it is
/// one `Arc` (one counter to bump) rather than a struct of services each holding several.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub clock: SharedClock,
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub tenants: Tenants,
    pub tokens: Tokens,
    pub conversations: Conversations,
    pub robots: Arc<RobotEngine>,
    /// The seat directory.
    pub seats: Seats,
    /// Webhook endpoints and the event log, for the API (the CLI builds its own).
    pub webhooks: Webhooks,
    /// Meta's webhooks in.
    pub whatsapp: WhatsAppInbound,
    pub files: Arc<dyn FileStorage>,
    /// Who holds a credential, asked by the auth extractors behind `credential_cache`.
    pub credentials: Arc<dyn Credentials>,
    pub credential_cache: Arc<CredentialCache>,
    /// What `/readyz` and `/metrics` ask of the database.
    pub readiness: Arc<dyn Readiness>,
}
