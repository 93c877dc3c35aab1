//! Configuration: one typed struct, layered by figment — embedded defaults
//! (`config/default.toml`) → `--config FILE` → `TILLER_*` environment → flags —
//! validated once and then passed around by value. Never a global.

use std::{net::SocketAddr, path::Path};

use anyhow::{bail, Context as _};
use figment::{
    providers::{Env, Format as _, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use tiller_core::{
    jobs::{parse_delays, RetryPolicy},
    TenantId,
};

pub const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Top-level sections; environment variables outside them (say `TILLER_TEST_PG_URL`)
/// are not configuration and are ignored.
const SECTIONS: [&str; 8] = [
    "server", "database", "files", "outbound", "webhooks", "robots", "auth", "log",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub files: FilesConfig,
    pub outbound: OutboundConfig,
    pub webhooks: WebhooksConfig,
    pub robots: RobotsConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    pub public_url: String,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// A client must send its request headers within this many seconds of connecting
    /// (or of its previous response, on a kept-alive HTTP/1 connection).
    pub header_read_timeout_secs: u64,
    /// A connection on which nothing is read or written for this long is closed.
    pub idle_timeout_secs: u64,
    /// A request (body read included) must be answered within this many seconds.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub dir: std::path::PathBuf,
    pub max_upload_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Comma-separated CIDRs allowed despite being loopback, private or link-local.
    #[serde(deserialize_with = "comma_list")]
    pub allowed_networks: String,
    pub max_response_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Comma-separated humantime delays, e.g. `1m,1m,1m,1m,1m`.
    #[serde(deserialize_with = "comma_list")]
    pub retry_schedule: String,
    /// tenant_id → a schedule in the same form.
    pub tenant_retry_schedules: std::collections::BTreeMap<String, String>,
    pub jitter: f64,
    pub timeout_secs: u64,
    pub disable_after: String,
    pub secret_rotation_grace: String,
    pub concurrency: usize,
    pub poll_interval_ms: u64,
    pub worker: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotsConfig {
    /// An open session with no activity for this long ends with reason `expire` (humantime).
    pub session_timeout: String,
    /// How long a node may hold a session's robot turn before another node takes it over.
    pub turn_lease_secs: u64,
    /// Run a turn as soon as its user message is committed (else only the worker runs it).
    pub inline_turns: bool,
    /// How often the robot worker looks for due turns, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often the robot worker ends expired sessions, in seconds.
    pub expiry_interval_secs: u64,
    /// Run the robot worker (due turns, expiry) on this node.
    pub worker: bool,
}

/// Accepts `"a,b"` or `["a", "b"]` (TOML lists, or env values figment read as lists) and
/// keeps the comma-separated form.
fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Form::deserialize(d)? {
        Form::Text(s) => s,
        Form::List(items) => items.join(","),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
    /// PostgreSQL: lock while migrating (`pg_advisory_lock`); off for databases without it.
    pub migration_lock: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub token_ttl_secs: u64,
    pub sign_max_skew_secs: u64,
    pub nxlink_max_skew_ms: u64,
    pub credential_cache_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
}

impl Config {
    /// Reads every layer. A `--config` file that does not exist is an error: the
    /// caller named it, so silently ignoring it would hide a typo.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.is_file() {
                bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        // The filter may see a key before or after `split` turns `__` into `.`, in its
        // original case; accept every form.
        figment = figment.merge(Env::prefixed("TILLER_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SECTIONS.iter().any(|s| {
                key.strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("__"))
            })
        }));
        if let Some(listen) = overrides.listen {
            figment = figment.merge(("server.listen", listen.to_string()));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(("database.url", url));
        }
        let cfg: Config = figment.extract().context("reading configuration")?;
        let cfg = cfg.sized_for_the_machine();
        cfg.validate().context("validating configuration")?;
        Ok(cfg)
    }

    /// The built-in defaults alone; what tests start from.
    pub fn defaults() -> Config {
        let cfg: Config = Figment::new()
            .merge(Toml::string(DEFAULTS))
            .extract()
            .expect("embedded defaults parse");
        cfg.sized_for_the_machine()
    }

    /// Replaces the sizes left at 0 ("from the machine") by the machine's figure, so that
    /// `config print` shows what the node uses.
    fn sized_for_the_machine(mut self) -> Config {
        if self.database.max_connections == 0 {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            self.database.max_connections = pool_size_for(cores);
        }
        self
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            bail!("database.url must start with sqlite:// or postgres://");
        }
        if self.server.body_limit_bytes == 0 {
            bail!("server.body_limit_bytes must be positive");
        }
        if self.server.max_connections == 0
            || self.server.header_read_timeout_secs == 0
            || self.server.idle_timeout_secs == 0
            || self.server.request_timeout_secs == 0
        {
            bail!(
                "server.max_connections, header_read_timeout_secs, idle_timeout_secs and \
                 request_timeout_secs must be positive"
            );
        }
        if self.auth.token_ttl_secs == 0 {
            bail!("auth.token_ttl_secs must be positive");
        }
        self.allowed_networks()
            .context("outbound.allowed_networks")?;
        self.retry_policy(None).context("webhooks.retry_schedule")?;
        for (tenant, schedule) in &self.webhooks.tenant_retry_schedules {
            tenant
                .parse::<i64>()
                .context("webhooks.tenant_retry_schedules keys are tenant ids")?;
            parse_delays(schedule)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("webhooks.tenant_retry_schedules.{tenant}"))?;
        }
        if !(0.0..1.0).contains(&self.webhooks.jitter) {
            bail!("webhooks.jitter must be in [0, 1)");
        }
        self.disable_after().context("webhooks.disable_after")?;
        humantime::parse_duration(&self.webhooks.secret_rotation_grace)
            .context("webhooks.secret_rotation_grace")?;
        if self.webhooks.concurrency == 0 || self.webhooks.timeout_secs == 0 {
            bail!("webhooks.concurrency and webhooks.timeout_secs must be positive");
        }
        self.session_timeout().context("robots.session_timeout")?;
        if self.robots.turn_lease_secs == 0 {
            bail!("robots.turn_lease_secs must be positive");
        }
        Ok(())
    }

    /// The same configuration with secrets (a database password) replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> Config {
        let mut cfg = self.clone();
        cfg.database.url = redact_url_password(&cfg.database.url);
        cfg
    }

    /// The networks outbound HTTP may reach although they are not public.
    pub fn allowed_networks(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.outbound
            .allowed_networks
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| format!("{s:?} is not a CIDR"))
            })
            .collect()
    }

    /// Every retry policy, parsed once: the default and each tenant's own.
    pub fn retry_policies(&self) -> anyhow::Result<RetryPolicies> {
        let mut by_tenant = std::collections::HashMap::new();
        for key in self.webhooks.tenant_retry_schedules.keys() {
            let id: i64 = key.parse().with_context(|| {
                format!("webhooks.tenant_retry_schedules.{key}: not a tenant id")
            })?;
            by_tenant.insert(TenantId(id), self.retry_policy(Some(TenantId(id)))?);
        }
        Ok(RetryPolicies {
            default: self.retry_policy(None)?,
            by_tenant,
        })
    }

    /// The retry policy of a tenant: its own schedule if configured, else the default.
    pub fn retry_policy(&self, tenant: Option<TenantId>) -> anyhow::Result<RetryPolicy> {
        let raw = tenant
            .and_then(|t| self.webhooks.tenant_retry_schedules.get(&t.to_string()))
            .unwrap_or(&self.webhooks.retry_schedule);
        Ok(RetryPolicy {
            delays: parse_delays(raw).map_err(anyhow::Error::msg)?,
            jitter: self.webhooks.jitter,
        })
    }

    /// `robots.session_timeout`; workers parse it once, when they are built.
    pub fn session_timeout(&self) -> anyhow::Result<chrono::Duration> {
        humantime_duration(&self.robots.session_timeout)
    }

    /// `webhooks.disable_after`; workers parse it once, when they are built.
    pub fn disable_after(&self) -> anyhow::Result<chrono::Duration> {
        humantime_duration(&self.webhooks.disable_after)
    }

    /// The webhook management service, with this configuration's rotation grace.
    pub fn webhooks_service(
        &self,
        store: tiller_core::store::DynStore,
        clock: tiller_core::SharedClock,
        guard: crate::outbound::AddressGuard,
        bus: std::sync::Arc<tiller_core::bus::CommitBus>,
    ) -> anyhow::Result<tiller_core::webhooks::Webhooks> {
        let grace = humantime_duration(&self.webhooks.secret_rotation_grace)
            .context("webhooks.secret_rotation_grace")?;
        Ok(tiller_core::webhooks::Webhooks::new(
            store,
            clock,
            std::sync::Arc::new(guard),
            grace,
            bus,
        ))
    }

    pub fn token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            i64::try_from(self.auth.token_ttl_secs).unwrap_or(i64::MAX / 1000),
        )
    }
}

fn humantime_duration(raw: &str) -> anyhow::Result<chrono::Duration> {
    Ok(chrono::Duration::from_std(humantime::parse_duration(raw)?)?)
}

fn redact_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// The webhook retry policies, parsed at start so an attempt never re-parses a schedule.
#[derive(Debug, Clone)]
pub struct RetryPolicies {
    default: RetryPolicy,
    by_tenant: std::collections::HashMap<TenantId, RetryPolicy>,
}

impl RetryPolicies {
    /// The tenant's own policy if it has one, else the default.
    pub fn of(&self, tenant: TenantId) -> &RetryPolicy {
        self.by_tenant.get(&tenant).unwrap_or(&self.default)
    }
}

/// The default pool: four connections per core this process may use (cgroup limits
/// included), at least 8 and at most 64. A request holds a connection only while it runs
/// its statements, so a few per core keep the cores busy while others wait on the database;
/// past 64, PostgreSQL's own `max_connections` (100 by default) runs out with two nodes.
pub fn pool_size_for(cores: usize) -> u32 {
    u32::try_from(cores.saturating_mul(4).clamp(8, 64)).unwrap_or(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = Config::defaults();
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.server.body_limit_bytes, 1024 * 1024);
        assert_eq!(cfg.database.url, "sqlite://./tiller-data/tiller.db");
        assert_eq!(cfg.auth.token_ttl_secs, 86_400);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(cfg.database.max_connections, pool_size_for(cores));
        cfg.validate().unwrap();
    }

    #[test]
    fn the_default_pool_grows_with_the_cores_within_bounds() {
        let sizes: Vec<u32> = [1, 2, 3, 4, 16, 64].map(pool_size_for).to_vec();
        assert_eq!(sizes, [8, 8, 12, 16, 64, 64]);
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure signature")]
    fn a_pool_size_given_is_kept() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TILLER_DATABASE__MAX_CONNECTIONS", "3");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.database.max_connections, 3);
            jail.set_env("TILLER_DATABASE__MAX_CONNECTIONS", "0");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(
                cfg.database.max_connections,
                Config::defaults().database.max_connections
            );
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure signature")]
    fn layers_apply_in_order_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "t.toml",
                "[server]\nbody_limit_bytes = 10\n[auth]\ntoken_ttl_secs = 5\n",
            )?;
            jail.set_env("TILLER_AUTH__TOKEN_TTL_SECS", "7");
            jail.set_env("TILLER_DATABASE__URL", "postgres://env@localhost/x");
            jail.set_env("TILLER_TEST_PG_URL", "postgres://not-config");
            let flags = Overrides {
                listen: Some("127.0.0.1:9999".parse().unwrap()),
                database_url: Some("sqlite://flag.db".into()),
            };
            let cfg = Config::load(Some(Path::new("t.toml")), &flags).unwrap();
            assert_eq!(cfg.server.body_limit_bytes, 10); // file
            assert_eq!(cfg.auth.token_ttl_secs, 7); // env beats file
            assert_eq!(cfg.database.url, "sqlite://flag.db"); // flag beats env
            assert_eq!(cfg.server.listen.port(), 9999);
            assert_eq!(cfg.log.filter, Config::defaults().log.filter); // default kept
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure signature")]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\nlisten_on = \"x\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml")), &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("listen_on"), "{err:#}");
            assert!(Config::load(Some(Path::new("missing.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure signature")]
    fn outbound_and_webhook_keys_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "TILLER_OUTBOUND__ALLOWED_NETWORKS",
                "127.0.0.1/32,10.0.0.0/8",
            );
            jail.set_env("TILLER_WEBHOOKS__RETRY_SCHEDULE", "1s,1s,2s");
            let cfg = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(cfg.allowed_networks().unwrap().len(), 2);
            let policy = cfg.retry_policy(None).unwrap();
            assert_eq!(
                policy.delays,
                vec![
                    std::time::Duration::from_secs(1),
                    std::time::Duration::from_secs(1),
                    std::time::Duration::from_secs(2)
                ]
            );
            jail.set_env("TILLER_OUTBOUND__ALLOWED_NETWORKS", "not-a-cidr");
            assert!(Config::load(None, &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn tenants_may_have_their_own_retry_schedule() {
        let mut cfg = Config::defaults();
        cfg.webhooks
            .tenant_retry_schedules
            .insert("7".into(), "5s".into());
        cfg.validate().unwrap();
        assert_eq!(cfg.retry_policy(Some(TenantId(7))).unwrap().delays.len(), 1);
        assert_eq!(cfg.retry_policy(Some(TenantId(8))).unwrap().delays.len(), 5);
        let policies = cfg.retry_policies().unwrap();
        assert_eq!(policies.of(TenantId(7)).delays.len(), 1);
        assert_eq!(policies.of(TenantId(8)).delays.len(), 5);
        cfg.webhooks
            .tenant_retry_schedules
            .insert("x".into(), "5s".into());
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn redaction_hides_the_database_password() {
        let mut cfg = Config::defaults();
        cfg.database.url = "postgres://tiller:s3cret@db:5432/tiller".into();
        let shown = toml::to_string(&cfg.redacted()).unwrap();
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("postgres://tiller:***@db:5432/tiller"));
    }
}
