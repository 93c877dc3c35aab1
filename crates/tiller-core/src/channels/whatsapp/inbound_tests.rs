//! Every Meta webhook fixture (`tests/fixtures/whatsapp/*.json`) read and mapped, each
//! against the exact Tiller JSON it must produce.

use serde_json::{json, Value};

use super::*;
use crate::{channels::WhatsAppChannel, messages::Content, signing, Secret};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/whatsapp/",
            $name,
            ".json"
        ))
    };
}

const USER: &str = "16505551234";
const QUOTED: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJDMDgwOTlBRjdCRjVCNUE1NTgA";

/// The one event of a one-change fixture.
fn only_event(body: &[u8]) -> Event {
    let batch = read_webhook(body).expect("fixture reads");
    assert_eq!(batch.changes.len(), 1);
    let change = &batch.changes[0];
    assert_eq!(change.waba_id, "102290129340398");
    assert_eq!(change.events.len(), 1, "{:?}", change.events);
    change.events[0].clone()
}

fn only_message(body: &[u8]) -> InboundMessage {
    match only_event(body) {
        Event::Message(m) => *m,
        other => panic!("not a message: {other:?}"),
    }
}

fn content_json(m: &InboundMessage) -> Value {
    serde_json::to_value(&m.content).unwrap()
}

/// Checks a mapped message: the Tiller content JSON, and that it reads back as the same
/// content (so storing and listing it changes nothing).
fn assert_content(m: &InboundMessage, expected: &Value) {
    assert_eq!(&content_json(m), expected, "{}", m.kind);
    let back: Content = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(back, m.content, "{} does not read back", m.kind);
}

#[test]
fn text() {
    let m = only_message(fixture!("text"));
    assert_eq!(
        m.wamid,
        "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    );
    assert_eq!(m.from, USER);
    assert_eq!(m.profile_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(m.timestamp, 1_749_416_383);
    assert_eq!(m.sent_at().timestamp(), 1_749_416_383);
    assert_eq!(m.reply_to_wamid(), None);
    assert_content(
        &m,
        &json!({"type": "text", "text": "Does it come in another color?"}),
    );
    assert_eq!(m.raw["text"]["body"], "Does it come in another color?");
}

#[test]
fn text_reply_names_the_quoted_wamid() {
    let m = only_message(fixture!("text_reply"));
    assert_content(&m, &json!({"type": "text", "text": "Yes, the blue one"}));
    assert_eq!(m.reply_to_wamid(), Some(QUOTED));
    assert_eq!(
        m.context.as_ref().unwrap().from.as_deref(),
        Some("15550783881")
    );
}

#[test]
fn forwarded_text_keeps_its_flags() {
    let m = only_message(fixture!("text_forwarded"));
    let context = m.context.as_ref().unwrap();
    assert_eq!(
        (context.forwarded, context.frequently_forwarded),
        (Some(true), Some(true))
    );
    assert_eq!(m.reply_to_wamid(), None);
}

#[test]
fn image_keeps_the_media_id_until_downloaded() {
    let mut m = only_message(fixture!("image"));
    assert_content(
        &m,
        &json!({"type": "image", "text": "The scratch on the lid", "media": {
            "origin_url": "", "id": "1003383421387256", "mime_type": "image/jpeg",
            "sha256": "qG4qtmMSzkgQ8Uzj8B6lC0iTiZkCQ0LNQ/vbmNKdLbA="}}),
    );
    assert_eq!(m.media_id(), Some("1003383421387256"));
    assert!(attach_downloaded_media(
        &mut m.content,
        "https://files.tiller.test/m/1003383421387256.jpg"
    ));
    assert_eq!(
        content_json(&m)["media"]["origin_url"],
        "https://files.tiller.test/m/1003383421387256.jpg"
    );
    assert_eq!(m.media_id(), None);
    assert!(!attach_downloaded_media(&mut m.content, "https://again"));
}

#[test]
fn video() {
    let m = only_message(fixture!("video"));
    assert_content(
        &m,
        &json!({"type": "video", "media": {"origin_url": "", "id": "1184839109393843",
            "mime_type": "video/mp4", "sha256": "e1qKTBbOPIZ+LMwRkoj4U5BtigaU2fM0jDfjQxqqhZE="}}),
    );
}

#[test]
fn voice_note_is_audio_with_the_voice_flag() {
    let m = only_message(fixture!("audio_voice"));
    assert_content(
        &m,
        &json!({"type": "audio", "media": {"origin_url": "", "id": "2049281465494211",
            "mime_type": "audio/ogg; codecs=opus", "voice": true,
            "sha256": "h0cTjd/5H8YF8gM5x5cFgfOUdGe33Y7Ukx4vQ6pZ2hY="}}),
    );
}

#[test]
fn document_is_a_file_named_by_its_filename() {
    let m = only_message(fixture!("document"));
    assert_content(
        &m,
        &json!({"type": "file", "text": "My invoice", "media": {"origin_url": "",
            "name": "invoice-0042.pdf", "id": "1450223412587219", "mime_type": "application/pdf",
            "sha256": "Xd0pYmQ7B2vtGQf8oKf6ybH0yR2ZS9x5mKxk8Rl9wbI="}}),
    );
    assert_eq!(m.media_id(), Some("1450223412587219"));
}

#[test]
fn sticker_is_kept_as_its_own_type() {
    let mut m = only_message(fixture!("sticker"));
    assert_content(
        &m,
        &json!({"type": "sticker", "media": {"origin_url": "", "id": "862512399024683",
            "mime_type": "image/webp", "animated": false,
            "sha256": "6Ntm0wIyoU2cbYOnzWXU4Y3/NXm9UIKN1+KoKTHFX3g="}}),
    );
    assert!(matches!(m.content, Content::Other(_)));
    assert_eq!(m.media_id(), Some("862512399024683"));
    assert!(attach_downloaded_media(&mut m.content, "https://f/s.webp"));
    assert_eq!(content_json(&m)["media"]["origin_url"], "https://f/s.webp");
}

#[test]
fn location() {
    let m = only_message(fixture!("location"));
    assert_content(
        &m,
        &json!({"type": "location", "location": {"latitude": 37.483_307, "longitude": -122.148_981,
            "name": "Main Street Beach", "address": "1 Hacker Way, Menlo Park, CA 94025",
            "url": "https://www.facebook.com/places/Main-Street-Beach"}}),
    );
}

#[test]
fn contacts_fill_name_and_phone_and_keep_the_card() {
    let m = only_message(fixture!("contacts"));
    let card = &m.raw["contacts"][0];
    assert_content(
        &m,
        &json!({"type": "contacts", "contacts": [{
            "name": "Kerry Fisher",
            "phone_number": "+16505559999",
            "name_parts": {"formatted_name": "Kerry Fisher", "first_name": "Kerry", "last_name": "Fisher"},
            "phones": card["phones"], "emails": card["emails"], "addresses": card["addresses"],
            "org": card["org"], "urls": card["urls"], "birthday": "2012-08-18"}]}),
    );
}

#[test]
fn button_reply_is_the_inbound_api_pick() {
    let m = only_message(fixture!("interactive_button_reply"));
    assert_content(
        &m,
        &json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {
            "id": "3eeb467c935f6f2cb45021364ef3c1e8-2-1-button-0-", "title": "男"}}}),
    );
    assert!(crate::messages::is_pick(&m.content));
    assert_eq!(m.reply_to_wamid(), Some(QUOTED));
}

#[test]
fn list_reply_is_the_inbound_api_pick() {
    let m = only_message(fixture!("interactive_list_reply"));
    assert_content(
        &m,
        &json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
            "id": "59a3d8ba24ec0d29334775623182facf-3-1-list-0-0-", "title": "物流查询",
            "description": "Track a parcel"}}}),
    );
    assert!(crate::messages::is_pick(&m.content));
    assert_eq!(m.reply_to_wamid(), Some(QUOTED));
}

#[test]
fn template_quick_reply_is_a_button_with_its_payload() {
    let m = only_message(fixture!("button"));
    assert_content(
        &m,
        &json!({"type": "button", "text": "no", "payload": "opt_out_02_27_english-no"}),
    );
    assert_eq!(m.content.text(), Some("no"));
    assert_eq!(m.reply_to_wamid(), Some(QUOTED));
}

#[test]
fn reaction_answers_the_message_reacted_to() {
    let m = only_message(fixture!("reaction"));
    assert_content(
        &m,
        &json!({"type": "reaction", "reaction": {"message_id": QUOTED, "emoji": "👍"}}),
    );
    assert_eq!(m.reply_to_wamid(), Some(QUOTED));
}

#[test]
fn a_removed_reaction_has_an_empty_emoji() {
    let m = only_message(fixture!("reaction_removed"));
    assert_content(
        &m,
        &json!({"type": "reaction", "reaction": {"message_id": QUOTED, "emoji": ""}}),
    );
}

#[test]
fn referral_is_kept_typed() {
    let m = only_message(fixture!("referral"));
    assert_content(
        &m,
        &json!({"type": "text", "text": "Can I get more info about this?"}),
    );
    let referral = m.referral.as_ref().unwrap();
    assert_eq!(referral.source_type.as_deref(), Some("ad"));
    assert_eq!(referral.source_id.as_deref(), Some("120226305854810726"));
    assert_eq!(referral.headline.as_deref(), Some("Chat with us"));
    assert!(referral
        .ctwa_clid
        .as_deref()
        .unwrap()
        .starts_with("ARAkLkA8"));
    // A key the typed struct does not name is kept.
    assert_eq!(
        referral.extra["welcome_message"],
        json!({"text": "Hi! How can we help?"})
    );
}

#[test]
fn changed_number_is_a_system_message_and_a_number_change() {
    let m = only_message(fixture!("system_changed_number"));
    assert_content(
        &m,
        &json!({"type": "system", "system": {"type": "user_changed_number",
            "body": "User Sheena Nelson changed from 16505551234 to 16505553333",
            "wa_id": "16505553333"}}),
    );
    assert_eq!(m.profile_name, None);
    assert_eq!(
        m.number_change,
        Some(NumberChange {
            old_wa_id: USER.into(),
            new_wa_id: "16505553333".into()
        })
    );
}

#[test]
fn unsupported_and_unknown_are_kept_as_received() {
    let m = only_message(fixture!("unsupported"));
    let errors = json!([{"code": 131_051, "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}]);
    assert_content(
        &m,
        &json!({"type": "unsupported", "unsupported": {"type": "poll_creation"}, "errors": errors}),
    );
    assert_eq!(m.errors[0].code, 131_051);
    assert_eq!(
        m.errors[0].details(),
        Some("Message type is currently not supported.")
    );

    let m = only_message(fixture!("unknown"));
    assert_content(
        &m,
        &json!({"type": "unknown", "errors": [{"code": 131_051,
            "details": "Message type is not currently supported",
            "title": "Unsupported message type"}]}),
    );
    assert_eq!(
        m.errors[0].details(),
        Some("Message type is not currently supported")
    );
}

#[test]
fn an_order_is_kept_as_received() {
    let m = only_message(fixture!("order"));
    let order = m.raw["order"].clone();
    assert_content(&m, &json!({"type": "order", "order": order}));
}

#[test]
fn statuses_keep_their_order_and_map_to_delivery_states() {
    let batch = read_webhook(fixture!("statuses")).unwrap();
    let statuses: Vec<&StatusUpdate> = batch
        .events()
        .map(|(_, e)| match e {
            Event::Status(s) => s.as_ref(),
            other => panic!("{other:?}"),
        })
        .collect();
    let words: Vec<&str> = statuses.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(words, ["sent", "read", "delivered"]);
    assert_eq!(
        statuses[0].biz_opaque_callback_data.as_deref(),
        Some("call:7738ff156ad12075578af25c84908567")
    );
    assert_eq!(statuses[0].recipient_id.as_deref(), Some(USER));
    assert_eq!(statuses[0].raw["pricing"]["category"], "service");
    // Applied in arrival order: the late `delivered` moves nothing.
    let states = statuses.iter().filter_map(|s| s.delivery_state());
    let (end, moves) = advance_all(DeliveryState::Accepted, states);
    assert_eq!(end, DeliveryState::Read);
    assert_eq!(moves.len(), 2);
}

#[test]
fn a_failed_status_carries_its_error() {
    let Event::Status(s) = only_event(fixture!("status_failed")) else {
        panic!("not a status")
    };
    assert_eq!(
        s.delivery_state(),
        Some(DeliveryState::Failed(Failure {
            code: Some(131_047),
            title: "Re-engagement message".into(),
            details: Some(
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                    .into()
            ),
        }))
    );
}

#[test]
fn a_value_level_error_is_its_own_event() {
    let Event::Error(e) = only_event(fixture!("value_error")) else {
        panic!("not an error")
    };
    assert_eq!(e.code, 130_429);
    assert_eq!(e.title(), "Rate limit hit");
    assert_eq!(
        e.details(),
        Some("Cloud API message throughput has been reached.")
    );
}

#[test]
fn template_status_updates_are_typed() {
    let batch = read_webhook(fixture!("template_status")).unwrap();
    let updates: Vec<_> = batch
        .events()
        .map(|(c, e)| match e {
            Event::TemplateStatus(t) => {
                assert_eq!(c.time, Some(1_751_247_548));
                assert_eq!(c.metadata, None);
                t.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].event, "APPROVED");
    assert_eq!(updates[0].message_template_id, 1_689_556_908_129_832);
    assert_eq!(updates[0].message_template_name, "order_confirmation");
    assert_eq!(updates[0].extra["message_template_category"], "UTILITY");
    // The id may come as a string.
    assert_eq!(updates[1].message_template_id, 806_312_974_732_579);
    assert_eq!(updates[1].reason.as_deref(), Some("INVALID_FORMAT"));
    assert!(updates[1].extra.contains_key("rejection_info"));
}

#[test]
fn template_quality_updates_are_typed() {
    let Event::TemplateQuality(q) = only_event(fixture!("template_quality")) else {
        panic!("not a quality update")
    };
    assert_eq!(
        (
            q.previous_quality_score.as_str(),
            q.new_quality_score.as_str()
        ),
        ("GREEN", "YELLOW")
    );
    assert_eq!(q.message_template_name, "welcome_template");
}

#[test]
fn a_mixed_batch_keeps_every_item() {
    let batch = read_webhook(fixture!("mixed_batch")).unwrap();
    assert_eq!(batch.changes.len(), 3);
    let first = &batch.changes[0];
    assert_eq!(first.events.len(), 4);
    let Event::Message(kerry) = &first.events[0] else {
        panic!()
    };
    // The profile is the sender's, not the first contact's.
    assert_eq!(kerry.profile_name.as_deref(), Some("Kerry Fisher"));
    assert!(
        matches!(&first.events[1], Event::Malformed { raw, .. } if raw["id"] == "wamid.broken")
    );
    let Event::Message(sheena) = &first.events[2] else {
        panic!()
    };
    assert_eq!(sheena.profile_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(sheena.timestamp, 1_749_416_601);
    assert_eq!(sheena.raw["group_id"], "G1");
    let Event::Status(played) = &first.events[3] else {
        panic!()
    };
    assert_eq!(played.delivery_state(), Some(DeliveryState::Read));
    assert!(
        matches!(&batch.changes[1].events[..], [Event::Unhandled(v)] if v["event"] == "VERIFIED_ACCOUNT")
    );
    assert_eq!(batch.changes[1].field, "account_update");

    // Meta posts every number of the app to one URL: each change says whose it is.
    let ours = WhatsAppChannel {
        phone_number_id: "106540352242922".into(),
        waba_id: "102290129340398".into(),
        display_number: "+1 555 078 3881".into(),
        access_token: Secret::new("t"),
        app_secret: Secret::new("s"),
        verify_token: Secret::new("v"),
        graph_url: None,
        graph_version: None,
    };
    let for_us: Vec<bool> = batch.changes.iter().map(|c| c.is_for(&ours)).collect();
    assert_eq!(for_us, [true, true, false]);
}

#[test]
fn bodies_that_are_not_whatsapp_webhooks_are_refused() {
    assert!(matches!(read_webhook(b"{"), Err(WebhookError::Json(_))));
    assert!(matches!(read_webhook(b"[]"), Err(WebhookError::Json(_))));
    assert!(matches!(
        read_webhook(br#"{"object":"page","entry":[]}"#),
        Err(WebhookError::Object(o)) if o == "page"
    ));
    let empty = read_webhook(br#"{"object":"whatsapp_business_account","entry":[]}"#).unwrap();
    assert!(empty.changes.is_empty());
    // A messages change whose value is not an object is kept, not fatal.
    let odd = read_webhook(
        br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":"x"}}]}]}"#,
    )
    .unwrap();
    assert!(matches!(
        odd.changes[0].events[..],
        [Event::Malformed { .. }]
    ));
}

#[test]
fn a_fixture_body_verifies_then_reads() {
    let body = fixture!("text");
    // python3 -c 'import hmac,hashlib;print(hmac.new(b"8d1e6b2f4a",
    //   open("tests/fixtures/whatsapp/text.json","rb").read(), hashlib.sha256).hexdigest())'
    // (reformatting the fixture changes it, as it would change Meta's body).
    let header = "sha256=2f328ecb52995998921552feb01d46f95b8b44654569c2653852a4d78b6f9593";
    assert!(signing::meta::verify("8d1e6b2f4a", body, Some(header)));
    assert!(!signing::meta::verify("8d1e6b2f4b", body, Some(header)));
    assert!(read_webhook(body).is_ok());
}

#[test]
fn a_known_type_with_an_odd_body_is_kept_unreadable_not_malformed() {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
    "changes": [{"field": "messages", "value": {"messages": [
        {"from": USER, "id": "wamid.A", "timestamp": "1749416383", "type": "text", "text": {"preview": "no body"}},
        {"from": USER, "id": "wamid.B", "timestamp": "1749416384", "type": "image", "image": {"caption": "no id"}},
        {"from": USER, "id": "wamid.C", "timestamp": "1749416385", "type": "system", "system": {"body": "no type"}}
    ]}}]}]});
    let batch = read_webhook(body.to_string().as_bytes()).unwrap();
    let kept: Vec<Value> = batch
        .events()
        .map(|(_, e)| match e {
            Event::Message(m) => {
                // Stored and read back, it is the same content.
                let json = content_json(m);
                assert_eq!(Content::from_value(json.clone()).unwrap(), m.content);
                json
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kept,
        [
            json!({"type": "unreadable", "unreadable": {"type": "text", "text": {"preview": "no body"}}}),
            json!({"type": "unreadable", "unreadable": {"type": "image", "image": {"caption": "no id"}}}),
            json!({"type": "unreadable", "unreadable": {"type": "system", "system": {"body": "no type"}}}),
        ]
    );
}
