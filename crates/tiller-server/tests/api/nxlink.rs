//! nxlink-style signatures on `/saas/*`: error codes 1001–1005, HTTP 200, `traceId`.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use tiller_core::signing::nxlink::Algorithm;

use crate::helpers::{Reply, TestApp};

const PATH: &str = "/saas/openapi/tenant/info";

fn assert_code(reply: &Reply, code: i64) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "nxlink reports errors through `code`: {}",
        reply.text
    );
    let v = reply.json();
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["traceId"].as_str().unwrap().len(), 32);
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn md5_and_sha256_signatures_are_accepted() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let reply = app
            .send_owned(Method::GET, PATH, &app.nx_headers(&t, "", alg), "")
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let v = reply.json();
        assert_eq!(v["code"], 0, "{v}");
        assert_eq!(v["message"], "");
        assert_eq!(v["data"]["tenant_id"], t.id.0.to_string());
        assert_eq!(v["data"]["company"], "acme");
        assert_eq!(v["traceId"].as_str().unwrap().len(), 32);
    }
}

#[tokio::test]
async fn each_missing_common_header_is_1001() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for missing in ["accessKey", "ts", "bizType", "action", "sign"] {
        let headers: Vec<_> = app
            .nx_headers(&t, "", Algorithm::Md5)
            .into_iter()
            .filter(|(k, _)| k != missing)
            .collect();
        let reply = app.send_owned(Method::GET, PATH, &headers, "").await;
        assert_code(&reply, 1001);
        assert!(reply.json()["message"].as_str().unwrap().contains(missing));
    }
}

#[tokio::test]
async fn a_stale_or_malformed_ts_is_1004() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let headers = app.nx_headers(&t, "", Algorithm::Md5);
    app.clock.advance(Duration::milliseconds(60_000));
    assert_eq!(
        app.send_owned(Method::GET, PATH, &headers, "").await.json()["code"],
        0,
        "60 s is allowed"
    );
    app.clock.advance(Duration::milliseconds(1));
    assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1004);
    // A ts from the future is refused the same way.
    app.clock.advance(Duration::milliseconds(-120_002));
    assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1004);

    let mut seconds = app.nx_headers(&t, "", Algorithm::Md5);
    seconds[1].1 = "not-a-number".into();
    assert_code(&app.send_owned(Method::GET, PATH, &seconds, "").await, 1004);
}

#[tokio::test]
async fn an_unknown_access_key_is_1005() {
    let app = TestApp::spawn().await;
    let mut t = app.tenant("Acme").await;
    t.access_key = "AK-0-0".into();
    assert_code(
        &app.send_owned(
            Method::GET,
            PATH,
            &app.nx_headers(&t, "", Algorithm::Md5),
            "",
        )
        .await,
        1005,
    );
}

#[tokio::test]
async fn wrong_biz_type_action_or_algorithm_is_1002() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for (i, value) in [(2, "3"), (3, "send")] {
        let mut headers = app.nx_headers(&t, "", Algorithm::Md5);
        headers[i].1 = value.into();
        assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1002);
    }
    let mut headers = app.nx_headers(&t, "", Algorithm::Md5);
    headers.push(("algorithm".into(), "sha1".into()));
    assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1002);
}

#[tokio::test]
async fn a_wrong_signature_is_1003() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let mut headers = app.nx_headers(&t, "", Algorithm::Md5);
    headers[4].1 = "0".repeat(32);
    assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1003);
    // An md5 signature sent as sha256 does not verify.
    let mut headers = app.nx_headers(&t, "", Algorithm::Md5);
    headers.push(("algorithm".into(), "sha256".into()));
    assert_code(&app.send_owned(Method::GET, PATH, &headers, "").await, 1003);
    // A signature over an empty body does not cover a body that was sent.
    let headers = app.nx_headers(&t, "", Algorithm::Md5);
    assert_code(
        &app.send_owned(Method::GET, PATH, &headers, r#"{"x":1}"#)
            .await,
        1003,
    );
}
