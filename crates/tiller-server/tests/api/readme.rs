//! The README's walkthrough, read as a newcomer follows it: commands in an order that
//! works, and the files it writes with secrets kept out of git.

const README: &str = include_str!("../../../../README.md");
const GITIGNORE: &str = include_str!("../../../../.gitignore");

/// The lines of the README's ```sh blocks, in order.
fn shell_lines() -> Vec<&'static str> {
    let mut in_sh = false;
    README
        .lines()
        .filter(|line| {
            if line.starts_with("```") {
                in_sh = *line == "```sh";
                return false;
            }
            in_sh
        })
        .collect()
}

#[test]
fn robot_import_comes_after_tenant_create() {
    let lines = shell_lines();
    let at = |what: &str| lines.iter().position(|l| l.contains(what));
    let create = at("tenant create").expect("the README creates a tenant");
    let import = at("robot import").expect("the README imports a robot");
    assert!(
        create < import,
        "`robot import` needs a tenant: create it first"
    );
    assert!(
        !README.contains("--tenant 1 "),
        "tenant ids are not guessed"
    );
}

#[test]
fn walkthrough_files_with_secrets_are_ignored() {
    for file in ["acme.json", "token.json"] {
        assert!(README.contains(file), "the walkthrough writes {file}");
        assert!(
            GITIGNORE.lines().any(|l| l.trim_start_matches('/') == file),
            "{file} holds credentials and must be in .gitignore"
        );
    }
}
