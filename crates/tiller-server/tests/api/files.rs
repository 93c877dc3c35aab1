//! Upload file: a signed multipart body in, a URL out that serves the same bytes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tiller_core::signing::airudder;

use crate::helpers::{Reply, TestApp, TestTenant};

const BOUNDARY: &str = "tiller-test-boundary";

fn multipart(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, t: &TestTenant, body: Vec<u8>) -> Reply {
    let sign = airudder::sign(&t.sign_secret, None, &body);
    let res = app
        .client
        .post(app.url("/api/v1/file/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("X-AIRudder-Sign-Key", &t.sign_key)
        .header("X-AIRudder-Sign", sign)
        .body(body)
        .send()
        .await
        .unwrap();
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        text: res.text().await.unwrap(),
    }
}

#[tokio::test]
async fn an_uploaded_file_is_served_back_and_usable_as_media() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let pdf = b"%PDF-1.4 pretend".to_vec();
    let reply = upload(&app, &t, multipart("welcome to Earth.pdf", &pdf)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let data = reply.json()["data"].clone();
    assert_eq!(data["name"], "welcome_to_Earth.pdf");
    assert_eq!(data["size"], pdf.len());
    assert_eq!(data["content_type"], "application/pdf");
    let url = data["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/files/", app.addr)),
        "{url}"
    );

    let fetched = app.client.get(url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "application/pdf");
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), pdf);

    // The URL works as an agent's media link.
    let open = json!({"call_id":"f1","channel":"chatbot","channel_id":"a","user":{"id":"u"},"messages":[{"type":"text","text":"hi"}]});
    assert_eq!(
        app.post_signed(&t, "/api/v1/channel/chatbot/message", &open.to_string())
            .await
            .status,
        StatusCode::OK
    );
    let body = json!({"call_id":"f1","sender_type":"agent","messages":[{"type":"file","media":{"origin_url":url,"name":"welcome_to_Earth.pdf"}}]});
    let sent = app
        .post_signed(&t, "/api/v1/session/message/send", &body.to_string())
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);

    let wrong_id = url.replace(&data["file_id"].as_str().unwrap()[..4], "0000");
    let missing = app.client.get(wrong_id).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_uploads_are_refused() {
    let app = TestApp::spawn_with(|cfg| cfg.files.max_upload_bytes = 1024).await;
    let t = app.tenant("Acme").await;
    assert_eq!(
        upload(&app, &t, multipart("empty.txt", b"")).await.status,
        StatusCode::BAD_REQUEST
    );
    let too_big = upload(&app, &t, multipart("big.bin", &vec![7u8; 4096])).await;
    assert_eq!(
        too_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_big.text
    );
    assert!(
        too_big.text.contains("larger than 1024 bytes"),
        "{}",
        too_big.text
    );
    let not_multipart = app.post_signed(&t, "/api/v1/file/upload", "{}").await;
    assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
    assert!(not_multipart.json()["message"]
        .as_str()
        .unwrap()
        .contains("multipart"));
    // Unsigned uploads are refused before anything is stored.
    let unsigned = app
        .send(Method::POST, "/api/v1/file/upload", &[], "x")
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
}
