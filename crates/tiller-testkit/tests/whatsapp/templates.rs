//! Templates: the paged listing the sync reads, and template sends checked against it.

use serde_json::json;
use tiller_testkit::whatsapp::TemplateSpec;

use super::*;

fn body_template(name: &str, text: &str) -> TemplateSpec {
    TemplateSpec::approved(
        name,
        "en_US",
        "MARKETING",
        json!([{"type": "BODY", "text": text}]),
    )
}

#[tokio::test]
async fn templates_are_listed_in_pages_that_follow_next() {
    let (fake, _receiver) = start_unlimited().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(fake.add_template(WABA, body_template(&format!("t{i}"), "Hi")));
    }
    fake.add_template("other-waba", body_template("elsewhere", "Hi"));

    let (status, first) = get(&fake, &format!("/v21.0/{WABA}/message_templates?limit=2")).await;
    assert_eq!(status, 200, "{first}");
    let item = &first["data"][0];
    assert_eq!(item["name"], "t0");
    assert_eq!(item["language"], "en_US");
    assert_eq!(item["status"], "APPROVED");
    assert_eq!(item["category"], "MARKETING");
    assert_eq!(item["id"], ids[0].as_str());
    assert_eq!(item["components"][0]["type"], "BODY");
    assert!(first["paging"]["cursors"]["before"].is_string());
    assert!(first["paging"].get("previous").is_none());

    let mut names = Vec::new();
    let mut page = first;
    let mut pages = 1;
    loop {
        names.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|t| t["name"].as_str().unwrap_or_default().to_owned()),
        );
        let Some(next) = page["paging"]["next"].as_str().map(str::to_owned) else {
            break;
        };
        let (status, p) = get(&fake, &next).await;
        assert_eq!(status, 200, "{p}");
        assert!(p["paging"]["previous"].is_string());
        page = p;
        pages += 1;
    }
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4"]);
    assert_eq!(pages, 3);

    // `after` is the last item's cursor: after the page t0, t1 comes t2.
    let (_, second) = get(&fake, &format!("/v21.0/{WABA}/message_templates?limit=2")).await;
    let after = second["paging"]["cursors"]["after"]
        .as_str()
        .expect("after");
    let (_, next) = get(
        &fake,
        &format!("/v21.0/{WABA}/message_templates?limit=3&after={after}"),
    )
    .await;
    assert_eq!(next["data"][0]["name"], "t2");
    assert_eq!(next["data"].as_array().map(Vec::len), Some(3));
    assert!(next["paging"].get("next").is_none());

    let (status, answer) = get(&fake, "/v21.0/555/message_templates").await;
    assert_eq!(status, 400);
    assert_eq!(graph_error(&answer, 100)["error_subcode"], 33);
}

fn template_send(name: &str, language: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"type": "text", "text": p}))
        .collect();
    json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
        "template": {"name": name, "language": {"code": language},
                     "components": [{"type": "body", "parameters": parameters}]}})
}

#[tokio::test]
async fn template_sends_are_checked_against_the_registry() {
    let (fake, _receiver) = start_unlimited().await;
    fake.add_template(
        WABA,
        body_template("order", "Hi {{1}}, order {{2}} shipped"),
    );
    fake.add_template(WABA, body_template("promo", "Sale!").with_status("PAUSED"));
    fake.add_template(WABA, body_template("draft", "Soon").with_status("PENDING"));
    fake.add_template("other-waba", body_template("theirs", "Hi"));

    let (status, answer) = send(&fake, &template_send("order", "en_US", &["Nick", "A-1"])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messages"][0]["message_status"], "accepted");
    assert!(wamid_of(&answer).starts_with("wamid."));

    let cases = [
        (template_send("order", "id", &["Nick", "A-1"]), 132_001),
        (template_send("theirs", "en_US", &[]), 132_001),
        (template_send("draft", "en_US", &[]), 132_001),
        (template_send("promo", "en_US", &[]), 132_015),
        (template_send("order", "en_US", &["Nick"]), 132_000),
    ];
    for (body, code) in cases {
        let (status, answer) = send(&fake, &body).await;
        assert_eq!(status, 400, "{body}");
        let e = graph_error(&answer, code);
        assert!(e["error_data"]["details"].is_string(), "{answer}");
    }
    let (_, answer) = send(&fake, &template_send("order", "id", &[])).await;
    assert_eq!(
        answer["error"]["error_data"]["details"],
        "template name (order) does not exist in id"
    );
    assert_eq!(fake.sent().len(), 1);
}
