//! `POST /service/cloud/auth` and token-authenticated `/service/cloud/*` routes.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Reply, TestApp};

async fn company_with(app: &TestApp, authorization: &str) -> Reply {
    app.send(
        Method::GET,
        "/service/cloud/company/info",
        &[("authorization", authorization)],
        "",
    )
    .await
}

#[tokio::test]
async fn issues_a_token_in_the_documented_shape() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let body = json!({ "APPKey": t.app_key, "APPSecret": t.app_secret }).to_string();
    let reply = app.post_json("/service/cloud/auth", &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let v = reply.json();
    assert_eq!(v["status"], "OK");
    assert_eq!(v["code"], 200);
    let token = v["data"]["token"].as_str().unwrap();
    assert_eq!(token.len(), 52);
    assert_eq!(
        v.as_object().unwrap().len(),
        3,
        "exactly data, status, code: {v}"
    );

    let company = company_with(&app, &format!("Token {token}")).await;
    assert_eq!(company.status, StatusCode::OK, "{}", company.text);
    assert_eq!(company.json()["data"]["company"], "acme");
    // Bearer is accepted too (a published client sends it).
    assert_eq!(
        company_with(&app, &format!("Bearer {token}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn asking_again_while_valid_returns_the_same_token_and_extends_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let first = app.token(&t).await;

    app.clock.advance(Duration::hours(23));
    let second = app.token(&t).await;
    assert_eq!(first, second);

    // 25 h after the first request, but only 2 h after the second: still valid.
    app.clock.advance(Duration::hours(2));
    assert_eq!(
        company_with(&app, &format!("Token {first}")).await.status,
        StatusCode::OK
    );

    // 24 h after the last request it has expired.
    app.clock.advance(Duration::hours(22));
    let expired = company_with(&app, &format!("Token {first}")).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    let v = expired.json();
    assert_eq!(v["code"], 401);
    assert_eq!(v["status"], "Unauthorized");
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");

    // A new request after expiry gets a new token.
    let third = app.token(&t).await;
    assert_ne!(third, first);
    assert_eq!(
        company_with(&app, &format!("Token {third}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused_in_the_token_envelope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for body in [
        json!({ "APPKey": t.app_key, "APPSecret": "wrong" }),
        json!({ "APPKey": "unknown", "APPSecret": t.app_secret }),
    ] {
        let reply = app
            .post_json("/service/cloud/auth", &body.to_string())
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let v = reply.json();
        assert_eq!(v["code"], 401);
        assert_eq!(v["data"], serde_json::Value::Null);
        assert_eq!(v["message"], "invalid APPKey or APPSecret");
    }
    let empty = app
        .post_json("/service/cloud/auth", r#"{"APPKey":"","APPSecret":""}"#)
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cloud_routes_refuse_missing_malformed_and_unknown_tokens() {
    let app = TestApp::spawn().await;
    let missing = app.get("/service/cloud/company/info").await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("missing Authorization"));

    for (header, needle) in [
        ("Basic abc", "Token <token>"),
        ("Token", "Token <token>"),
        ("Token    ", "Token <token>"),
        ("Token not-a-real-token", "invalid or has expired"),
    ] {
        let reply = company_with(&app, header).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header}");
        let v = reply.json();
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{header}: {v}"
        );
        assert_eq!(v["status"], "Unauthorized");
    }
}

#[tokio::test]
async fn tokens_are_not_kept_at_rest() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let body = json!({ "APPKey": t.app_key, "APPSecret": t.app_secret }).to_string();
    let token = app.post_json("/service/cloud/auth", &body).await.json()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same token comes back while it is valid, and it authenticates…
    let again = app.post_json("/service/cloud/auth", &body).await.json();
    assert_eq!(again["data"]["token"], token.as_str());
    let company = company_with(&app, &format!("Token {token}")).await;
    assert_eq!(company.status, StatusCode::OK, "{}", company.text);
    // …but no byte of the database holds it, nor the app secret.
    assert!(
        !app.db.holds_text(&token).await,
        "the token is stored in clear"
    );
    assert!(!app.db.holds_text(&t.app_secret).await);
    // The check itself can fail: the tenant's app key is stored in clear.
    assert!(app.db.holds_text(&t.app_key).await);
}
