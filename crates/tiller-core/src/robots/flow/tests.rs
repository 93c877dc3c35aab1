//! Interpreter tests (validation tests are in `tests/validation.rs`). Flows are written
//! inline in YAML so each test reads as a small definition plus the conversation it drives.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::*;

mod validation;

const FLOW_ID: &str = "3eeb467c935f6f2cb45021364ef3c1e8";
const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/robots/logistics.yaml"
));

fn flow(source: &str) -> Flow {
    Flow::parse(source).unwrap_or_else(|e| panic!("flow does not parse:\n{e}"))
}

fn errors(source: &str) -> Vec<FlowError> {
    Flow::parse(source)
        .expect_err("the flow should be rejected")
        .0
}

/// A conversation driver: one state, the session variables, and the last turn's replies.
struct Talk<'f> {
    flow: &'f Flow,
    state: DialogueState,
    vars: Map<String, Value>,
    out: Vec<Content>,
}

impl<'f> Talk<'f> {
    fn new(flow: &'f Flow) -> Self {
        let vars = json!({"user_name": "nick", "user_id": "123"});
        Self {
            flow,
            state: DialogueState::default(),
            vars: vars.as_object().cloned().unwrap_or_default(),
            out: Vec::new(),
        }
    }
    fn start(&mut self) -> Step {
        let mut out = Vec::new();
        let vars = self.vars.clone();
        let ctx = TurnContext {
            flow_id: FLOW_ID,
            variables: &vars,
        };
        let step = self.flow.start(&mut self.state, &ctx, &mut out);
        self.out = out;
        step
    }
    fn send(&mut self, user: &Value) -> Step {
        let content: Content = serde_json::from_value(user.clone()).unwrap();
        let mut out = Vec::new();
        let vars = self.vars.clone();
        let ctx = TurnContext {
            flow_id: FLOW_ID,
            variables: &vars,
        };
        let step = self.flow.answer(&mut self.state, &ctx, &content, &mut out);
        self.out = out;
        step
    }
    fn say(&mut self, text: &str) -> Step {
        self.send(&json!({"type": "text", "text": text}))
    }
    fn http(&mut self, response: Option<&HttpResponse>) -> Step {
        let mut out = Vec::new();
        let vars = self.vars.clone();
        let ctx = TurnContext {
            flow_id: FLOW_ID,
            variables: &vars,
        };
        let step = self
            .flow
            .http_result(&mut self.state, &ctx, response, &mut out);
        self.out = out;
        step
    }
    fn refused(&mut self) -> Step {
        let mut out = Vec::new();
        let vars = self.vars.clone();
        let ctx = TurnContext {
            flow_id: FLOW_ID,
            variables: &vars,
        };
        let step = self.flow.transfer_refused(&mut self.state, &ctx, &mut out);
        self.out = out;
        step
    }
    /// The replies as JSON, for exact shape checks.
    fn json(&self) -> Vec<Value> {
        self.out
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect()
    }
    /// The replies' texts (a text's text, an interactive's body).
    fn texts(&self) -> Vec<String> {
        self.json()
            .iter()
            .map(|v| {
                v.pointer("/text")
                    .or_else(|| v.pointer("/interactive/body/text"))
                    .or_else(|| v.pointer("/media/origin_url"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

fn button_reply(id: &str, title: &str) -> Value {
    json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": title}}})
}

#[test]
fn the_example_parses() {
    let f = flow(EXAMPLE);
    assert_eq!(f.name(), "logistics");
    assert_eq!(f.description(), Some("物流客服机器人 (sample)"));
}

const MENU: &str = r#"
name: menu
start: hello
anywhere:
  - {keywords: [转人工, Agent], goto: human}
nodes:
  hello:
    say: "Hi {{user_name}}"
    goto: gender
  gender:
    say:
      - text: pick one
      - buttons: {body: 性别?, options: [男, 女, 其他]}
    ask:
      slot: gender
      routes:
        - {option: 男, goto: male}
        - {option: 女, goto: female}
        - {option: 其他, goto: female}
        - {regex: '^\d{3}$', goto: code}
      fallback: {say: [sorry], retries: 1, goto: human}
  male:
    say: [男 ok]
    end: {}
  female:
    say: [女 ok]
    end: {}
  code:
    say: ["code {{gender}}"]
    end: {}
  human:
    transfer: {output_label: E}
"#;

#[test]
fn buttons_render_the_spec_shape_with_option_ids() {
    let f = flow(MENU);
    let mut t = Talk::new(&f);
    assert_eq!(t.start(), Step::AwaitUser);
    assert_eq!(t.state.node.as_deref(), Some("gender"));
    let out = t.json();
    assert_eq!(out[0], json!({"type": "text", "text": "Hi nick"}));
    assert_eq!(out[1], json!({"type": "text", "text": "pick one"}));
    let id = |i: usize| format!("{FLOW_ID}-2-2-button-{i}-");
    assert_eq!(
        out[2],
        json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "性别?"},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": id(0), "title": "男"}},
                {"type": "reply", "reply": {"id": id(1), "title": "女"}},
                {"type": "reply", "reply": {"id": id(2), "title": "其他"}}]}}})
    );
}

#[test]
fn list_menus_render_rows_with_section_and_row_ids() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    assert_eq!(t.start(), Step::AwaitUser);
    let out = t.json();
    assert_eq!(out.len(), 2);
    let row = |s: usize, r: usize| format!("{FLOW_ID}-2-1-list-{s}-{r}-");
    assert_eq!(
        out[1],
        json!({"type": "interactive", "interactive": {"type": "list",
            "body": {"text": "请选择你要咨询的业务类"},
            "action": {"button": "请选择", "sections": [
                {"title": "查询类", "rows": [{"id": row(0, 0), "title": "物流查询"}, {"id": row(0, 1), "title": "网点查询"}]},
                {"title": "快递类", "rows": [{"id": row(1, 0), "title": "大件快递"}, {"id": row(1, 1), "title": "小件快递"}]}]}}})
    );
    // A list_reply with the row id picks it, and `ask.slot` records the title.
    let pick = json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row(1, 0), "title": "大件快递"}}});
    assert_eq!(t.send(&pick), Step::AwaitUser);
    assert_eq!(t.state.node.as_deref(), Some("gender"));
    assert_eq!(t.state.slots["business"], json!("大件快递"));
}

#[test]
fn options_match_by_id_line_id_title_and_stored_pick() {
    let f = flow(MENU);
    let id = |i: usize| format!("{FLOW_ID}-2-2-button-{i}-");
    let cases = [
        // The id wins over a title that disagrees with it.
        (button_reply(&id(1), "男"), "女 ok"),
        (button_reply(&format!("{}-其他", id(2)), ""), "女 ok"),
        // LINE postback data: the title after the final dash, here from another flow.
        (
            button_reply(&format!("{}-2-2-button-0--男", "f".repeat(32)), ""),
            "男 ok",
        ),
        // An id from another node falls back to the title.
        (
            button_reply(&format!("{FLOW_ID}-7-1-button-0-"), "女"),
            "女 ok",
        ),
        (json!({"type": "interactive", "text": " 男 "}), "男 ok"),
        (json!({"type": "button", "text": "女"}), "女 ok"),
        (json!({"type": "text", "text": "其他"}), "女 ok"),
    ];
    for (answer, want) in cases {
        let mut t = Talk::new(&f);
        t.start();
        assert_eq!(t.send(&answer), Step::End, "{answer}");
        assert_eq!(t.texts(), [want], "{answer}");
    }
}

#[test]
fn option_ids_parse_and_reject_other_shapes() {
    use super::matching::{OptionId, Pick};
    let id = OptionId::parse("3eeb467c935f6f2cb45021364ef3c1e8-3-1-list-0-1-").unwrap();
    assert_eq!(
        (id.node_no, id.msg_no, id.pick, id.title),
        (3, 1, Pick::Row(0, 1), None)
    );
    let line = OptionId::parse("abc-2-1-button-0--男-女").unwrap();
    assert_eq!((line.pick, line.title), (Pick::Button(0), Some("男-女")));
    for bad in [
        "abc-2-1-button-0",
        "abc-x-1-button-0-",
        "abc-2-1-menu-0-",
        "abc-2-1-button-0-x",
    ] {
        assert_eq!(OptionId::parse(bad), None, "{bad}");
    }
}

#[test]
fn regex_route_and_slot_from_text() {
    let f = flow(MENU);
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(t.say("123"), Step::End);
    assert_eq!(t.texts(), ["code 123"]);
}

#[test]
fn keywords_anywhere_win_over_the_node_and_transfer() {
    let f = flow(MENU);
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(
        t.say("我要转人工"),
        Step::Transfer {
            output_label: "E".into()
        }
    );
    assert_eq!(t.state.node.as_deref(), Some("human"));
    assert_eq!(t.state.intention.as_deref(), Some("E"));
    // Case-insensitive substring.
    let mut t = Talk::new(&f);
    t.start();
    assert!(matches!(
        t.say("talk to an AGENT please"),
        Step::Transfer { .. }
    ));
}

#[test]
fn fallback_repeats_the_menu_then_gives_up() {
    let f = flow(MENU);
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(t.say("huh"), Step::AwaitUser);
    assert_eq!(t.texts(), ["sorry", "pick one", "性别?"]);
    assert_eq!(t.state.retries, 1);
    // retries: 1 → the second wrong answer leaves for `goto`.
    assert!(matches!(t.say("what"), Step::Transfer { .. }));
    assert_eq!(t.state.talk_round, 2);
}

#[test]
fn capture_reprompts_then_succeeds() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(t.say("物流查询"), Step::AwaitUser);
    assert_eq!(t.state.node.as_deref(), Some("tracking"));
    assert_eq!(t.say("12ab"), Step::AwaitUser);
    assert_eq!(t.texts(), ["运单号格式不正确，请输入 10–20 位字母或数字。"]);
    assert_eq!(t.state.retries, 1);
    let Step::Http(req) = t.say("单号是SF1234567890") else {
        panic!("expected the lookup call");
    };
    assert_eq!(t.state.slots["tracking_no"], json!("SF1234567890"));
    assert_eq!(req.method, "GET");
    assert_eq!(req.url, "https://api.example.com/parcels/SF1234567890");
    assert_eq!(
        req.headers,
        [("Accept".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(req.timeout_secs, 5);
    assert_eq!(t.state.intention.as_deref(), Some("B"));
    assert_eq!(t.state.retries, 0);
}

#[test]
fn capture_retries_exhausted_go_to_on_fail() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    t.say("物流查询");
    assert_eq!(t.say("x"), Step::AwaitUser);
    assert_eq!(t.say("y"), Step::AwaitUser);
    assert_eq!(
        t.say("z"),
        Step::Transfer {
            output_label: "E".into()
        }
    );
    assert_eq!(t.texts(), ["正在为您转接人工客服，请稍候。"]);
    assert!(!t.state.slots.contains_key("tracking_no"));
}

#[test]
fn http_routes_save_as_default_goto_and_on_error() {
    let f = flow(EXAMPLE);
    let to_lookup = |t: &mut Talk<'_>| {
        t.start();
        t.say("物流查询");
        assert!(matches!(t.say("SF1234567890"), Step::Http(_)));
    };
    let mut t = Talk::new(&f);
    to_lookup(&mut t);
    let body = json!({"status": "delivered", "delivered_at": "2025-05-01"});
    assert_eq!(
        t.http(Some(&HttpResponse { status: 200, body })),
        Step::AwaitUser
    );
    assert_eq!(t.texts()[0], "您的包裹 SF1234567890 已于 2025-05-01 签收。");
    assert_eq!(t.state.variables["parcel"]["status"], json!("delivered"));

    let mut t = Talk::new(&f);
    to_lookup(&mut t);
    let body = json!({"status": "运输中", "location": "上海"});
    t.http(Some(&HttpResponse { status: 200, body }));
    assert_eq!(
        t.texts()[0],
        "您的包裹 SF1234567890 当前状态：运输中，位置：上海。"
    );

    for failure in [
        None,
        Some(HttpResponse {
            status: 503,
            body: Value::Null,
        }),
    ] {
        let mut t = Talk::new(&f);
        to_lookup(&mut t);
        assert!(matches!(t.http(failure.as_ref()), Step::Transfer { .. }));
        assert_eq!(t.texts()[0], "查询服务暂时不可用，为您转接人工客服。");
        assert!(!t.state.variables.contains_key("parcel"));
    }
}

#[test]
fn an_answer_while_http_is_pending_repeats_the_call() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    t.say("物流查询");
    let first = t.say("SF1234567890");
    assert_eq!(t.say("hello?"), first);
    assert!(t.out.is_empty());
}

#[test]
fn transfer_refused_goes_to_the_node_or_ends() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    assert!(matches!(t.say("agent"), Step::Transfer { .. }));
    assert_eq!(t.refused(), Step::End);
    assert_eq!(
        t.texts(),
        ["人工客服繁忙，请稍后再试。", "感谢您的咨询，再见！"]
    );
    assert_eq!(t.state.node, None);

    for refused in ["on_refused: end", ""] {
        let f = flow(&format!(
            "name: t\nstart: a\nnodes:\n  a:\n    transfer: {{{refused}}}\n  b:\n    end: {{}}\n"
        ));
        let mut t = Talk::new(&f);
        assert_eq!(
            t.start(),
            Step::Transfer {
                output_label: String::new()
            }
        );
        assert_eq!(t.refused(), Step::End);
        assert_eq!(t.state.node, None);
    }
}

#[test]
fn set_interpolation_labels_and_talk_rounds() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(t.texts()[0], "您好 nick，欢迎使用物流客服。");
    assert_eq!(t.state.intention.as_deref(), Some("C"));
    t.say("小件快递");
    t.send(&button_reply(&format!("{FLOW_ID}-9-1-button-1-"), "女"));
    assert_eq!(t.state.slots["gender"], json!("女"));
    t.say("01/05/2025");
    assert_eq!(t.state.slots["pickup_date"], json!("2025-05-01"));
    assert_eq!(t.say("¥1,500"), Step::AwaitUser);
    assert_eq!(t.state.slots["declared_value"], json!(1500));
    assert_eq!(
        t.texts()[0],
        "已为您预约 2025-05-01 上门取件（小件快递，申报价值 1500 元）。"
    );
    assert_eq!(t.state.intention.as_deref(), Some("A"));
    assert_eq!(t.state.event_labels["booking"], json!("小件快递"));
    assert_eq!(t.state.talk_round, 4);
    assert_eq!(t.say("没有了"), Step::End);
    assert_eq!(t.state.talk_round, 5);
}

#[test]
fn a_goto_chain_longer_than_the_guard_ends_the_turn() {
    let mut src = String::from("name: long\nstart: n0\nnodes:\n");
    for i in 0..150 {
        let _ = writeln!(src, "  n{i}:\n    goto: n{}", i + 1);
    }
    src.push_str("  n150:\n    say: [never]\n    end: {}\n");
    let f = flow(&src);
    let mut t = Talk::new(&f);
    assert_eq!(t.start(), Step::End);
    assert_eq!(t.state.node, None);
    assert!(t.out.is_empty());
}

#[test]
fn dialogue_state_round_trips_through_json() {
    let f = flow(EXAMPLE);
    let mut t = Talk::new(&f);
    t.start();
    t.say("大件快递");
    let json = serde_json::to_value(&t.state).unwrap();
    assert_eq!(json["node"], json!("gender"));
    assert_eq!(json["talk_round"], json!(1));
    let back: DialogueState = serde_json::from_value(json).unwrap();
    assert_eq!(back, t.state);
}

#[test]
fn json_definitions_parse_too() {
    let f = flow(r#"{"name": "j", "start": "a", "nodes": {"a": {"say": ["hi"], "end": {}}}}"#);
    let mut t = Talk::new(&f);
    assert_eq!(t.start(), Step::End);
    assert_eq!(t.texts(), ["hi"]);
}

#[test]
fn raw_content_is_interpolated_and_kept() {
    let f = flow("name: r\nstart: a\nnodes:\n  a:\n    say:\n      - content: {type: location, location: {latitude: 31, longitude: 121, name: '{{user_name}}'}}\n    end: {}\n");
    let mut t = Talk::new(&f);
    t.start();
    assert_eq!(
        t.json()[0],
        json!({"type": "location", "location": {"latitude": 31, "longitude": 121, "name": "nick"}})
    );
}
