//! Bad input gets a clear error in the envelope of the surface it was sent to.

use std::{fmt::Write as _, time::Duration};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tiller_core::signing::nxlink::Algorithm;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::helpers::TestApp;

#[tokio::test]
async fn malformed_wrongly_typed_and_incomplete_json_are_400s() {
    let app = TestApp::spawn().await;
    for (body, needle) in [
        ("{not json", "malformed JSON"),
        ("", "empty"),
        (r#"{"APPKey":5,"APPSecret":"x"}"#, "invalid type"),
        (r#"{"APPKey":"x"}"#, "missing field `APPSecret`"),
        ("[\"k\",\"s\"]", "JSON object"),
        ("5", "invalid type"),
    ] {
        let reply = app.post_json("/service/cloud/auth", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let v = reply.json();
        assert_eq!(v["code"], 400);
        assert_eq!(v["status"], "Bad Request");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
}

#[tokio::test]
async fn signed_v1_bodies_are_checked_after_the_signature() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let reply = app.post_signed(&t, "/api/v1/company/info", "[1,2]").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], 400);
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32);
    assert!(
        v["message"].as_str().unwrap().contains("JSON object"),
        "{v}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_on_every_surface() {
    let app = TestApp::spawn_with(|cfg| cfg.server.body_limit_bytes = 64).await;
    let t = app.tenant("Acme").await;
    let big = format!(r#"{{"APPKey":"{}","APPSecret":"x"}}"#, "k".repeat(100));

    let cloud = app.post_json("/service/cloud/auth", &big).await;
    assert_eq!(cloud.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(cloud.json()["code"], 413);
    assert!(cloud.json()["message"]
        .as_str()
        .unwrap()
        .contains("64 bytes"));

    let v1 = app.post_signed(&t, "/api/v1/company/info", &big).await;
    assert_eq!(v1.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v1.json()["code"], 413);

    let nx = app
        .send_owned(
            Method::GET,
            "/saas/openapi/tenant/info",
            &app.nx_headers(&t, &big, Algorithm::Md5),
            &big,
        )
        .await;
    assert_eq!(nx.json()["code"], 1002, "{}", nx.text);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_surface_envelope() {
    let app = TestApp::spawn().await;
    let v1 = app.post_json("/api/v1/no/such/thing", "{}").await;
    assert_eq!(v1.status, StatusCode::NOT_FOUND);
    let v = v1.json();
    assert_eq!(v["code"], 404);
    assert_eq!(v["data"], Value::Null);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("/api/v1/no/such/thing"));

    let cloud = app.get("/service/cloud/nothing").await;
    assert_eq!(cloud.status, StatusCode::NOT_FOUND);
    assert_eq!(cloud.json()["status"], "Not Found");

    let nx = app.get("/saas/openapi/nothing").await;
    assert_eq!(nx.status, StatusCode::OK);
    assert_eq!(nx.json()["code"], -1);
    assert!(nx.json()["traceId"].is_string());

    let wrong = app.get("/service/cloud/auth").await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.json()["code"], 405);
    let wrong = app
        .send(Method::DELETE, "/api/v1/company/info", &[], "")
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong.json()["request_id"].is_string());
}

#[tokio::test]
async fn bad_path_values_are_400s_in_the_envelope() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (
            Method::GET,
            "/files/abc/0123456789abcdef0123456789abcdef/a.txt",
        ),
        (Method::POST, "/api/v1/channel/%FF/message"),
    ] {
        let reply = app.send(method, path, &[], "{}").await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert_eq!(reply.headers["content-type"], "application/json", "{path}");
        let v = reply.json();
        assert_eq!(v["code"], 400, "{path}: {v}");
        assert_eq!(v["request_id"].as_str().unwrap().len(), 32, "{path}: {v}");
        assert!(v["data"].is_null());
        assert!(
            v["message"].as_str().unwrap().contains("Invalid URL"),
            "{path}: {v}"
        );
    }
}

/// Sends `headers` and 2 bytes of a 100-byte body, then waits; the raw answer.
async fn stalled(app: &TestApp, method: &str, path: &str, headers: &[(String, String)]) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("content-length: 100\r\n\r\n{\"");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The timeout runs outside the surfaces' layers, yet its 503 is in the surface's envelope:
/// the surface claimed the request before its body was awaited.
#[tokio::test]
async fn timed_out_requests_answer_in_the_surface_envelope() {
    let app = TestApp::spawn_with(|cfg| cfg.server.request_timeout_secs = 1).await;
    let t = app.tenant("Acme").await;
    let nx_headers = app.nx_headers(&t, "{}", Algorithm::Md5);
    let nx = stalled(&app, "GET", "/saas/openapi/tenant/info", &nx_headers).await;
    assert!(nx.starts_with("HTTP/1.1 503"), "{nx}");
    assert!(
        nx.contains(r#""code":-1"#) && nx.contains("traceId"),
        "{nx}"
    );

    let json = [("content-type".to_owned(), "application/json".to_owned())];
    let cloud = stalled(&app, "POST", "/service/cloud/auth", &json).await;
    assert!(cloud.starts_with("HTTP/1.1 503"), "{cloud}");
    assert!(
        cloud.contains(r#""status":"Service Unavailable""#),
        "{cloud}"
    );
    assert!(cloud.contains("request_timeout_secs"), "{cloud}");
}
