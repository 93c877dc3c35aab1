//! `X-AIRudder-Sign` verification on `/api/v1/*`.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use tiller_core::{signing::airudder, Clock as _};

use crate::helpers::{Reply, TestApp, TestTenant};

const PATH: &str = "/api/v1/company/info";

async fn post(app: &TestApp, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    app.send(Method::POST, PATH, &all, body).await
}

fn assert_refused(reply: &Reply, needle: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], 401);
    assert_eq!(v["data"], serde_json::Value::Null);
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "expected {needle:?} in {message:?}"
    );
}

#[tokio::test]
async fn a_correctly_signed_request_gets_the_success_envelope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let reply = app.post_signed(&t, PATH, "{}").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], 200);
    assert_eq!(v["message"], "Success");
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32);
    assert_eq!(v["data"]["company"], "acme");
    assert_eq!(v["data"]["tenant_id"], t.id.0);
}

#[tokio::test]
async fn each_failure_mode_is_refused_with_its_own_message() {
    let app = TestApp::spawn().await;
    let t: TestTenant = app.tenant("Acme").await;
    let body = "{}";
    let good = airudder::sign(&t.sign_secret, None, body.as_bytes());

    assert_refused(
        &post(&app, &[("X-AIRudder-Sign", &good)], body).await,
        "missing X-AIRudder-Sign-Key",
    );
    assert_refused(
        &post(&app, &[("X-AIRudder-Sign-Key", &t.sign_key)], body).await,
        "missing X-AIRudder-Sign header",
    );
    assert_refused(
        &post(
            &app,
            &[
                ("X-AIRudder-Sign-Key", &t.sign_key),
                ("X-AIRudder-Sign", ""),
            ],
            body,
        )
        .await,
        "missing X-AIRudder-Sign header",
    );
    assert_refused(
        &post(
            &app,
            &[
                ("X-AIRudder-Sign-Key", "0123456789abcdef0123456789abcdef"),
                ("X-AIRudder-Sign", &good),
            ],
            body,
        )
        .await,
        "unknown X-AIRudder-Sign-Key",
    );
    let wrong = airudder::sign("not-the-secret", None, body.as_bytes());
    assert_refused(
        &post(
            &app,
            &[
                ("X-AIRudder-Sign-Key", &t.sign_key),
                ("X-AIRudder-Sign", &wrong),
            ],
            body,
        )
        .await,
        "X-AIRudder-Sign does not match",
    );
    // The signature covers the exact bytes: the same JSON with a space is a different body.
    assert_refused(
        &post(
            &app,
            &[
                ("X-AIRudder-Sign-Key", &t.sign_key),
                ("X-AIRudder-Sign", &good),
            ],
            "{ }",
        )
        .await,
        "X-AIRudder-Sign does not match",
    );
    // Uppercase hex of the right digest is accepted.
    let upper = good.to_uppercase();
    let ok = post(
        &app,
        &[
            ("X-AIRudder-Sign-Key", &t.sign_key),
            ("X-AIRudder-Sign", &upper),
        ],
        body,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn a_timestamp_is_bound_into_the_signature_and_must_be_fresh() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let body = "{}";
    let ts = app.clock.now().timestamp().to_string();
    let bound = airudder::sign(&t.sign_secret, Some(&ts), body.as_bytes());
    let headers = [
        ("X-AIRudder-Sign-Key", t.sign_key.as_str()),
        ("X-AIRudder-Sign", bound.as_str()),
        ("X-AIRudder-Timestamp", ts.as_str()),
    ];
    assert_eq!(post(&app, &headers, body).await.status, StatusCode::OK);

    // Within 300 s either way is fine; beyond is refused.
    app.clock.advance(Duration::seconds(299));
    assert_eq!(post(&app, &headers, body).await.status, StatusCode::OK);
    app.clock.advance(Duration::seconds(2));
    assert_refused(&post(&app, &headers, body).await, "away from server time");

    // A body-only signature does not pass when a timestamp is sent.
    let fresh = app.clock.now().timestamp().to_string();
    let body_only = airudder::sign(&t.sign_secret, None, body.as_bytes());
    let headers = [
        ("X-AIRudder-Sign-Key", t.sign_key.as_str()),
        ("X-AIRudder-Sign", body_only.as_str()),
        ("X-AIRudder-Timestamp", fresh.as_str()),
    ];
    assert_refused(&post(&app, &headers, body).await, "does not match");

    let headers = [
        ("X-AIRudder-Sign-Key", t.sign_key.as_str()),
        ("X-AIRudder-Sign", bound.as_str()),
        ("X-AIRudder-Timestamp", "yesterday"),
    ];
    assert_refused(&post(&app, &headers, body).await, "unix seconds");
}
