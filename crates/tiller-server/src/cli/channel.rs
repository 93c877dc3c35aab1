//! `tiller channel ...`: a tenant's channels. What it prints is the channel's public view:
//! the secrets go in through files and never come out.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tiller_core::{
    channels::{Channel, ChannelId, ChannelKind, WhatsAppChannel},
    store::ChannelStore,
    tenant::Tenants,
    Clock as _, Entity, Secret, StoreError, SystemClock, Unique,
};

use super::{
    webhook::{existing, TenantArg},
    DbArgs,
};

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Add a channel; prints one JSON object with `channel_id` and `webhook_path`.
    #[command(subcommand)]
    Add(AddCommand),
    /// List a tenant's channels as a JSON array (no secrets).
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove a channel; prints `{"removed": "<channel_id>"}`.
    Remove {
        #[command(flatten)]
        tenant: TenantArg,
        /// The channel's id, as `channel add` printed it.
        #[arg(long = "channel", value_name = "CHANNEL_ID")]
        channel: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// A WhatsApp business number on Meta's Cloud API.
    Whatsapp(WhatsAppArgs),
    /// A channel the integrator carries itself (messages in through the inbound API).
    Custom {
        #[command(flatten)]
        tenant: TenantArg,
        /// The channel's name: 1 to 64 letters, digits, '_', '-' or '.'.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Args)]
pub struct WhatsAppArgs {
    #[command(flatten)]
    tenant: TenantArg,
    /// The Graph API id of the number (not the phone number itself).
    #[arg(long, value_name = "P")]
    phone_number_id: String,
    /// The WhatsApp Business Account id.
    #[arg(long, value_name = "W")]
    waba_id: String,
    /// The number as people see it, e.g. "+1 555 078 3881".
    #[arg(long, value_name = "N")]
    display_number: String,
    /// File holding the system-user access token (a file, so it stays out of shell history).
    #[arg(long, value_name = "F")]
    access_token_file: PathBuf,
    /// File holding the Meta app's secret, the key of webhook signatures.
    #[arg(long, value_name = "F")]
    app_secret_file: PathBuf,
    /// The token Meta's subscription handshake echoes.
    #[arg(long, value_name = "V")]
    verify_token: String,
    /// Graph API base URL [default: https://graph.facebook.com].
    #[arg(long, value_name = "URL")]
    graph_url: Option<String>,
    /// Graph API version, e.g. v21.0 [default: v21.0].
    #[arg(long, value_name = "vNN.0")]
    graph_version: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

impl ChannelCommand {
    pub fn db(&self) -> &DbArgs {
        match self {
            Self::Add(
                AddCommand::Whatsapp(WhatsAppArgs { db, .. }) | AddCommand::Custom { db, .. },
            )
            | Self::List { db, .. }
            | Self::Remove { db, .. } => db,
        }
    }
}

/// Runs the command and returns what to print.
pub async fn run(
    cmd: ChannelCommand,
    tenants: &Tenants,
    store: &dyn ChannelStore,
) -> anyhow::Result<String> {
    match cmd {
        ChannelCommand::Add(add) => {
            let (tenant, kind) = match add {
                AddCommand::Whatsapp(args) => (args.tenant.id, whatsapp(args)?),
                AddCommand::Custom { tenant, name, .. } => {
                    (tenant.id, ChannelKind::Custom { name })
                }
            };
            let t = existing(tenants, tenant).await?;
            let channel = Channel::create(t, kind, SystemClock.now())
                .map_err(|e| anyhow::anyhow!("invalid channel: {e}"))?;
            match store.create_channel(&channel).await {
                Err(StoreError::Conflict(Unique::ChannelPhoneNumberId)) => {
                    let number = channel.whatsapp().map_or("", |wa| &wa.phone_number_id);
                    anyhow::bail!("phone_number_id {number} already belongs to a channel")
                }
                other => other.context("storing the channel")?,
            }
            Ok(view(&channel)?.to_string())
        }
        ChannelCommand::List { tenant, .. } => {
            let t = existing(tenants, tenant.id).await?;
            let channels = store.channels(t).await?;
            let list: Vec<Value> = channels.iter().map(view).collect::<anyhow::Result<_>>()?;
            Ok(serde_json::to_string(&list)?)
        }
        ChannelCommand::Remove {
            tenant, channel, ..
        } => {
            let t = existing(tenants, tenant.id).await?;
            let id = ChannelId::parse(&channel)
                .map_err(|e| anyhow::anyhow!("--channel {channel:?}: {e}"))?;
            match store.remove_channel(t, &id).await {
                Err(StoreError::NotFound(Entity::Channel)) => {
                    anyhow::bail!("tenant {} has no channel {id}", tenant.id)
                }
                other => other.context("removing the channel")?,
            }
            Ok(json!({ "removed": id }).to_string())
        }
    }
}

fn whatsapp(args: WhatsAppArgs) -> anyhow::Result<ChannelKind> {
    Ok(ChannelKind::WhatsApp(WhatsAppChannel {
        phone_number_id: args.phone_number_id,
        waba_id: args.waba_id,
        display_number: args.display_number,
        access_token: secret_file("--access-token-file", &args.access_token_file)?,
        app_secret: secret_file("--app-secret-file", &args.app_secret_file)?,
        verify_token: Secret::new(args.verify_token),
        graph_url: args.graph_url,
        graph_version: args.graph_version,
    }))
}

/// A secret from a file, without the newline editors and `echo` leave at its end.
fn secret_file(flag: &str, path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{flag}: reading {}", path.display()))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        anyhow::bail!("{flag}: {} is empty", path.display());
    }
    Ok(Secret::new(value))
}

/// The public view, named as the other commands name ids (`channel_id`) and with
/// `created_at` to the second like every CLI output.
fn view(channel: &Channel) -> anyhow::Result<Value> {
    let mut out = serde_json::to_value(channel.public_view())?;
    if let Some(fields) = out.as_object_mut() {
        fields.remove("id");
        fields.insert("channel_id".into(), json!(channel.id));
        fields.insert(
            "created_at".into(),
            json!(channel
                .created_at
                .to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
    }
    Ok(out)
}
