//! What every handler can reach: the services, the two narrow ports (credential lookups
//! and readiness), the clock, the configuration and metrics. Never the raw store: a
//! handler's rule lives in a service.

use std::sync::Arc;

use tiller_core::{
    auth::{Credentials, Tokens},
    conversations::Conversations,
    files::FileStorage,
    robots::RobotEngine,
    store::Readiness,
    tenant::Tenants,
    webhooks::Webhooks,
    SharedClock,
};

use crate::{config::Config, http::auth::CredentialCache, metrics::Metrics};

#[derive(Clone)]
pub struct AppState {
    pub clock: SharedClock,
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub tenants: Tenants,
    pub tokens: Tokens,
    pub conversations: Conversations,
    pub robots: Arc<RobotEngine>,
    /// Webhook endpoints and the event log, for the API (the CLI builds its own).
    pub webhooks: Webhooks,
    pub files: Arc<dyn FileStorage>,
    /// Who holds a credential, asked by the auth extractors behind `credential_cache`.
    pub credentials: Arc<dyn Credentials>,
    pub credential_cache: Arc<CredentialCache>,
    /// What `/readyz` and `/metrics` ask of the database.
    pub readiness: Arc<dyn Readiness>,
}
