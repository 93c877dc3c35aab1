//! What every handler can reach: the store, the clock, the configuration and metrics.

use std::sync::Arc;

use tiller_core::{
    bus::CommitBus, conversations::Conversations, files::FileStorage, robots::RobotEngine,
    store::DynStore, webhooks::Webhooks, SharedClock,
};

use crate::{config::Config, http::auth::CredentialCache, metrics::Metrics};

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub clock: SharedClock,
    pub cfg: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub conversations: Conversations,
    pub robots: Arc<RobotEngine>,
    pub files: Arc<dyn FileStorage>,
    pub credentials: Arc<CredentialCache>,
    /// Where a handler that committed outside a service tells the node (a replay).
    pub bus: Arc<CommitBus>,
    /// Webhook endpoint management, for the API (the CLI builds its own).
    pub webhooks: Webhooks,
}
