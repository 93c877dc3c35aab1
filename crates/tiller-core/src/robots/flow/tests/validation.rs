//! Validation: every problem of a definition reported at once, each with its line.

use super::*;

fn messages(source: &str) -> Vec<String> {
    errors(source).iter().map(ToString::to_string).collect()
}

#[test]
fn unknown_fields_and_bad_kinds_name_their_line() {
    let src = "name: t\nstart: a\nnodes:\n  a:\n    say: [hi]\n    gotto: b\n  b:\n    end: {}\n";
    let got = messages(src);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("line 6: ") && got[0].contains("unknown field `gotto`"),
        "{got:?}"
    );

    let src = "name: t\nstart: a\nnodes:\n  a:\n    capture:\n      slot: d\n      kind: dat\n      goto: a\n";
    let got = messages(src);
    assert!(
        got[0].starts_with("line 7: ") && got[0].contains("unknown variant `dat`"),
        "{got:?}"
    );

    let src =
        "name: t\nstart: a\nnodes:\n  a:\n    say:\n      - {text: hi, colour: red}\n    end: {}\n";
    assert!(
        messages(src)[0].starts_with("line 6: "),
        "{:?}",
        messages(src)
    );
}

#[test]
fn semantic_errors_are_all_reported_with_lines() {
    let src = r#"name: t
start: menu
nodes:
  menu:
    say:
      - buttons: {body: pick, options: [a, b, c, d]}
    ask:
      routes:
        - {option: a, goto: trackng}
        - {regex: '(', goto: menu}
  empty:
    say: [""]
  both:
    goto: menu
    end: {}
"#;
    let got = messages(src);
    assert_eq!(
        got,
        [
            "line 6: 4 buttons: WhatsApp allows 1 to 3",
            "line 9: node `menu` goes to unknown node `trackng`",
            "line 10: node `menu` has a bad regex `(`: error: unclosed group",
            "line 11: node `empty` has no action (one of goto, ask, capture, http, transfer, end)",
            "line 12: empty text",
            "line 15: node `both` has more than one action (goto, end)",
        ],
        "{got:#?}"
    );
}

#[test]
fn missing_start_unknown_option_and_too_many_rows() {
    let rows: Vec<String> = (0..11).map(|i| format!("r{i}")).collect();
    let src = format!(
        "name: t\nnodes:\n  a:\n    say:\n      - list: {{body: b, button: go, sections: [{{title: s, rows: [{}]}}]}}\n    ask:\n      routes: [{{option: nope, goto: a}}]\n",
        rows.join(", ")
    );
    let got = messages(&src);
    assert_eq!(got[0], "line 1: missing `start` (the id of the first node)");
    assert_eq!(
        got[1],
        "line 5: 11 list rows: WhatsApp allows 1 to 10 in all"
    );
    assert_eq!(
        got[2],
        "line 7: node `a` routes option `nope`, which none of its buttons or lists offers"
    );
}

#[test]
fn goto_loops_that_never_wait_are_rejected() {
    let src =
        "name: t\nstart: a\nnodes:\n  a:\n    goto: b\n  b:\n    goto: a\n  c:\n    goto: c\n";
    assert_eq!(
        messages(src),
        [
            "line 4: `goto` loop that never waits: a → b → a",
            "line 8: `goto` loop that never waits: c → c"
        ]
    );
    // A loop through a node that waits is fine.
    flow("name: t\nstart: a\nnodes:\n  a:\n    goto: b\n  b:\n    ask: {routes: [{keywords: [x], goto: a}]}\n");
}

#[test]
fn references_everywhere_are_checked() {
    let src = r#"name: t
start: nowhere
anywhere:
  - {keywords: [human], goto: humans}
nodes:
  a:
    http:
      url: "https://x"
      routes: [{when: {path: ok, equals: true}, goto: yes}]
      goto: a
      on_error: oops
  b:
    capture: {slot: s, kind: regex, goto: a, on_fail: fail}
  c:
    transfer: {on_refused: later}
"#;
    let got = messages(src);
    assert_eq!(
        got,
        [
            "line 2: `start` names unknown node `nowhere`",
            "line 4: `anywhere` goes to unknown node `humans`",
            "line 9: node `a` goes to unknown node `yes`",
            "line 11: node `a` goes to unknown node `oops`",
            "line 13: node `b` goes to unknown node `fail`",
            "line 13: node `b` captures `kind: regex` without a `pattern`",
            "line 15: node `c` goes to unknown node `later`",
        ],
        "{got:#?}"
    );
}

#[test]
fn errors_display_one_per_line() {
    let e = Flow::parse("name: t\nnodes: {}\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1: missing `start` (the id of the first node)\nline 2: the flow has no `nodes`"
    );
}
