//! Tiller content (as the AIRUDDER send API and the bot callbacks give it) → the exact
//! Cloud API send body, and every limit that stops a send before the provider.

use serde_json::{json, Value};

use super::*;
use crate::{channels::OutboundSend, messages::Content};

const TO: &str = "16505551234";
const WAMID: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";

fn send(content: &Value, reply_to: Option<&str>) -> OutboundSend {
    OutboundSend {
        to: TO.into(),
        content: Content::from_value(content.clone()).expect("content parses"),
        reply_to: reply_to.map(str::to_owned),
    }
}

fn body(content: &Value) -> Value {
    send_body(&send(content, None)).expect("sendable")
}

fn err(content: &Value) -> OutboundError {
    send_body(&send(content, None)).expect_err("not sendable")
}

/// The envelope every send body has, around `kind: object`.
fn expected(kind: &str, object: &Value) -> Value {
    let mut v = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
        "to": TO, "type": kind});
    v[kind] = object.clone();
    v
}

#[test]
fn text_previews_urls_and_quotes_the_reply() {
    assert_eq!(
        body(&json!({"type": "text", "text": "this's agent"})),
        expected(
            "text",
            &json!({"preview_url": false, "body": "this's agent"})
        )
    );
    let mut with_url = expected(
        "text",
        &json!({"preview_url": true, "body": "Track it at HTTPS://example.com/t/42"}),
    );
    with_url["context"] = json!({ "message_id": WAMID });
    assert_eq!(
        send_body(&send(
            &json!({"type": "text", "text": "Track it at HTTPS://example.com/t/42"}),
            Some(WAMID)
        ))
        .unwrap(),
        with_url
    );
    // A recipient given with '+' is sent without it.
    let plus = OutboundSend {
        to: "+16505551234".into(),
        ..send(&json!({"type": "text", "text": "hi"}), None)
    };
    assert_eq!(send_body(&plus).unwrap()["to"], TO);
}

#[test]
fn media_goes_by_link_or_by_id() {
    assert_eq!(
        body(&json!({"type": "image", "text": "Your receipt",
            "media": {"origin_url": "https://www.airudder.com/xxxx.jpg"}})),
        expected(
            "image",
            &json!({"link": "https://www.airudder.com/xxxx.jpg", "caption": "Your receipt"})
        )
    );
    assert_eq!(
        body(
            &json!({"type": "image", "media": {"origin_url": "https://x/y.jpg", "id": "1003383421387256"}})
        ),
        expected("image", &json!({"id": "1003383421387256"}))
    );
    assert_eq!(
        body(&json!({"type": "video", "media": {"origin_url": "https://www.airudder.com/x.mp4"}})),
        expected("video", &json!({"link": "https://www.airudder.com/x.mp4"}))
    );
    assert_eq!(
        body(&json!({"type": "audio", "media": {"origin_url": "", "id": "2049281465494211"}})),
        expected("audio", &json!({"id": "2049281465494211"}))
    );
    assert_eq!(
        body(&json!({"type": "file", "text": "Terms",
            "media": {"origin_url": "https://www.airudder.com/xxx.pdf", "name": "welcome_to_Earth.pdf"}})),
        expected(
            "document",
            &json!({"link": "https://www.airudder.com/xxx.pdf", "caption": "Terms",
                "filename": "welcome_to_Earth.pdf"})
        )
    );
    assert_eq!(
        body(&json!({"type": "sticker", "media": {"origin_url": "", "id": "862512399024683"}})),
        expected("sticker", &json!({"id": "862512399024683"}))
    );
}

#[test]
fn media_that_cannot_go() {
    assert_eq!(
        err(
            &json!({"type": "audio", "text": "listen", "media": {"origin_url": "https://x/a.ogg"}})
        ),
        OutboundError::NotSendable("audio with a caption".into())
    );
    assert_eq!(
        err(&json!({"type": "image", "media": null})),
        OutboundError::NotSendable("image without media".into())
    );
    assert_eq!(
        err(&json!({"type": "image", "media": {"origin_url": ""}})),
        OutboundError::Missing("media.origin_url or media.id")
    );
    assert_eq!(
        err(&json!({"type": "file", "media": {"origin_url": "ftp://x/y.pdf"}})),
        OutboundError::Link("ftp://x/y.pdf".into())
    );
    let long = "c".repeat(1025);
    assert_eq!(
        err(&json!({"type": "image", "text": long, "media": {"origin_url": "https://x/y.jpg"}})),
        OutboundError::TooLong {
            field: "caption",
            len: 1025,
            max: 1024
        }
    );
}

#[test]
fn location() {
    assert_eq!(
        body(
            &json!({"type": "location", "location": {"latitude": 31.178_762_435_913,
            "longitude": 121.408_370_971_68, "address": "No. 1 Road", "name": "Office"}})
        ),
        expected(
            "location",
            &json!({"latitude": 31.178_762_435_913, "longitude": 121.408_370_971_68,
                "name": "Office", "address": "No. 1 Road"})
        )
    );
    assert_eq!(
        err(&json!({"type": "location", "location": {"latitude": 1}})),
        OutboundError::Missing("location.longitude")
    );
}

#[test]
fn contacts_build_meta_names_and_phones() {
    assert_eq!(
        body(
            &json!({"type": "contacts", "contacts": [{"name": "Kerry Fisher", "phone_number": "+8613711112222"}]})
        ),
        expected(
            "contacts",
            &json!([{"name": {"formatted_name": "Kerry Fisher", "first_name": "Kerry Fisher"},
                "phones": [{"phone": "+8613711112222"}]}])
        )
    );
    // A card read from a webhook goes back out whole.
    let card = json!({"type": "contacts", "contacts": [{"name": "Kerry Fisher",
        "phone_number": "+16505559999",
        "name_parts": {"formatted_name": "Kerry Fisher", "first_name": "Kerry", "last_name": "Fisher"},
        "phones": [{"phone": "+16505559999", "wa_id": "16505559999", "type": "MOBILE"}],
        "org": {"company": "Lucky Shrub"}}]});
    assert_eq!(
        body(&card),
        expected(
            "contacts",
            &json!([{"name": {"formatted_name": "Kerry Fisher", "first_name": "Kerry", "last_name": "Fisher"},
                "phones": [{"phone": "+16505559999", "wa_id": "16505559999", "type": "MOBILE"}],
                "org": {"company": "Lucky Shrub"}}])
        )
    );
    assert_eq!(
        err(&json!({"type": "contacts", "contacts": []})),
        OutboundError::Count {
            what: "contacts",
            count: 0,
            min: 1,
            max: 257
        }
    );
}

fn buttons(titles: &[&str]) -> Value {
    let buttons: Vec<Value> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"type": "reply", "reply": {"id": format!("3eeb467c935f6f2cb45021364ef3c1e8-2-1-button-{i}-"), "title": t}}))
        .collect();
    json!({"type": "interactive", "interactive": {"type": "button",
        "body": {"text": "请选择性别"}, "footer": {"text": ""}, "action": {"buttons": buttons}}})
}

#[test]
fn reply_buttons_as_the_bot_sends_them() {
    assert_eq!(
        body(&buttons(&["男", "女"])),
        expected(
            "interactive",
            &json!({"type": "button", "body": {"text": "请选择性别"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "3eeb467c935f6f2cb45021364ef3c1e8-2-1-button-0-", "title": "男"}},
                {"type": "reply", "reply": {"id": "3eeb467c935f6f2cb45021364ef3c1e8-2-1-button-1-", "title": "女"}}]}})
        )
    );
    let mut with_header = buttons(&["Yes"]);
    with_header["interactive"]["header"] = json!({"type": "text", "text": "Order 42"});
    with_header["interactive"]["footer"] = json!({"text": "Reply within a day"});
    let sent = body(&with_header);
    assert_eq!(
        sent["interactive"]["header"],
        json!({"type": "text", "text": "Order 42"})
    );
    assert_eq!(
        sent["interactive"]["footer"],
        json!({"text": "Reply within a day"})
    );
}

#[test]
fn reply_button_limits() {
    assert_eq!(
        err(&buttons(&["a", "b", "c", "d"])),
        OutboundError::Count {
            what: "reply buttons",
            count: 4,
            min: 1,
            max: 3
        }
    );
    assert_eq!(
        err(&buttons(&[])),
        OutboundError::Count {
            what: "reply buttons",
            count: 0,
            min: 1,
            max: 3
        }
    );
    assert_eq!(
        err(&buttons(&["twenty-one characters"])),
        OutboundError::TooLong {
            field: "button title",
            len: 21,
            max: 20
        }
    );
    // Twenty characters, counted as characters, not bytes.
    assert!(send_body(&send(
        &buttons(&["二十个字二十个字二十个字二十个字二十个字"]),
        None
    ))
    .is_ok());
    assert_eq!(
        err(&buttons(&["same", "same"])),
        OutboundError::Duplicate {
            what: "button title",
            value: "same".into()
        }
    );
    let mut no_body = buttons(&["a"]);
    no_body["interactive"]["body"] = json!({"text": ""});
    assert_eq!(
        err(&no_body),
        OutboundError::Missing("interactive.body.text")
    );
}

fn list(rows: usize, label: Option<&str>) -> Value {
    let rows: Vec<Value> = (0..rows)
        .map(|r| json!({"id": format!("59a3d8ba24ec0d29334775623182facf-3-1-list-0-{r}-"), "title": format!("物流查询{r}"), "description": ""}))
        .collect();
    let mut action = json!({"sections": [{"title": "查询类", "rows": rows}]});
    if let Some(label) = label {
        action["button"] = json!(label);
    }
    json!({"type": "interactive", "interactive": {"type": "list",
        "body": {"text": "请选择你要咨询的业务类(本次通过list展示)"}, "footer": {"text": ""}, "action": action}})
}

#[test]
fn a_list_as_the_bot_sends_it() {
    assert_eq!(
        body(&list(1, Some("请选择"))),
        expected(
            "interactive",
            &json!({"type": "list", "body": {"text": "请选择你要咨询的业务类(本次通过list展示)"},
                "action": {"button": "请选择", "sections": [{"title": "查询类", "rows": [
                    {"id": "59a3d8ba24ec0d29334775623182facf-3-1-list-0-0-", "title": "物流查询0"}]}]}})
        )
    );
}

#[test]
fn list_limits() {
    assert!(send_body(&send(&list(10, Some("请选择")), None)).is_ok());
    assert_eq!(
        err(&list(11, Some("请选择"))),
        OutboundError::Count {
            what: "list rows",
            count: 11,
            min: 1,
            max: 10
        }
    );
    assert_eq!(
        err(&list(1, None)),
        OutboundError::Missing("list button label")
    );
    let mut two_sections = list(1, Some("Pick"));
    let section = two_sections["interactive"]["action"]["sections"][0].clone();
    let mut untitled = section.clone();
    untitled["title"] = json!("");
    untitled["rows"][0]["id"] = json!("other");
    two_sections["interactive"]["action"]["sections"] = json!([section, untitled]);
    assert_eq!(
        err(&two_sections),
        OutboundError::Missing("list section title")
    );
    let mut duplicate = list(2, Some("Pick"));
    duplicate["interactive"]["action"]["sections"][0]["rows"][1]["id"] =
        json!("59a3d8ba24ec0d29334775623182facf-3-1-list-0-0-");
    assert!(matches!(
        err(&duplicate),
        OutboundError::Duplicate {
            what: "list row id",
            ..
        }
    ));
    let mut long_row = list(1, Some("Pick"));
    long_row["interactive"]["action"]["sections"][0]["rows"][0]["title"] = json!("x".repeat(25));
    assert_eq!(
        err(&long_row),
        OutboundError::TooLong {
            field: "list row title",
            len: 25,
            max: 24
        }
    );
}

#[test]
fn reactions_name_the_message_reacted_to() {
    let reaction = json!({"type": "reaction", "reaction": {"emoji": "👍"}});
    assert_eq!(
        send_body(&send(&reaction, Some(WAMID))).unwrap(),
        expected("reaction", &json!({"message_id": WAMID, "emoji": "👍"}))
    );
    let removal = json!({"type": "reaction", "reaction": {"message_id": WAMID, "emoji": ""}});
    assert_eq!(
        body(&removal),
        expected("reaction", &json!({"message_id": WAMID, "emoji": ""}))
    );
    assert_eq!(
        err(&reaction),
        OutboundError::Missing("reaction.message_id")
    );
}

#[test]
fn templates_go_by_name_and_language() {
    let template = json!({"type": "template", "template": {"type": "WhatsApp",
        "content": {"body": "Hi {{1}}", "button": [{"type": "QUICK_REPLY", "text": "no"}]},
        "info": {"id": 35, "name": "opt_out_02_27_english", "language": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}]}});
    assert_eq!(
        body(&template),
        expected(
            "template",
            &json!({"name": "opt_out_02_27_english", "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}]})
        )
    );
    assert_eq!(
        err(
            &json!({"type": "template", "template": {"type": "WhatsApp", "info": {"language": "en"}}})
        ),
        OutboundError::Missing("template.info.name")
    );
    assert_eq!(
        err(
            &json!({"type": "template", "template": {"type": "Line", "info": {"name": "x", "language": "en"}}})
        ),
        OutboundError::NotSendable("a Line template".into())
    );
}

#[test]
fn contents_whatsapp_cannot_carry() {
    for (content, kind) in [
        (json!({"type": "button", "text": "no"}), "button"),
        (
            json!({"type": "system", "system": {"type": "conversation.start"}}),
            "system",
        ),
        (json!({"type": "order", "order": {}}), "order"),
    ] {
        assert_eq!(err(&content), OutboundError::NotSendable(kind.into()));
    }
    assert!(matches!(
        err(&json!({"type": "interactive", "text": "男"})),
        OutboundError::NotSendable(_)
    ));
    assert!(matches!(
        err(
            &json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "x", "title": "y"}}})
        ),
        OutboundError::NotSendable(_)
    ));
    assert_eq!(
        err(&json!({"type": "text", "text": "  "})),
        OutboundError::Missing("text")
    );
    assert_eq!(
        err(&json!({"type": "text", "text": "x".repeat(4097)})),
        OutboundError::TooLong {
            field: "text",
            len: 4097,
            max: 4096
        }
    );
    for bad in ["", "abc", "1650", "+1 650 555", &"1".repeat(21)] {
        let s = OutboundSend {
            to: bad.into(),
            ..send(&json!({"type": "text", "text": "hi"}), None)
        };
        assert_eq!(send_body(&s), Err(OutboundError::Recipient), "{bad}");
    }
}

#[test]
fn mark_read() {
    assert_eq!(
        mark_read_body(WAMID),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": WAMID})
    );
}
