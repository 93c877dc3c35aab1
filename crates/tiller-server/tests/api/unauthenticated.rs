//! What unauthenticated input may cost: invented HTTP methods share one metrics label, and
//! an upload with a bad credential is refused before its body is read.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::helpers::TestApp;

#[tokio::test]
async fn invented_methods_are_counted_under_one_label() {
    let app = TestApp::spawn().await;
    for i in 0..300 {
        let method = Method::from_bytes(format!("FROB{i}X").as_bytes()).unwrap();
        app.send(method, "/healthz", &[], "").await;
    }
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        !metrics.text.contains("FROB"),
        "an invented method became a label"
    );
    let other: Vec<&str> = metrics
        .text
        .lines()
        .filter(|l| l.starts_with("tiller_http_requests_total{") && l.contains("method=\"other\""))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].ends_with(" 300"), "{}", other[0]);
    assert!(
        metrics.text.len() < 64 * 1024,
        "{} bytes",
        metrics.text.len()
    );
}

/// Sends the headers of an upload of `length` bytes with `key`, then only the first
/// kilobyte of the body, and returns what the server answers meanwhile.
async fn upload_headers_only(app: &TestApp, key: &str, length: u64) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/file/upload HTTP/1.1\r\nHost: t\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {length}\r\n\
         X-AIRudder-Sign-Key: {key}\r\nX-AIRudder-Sign: 00\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b'x'; 1024]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the server answers while the body is still being sent")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn an_upload_with_a_bad_key_is_refused_before_its_body_is_read() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let answer = upload_headers_only(&app, "no-such-key", 15_000_000).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("unknown X-AIRudder-Sign-Key"), "{answer}");
    assert!(
        answer.contains("\"request_id\""),
        "in the envelope: {answer}"
    );
    // A known key with a bad signature is refused once the body is in, and nothing stays.
    let files = app.state.cfg.files.dir.clone();
    let bad = app
        .send(
            Method::POST,
            "/api/v1/file/upload",
            &[
                ("content-type", "multipart/form-data; boundary=b"),
                ("X-AIRudder-Sign-Key", &t.sign_key),
                ("X-AIRudder-Sign", "00"),
            ],
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n",
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{}", bad.text);
    let left: Vec<_> = walk(&files);
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[tokio::test]
async fn an_oversized_upload_is_refused_with_the_real_limit() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let answer = upload_headers_only(&app, &t.sign_key, 20_000_000).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 16777216 bytes"), "{answer}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
