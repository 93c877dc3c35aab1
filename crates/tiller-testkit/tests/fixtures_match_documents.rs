//! The in-repository example fixtures still match the upstream documents.
//!
//! Needs `shared/` (the folder beside the repository, or `TILLER_SHARED_DIR`), so it is
//! ignored in the ordinary run and run by `.ci/run` with `--ignored`; without the folder it
//! fails rather than passing. `TILLER_WRITE_FIXTURES=1` rewrites the fixtures instead.

use std::{fs, path::PathBuf};

use tiller_testkit::examples;

fn shared_dir() -> PathBuf {
    std::env::var_os("TILLER_SHARED_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

#[test]
#[ignore = "reads ../shared; .ci/run runs it with --ignored"]
fn fixtures_match_the_upstream_documents() {
    let shared = shared_dir();
    assert!(
        shared.join("spec").is_dir() && shared.join("seeds").is_dir(),
        "{} has no spec/ and seeds/: set TILLER_SHARED_DIR",
        shared.display()
    );
    let extracted = examples::extract(&shared).expect("read the upstream documents");
    let write = std::env::var_os("TILLER_WRITE_FIXTURES").is_some();
    let mut stale = Vec::new();
    for source in &extracted {
        let path = examples::fixture_path(source);
        let want = examples::fixture_text(source);
        if write {
            fs::write(&path, &want).expect("write fixture");
        } else if fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(format!("{} (from {})", path.display(), source.origin));
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures differ from the documents; rerun with TILLER_WRITE_FIXTURES=1:\n{}",
        stale.join("\n")
    );
    if !write {
        assert_eq!(examples::sources(), extracted);
    }
}
