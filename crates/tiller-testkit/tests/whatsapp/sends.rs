//! Sends: the success answer, the signed status webhooks, and each validation error.

use serde_json::{json, Value};
use tiller_testkit::whatsapp::{Limits, WebhookPost};

use super::*;

#[tokio::test]
async fn a_text_send_gets_a_wamid_and_signed_sent_delivered_read() {
    let (fake, receiver) = start(config()).await;
    user_writes(&fake, USER).await;
    let (status, answer) = send(&fake, &text_to(&format!("+{USER}"), "Your order shipped")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messaging_product"], "whatsapp");
    assert_eq!(
        answer["contacts"],
        json!([{"input": format!("+{USER}"), "wa_id": USER}])
    );
    let wamid = wamid_of(&answer);
    assert!(wamid.starts_with("wamid."), "{wamid}");
    assert!(answer["messages"][0].get("message_status").is_none());

    fake.idle().await;
    let posts = receiver.received();
    // The inbound that opened the window, then three statuses.
    assert_eq!(posts.len(), 4);
    posts.iter().for_each(assert_signed);
    let statuses = statuses_of(&receiver, &wamid);
    assert_eq!(status_names(&statuses), ["sent", "delivered", "read"]);
    let body = json_of(&posts[1]);
    assert_eq!(body["object"], "whatsapp_business_account");
    assert_eq!(body["entry"][0]["id"], WABA);
    let change = &body["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    assert_eq!(
        change["value"]["metadata"],
        json!({"display_phone_number": DISPLAY, "phone_number_id": PNID})
    );
    let sent = &statuses[0];
    assert_eq!(sent["recipient_id"], USER);
    assert!(sent["timestamp"]
        .as_str()
        .is_some_and(|t| t.parse::<i64>().is_ok()));
    assert!(sent["conversation"]["expiration_timestamp"].is_string());
    assert_eq!(sent["conversation"]["origin"]["type"], "service");
    assert_eq!(
        sent["pricing"],
        json!({"billable": false, "pricing_model": "PMP",
               "type": "free_customer_service", "category": "service"})
    );
    assert_eq!(
        statuses[1]["conversation"]["id"],
        sent["conversation"]["id"]
    );
    assert!(statuses[1]["conversation"]
        .get("expiration_timestamp")
        .is_none());
    assert!(statuses[2].get("pricing").is_none());

    let recorded = fake.sent();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].wamid, wamid);
    assert_eq!(recorded[0].phone_number_id, PNID);
    assert_eq!(recorded[0].body["text"]["body"], "Your order shipped");
    assert_eq!(recorded[0].failure, None);
    assert!(fake.webhooks().iter().all(WebhookPost::delivered));
}

#[tokio::test]
async fn without_auto_read_a_send_stops_at_delivered() {
    let mut c = config();
    c.limits = Limits::off();
    c.auto_read = false;
    let (fake, receiver) = start(c).await;
    let (_, answer) = send(&fake, &text_to(USER, "hi")).await;
    fake.idle().await;
    let statuses = statuses_of(&receiver, &wamid_of(&answer));
    assert_eq!(status_names(&statuses), ["sent", "delivered"]);
}

fn base() -> Value {
    text_to(USER, "hi")
}

/// An image send without its image object.
fn image() -> Value {
    without(with(base(), "type", json!("image")), "text")
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().expect("object").remove(key);
    body
}

fn interactive(inner: &Value) -> Value {
    json!({"messaging_product": "whatsapp", "to": USER, "type": "interactive",
           "interactive": inner})
}

fn buttons(titles: &[&str]) -> Value {
    let buttons: Vec<Value> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": t}}))
        .collect();
    interactive(&json!({"type": "button", "body": {"text": "Pick one"},
                        "action": {"buttons": buttons}}))
}

fn list(rows: usize, title: &str) -> Value {
    let rows: Vec<Value> = (0..rows)
        .map(|i| json!({"id": format!("r{i}"), "title": title}))
        .collect();
    interactive(&json!({"type": "list", "body": {"text": "Choose"},
                        "action": {"button": "Options", "sections": [{"title": "All", "rows": rows}]}}))
}

/// Graph schema errors: `(#100) …` naming the parameter, without `error_data`.
fn schema_cases() -> Vec<(Value, u64, &'static str)> {
    vec![
        (
            without(base(), "messaging_product"),
            100,
            "(#100) The parameter messaging_product is required.",
        ),
        (
            with(base(), "messaging_product", json!("sms")),
            100,
            "(#100) Param messaging_product must be one of {WHATSAPP} - got \"sms\".",
        ),
        (
            without(base(), "to"),
            100,
            "(#100) The parameter to is required.",
        ),
        (
            with(base(), "priority", json!("high")),
            100,
            "(#100) Unexpected key \"priority\".",
        ),
        (
            with(base(), "text", json!({"body": "x".repeat(4097)})),
            100,
            "(#100) Param text['body'] must be at most 4096 characters long.",
        ),
        (
            with(base(), "text", json!({"body": "hi", "previewUrl": true})),
            100,
            "(#100) Unexpected key \"previewUrl\" on param \"text\".",
        ),
        (
            with(base(), "text", json!({"body": "hi", "preview_url": "yes"})),
            100,
            "(#100) Param text['preview_url'] must be a boolean.",
        ),
        (
            with(base(), "type", json!("gif")),
            100,
            "(#100) Param type must be one of {",
        ),
        (image(), 100, "(#100) The parameter image is required."),
    ]
}

/// WhatsApp value errors: `(#code) title` with `error_data.details`.
fn value_cases() -> Vec<(Value, u64, &'static str)> {
    let invalid = "(#100) Invalid parameter";
    let not_valid = "(#131009) Parameter value is not valid";
    vec![
        (with(base(), "to", json!("12ab5678")), 100, invalid),
        (with(base(), "to", json!("1234567")), 100, invalid),
        (
            with(image(), "image", json!({"caption": "c"})),
            100,
            invalid,
        ),
        (with(image(), "image", json!({"id": "999"})), 100, invalid),
        (buttons(&["a", "b", "c", "d"]), 131_009, not_valid),
        (buttons(&["twenty-one characters"]), 131_009, not_valid),
        (list(11, "row"), 131_009, not_valid),
        (list(2, "a row title of 25 chars.."), 131_009, not_valid),
        (
            json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
                   "template": {"name": "no_such", "language": {"code": "en_US"}}}),
            132_001,
            "(#132001) Template name does not exist in the translation",
        ),
    ]
}

#[tokio::test]
async fn each_validation_error_has_the_graph_shape_and_code() {
    let (fake, _receiver) = start_unlimited().await;
    let cases = schema_cases()
        .into_iter()
        .map(|c| (c, false))
        .chain(value_cases().into_iter().map(|c| (c, true)));
    for ((body, code, message), has_details) in cases {
        let (status, answer) = send(&fake, &body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        let e = graph_error(&answer, code);
        assert_eq!(e["type"], "OAuthException", "{answer}");
        let got = e["message"].as_str().unwrap_or_default();
        assert!(got.starts_with(message), "{body}: {got}");
        if has_details {
            assert_eq!(e["error_data"]["messaging_product"], "whatsapp", "{answer}");
            assert!(e["error_data"]["details"].is_string(), "{answer}");
        } else {
            assert!(e.get("error_data").is_none(), "{answer}");
        }
    }
    assert!(fake.sent().is_empty(), "no rejected send is recorded");
}

#[tokio::test]
async fn the_valid_variants_of_each_type_are_accepted() {
    let (fake, _receiver) = start_unlimited().await;
    let media_id = fake.add_media(b"\xff\xd8\xff".to_vec(), "image/jpeg");
    let bodies = [
        json!({"messaging_product": "whatsapp", "to": USER, "text": {"body": "type defaults to text"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "image",
               "image": {"id": media_id, "caption": "c"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "document",
               "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "location",
               "location": {"latitude": -6.2, "longitude": "106.8", "name": "Jakarta"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "contacts",
               "contacts": [{"name": {"formatted_name": "Nick"}, "phones": [{"phone": "+1"}]}]}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "reaction",
               "reaction": {"message_id": "wamid.x", "emoji": "👍"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "context": {"message_id": "wamid.x"},
               "type": "text", "text": {"body": "a reply"}}),
        buttons(&["Yes", "No", "twenty characters!!!"]),
        list(10, "a row title of 24 chars."),
    ];
    for body in &bodies {
        let (status, answer) = send(&fake, body).await;
        assert_eq!(status, 200, "{body} → {answer}");
    }
    assert_eq!(fake.sent().len(), bodies.len());
}

#[tokio::test]
async fn mark_as_read_answers_success_and_is_recorded() {
    let (fake, _receiver) = start_unlimited().await;
    let (status, answer) = send(
        &fake,
        &json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.abc"}),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    assert_eq!(fake.marked_read()[0].message_id, "wamid.abc");
    assert!(fake.sent().is_empty());

    let (status, answer) = send(
        &fake,
        &json!({"messaging_product": "whatsapp", "status": "delivered", "message_id": "wamid.abc"}),
    )
    .await;
    assert_eq!(status, 400);
    graph_error(&answer, 100);
}

#[tokio::test]
async fn an_unknown_number_is_an_object_that_does_not_exist() {
    let (fake, _receiver) = start_unlimited().await;
    let (status, answer) = post(&fake, "/v21.0/999/messages", &text_to(USER, "hi")).await;
    assert_eq!(status, 400);
    let e = graph_error(&answer, 100);
    assert_eq!(e["error_subcode"], 33);
    assert_eq!(e["type"], "GraphMethodException");
    assert!(e["message"].as_str().is_some_and(
        |m| m.starts_with("Unsupported post request. Object with ID '999' does not exist")
    ));
}

#[tokio::test]
async fn graph_calls_need_the_bearer_token_and_a_version() {
    let (fake, _receiver) = start_unlimited().await;
    let url = format!("{}/v21.0/{PNID}/messages", fake.base_url());
    for auth in [None, Some("Bearer wrong"), Some(TOKEN)] {
        let mut request = client().post(&url).json(&text_to(USER, "hi"));
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let response = request.send().await.expect("post");
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let answer: Value = response.json().await.expect("json");
        let e = graph_error(&answer, 190);
        assert_eq!(e["type"], "OAuthException");
    }
    let (status, _) = send(&fake, &text_to(USER, "hi")).await;
    assert_eq!(status, 200);
    let (status, answer) = post(
        &fake,
        &format!("/latest/{PNID}/messages"),
        &text_to(USER, "hi"),
    )
    .await;
    assert_eq!(status, 400);
    graph_error(&answer, 2500);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (fake, _receiver) = start_unlimited().await;
    let url = format!("{}/v21.0/{PNID}/messages", fake.base_url());
    fake.shutdown();
    // The aborted server task drops its listener when the runtime next runs it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let refused = client()
        .post(url)
        .bearer_auth(TOKEN)
        .json(&text_to(USER, "hi"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}
