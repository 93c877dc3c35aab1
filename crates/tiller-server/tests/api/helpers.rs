//! `TestApp`: builds the real app from a `Config`, binds 127.0.0.1:0, serves it in the
//! background, and speaks HTTP to it.

use std::{net::SocketAddr, sync::Arc};

use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::Value;
use tiller_core::{
    signing::{airudder, nxlink},
    store::DynStore,
    tenant::NewTenant,
    Clock as _, TenantId,
};
use tiller_server::{
    state::AppState,
    workers::{OutboxWorker, RobotWorker},
    App, Config,
};
use tiller_store::testing::TestDatabase;
use tiller_testkit::ManualClock;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub state: AppState,
    /// The app's store, to set up what no API writes.
    pub store: DynStore,
    pub outbox: Arc<OutboxWorker>,
    pub robots: Arc<RobotWorker>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Shared by the nodes of one database (`spawn_beside`); dropped with the last.
    pub db: Arc<TestDatabase>,
    _files: tempfile::TempDir,
}

/// A tenant with its clear credentials, as `tiller tenant create` prints them.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: TenantId,
    pub company: String,
    pub app_key: String,
    pub app_secret: String,
    pub sign_key: String,
    pub sign_secret: String,
    pub access_key: String,
    pub access_secret: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// An app whose manual clock starts at `start`.
    pub async fn spawn_at(start: chrono::DateTime<chrono::Utc>) -> TestApp {
        Self::spawn_clocked(ManualClock::at(start), |_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_clocked(ManualClock::new(), tweak).await
    }

    async fn spawn_clocked(clock: ManualClock, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = Arc::new(TestDatabase::from_env().await);
        Self::spawn_on(db, clock, tweak).await
    }

    /// Another node on this app's database, with its own clock (starting where this one
    /// is) and config.
    pub async fn spawn_beside(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let clock = ManualClock::at(self.clock.now());
        Self::spawn_on(self.db.clone(), clock, tweak).await
    }

    pub async fn spawn_on(
        db: Arc<TestDatabase>,
        clock: ManualClock,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut cfg = Config::defaults();
        cfg.server.listen = "127.0.0.1:0".parse().unwrap();
        cfg.database.url.clone_from(&db.url);
        let files = tempfile::tempdir().unwrap();
        cfg.files.dir = files.path().to_owned();
        // Tests step the delivery worker themselves, reach receivers on loopback and want
        // exact retry times.
        cfg.webhooks.worker = false;
        cfg.outbound.allowed_networks = "127.0.0.1/32".into();
        cfg.webhooks.jitter = 0.0;
        // Robot turns run when a test says so (`turns()`), not behind its back.
        cfg.robots.worker = false;
        cfg.robots.inline_turns = false;
        tweak(&mut cfg);
        let app = App::build(cfg, Arc::new(clock.clone()))
            .await
            .expect("app builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        let store = app.store();
        let outbox = app.outbox_worker();
        let robots = app.robot_worker();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            client: reqwest::Client::new(),
            clock,
            state,
            store,
            outbox,
            robots,
            shutdown: Some(tx),
            db,
            _files: files,
        }
    }

    /// One pass of the webhook delivery worker; returns how many deliveries it attempted.
    pub async fn deliver(&self) -> usize {
        self.outbox.tick(1000).await.expect("delivery pass")
    }

    /// Runs every due robot turn; returns how many ran.
    pub async fn turns(&self) -> usize {
        self.robots.run_due_turns().await.expect("robot turns")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn tenant(&self, name: &str) -> TestTenant {
        self.tenant_with_app_key(name, None).await
    }

    /// A tenant whose app key is `app_key` when given (an older key's shape, say).
    pub async fn tenant_with_app_key(&self, name: &str, app_key: Option<&str>) -> TestTenant {
        let (mut new, mut issued) = NewTenant::generate(name).unwrap();
        if let Some(key) = app_key {
            key.clone_into(&mut new.app_key);
            key.clone_into(&mut issued.app_key);
        }
        let t = self
            .store
            .insert_tenant(&new, self.clock.now())
            .await
            .unwrap();
        TestTenant {
            id: t.id,
            company: t.company,
            app_key: issued.app_key,
            app_secret: issued.app_secret.expose().to_owned(),
            sign_key: issued.sign_key,
            sign_secret: issued.sign_secret.expose().to_owned(),
            access_key: issued.access_key,
            access_secret: issued.access_secret.expose().to_owned(),
        }
    }

    /// Sends a request with the given headers and raw body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request reaches the server");
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], "").await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Reply {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
    }

    /// A token for `t` from the token API.
    pub async fn token(&self, t: &TestTenant) -> String {
        let body =
            serde_json::json!({ "APPKey": t.app_key, "APPSecret": t.app_secret }).to_string();
        let reply = self.post_json("/service/cloud/auth", &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["data"]["token"].as_str().unwrap().to_owned()
    }

    /// POSTs `body` to an `/api/v1` route signed with `t`'s sign secret.
    pub async fn post_signed(&self, t: &TestTenant, path: &str, body: &str) -> Reply {
        let sign = airudder::sign(&t.sign_secret, None, body.as_bytes());
        let headers = [
            ("content-type", "application/json"),
            ("X-AIRudder-Sign-Key", t.sign_key.as_str()),
            ("X-AIRudder-Sign", sign.as_str()),
        ];
        self.send(Method::POST, path, &headers, body).await
    }

    /// The nxlink common headers for a request at the app clock's current time.
    pub fn nx_headers(
        &self,
        t: &TestTenant,
        body: &str,
        alg: nxlink::Algorithm,
    ) -> Vec<(String, String)> {
        let ts = self.clock.now().timestamp_millis().to_string();
        let common = nxlink::CommonHeaders {
            access_key: &t.access_key,
            action: "mt",
            biz_type: "2",
            ts: &ts,
        };
        let sign = nxlink::sign(common, Some(body.as_bytes()), &t.access_secret, alg);
        let mut h = vec![
            ("accessKey".to_owned(), t.access_key.clone()),
            ("ts".to_owned(), ts.clone()),
            ("bizType".to_owned(), "2".to_owned()),
            ("action".to_owned(), "mt".to_owned()),
            ("sign".to_owned(), sign),
        ];
        if alg == nxlink::Algorithm::Sha256 {
            h.push(("algorithm".to_owned(), "sha256".to_owned()));
        }
        h
    }

    pub async fn send_owned(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Reply {
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send(method, path, &borrowed, body).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
