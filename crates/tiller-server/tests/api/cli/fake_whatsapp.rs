//! `tiller dev fake-whatsapp`, run as a process: the start line, the injected inbound
//! message and a send's status, both signed the way Tiller's own verifier checks.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tiller_core::signing::meta;
use tiller_testkit::{Received, WebhookReceiver};

const SECRET: &str = "fake-app-secret";

/// Kills the child on drop, so a failing assertion leaks no process.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stderr` is piped only where the test reads it: an undrained pipe could block the logs.
fn spawn(args: &[&str], stderr: Stdio) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tiller"))
            .args(["dev", "fake-whatsapp"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    )
}

/// Waits (bounded) for a signed webhook whose body satisfies `wanted`.
async fn webhook(receiver: &WebhookReceiver, wanted: impl Fn(&Value) -> bool) -> Received {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = receiver
            .received()
            .into_iter()
            .find(|r| serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| wanted(&v)));
        if let Some(r) = found {
            let signature = r.header(meta::HEADER);
            assert!(
                meta::verify(SECRET, &r.body, Some(signature)),
                "bad signature {signature:?} on {}",
                r.body_text()
            );
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no such webhook: {:?}",
            receiver.received()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_whatsapp_prints_its_address_injects_a_message_and_signs_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("app-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let receiver = WebhookReceiver::start().await;
    let mut child = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--webhook",
            &receiver.url,
            "--app-secret-file",
            secret_file.to_str().unwrap(),
            "--inbound-from",
            "15550001111",
            "--inbound-text",
            "hi",
        ],
        Stdio::null(),
    );

    let stdout = child.0.stdout.take().unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the start line within 30 s")
        .unwrap()
        .unwrap();
    let start: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let listen = start["listen"].as_str().unwrap();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{start}"
    );
    let graph_url = start["graph_url"].as_str().unwrap();
    assert_eq!(graph_url, format!("http://{listen}"));
    assert_eq!(start["phone_number_id"], "100000000000001");
    assert_eq!(start["waba_id"], "200000000000001");
    assert_eq!(start["display_number"], "+1 555 000 0001");
    assert_eq!(start["webhook"], receiver.url.as_str());

    let inbound = webhook(&receiver, |v| {
        v["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "hi"
    })
    .await;
    let body: Value = serde_json::from_slice(&inbound.body).unwrap();
    let value = &body["entry"][0]["changes"][0]["value"];
    assert_eq!(value["messages"][0]["from"], "15550001111");
    assert_eq!(value["metadata"]["phone_number_id"], "100000000000001");

    // The user wrote, so the service window is open and a free-form text goes through.
    let answer = reqwest::Client::new()
        .post(format!("{graph_url}/v21.0/100000000000001/messages"))
        .json(&json!({
            "messaging_product": "whatsapp",
            "to": "15550001111",
            "type": "text",
            "text": {"body": "hello"},
        }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."), "{answer}");
    webhook(&receiver, |v| {
        let status = &v["entry"][0]["changes"][0]["value"]["statuses"][0];
        status["id"] == wamid.as_str() && status["status"] == "sent"
    })
    .await;
}

#[test]
fn an_empty_app_secret_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("app-secret");
    std::fs::write(&secret_file, "\n").unwrap();
    let mut child = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--webhook",
            "http://127.0.0.1:9/hook",
            "--app-secret-file",
            secret_file.to_str().unwrap(),
        ],
        Stdio::piped(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "an empty secret did not stop the fake"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("app secret file") && stderr.contains("is empty"),
        "{stderr}"
    );
}
