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

pub const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Top-level sections; environment variables outside them (say `TILLER_TEST_PG_URL`)
/// are not configuration and are ignored.
const SECTIONS: [&str; 5] = ["server", "database", "files", "auth", "log"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub files: FilesConfig,
    pub auth: AuthConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    pub public_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub dir: std::path::PathBuf,
    pub max_upload_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub token_ttl_secs: u64,
    pub sign_max_skew_secs: u64,
    pub nxlink_max_skew_ms: u64,
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
        cfg.validate().context("validating configuration")?;
        Ok(cfg)
    }

    /// The built-in defaults alone; what tests start from.
    pub fn defaults() -> Config {
        Figment::new()
            .merge(Toml::string(DEFAULTS))
            .extract()
            .expect("embedded defaults parse")
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
        if self.auth.token_ttl_secs == 0 {
            bail!("auth.token_ttl_secs must be positive");
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be positive");
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

    pub fn token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            i64::try_from(self.auth.token_ttl_secs).unwrap_or(i64::MAX / 1000),
        )
    }
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
        cfg.validate().unwrap();
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
    fn redaction_hides_the_database_password() {
        let mut cfg = Config::defaults();
        cfg.database.url = "postgres://tiller:s3cret@db:5432/tiller".into();
        let shown = toml::to_string(&cfg.redacted()).unwrap();
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("postgres://tiller:***@db:5432/tiller"));
    }
}
