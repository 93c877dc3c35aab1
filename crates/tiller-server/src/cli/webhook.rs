//! `tiller webhook ...`: the webhook management API on the command line, printing the same
//! JSON shapes.

use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use tiller_core::{
    tenant::Tenants,
    webhooks::{DeliveryState, EndpointRequest, EventQuery, Webhooks},
    Clock as _, SystemClock, TenantId,
};

use super::DbArgs;
use crate::views::webhooks::{
    AttemptOut, CreatedEndpointOut, EndpointHealthOut, EndpointOut, EventOut, ReplayOut,
};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a callback URL; prints one JSON object with `endpoint_id` and `secret`.
    Add {
        #[command(flatten)]
        tenant: TenantArg,
        /// The callback URL (http or https) that receives the signed events.
        #[arg(long)]
        url: String,
        /// Comma-separated event types; every event when left out.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// Encrypt payloads with a per-endpoint AES-256-GCM key (printed once).
        #[arg(long)]
        encrypt: bool,
        /// Store the URL even if its address is one deliveries may not reach (loopback,
        /// private, metadata; see outbound.allowed_networks), and unknown event types.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List a tenant's endpoints (no secrets).
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Per endpoint: pending, delivered and dead deliveries and the last attempt.
    Health {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List events, newest first, with each delivery's state.
    Events {
        #[command(flatten)]
        tenant: TenantArg,
        /// pending, delivered or dead.
        #[arg(long)]
        status: Option<String>,
        /// How many events to list at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Every attempt at one event.
    Attempts {
        #[command(flatten)]
        tenant: TenantArg,
        /// The event's id (`event_id` in `webhook events`).
        #[arg(long)]
        event: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Send an event again (`--event ID`), or every dead delivery of a time range (`--dead`).
    Replay {
        #[command(flatten)]
        tenant: TenantArg,
        /// The id of one event to send again.
        #[arg(long, conflicts_with = "dead")]
        event: Option<String>,
        /// Send again every dead delivery created between --since and --until.
        #[arg(long)]
        dead: bool,
        /// RFC 3339; default 24 hours ago.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// RFC 3339; default now.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant's id, as `tiller tenant create` printed it.
    #[arg(long = "tenant", value_name = "TENANT_ID")]
    pub id: i64,
}

impl WebhookCommand {
    pub fn db(&self) -> &DbArgs {
        match self {
            Self::Add { db, .. }
            | Self::List { db, .. }
            | Self::Health { db, .. }
            | Self::Events { db, .. }
            | Self::Attempts { db, .. }
            | Self::Replay { db, .. } => db,
        }
    }
}

/// Runs the command and returns the JSON to print.
pub async fn run(
    cmd: WebhookCommand,
    tenants: &Tenants,
    webhooks: &Webhooks,
) -> anyhow::Result<String> {
    let now = SystemClock.now();
    match cmd {
        WebhookCommand::Add {
            tenant,
            url,
            events,
            encrypt,
            force,
            ..
        } => {
            let t = existing(tenants, tenant.id).await?;
            let request = EndpointRequest {
                url,
                events,
                encrypt,
                force,
            };
            let created = webhooks.create_endpoint(t, request).await?;
            Ok(serde_json::to_string(&CreatedEndpointOut::from(created))?)
        }
        WebhookCommand::List { tenant, .. } => {
            let t = existing(tenants, tenant.id).await?;
            let list: Vec<EndpointOut> = webhooks
                .endpoints(t)
                .await?
                .iter()
                .map(EndpointOut::from)
                .collect();
            Ok(serde_json::to_string(&list)?)
        }
        WebhookCommand::Health { tenant, .. } => {
            let t = existing(tenants, tenant.id).await?;
            let list: Vec<EndpointHealthOut> = webhooks
                .health(t)
                .await?
                .iter()
                .map(EndpointHealthOut::from)
                .collect();
            Ok(serde_json::to_string(&list)?)
        }
        WebhookCommand::Events {
            tenant,
            status,
            limit,
            ..
        } => events(tenants, webhooks, tenant.id, status, limit).await,
        WebhookCommand::Attempts { tenant, event, .. } => {
            attempts(tenants, webhooks, tenant.id, &event).await
        }
        WebhookCommand::Replay {
            tenant,
            event,
            dead,
            since,
            until,
            ..
        } => {
            let t = existing(tenants, tenant.id).await?;
            let replayed = match (event, dead) {
                (Some(id), false) => webhooks
                    .replay_event(t, &id)
                    .await
                    .map_err(|_| anyhow::anyhow!("no event {id}"))?,
                (None, true) => {
                    let from = since.unwrap_or(now - Duration::hours(24));
                    webhooks.replay_dead(t, from, until.unwrap_or(now)).await?
                }
                _ => anyhow::bail!("give --event ID or --dead"),
            };
            Ok(serde_json::to_string(&ReplayOut { replayed })?)
        }
    }
}

async fn events(
    tenants: &Tenants,
    webhooks: &Webhooks,
    tenant: i64,
    status: Option<String>,
    limit: u32,
) -> anyhow::Result<String> {
    let t = existing(tenants, tenant).await?;
    let state = status
        .map(|s| {
            DeliveryState::parse(&s)
                .ok_or_else(|| anyhow::anyhow!("--status must be pending, delivered or dead"))
        })
        .transpose()?;
    let q = EventQuery {
        state,
        limit,
        ..EventQuery::default()
    };
    let list: Vec<EventOut> = webhooks
        .events(t, &q)
        .await?
        .iter()
        .map(EventOut::from)
        .collect();
    Ok(serde_json::to_string(&list)?)
}

async fn attempts(
    tenants: &Tenants,
    webhooks: &Webhooks,
    tenant: i64,
    event: &str,
) -> anyhow::Result<String> {
    let t = existing(tenants, tenant).await?;
    let list: Vec<AttemptOut> = webhooks
        .attempts(t, event)
        .await
        .map_err(|_| anyhow::anyhow!("no event {event} for tenant {}", t.0))?
        .iter()
        .map(AttemptOut::from)
        .collect();
    Ok(serde_json::to_string(&list)?)
}

pub(super) async fn existing(tenants: &Tenants, id: i64) -> anyhow::Result<TenantId> {
    tenants
        .get(TenantId(id))
        .await
        .map(|t| t.id)
        .map_err(|_| anyhow::anyhow!("no tenant with id {id}"))
}
