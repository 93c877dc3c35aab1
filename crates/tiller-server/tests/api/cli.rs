//! The `tiller` binary, run as a process: tenants, signatures, config, migrate and serve.

use std::{
    io::Write as _,
    net::TcpListener,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use tiller_core::signing::{airudder, nxlink};

mod channels;
mod fake_whatsapp;
mod webhooks;

fn tiller(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiller"))
        .args(args)
        .env_remove("TILLER_DATABASE__URL")
        .env_remove("TILLER_OUTBOUND__ALLOWED_NETWORKS")
        .output()
        .expect("tiller runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tiller failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn tenant_create_prints_one_object_with_every_credential_and_list_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let created = stdout(&tiller(&[
        "tenant",
        "create",
        "--name",
        "Acme Lending",
        "--database-url",
        &url,
    ]));
    assert_eq!(
        created.lines().count(),
        1,
        "one JSON object on one line: {created}"
    );
    let t: Value = serde_json::from_str(&created).unwrap();
    for field in [
        "tenant_id",
        "company",
        "app_key",
        "app_secret",
        "sign_key",
        "sign_secret",
        "access_key",
        "access_secret",
    ] {
        assert!(!t[field].is_null(), "missing {field}: {t}");
    }
    assert_eq!(t["company"], "acme_lending");

    // A name whose code is taken is a new company with a suffixed code, never a merge;
    // names outside ASCII keep their own codes.
    let create = |name: &str| -> Value {
        let out = stdout(&tiller(&[
            "tenant",
            "create",
            "--name",
            name,
            "--database-url",
            &url,
        ]));
        serde_json::from_str(&out).unwrap()
    };
    let again = create("acme lending");
    assert_eq!(again["company"], "acme_lending_2");
    assert_ne!(again["tenant_id"], t["tenant_id"]);
    assert_eq!(create("顺丰 Express")["company"], "shun_feng_express");
    assert_eq!(create("中通 Express")["company"], "zhong_tong_express");
    assert_eq!(create("客服中心")["company"], "ke_fu_zhong_xin");

    let listed = stdout(&tiller(&["tenant", "list", "--database-url", &url]));
    let list: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[0]["sign_key"], t["sign_key"]);
    for secret in ["app_secret", "sign_secret", "access_secret"] {
        assert!(
            !listed.contains(t[secret].as_str().unwrap()),
            "{secret} leaked into tenant list"
        );
        assert!(list[0].get(secret).is_none());
    }
}

#[test]
fn sign_commands_print_the_header_value() {
    let dir = tempfile::tempdir().unwrap();
    let body_path = dir.path().join("body.json");
    let body = r#"{"name":"牛小信","id":10001}"#;
    std::fs::write(&body_path, body).unwrap();
    let body_file = body_path.to_str().unwrap();

    let sig = stdout(&tiller(&[
        "sign",
        "airudder",
        "--secret",
        "s3cret",
        "--body-file",
        body_file,
    ]));
    assert_eq!(sig.trim(), airudder::sign("s3cret", None, body.as_bytes()));
    let sig = stdout(&tiller(&[
        "sign",
        "airudder",
        "--secret",
        "s3cret",
        "--body-file",
        body_file,
        "--timestamp",
        "1700000000",
    ]));
    assert_eq!(
        sig.trim(),
        airudder::sign("s3cret", Some("1700000000"), body.as_bytes())
    );

    let nx = [
        "sign",
        "nxlink",
        "--access-key",
        "fme2na3kdi3ki",
        "--secret",
        "abciiiko2k3",
        "--ts",
        "1655710885431",
        "--biz-type",
        "1",
        "--action",
        "send",
        "--body-file",
        body_file,
    ];
    assert_eq!(
        stdout(&tiller(&nx)).trim(),
        "87c3560d3331ae23f1021e2025722354"
    );
    let mut sha = nx.to_vec();
    sha.extend(["--algorithm", "sha256"]);
    assert_eq!(
        stdout(&tiller(&sha)).trim(),
        "e0eec2c99ef80f269a82795e2223f618ebfc0616c8b6c8c7d438021ec38ad0eb"
    );
    let no_body = stdout(&tiller(&nx[..nx.len() - 2]));
    let h = nxlink::CommonHeaders {
        access_key: "fme2na3kdi3ki",
        action: "send",
        biz_type: "1",
        ts: "1655710885431",
    };
    assert_eq!(
        no_body.trim(),
        nxlink::sign(h, None, "abciiiko2k3", nxlink::Algorithm::Md5)
    );

    // Stdin works for piping a body.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiller"))
        .args(["sign", "airudder", "--secret", "k", "--body-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        airudder::sign("k", None, b"{}")
    );
}

#[test]
fn config_print_shows_effective_config_with_secrets_redacted() {
    let out = Command::new(env!("CARGO_BIN_EXE_tiller"))
        .args([
            "config",
            "print",
            "--database-url",
            "postgres://tiller:hunter2@db/tiller",
        ])
        .env("TILLER_AUTH__TOKEN_TTL_SECS", "60")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("postgres://tiller:***@db/tiller"), "{text}");
    assert!(text.contains("token_ttl_secs = 60"), "{text}");
    assert!(text.contains("listen = \"127.0.0.1:8080\""), "{text}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["tenant", "list", "--help"],
        vec!["sign", "airudder", "--help"],
        vec!["sign", "nxlink", "--help"],
        vec!["config", "print", "--help"],
    ] {
        let out = stdout(&tiller(&args));
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

/// The README's walk-through: create a tenant, serve, make a signed call with `tiller sign`,
/// then stop the server with SIGTERM and see it exit cleanly.
#[test]
fn serve_answers_a_signed_call_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/data/tiller.db", dir.path().display());
    assert!(stdout(&tiller(&["migrate", "--database-url", &url])).contains("migrations applied"));
    let t: Value = serde_json::from_str(&stdout(&tiller(&[
        "tenant",
        "create",
        "--name",
        "Acme",
        "--database-url",
        &url,
    ])))
    .unwrap();

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_tiller"))
        .args(["serve", "--listen", &listen, "--database-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(20);
    rt.block_on(async {
        // Poll until the port answers; the process was just spawned.
        loop {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::task::yield_now().await;
            std::thread::park_timeout(Duration::from_millis(50));
        }
        let sig = airudder::sign(t["sign_secret"].as_str().unwrap(), None, b"{}");
        let reply = client
            .post(format!("{base}/api/v1/company/info"))
            .header("X-AIRudder-Sign-Key", t["sign_key"].as_str().unwrap())
            .header("X-AIRudder-Sign", sig)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let v: Value = reply.json().await.unwrap();
        assert_eq!(v["data"]["company"], "acme");
    });

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::park_timeout(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

/// Creates the tenant "Acme" in the database at `url`; its id as the CLI takes it.
fn acme_tenant_id(url: &str) -> String {
    let out = stdout(&tiller(&[
        "tenant",
        "create",
        "--name",
        "Acme",
        "--database-url",
        url,
    ]));
    serde_json::from_str::<Value>(&out).unwrap()["tenant_id"].to_string()
}

#[test]
fn the_cli_imports_robots_and_tests_flows_offline() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/robots");
    let out = tiller(&["tenant", "create", "--name", "Acme", "--database-url", &db]);
    assert!(out.status.success());
    let tenant: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = tenant["tenant_id"].to_string();
    let out = tiller(&[
        "robot",
        "import",
        &format!("{root}/logistics.yaml"),
        "--tenant",
        &id,
        "--default",
        "--database-url",
        &db,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (imported["name"].as_str(), imported["default"].as_bool()),
        (Some("logistics"), Some(true))
    );
    assert!(imported["robot_id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());

    let ok = tiller(&[
        "robot",
        "test",
        &format!("{root}/logistics.yaml"),
        "--script",
        &format!("{root}/logistics.test.yaml"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok:"));

    let wrong = dir.path().join("wrong.yaml");
    std::fs::write(&wrong, "turns:\n  - robot: [hello there]\n").unwrap();
    let out = tiller(&[
        "robot",
        "test",
        &format!("{root}/logistics.yaml"),
        "--script",
        wrong.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("hello there"), "{report}");
}

/// Every `*_at` the CLI prints is RFC 3339 in UTC to the second.
#[test]
fn cli_outputs_share_one_created_at_format() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let run = |args: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.extend(["--database-url", &url]);
        serde_json::from_str(&stdout(&tiller(&all))).unwrap()
    };
    let t = run(&["tenant", "create", "--name", "Acme"]);
    let tenant = t["tenant_id"].to_string();
    let robot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/robots/logistics.yaml"
    );
    let outputs = [
        t.clone(),
        run(&["tenant", "list"])[0].clone(),
        run(&["robot", "import", robot, "--tenant", &tenant]),
        run(&["robot", "list", "--tenant", &tenant])[0].clone(),
        run(&[
            "webhook",
            "add",
            "--tenant",
            &tenant,
            "--url",
            "https://hooks.example.com/x",
        ]),
        run(&["webhook", "list", "--tenant", &tenant])[0].clone(),
    ];
    for out in &outputs {
        let at = out["created_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{out}"));
        let parsed = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert_eq!(
            at,
            parsed
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "{out}"
        );
    }
}

/// `tenant disable | enable | rotate --tenant N`: one JSON object each, without secrets but
/// for `rotate`'s new ones; an unknown id fails with a message.
#[test]
fn tenant_standing_commands_print_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let created: Value = serde_json::from_str(&stdout(&tiller(&[
        "tenant",
        "create",
        "--name",
        "Acme",
        "--database-url",
        &url,
    ])))
    .unwrap();
    let id = created["tenant_id"].to_string();
    let run = |cmd: &str| -> Value {
        let out = stdout(&tiller(&[
            "tenant",
            cmd,
            "--tenant",
            &id,
            "--database-url",
            &url,
        ]));
        assert_eq!(out.lines().count(), 1, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    let disabled = run("disable");
    assert_eq!(disabled["tenant_id"], created["tenant_id"]);
    assert!(disabled["disabled_at"].is_string(), "{disabled}");
    assert!(disabled.get("sign_secret").is_none());
    let listed: Value = serde_json::from_str(&stdout(&tiller(&[
        "tenant",
        "list",
        "--database-url",
        &url,
    ])))
    .unwrap();
    assert_eq!(listed[0]["disabled_at"], disabled["disabled_at"]);
    let enabled = run("enable");
    assert!(enabled.get("disabled_at").is_none(), "{enabled}");

    let rotated = run("rotate");
    for secret in ["app_secret", "sign_secret", "access_secret"] {
        assert!(rotated[secret].is_string(), "{rotated}");
        assert_ne!(rotated[secret], created[secret], "{secret} is new");
    }
    for key in ["app_key", "sign_key", "access_key"] {
        assert_eq!(rotated[key], created[key], "{key} stays");
    }

    let unknown = tiller(&[
        "tenant",
        "disable",
        "--tenant",
        "999",
        "--database-url",
        &url,
    ]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("no tenant with id 999"), "{err}");
}
