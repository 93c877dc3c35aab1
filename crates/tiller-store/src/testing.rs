//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database created
//! on the server named by `TILLER_TEST_PG_URL` and dropped when the guard is dropped.

use std::path::PathBuf;

use sqlx::{Connection, Executor, PgConnection};

/// Environment variable naming an admin URL of a PostgreSQL server for tests.
pub const PG_URL_ENV: &str = "TILLER_TEST_PG_URL";

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The directory also keeps the files alive for the test's length.
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path: PathBuf = dir.path().join("tiller.db");
        Self {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new PostgreSQL database, when `TILLER_TEST_PG_URL` is set.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(PG_URL_ENV).ok().filter(|u| !u.is_empty())?;
        let name = format!("tiller_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_ENV} is set but unreachable: {e}"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test db");
        let mut url = url::Url::parse(&admin_url).expect("valid TILLER_TEST_PG_URL");
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// PostgreSQL when `TILLER_TEST_PG_URL` is set, else SQLite: how the API suite picks
    /// its backend, so one test command covers either store.
    pub async fn from_env() -> Self {
        match Self::postgres().await {
            Some(db) => db,
            None => Self::sqlite(),
        }
    }

    /// Whether `needle` appears anywhere in the stored data: in the bytes of the SQLite
    /// files (database, WAL), or in the text form of any row of any PostgreSQL table. For
    /// tests that a secret is not kept at rest.
    pub async fn holds_text(&self, needle: &str) -> bool {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => std::fs::read_dir(dir.path())
                .expect("test db dir")
                .filter_map(Result::ok)
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes())),
            Cleanup::Postgres { .. } => {
                let mut conn = PgConnection::connect(&self.url).await.expect("test db");
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT quote_ident(table_name) FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(&mut conn)
                .await
                .expect("list tables");
                for table in tables {
                    let sql = format!(
                        "SELECT EXISTS (SELECT 1 FROM {table} t WHERE strpos(t::text, $1) > 0)"
                    );
                    let found: bool = sqlx::query_scalar(&sql)
                        .bind(needle)
                        .fetch_one(&mut conn)
                        .await
                        .expect("scan table");
                    if found {
                        return true;
                    }
                }
                false
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot block; use a thread of our own.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = admin.execute(sql.as_str()).await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}
