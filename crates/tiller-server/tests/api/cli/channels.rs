//! `tiller channel …`, run as a process: channels added, listed without secrets, refused
//! and removed.

use std::process::Output;

use serde_json::Value;

use super::{acme_tenant_id, stdout, tiller};

const TOKEN: &str = "EAAG-cli-token-1";
const APP_SECRET: &str = "cli-app-secret-2";
const VERIFY: &str = "cli-verify-3";

fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: each step needs the channels the earlier ones left"
)]
fn channel_add_list_remove_show_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let tenant = acme_tenant_id(&url);
    let other = acme_tenant_id(&url);
    let token_file = dir.path().join("token");
    let secret_file = dir.path().join("app-secret");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    std::fs::write(&secret_file, APP_SECRET).unwrap();

    let add = |tenant: &str, number: &str, extra: &[&str]| -> Output {
        let mut args = vec![
            "channel",
            "add",
            "whatsapp",
            "--tenant",
            tenant,
            "--phone-number-id",
            number,
            "--waba-id",
            "102290129340398",
            "--display-number",
            "+1 555 078 3881",
            "--access-token-file",
            token_file.to_str().unwrap(),
            "--app-secret-file",
            secret_file.to_str().unwrap(),
            "--verify-token",
            VERIFY,
            "--database-url",
            &url,
        ];
        args.extend(extra);
        tiller(&args)
    };
    let added = stdout(&add(
        &tenant,
        "106540352242922",
        &["--graph-version", "v22.0"],
    ));
    assert_eq!(added.lines().count(), 1, "one JSON object: {added}");
    for secret in [TOKEN, APP_SECRET, VERIFY] {
        assert!(!added.contains(secret), "{secret} printed: {added}");
    }
    let ch: Value = serde_json::from_str(&added).unwrap();
    let id = ch["channel_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(ch["webhook_path"], format!("/webhooks/whatsapp/{id}"));
    assert_eq!(ch["kind"], "whatsapp");
    assert_eq!(ch["phone_number_id"], "106540352242922");
    assert_eq!(ch["graph_version"], "v22.0");
    assert_eq!(ch["access_token_set"], true);

    let custom: Value = serde_json::from_str(&stdout(&tiller(&[
        "channel",
        "add",
        "custom",
        "--tenant",
        &tenant,
        "--name",
        "huawei",
        "--database-url",
        &url,
    ])))
    .unwrap();
    assert_eq!(
        (&custom["kind"], &custom["name"]),
        (&"custom".into(), &"huawei".into())
    );
    assert!(custom.get("webhook_path").is_none(), "{custom}");

    let list = |tenant: &str| -> (String, Vec<Value>) {
        let text = stdout(&tiller(&[
            "channel",
            "list",
            "--tenant",
            tenant,
            "--database-url",
            &url,
        ]));
        let list = serde_json::from_str::<Value>(&text).unwrap();
        (text, list.as_array().unwrap().clone())
    };
    let (text, listed) = list(&tenant);
    assert_eq!(listed.len(), 2, "{text}");
    assert_eq!(listed[0]["channel_id"], ch["channel_id"]);
    for secret in [TOKEN, APP_SECRET, VERIFY] {
        assert!(!text.contains(secret), "{secret} listed: {text}");
    }
    assert!(list(&other).1.is_empty(), "another tenant sees nothing");

    // The number is one channel's, whichever tenant adds it.
    let dup = failure(&add(&other, "106540352242922", &[]));
    assert!(
        dup.contains("phone_number_id 106540352242922 already belongs"),
        "{dup}"
    );
    let bad = failure(&add(&tenant, "106540352242923", &["--graph-version", "21"]));
    assert!(bad.contains("graph_version"), "{bad}");
    // A secret file holding only a newline is refused, naming the flag.
    std::fs::write(&token_file, "\n").unwrap();
    let empty = failure(&add(&tenant, "106540352242924", &[]));
    assert!(
        empty.contains("--access-token-file") && empty.contains("is empty"),
        "{empty}"
    );
    assert_eq!(list(&tenant).1.len(), 2, "refused adds store nothing");

    let remove = |tenant: &str| {
        tiller(&[
            "channel",
            "remove",
            "--tenant",
            tenant,
            "--channel",
            &id,
            "--database-url",
            &url,
        ])
    };
    let elsewhere = failure(&remove(&other));
    assert!(elsewhere.contains("has no channel"), "{elsewhere}");
    let removed: Value = serde_json::from_str(&stdout(&remove(&tenant))).unwrap();
    assert_eq!(removed["removed"], id.as_str());
    let (_, left) = list(&tenant);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["channel_id"], custom["channel_id"]);
    assert!(failure(&remove(&tenant)).contains("has no channel"));
}
