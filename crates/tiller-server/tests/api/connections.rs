//! Slow and idle clients: the connection cap, the header timeout, and a server with few
//! file descriptors that keeps answering.

use std::{
    net::SocketAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::helpers::TestApp;

/// `GET /healthz` on a fresh connection; the status line, or None if the server did not
/// answer within two seconds.
async fn healthz_on_new_connection(addr: SocketAddr) -> Option<String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        text.lines().next().map(str::to_owned)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// Polls `/healthz` until it answers 200; panics after `within`.
async fn healthz_answers(addr: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = healthz_on_new_connection(addr).await {
            if status.contains(" 200 ") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "/healthz did not answer 200");
        tokio::task::yield_now().await;
    }
}

/// Waits until the server closes `s` (read returns 0 or an error); the time it took.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let res = tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(res.is_ok(), "the server kept the connection open");
    started.elapsed()
}

async fn open_idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    idle
}

#[tokio::test]
async fn six_hundred_idle_connections_leave_healthz_answering_and_are_closed() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections = 50;
        c.server.header_read_timeout_secs = 1;
    })
    .await;
    let mut idle = open_idle(app.addr, 600).await;
    healthz_answers(app.addr, Duration::from_secs(10)).await;
    // Every idle connection is closed: over the cap at once, the rest after the timeout.
    for s in &mut idle {
        closed_by_server(s, Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn a_connection_that_sends_no_headers_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.server.header_read_timeout_secs = 1).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut partial = TcpStream::connect(app.addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let took = closed_by_server(&mut silent, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    closed_by_server(&mut partial, Duration::from_secs(5)).await;
    // A well-behaved client is still served.
    healthz_answers(app.addr, Duration::from_secs(5)).await;
}

/// The binary under `prlimit --nofile=512`: 600 idle connections would take every
/// descriptor; the server fits its connection cap into the limit, keeps accepting, and
/// closes the idle ones after the header timeout.
#[test]
fn with_512_descriptors_600_idle_connections_do_not_stop_the_server() {
    assert!(
        Command::new("prlimit").arg("--version").output().is_ok(),
        "prlimit (util-linux) is needed for this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new("prlimit")
        .args(["--nofile=512", "--"])
        .arg(env!("CARGO_BIN_EXE_tiller"))
        .args(["serve", "--listen", &listen, "--database-url", &url])
        .env_remove("TILLER_DATABASE__URL")
        .env("TILLER_SERVER__HEADER_READ_TIMEOUT_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        healthz_answers(addr, Duration::from_secs(20)).await;
        let _idle = open_idle(addr, 600).await;
        healthz_answers(addr, Duration::from_secs(10)).await;
        // And again, while the clients still hold their ends open.
        let _more = open_idle(addr, 600).await;
        healthz_answers(addr, Duration::from_secs(10)).await;
    });
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server exited under descriptor pressure"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_a_503_after_the_request_timeout() {
    let app = TestApp::spawn_with(|c| c.server.request_timeout_secs = 1).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"POST /service/cloud/auth HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"APPKey\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered after the request timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("request_timeout_secs"), "{answer}");
    assert!(
        answer.contains("\"status\":\"Service Unavailable\""),
        "{answer}"
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
}
