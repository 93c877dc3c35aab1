//! Start-up errors that say what to do, from the `tiller` binary run as a process.

use std::{
    net::TcpListener,
    path::Path,
    process::{Command, Output},
};

fn tiller_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiller"))
        .args(args)
        .current_dir(dir)
        .env_remove("TILLER_DATABASE__URL")
        .output()
        .expect("tiller runs")
}

fn failed_with(out: &Output) -> String {
    assert!(!out.status.success(), "tiller should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_sqlite_url_without_a_path_gets_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["sqlite:", "sqlite://"] {
        for cmd in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"][..]] {
            let mut args = cmd.to_vec();
            args.extend(["--database-url", url]);
            let stderr = failed_with(&tiller_in(dir.path(), &args));
            assert!(stderr.contains("names no file"), "{url} {cmd:?}: {stderr}");
            assert!(
                stderr.contains("sqlite://./tiller-data/tiller.db"),
                "{url}: {stderr}"
            );
            assert!(!stderr.contains("not found"), "{url}: {stderr}");
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing is created: {left:?}");
}

#[test]
fn an_unreachable_postgres_is_named_with_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("postgres://tiller@127.0.0.1:{port}/tiller");
    let stderr = failed_with(&tiller_in(dir.path(), &["migrate", "--database-url", &url]));
    assert!(
        stderr.contains(&format!("connection refused to 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn a_busy_port_is_reported_before_the_database_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = busy.local_addr().unwrap().to_string();
    let url = format!("sqlite://{}/data/tiller.db", dir.path().display());
    let stderr = failed_with(&tiller_in(
        dir.path(),
        &["serve", "--listen", &listen, "--database-url", &url],
    ));
    assert!(
        stderr.contains(&format!("cannot listen on {listen}")),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "the database was created although the port is busy"
    );
}
