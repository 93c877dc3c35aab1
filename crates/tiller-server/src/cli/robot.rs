//! `tiller robot ...`: upload robots and test flows offline against scripted conversations.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::SecondsFormat;
use clap::Subcommand;
use serde_json::json;
use tiller_core::{
    robots::{
        flow::Flow,
        script::{self, Script},
        Robot, RobotError, Robots,
    },
    tenant::Tenants,
    TenantId,
};

use super::{webhook::TenantArg, DbArgs};

#[derive(Debug, Subcommand)]
pub enum RobotCommand {
    /// Validate and store a robot (YAML or JSON); prints one JSON object with `robot_id`.
    Import {
        /// The definition file.
        file: PathBuf,
        #[command(flatten)]
        tenant: TenantArg,
        /// Answer every new session of the tenant that names no robot.
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List a tenant's robots as a JSON array.
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run a flow offline against a scripted conversation and report where the robot's
    /// answers differ from the expected ones (exit status 1 when any do).
    Test {
        /// The flow definition.
        file: PathBuf,
        /// The scripted conversation (YAML).
        #[arg(long, value_name = "TRANSCRIPT")]
        script: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl RobotCommand {
    /// The database options, for the commands that use the store.
    pub fn db(&self) -> Option<&DbArgs> {
        match self {
            Self::Import { db, .. } | Self::List { db, .. } => Some(db),
            Self::Test { .. } => None,
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn robot_json(r: &Robot) -> serde_json::Value {
    json!({
        "robot_id": r.robot_id,
        "name": r.name,
        "kind": r.kind.as_str(),
        "flow_id": r.flow_id,
        "default": r.is_default,
        "created_at": r.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

/// Runs a store command and returns what to print.
pub async fn run_with_store(
    cmd: RobotCommand,
    tenants: &Tenants,
    robots: &Robots,
) -> anyhow::Result<String> {
    match cmd {
        RobotCommand::Import {
            file,
            tenant,
            default,
            ..
        } => {
            let source = read(&file)?;
            let t = TenantId(tenant.id);
            let robot = match robots.import(t, &source, default).await {
                Ok(robot) => robot,
                Err(RobotError::Invalid(e)) => anyhow::bail!("{}:\n{e}", file.display()),
                // A definition for an unknown tenant is refused by the store (its foreign
                // key); say which tenant, as the check before the import used to.
                Err(e) => {
                    tenants
                        .get(t)
                        .await
                        .with_context(|| format!("tenant {}", tenant.id))?;
                    return Err(e.into());
                }
            };
            Ok(robot_json(&robot).to_string())
        }
        RobotCommand::List { tenant, .. } => {
            let list = robots.list(TenantId(tenant.id)).await?;
            let out: Vec<_> = list.iter().map(robot_json).collect();
            Ok(serde_json::to_string(&out)?)
        }
        RobotCommand::Test { .. } => anyhow::bail!("robot test needs no store"),
    }
}

/// `robot test`: the report to print, and whether the script passed.
pub fn test(file: &Path, script_file: &Path, as_json: bool) -> anyhow::Result<(String, bool)> {
    let flow =
        Flow::parse(&read(file)?).map_err(|e| anyhow::anyhow!("{}:\n{e}", file.display()))?;
    let script = Script::parse(&read(script_file)?)
        .map_err(|e| anyhow::anyhow!("{}:\n{e}", script_file.display()))?;
    let report = script::run(&flow, &script);
    let text = if as_json {
        serde_json::to_string_pretty(&report)?
    } else {
        report.to_string()
    };
    Ok((text, report.passed))
}
