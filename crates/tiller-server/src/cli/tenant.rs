//! `tiller tenant …`: tenants (companies), their credentials and their standing. Every
//! command prints one JSON value; secrets appear only in `create` and `rotate`, once.

use clap::Subcommand;
use serde_json::{json, Value};
use tiller_core::{
    tenant::{Tenant, Tenants},
    Entity, StoreError, TenantId,
};

use super::{webhook::TenantArg, DbArgs};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its credentials once, as one JSON object.
    Create {
        /// Display name; the company code is derived from it ("Acme Lending" → acme_lending).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tenants as a JSON array, without secrets.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Refuse the tenant's credentials on every node (within a second) and revoke its tokens.
    Disable {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Accept a disabled tenant's credentials again.
    Enable {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Issue new app, sign and access secrets, printed once; the old ones and the
    /// tenant's tokens stop working on every node within a second. The keys stay.
    Rotate {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl TenantCommand {
    pub fn db(&self) -> &DbArgs {
        match self {
            Self::Create { db, .. }
            | Self::List { db }
            | Self::Disable { db, .. }
            | Self::Enable { db, .. }
            | Self::Rotate { db, .. } => db,
        }
    }
}

/// Runs the command and returns the JSON to print.
pub async fn run(cmd: TenantCommand, tenants: &Tenants) -> anyhow::Result<String> {
    let out = match cmd {
        TenantCommand::Create { name, .. } => {
            let (tenant, issued) = tenants.create(&name).await?;
            let mut out = described(&tenant);
            out["app_secret"] = json!(issued.app_secret.expose());
            out["sign_secret"] = json!(issued.sign_secret.expose());
            out["access_secret"] = json!(issued.access_secret.expose());
            out
        }
        TenantCommand::List { .. } => {
            Value::Array(tenants.list().await?.iter().map(described).collect())
        }
        TenantCommand::Disable { tenant, .. } => described(&known(
            tenant.id,
            tenants.disable(TenantId(tenant.id)).await,
        )?),
        TenantCommand::Enable { tenant, .. } => described(&known(
            tenant.id,
            tenants.enable(TenantId(tenant.id)).await,
        )?),
        TenantCommand::Rotate { tenant, .. } => {
            let (t, clear) = known(tenant.id, tenants.rotate(TenantId(tenant.id)).await)?;
            let mut out = described(&t);
            out["app_secret"] = json!(clear.app_secret.expose());
            out["sign_secret"] = json!(clear.sign_secret.expose());
            out["access_secret"] = json!(clear.access_secret.expose());
            out
        }
    };
    Ok(out.to_string())
}

fn known<T>(id: i64, result: Result<T, StoreError>) -> anyhow::Result<T> {
    match result {
        Err(StoreError::NotFound(Entity::Tenant)) => anyhow::bail!("no tenant with id {id}"),
        other => Ok(other?),
    }
}

/// A tenant without its secrets. `disabled_at` is there only while it is disabled, so a
/// script reading `tenant list` from before the field existed sees the same objects.
fn described(t: &Tenant) -> Value {
    let secs =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = json!({
        "tenant_id": t.id.0,
        "name": t.name,
        "company": t.company,
        "app_key": t.app_key,
        "sign_key": t.sign_key,
        "access_key": t.access_key,
        "created_at": secs(t.created_at),
    });
    if let Some(at) = t.disabled_at {
        out["disabled_at"] = json!(secs(at));
    }
    out
}
