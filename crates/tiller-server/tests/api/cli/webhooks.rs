//! `tiller webhook …`, run as a process: endpoints added, listed and refused.

use serde_json::Value;

use super::{acme_tenant_id, stdout, tiller};

#[test]
fn webhook_add_prints_the_endpoint_and_its_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let tenant = acme_tenant_id(&url);

    let added = stdout(&tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "https://hooks.example.com/tiller",
        "--events",
        "message.send,session.transfer",
        "--database-url",
        &url,
    ]));
    assert_eq!(added.lines().count(), 1, "one JSON object: {added}");
    let ep: Value = serde_json::from_str(&added).unwrap();
    assert_eq!(ep["endpoint_id"].as_str().unwrap().len(), 32);
    assert!(ep["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        ep["events"],
        serde_json::json!(["message.send", "session.transfer"])
    );
    assert_eq!(ep["enabled"], true);

    let all = serde_json::from_str::<Value>(&stdout(&tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "https://hooks.example.com/all",
        "--encrypt",
        "--database-url",
        &url,
    ])))
    .unwrap();
    assert_eq!(all["events"], Value::Null, "no --events means every event");
    assert!(all["encryption_key"].is_string());

    let listed = stdout(&tiller(&[
        "webhook",
        "list",
        "--tenant",
        &tenant,
        "--database-url",
        &url,
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&listed)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        !listed.contains(ep["secret"].as_str().unwrap()),
        "secrets are shown once"
    );

    let bad = tiller(&[
        "webhook",
        "add",
        "--tenant",
        "999",
        "--url",
        "https://x/y",
        "--database-url",
        &url,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no tenant"));
    let bad = tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "ftp://x/y",
        "--database-url",
        &url,
    ]);
    assert!(!bad.status.success());
    for args in [
        vec!["webhook", "add", "--help"],
        vec!["webhook", "replay", "--help"],
        vec!["webhook", "events", "--help"],
    ] {
        assert!(stdout(&tiller(&args)).contains("Usage:"));
    }
}

#[test]
fn webhook_add_refuses_what_deliveries_would_refuse_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let tenant = acme_tenant_id(&url);
    // The outbound guard's refusal is said at add time, with the way out.
    let local = tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "http://127.0.0.1:9/hook",
        "--database-url",
        &url,
    ]);
    assert!(!local.status.success());
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(stderr.contains("outbound.allowed_networks"), "{stderr}");
    let forced = tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "http://127.0.0.1:9/hook",
        "--force",
        "--database-url",
        &url,
    ]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let unknown = tiller(&[
        "webhook",
        "add",
        "--tenant",
        &tenant,
        "--url",
        "https://hooks.example.com/x",
        "--events",
        "message.sent",
        "--database-url",
        &url,
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown event type"));
}
