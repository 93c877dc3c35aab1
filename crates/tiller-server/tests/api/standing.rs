//! Issue 13, item 3: a disabled tenant or a rotated secret stops working on every surface,
//! and on every node within a second (the commit relay empties the other nodes' credential
//! caches; `auth.credential_cache_secs` bounds it where nothing can tell a node).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tiller_core::{signing::nxlink, Clock as _};

use crate::helpers::{TestApp, TestTenant};

async fn signed_status(app: &TestApp, t: &TestTenant) -> (StatusCode, String) {
    let reply = app.post_signed(t, "/api/v1/company/info", "{}").await;
    (reply.status, reply.text)
}

async fn nx_code(app: &TestApp, t: &TestTenant) -> serde_json::Value {
    let reply = app
        .send_owned(
            Method::GET,
            "/saas/openapi/tenant/info",
            &app.nx_headers(t, "", nxlink::Algorithm::Md5),
            "",
        )
        .await;
    reply.json()["code"].clone()
}

async fn token_status(app: &TestApp, token: &str) -> StatusCode {
    let auth = format!("Token {token}");
    app.send(
        Method::GET,
        "/service/cloud/company/info",
        &[("authorization", &auth)],
        "",
    )
    .await
    .status
}

/// Polls `refused` until it holds; how long that took, or `None` after `limit`.
async fn refused_within<F, Fut>(limit: Duration, mut refused: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if refused().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn a_disabled_tenant_is_refused_on_every_surface_until_enabled() {
    let app = TestApp::spawn_with(|cfg| cfg.auth.credential_cache_secs = 0).await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let token = app.token(&a).await;
    assert_eq!(token_status(&app, &token).await, StatusCode::OK);

    app.state.tenants.disable(a.id).await.unwrap();
    let (status, text) = signed_status(&app, &a).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("disabled"), "{text}");
    let code = nx_code(&app, &a).await;
    assert_eq!(code, 1005);
    assert_eq!(
        token_status(&app, &token).await,
        StatusCode::UNAUTHORIZED,
        "its token was revoked"
    );
    let ask = json!({ "APPKey": a.app_key, "APPSecret": a.app_secret }).to_string();
    let reply = app.post_json("/service/cloud/auth", &ask).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text.contains("disabled"), "{}", reply.text);
    // A wrong signature is refused as before: the standing shows only to a verified caller.
    let forged = TestTenant {
        sign_secret: b.sign_secret.clone(),
        ..a.clone()
    };
    let (_, text) = signed_status(&app, &forged).await;
    assert!(!text.contains("disabled"), "{text}");
    // Another tenant is untouched.
    assert_eq!(signed_status(&app, &b).await.0, StatusCode::OK);

    app.state.tenants.enable(a.id).await.unwrap();
    assert_eq!(signed_status(&app, &a).await.0, StatusCode::OK);
    assert_eq!(nx_code(&app, &a).await, 0);
    let fresh = app.token(&a).await;
    assert_ne!(fresh, token, "the revoked token stays revoked");
    assert_eq!(token_status(&app, &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn rotated_secrets_replace_the_old_ones_on_every_surface() {
    let app = TestApp::spawn_with(|cfg| cfg.auth.credential_cache_secs = 0).await;
    let a = app.tenant("Alpha").await;
    let token = app.token(&a).await;
    let (_, clear) = app.state.tenants.rotate(a.id).await.unwrap();
    let rotated = TestTenant {
        app_secret: clear.app_secret.expose().to_owned(),
        sign_secret: clear.sign_secret.expose().to_owned(),
        access_secret: clear.access_secret.expose().to_owned(),
        ..a.clone()
    };
    assert_eq!(signed_status(&app, &a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(nx_code(&app, &a).await, 1003);
    assert_eq!(token_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let old = json!({ "APPKey": a.app_key, "APPSecret": a.app_secret }).to_string();
    assert_eq!(
        app.post_json("/service/cloud/auth", &old).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(signed_status(&app, &rotated).await.0, StatusCode::OK);
    assert_eq!(nx_code(&app, &rotated).await, 0);
    let fresh = app.token(&rotated).await;
    assert_eq!(token_status(&app, &fresh).await, StatusCode::OK);
}

/// With the default cache, a node that cached the tenant refuses it within a second of the
/// change, which it was not told of in process (as with the CLI, another process).
#[tokio::test]
async fn a_cached_tenant_is_refused_within_a_second_of_being_disabled() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    assert_eq!(
        signed_status(&app, &a).await.0,
        StatusCode::OK,
        "cached now"
    );
    app.store
        .change_tenant(
            a.id,
            &tiller_core::tenant::TenantChange::Disable,
            app.clock.now(),
        )
        .await
        .unwrap();
    let took = refused_within(Duration::from_secs(3), || async {
        signed_status(&app, &a).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    let took = took.expect("refused in the end");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

/// On PostgreSQL another node's cache is emptied at once, however long it would keep the
/// tenant: the change's transaction notifies every node.
#[tokio::test]
async fn every_node_refuses_a_rotated_secret_at_once() {
    let app = TestApp::spawn_with(|cfg| cfg.auth.credential_cache_secs = 600).await;
    if !app.db.url.starts_with("postgres") {
        return;
    }
    let other = app
        .spawn_beside(|cfg| cfg.auth.credential_cache_secs = 600)
        .await;
    let a = app.tenant("Alpha").await;
    for node in [&app, &other] {
        assert_eq!(signed_status(node, &a).await.0, StatusCode::OK, "cached");
        assert_eq!(nx_code(node, &a).await, 0, "cached");
    }
    app.state.tenants.rotate(a.id).await.unwrap();
    for node in [&app, &other] {
        let took = refused_within(Duration::from_secs(3), || async {
            signed_status(node, &a).await.0 == StatusCode::UNAUTHORIZED
                && nx_code(node, &a).await == 1003
        })
        .await;
        let took = took.expect("the old secret is refused in the end");
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}
