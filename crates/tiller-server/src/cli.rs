//! The `tiller` command line. Subcommand names, flags and output shapes are a contract
//! that scripts rely on: `tenant create` prints one JSON object, `sign` prints one line.

use std::{
    io::{Read as _, Write as _},
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tiller_core::{
    bus::CommitBus,
    robots::Robots,
    signing::{airudder, nxlink},
    store::DynStore,
    tenant::Tenants,
    SystemClock,
};

mod channel;
mod dev;
mod robot;
mod tenant;
mod webhook;

pub use tenant::TenantCommand;

use crate::{
    app::{shutdown_signal, App},
    config::{Config, LogConfig, LogFormat, Overrides},
    telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "tiller",
    version,
    about = "Tiller: a self-hostable conversation engagement server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP API (SQLite in ./tiller-data/ unless told otherwise).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Create and list tenants (companies) and their credentials.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage webhook endpoints, inspect deliveries and replay events.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Add, list and remove a tenant's channels (WhatsApp numbers, custom channels).
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Upload robots and test dialogue flows offline.
    #[command(subcommand)]
    Robot(robot::RobotCommand),
    /// Compute request signatures, so a person with curl can call the signed APIs.
    #[command(subcommand)]
    Sign(SignCommand),
    /// Run fakes of the providers Tiller talks to, to try channels on one machine.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://./tiller-data/tiller.db].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Configuration file (TOML) layered over the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// Print the X-AIRudder-Sign value: hex HMAC-SHA256 of the body with the sign secret.
    Airudder {
        /// The tenant's sign_secret.
        #[arg(long)]
        secret: String,
        /// File holding the exact request body ("-" for stdin); empty body when omitted.
        #[arg(long, value_name = "F")]
        body_file: Option<PathBuf>,
        /// Unix seconds to bind into the signature; send it as X-AIRudder-Timestamp.
        #[arg(long, value_name = "SECS")]
        timestamp: Option<String>,
    },
    /// Print the nxlink `sign` header value for the given common headers and body.
    Nxlink {
        /// The tenant's access_key (the `accessKey` header).
        #[arg(long, value_name = "K")]
        access_key: String,
        /// The tenant's access_secret.
        #[arg(long, value_name = "S")]
        secret: String,
        /// Request time in milliseconds since the epoch (the `ts` header).
        #[arg(long, value_name = "MS")]
        ts: String,
        /// The `bizType` header the route expects (2 for chat records).
        #[arg(long, value_name = "B")]
        biz_type: String,
        /// The `action` header the route expects (`mt` for chat records).
        #[arg(long, value_name = "A")]
        action: String,
        /// File holding the exact request body ("-" for stdin); no body when omitted.
        #[arg(long, value_name = "F")]
        body_file: Option<PathBuf>,
        /// Digest of the signature (the `algorithm` header; md5 when absent).
        #[arg(long, value_enum, default_value_t = SignAlgorithm::Md5)]
        algorithm: SignAlgorithm,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignAlgorithm {
    Md5,
    Sha256,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets redacted.
    Print {
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            let cfg = load(&db, None)?;
            quiet_logs();
            open_store(&cfg).await?;
            say(&format!(
                "migrations applied to {}",
                cfg.redacted().database.url
            ))
        }
        Command::Tenant(cmd) => {
            let cfg = load(cmd.db(), None)?;
            quiet_logs();
            say(&tenant::run(cmd, &tenants(&open_store(&cfg).await?)).await?)
        }
        Command::Webhook(cmd) => {
            let cfg = load(cmd.db(), None)?;
            quiet_logs();
            let store = open_store(&cfg).await?;
            let guard = crate::outbound::AddressGuard::new(cfg.allowed_networks()?);
            // No worker runs in this process: a replay's notice has nobody to wake.
            let webhooks = cfg.webhooks_service(
                store.clone(),
                Arc::new(SystemClock),
                guard,
                CommitBus::new(),
            )?;
            say(&webhook::run(cmd, &tenants(&store), &webhooks).await?)
        }
        Command::Channel(cmd) => {
            let cfg = load(cmd.db(), None)?;
            quiet_logs();
            let store = open_store(&cfg).await?;
            say(&channel::run(cmd, &tenants(&store), &*store).await?)
        }
        Command::Robot(robot::RobotCommand::Test { file, script, json }) => {
            let (report, passed) = robot::test(&file, &script, json)?;
            say(&report)?;
            if passed {
                Ok(())
            } else {
                anyhow::bail!("the robot's answers differ from the script")
            }
        }
        Command::Robot(cmd) => {
            let db = cmd.db().context("a store command")?;
            let cfg = load(db, None)?;
            quiet_logs();
            let store = open_store(&cfg).await?;
            let robots = Robots::new(store.clone(), Arc::new(SystemClock));
            say(&robot::run_with_store(cmd, &tenants(&store), &robots).await?)
        }
        Command::Sign(cmd) => say(&sign(cmd)?),
        Command::Dev(cmd) => dev::run(cmd).await,
        Command::Config(ConfigCommand::Print { db }) => {
            let cfg = load(&db, None)?;
            say(toml::to_string_pretty(&cfg.redacted())?.trim_end())
        }
    }
}

fn load(db: &DbArgs, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
    Config::load(
        db.config.as_deref(),
        &Overrides {
            listen,
            database_url: db.database_url.clone(),
        },
    )
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = load(&args.db, args.listen)?;
    telemetry::init(&cfg.log);
    let app = App::build(cfg, Arc::new(SystemClock)).await?;
    app.run(shutdown_signal()).await
}

/// One-shot commands log warnings only; their output is what they print.
fn quiet_logs() {
    telemetry::init(&LogConfig {
        format: LogFormat::Pretty,
        filter: "warn".into(),
    });
}

async fn open_store(cfg: &Config) -> anyhow::Result<DynStore> {
    let opts = tiller_store::ConnectOptions {
        max_connections: 2,
        migrate: true,
        migration_lock: cfg.database.migration_lock,
    };
    tiller_store::connect(&cfg.database.url, &opts)
        .await
        .with_context(|| format!("opening the store at {}", cfg.redacted().database.url))
}

/// The tenant service over the store this command opened.
fn tenants(store: &DynStore) -> Tenants {
    Tenants::new(Arc::new(store.clone()), Arc::new(SystemClock))
}

fn sign(cmd: SignCommand) -> anyhow::Result<String> {
    Ok(match cmd {
        SignCommand::Airudder {
            secret,
            body_file,
            timestamp,
        } => {
            let body = read_body_file(body_file.as_deref())?;
            airudder::sign(&secret, timestamp.as_deref(), &body)
        }
        SignCommand::Nxlink {
            access_key,
            secret,
            ts,
            biz_type,
            action,
            body_file,
            algorithm,
        } => {
            let body = read_body_file(body_file.as_deref())?;
            let headers = nxlink::CommonHeaders {
                access_key: &access_key,
                action: &action,
                biz_type: &biz_type,
                ts: &ts,
            };
            let algorithm = match algorithm {
                SignAlgorithm::Md5 => nxlink::Algorithm::Md5,
                SignAlgorithm::Sha256 => nxlink::Algorithm::Sha256,
            };
            nxlink::sign(headers, Some(&body), &secret, algorithm)
        }
    })
}

/// The exact bytes to sign: a file, stdin for "-", or nothing.
fn read_body_file(path: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some(p) if p == Path::new("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the body from stdin")?;
            Ok(buf)
        }
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display())),
    }
}

/// Writes one line of command output to stdout.
fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every flag and argument of every command says what it is for in `--help`.
    #[test]
    fn every_flag_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if !matches!(id, "help" | "version") && arg.get_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "tiller", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
