//! Scripts against the example robot: the shipped transcript passes, and wrong
//! expectations are each reported with their step and line.

use serde_json::json;

use super::*;

const FLOW: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/robots/logistics.yaml"
));
const SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/robots/logistics.test.yaml"
));

fn flow() -> Flow {
    Flow::parse(FLOW).unwrap()
}

fn report(script: &str) -> ScriptReport {
    let script = Script::parse(script).unwrap_or_else(|e| panic!("script does not parse:\n{e}"));
    run(&flow(), &script)
}

#[test]
fn the_example_script_passes() {
    let report = report(SCRIPT);
    assert!(report.passed, "{report}");
    assert_eq!(report.steps, 11);
    assert_eq!(report.to_string(), "ok: 11 steps");
}

#[test]
fn wrong_expectations_are_all_reported() {
    let script = "turns:
  - robot: [hello]
    intention: Z
  - user: {list: 物流查询}
    slots: {business: 网点查询}
    end: true
";
    let report = report(script);
    assert!(!report.passed);
    let got: Vec<(usize, usize, &str)> = report
        .failures
        .iter()
        .map(|m| (m.step, m.line, m.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, 2, "robot message 1 differs"),
            (1, 2, "robot message 2 differs"),
            (1, 2, "intention"),
            (2, 4, "end"),
            (2, 4, "slot `business`"),
        ]
    );
    assert_eq!(report.failures[0].expected, json!("hello"));
    assert_eq!(
        report.failures[0].actual,
        json!("您好 ，欢迎使用物流客服。")
    );
    assert_eq!(report.failures[1].expected, json!(null));
    let text = report.to_string();
    assert!(
        text.starts_with("FAILED: 5 mismatches in 2 steps"),
        "{text}"
    );
    assert!(
        text.contains(
            "step 2 (line 4): slot `business`\n  expected: \"网点查询\"\n  actual:   \"物流查询\""
        ),
        "{text}"
    );
}

#[test]
fn an_unanswered_http_call_and_a_missing_button_are_mismatches() {
    let script = "turns:
  - {}
  - user: {button: 物流查询}
  - user: SF1234567890
";
    let report = report(script);
    let messages: Vec<&str> = report.failures.iter().map(|m| m.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "no button `物流查询` among the robot's last messages",
            "the flow asked for an HTTP call the turn does not answer",
        ]
    );
    assert_eq!(
        report.failures[1].actual["url"],
        json!("https://api.example.com/parcels/SF1234567890")
    );
}

#[test]
fn http_failures_and_option_ids_can_be_scripted() {
    let script = "flow_id: 3eeb467c935f6f2cb45021364ef3c1e8
turns:
  - {}
  - user: {id: 3eeb467c935f6f2cb45021364ef3c1e8-2-1-list-0-0-}
  - user: SF1234567890
    http: {failed: true}
    robot: [查询服务暂时不可用，为您转接人工客服。, 正在为您转接人工客服，请稍候。]
    output_label: E
";
    let report = report(script);
    assert!(report.passed, "{report}");
}

#[test]
fn script_errors_name_their_line() {
    let err = Script::parse("turns:\n  - {}\n  - robot: [hi]\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3: only the first turn may leave out `user` (it starts the flow)"
    );
    let err = Script::parse("turns:\n  - {}\n  - user: {button: a, list: b}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3: `user` needs exactly one of `button`, `list`, `id`"
    );
    let err = Script::parse("turns:\n  - robots: []\n").unwrap_err();
    assert!(err.to_string().starts_with("line 2: "), "{err}");
}
