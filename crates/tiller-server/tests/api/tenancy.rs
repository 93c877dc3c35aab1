//! A tenant's credentials never reach another tenant's data, on every authenticated route:
//! `POST /service/cloud/auth`, `GET /service/cloud/company/info`,
//! `POST /api/v1/company/info` and `GET /saas/openapi/tenant/info`.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tiller_core::signing::{airudder, nxlink};

use crate::helpers::{TestApp, TestTenant};

#[tokio::test]
async fn token_api_and_token_routes_are_tenant_scoped() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;

    let mixed = json!({ "APPKey": a.app_key, "APPSecret": b.app_secret }).to_string();
    assert_eq!(
        app.post_json("/service/cloud/auth", &mixed).await.status,
        StatusCode::UNAUTHORIZED
    );

    let (ta, tb) = (app.token(&a).await, app.token(&b).await);
    assert_ne!(ta, tb);
    for (t, token) in [(&a, &ta), (&b, &tb)] {
        let auth = format!("Token {token}");
        let reply = app
            .send(
                Method::GET,
                "/service/cloud/company/info",
                &[("authorization", &auth)],
                "",
            )
            .await;
        let data = &reply.json()["data"];
        assert_eq!(data["tenant_id"], t.id.0);
        assert_eq!(data["company"], t.company);
    }
}

#[tokio::test]
async fn signed_v1_routes_are_tenant_scoped() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    for t in [&a, &b] {
        let reply = app.post_signed(t, "/api/v1/company/info", "{}").await;
        assert_eq!(reply.json()["data"]["tenant_id"], t.id.0);
    }
    // A's key with a signature made with B's secret is refused.
    let forged = airudder::sign(&b.sign_secret, None, b"{}");
    let reply = app
        .send(
            Method::POST,
            "/api/v1/company/info",
            &[
                ("X-AIRudder-Sign-Key", &a.sign_key),
                ("X-AIRudder-Sign", &forged),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn nxlink_routes_are_tenant_scoped() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    for t in [&a, &b] {
        let reply = app
            .send_owned(
                Method::GET,
                "/saas/openapi/tenant/info",
                &app.nx_headers(t, "", nxlink::Algorithm::Md5),
                "",
            )
            .await;
        assert_eq!(reply.json()["data"]["tenant_id"], t.id.0.to_string());
    }
    // A's access key signed with B's secret.
    let forged = TestTenant {
        access_key: a.access_key.clone(),
        ..b.clone()
    };
    let reply = app
        .send_owned(
            Method::GET,
            "/saas/openapi/tenant/info",
            &app.nx_headers(&forged, "", nxlink::Algorithm::Md5),
            "",
        )
        .await;
    assert_eq!(reply.json()["code"], 1003);
}

/// Every chat route, called with B's credentials on A's session, answers as if the session
/// did not exist, and changes nothing of A's.
#[tokio::test]
async fn chat_routes_are_tenant_scoped() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let open = json!({"call_id":"a-1","channel":"chatbot","channel_id":"acc","user":{"id":"u"},
        "messages":[{"type":"text","text":"hi"}]});
    assert_eq!(
        app.post_signed(&a, "/api/v1/channel/chatbot/message", &open.to_string())
            .await
            .status,
        StatusCode::OK
    );

    for (path, body) in [
        (
            "/api/v1/session/message/send",
            json!({"call_id":"a-1","sender_type":"agent","messages":[{"type":"text","text":"x"}]}),
        ),
        (
            "/api/v1/session/messages",
            json!({"call_id":"a-1","last_msg_id":"","size":10}),
        ),
        (
            "/api/v1/session/message/list",
            json!({"call_id":"a-1","size":10}),
        ),
        ("/api/v1/session/message/read", json!({"call_id":"a-1"})),
        ("/api/v1/session/end", json!({"call_id":"a-1"})),
        (
            "/api/v1/session/report",
            json!({"call_id":"a-1","intention":"A"}),
        ),
    ] {
        let reply = app.post_signed(&b, path, &body.to_string()).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }
    let listed = app
        .post_signed(&b, "/api/v1/session/list", r#"{"size":10}"#)
        .await;
    assert_eq!(listed.json()["data"], json!([]));

    // A's session is untouched: open, one message, unread.
    let mine = app
        .post_signed(
            &a,
            "/api/v1/session/messages",
            r#"{"call_id":"a-1","last_msg_id":"","size":10}"#,
        )
        .await;
    let data = mine.json()["data"].clone();
    assert_eq!(
        data.as_array().unwrap().len(),
        2,
        "start + the user's message: {data}"
    );
    assert_eq!(data[0]["status"], "delivery");
    let sessions = app
        .post_signed(&a, "/api/v1/session/list", r#"{"size":10}"#)
        .await;
    assert_eq!(sessions.json()["data"][0]["status"], "bot");
}
