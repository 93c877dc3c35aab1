//! The seat directory over HTTP (`/api/v1/seat/save`, `/api/v1/seat/list`) and what it
//! gives nxlink chat records: the seat's name as `agent_name`, its e-mail as
//! `agent_account`, and the `agent_account` filter by e-mail.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    compat::{ok, records},
    helpers::{TestApp, TestTenant},
    robots::{Bot, LOGISTICS},
};

/// A signed `/api/v1` call expected to fail with `status`; returns the envelope.
async fn refused(
    app: &TestApp,
    t: &TestTenant,
    path: &str,
    body: &Value,
    status: StatusCode,
) -> Value {
    let r = app.post_signed(t, path, &body.to_string()).await;
    assert_eq!(r.status, status, "{body}: {}", r.text);
    let v = r.json();
    assert_eq!(v["code"], status.as_u16(), "{v}");
    assert!(v["request_id"].is_string(), "{v}");
    assert!(v["data"].is_null(), "{v}");
    v
}

async fn list(app: &TestApp, t: &TestTenant) -> Vec<Value> {
    let seats = ok(app, t, "/api/v1/seat/list", json!({})).await;
    seats.as_array().unwrap().clone()
}

#[tokio::test]
async fn seats_are_saved_updated_listed_and_kept_per_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Acme").await;
    let b = app.tenant("Beta").await;
    let saved = ok(
        &app,
        &a,
        "/api/v1/seat/save",
        json!({"seat_id": "708", "name": "Sandy", "email": "Sandy@NXCloud.com"}),
    )
    .await;
    let at = saved["created_at"].as_str().unwrap().to_owned();
    assert_eq!(
        saved,
        json!({"seat_id": "708", "name": "Sandy", "email": "sandy@nxcloud.com",
            "created_at": at, "updated_at": at})
    );
    assert!(
        at.ends_with('Z') && at.len() == "2026-12-02T10:00:00Z".len(),
        "{at}"
    );

    app.clock.advance(chrono::Duration::seconds(90));
    let updated = ok(
        &app,
        &a,
        "/api/v1/seat/save",
        json!({"seat_id": "708", "name": "Sandy Lee", "email": "sandy.lee@nxcloud.com"}),
    )
    .await;
    assert_eq!(updated["name"], "Sandy Lee");
    assert_eq!(updated["created_at"], at);
    assert_ne!(updated["updated_at"], at);
    ok(
        &app,
        &a,
        "/api/v1/seat/save",
        json!({"seat_id": "677", "name": "Kim", "email": "kim@nxcloud.com"}),
    )
    .await;
    let seats = list(&app, &a).await;
    let ids: Vec<_> = seats.iter().map(|s| s["seat_id"].clone()).collect();
    assert_eq!(ids, vec![json!("677"), json!("708")]);
    assert_eq!(seats[1], updated);

    // Another seat of the tenant cannot take an e-mail, in any case; B may.
    let taken = json!({"seat_id": "9", "name": "Nine", "email": "KIM@nxcloud.com"});
    let v = refused(&app, &a, "/api/v1/seat/save", &taken, StatusCode::CONFLICT).await;
    assert_eq!(v["message"], "email already exists");
    assert!(list(&app, &b).await.is_empty(), "B sees none of A's seats");
    ok(&app, &b, "/api/v1/seat/save", taken).await;
    assert_eq!(list(&app, &b).await.len(), 1);
    assert_eq!(list(&app, &a).await, seats, "A's directory is unchanged");
}

#[tokio::test]
async fn bad_seats_are_400s_that_write_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for (body, needle) in [
        (
            json!({"seat_id": "708", "email": "sandy@nxcloud.com"}),
            "missing field `name`",
        ),
        (
            json!({"seat_id": "708", "name": "  ", "email": "sandy@nxcloud.com"}),
            "name is required",
        ),
        (
            json!({"seat_id": "708", "name": "Sandy", "email": "sandy.nxcloud.com"}),
            "email must be an e-mail address",
        ),
        (
            json!({"seat_id": "708", "name": "Sandy", "email": "a@b@c"}),
            "email must be an e-mail address",
        ),
        (
            json!({"seat_id": " 708", "name": "Sandy", "email": "sandy@nxcloud.com"}),
            "seat_id must not start or end with whitespace",
        ),
        (
            json!({"seat_id": "x".repeat(65), "name": "Sandy", "email": "sandy@nxcloud.com"}),
            "seat_id must be at most 64 characters",
        ),
    ] {
        let v = refused(
            &app,
            &t,
            "/api/v1/seat/save",
            &body,
            StatusCode::BAD_REQUEST,
        )
        .await;
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {v}");
    }
    assert!(list(&app, &t).await.is_empty());
}

/// Issue 11, item 2: records of a seat in the directory carry its name and e-mail, and
/// the `agent_account` filter finds them by that e-mail.
#[tokio::test]
async fn chat_records_carry_the_seats_name_and_email() {
    let b = Bot::start(LOGISTICS).await;
    let seat = json!({"seat_id": "708", "name": "Sandy Lee", "email": "Sandy.Lee@NXCloud.com"});
    b.post("/api/v1/seat/save", seat).await;
    crate::robots::menus_and_slots_to_handoff(&b).await;
    let taken = b
        .post(
            "/api/v1/session/transfer/result",
            json!({"call_id": "c1", "result": "accepted", "seat_id": "708"}),
        )
        .await;
    assert_eq!(taken["seat_id"], "708");
    let send = |text: &str, seat: Option<&str>| {
        let mut body = json!({"call_id": "c1", "sender_type": "agent",
            "messages": [{"type": "text", "text": text}]});
        if let Some(seat) = seat {
            body["seat_id"] = json!(seat);
        }
        b.post("/api/v1/session/message/send", body)
    };
    send("hello, Sandy here", None).await;
    send("and again", Some("708")).await;
    send("a colleague not in the directory", Some("677")).await;
    b.text("c1", "thanks").await;

    let recs = records(&b.app, &b.t, "").await;
    let agent = |r: &Value| {
        (
            r["agent_id"].clone(),
            r["agent_name"].clone(),
            r["agent_account"].clone(),
        )
    };
    let by_text = |t: &str| recs.iter().find(|r| r["content"] == t).unwrap().clone();
    let sandy = (
        json!("708"),
        json!("Sandy Lee"),
        json!("sandy.lee@nxcloud.com"),
    );
    for text in ["hello, Sandy here", "and again", "thanks"] {
        assert_eq!(agent(&by_text(text)), sandy, "{text}");
    }
    assert_eq!(
        agent(&by_text("a colleague not in the directory")),
        (json!("677"), json!("677"), json!("677")),
        "a seat the directory lacks shows its id"
    );
    assert!(by_text("您好 nick，欢迎使用物流客服。")
        .get("agent_id")
        .is_none());

    // Filtered by the e-mail (any case): exactly the messages stored with the seat, each
    // echoing the value asked for, as nxlink does.
    for asked in ["sandy.lee@nxcloud.com", "SANDY.LEE@nxcloud.com"] {
        let found = records(&b.app, &b.t, &format!("&agent_account={asked}")).await;
        let mut texts: Vec<_> = found.iter().map(|r| r["content"].clone()).collect();
        texts.sort_by_key(ToString::to_string);
        assert_eq!(texts, vec![json!("and again"), json!("hello, Sandy here")]);
        for r in &found {
            assert_eq!(
                agent(r),
                (json!("708"), json!("Sandy Lee"), json!(asked)),
                "{r}"
            );
        }
    }
    // The seat id still filters; an e-mail nobody has finds nothing.
    let by_id = records(&b.app, &b.t, "&agent_account=708").await;
    assert_eq!(by_id.len(), 2);
    assert_eq!(by_id[0]["agent_account"], "708");
    assert!(records(&b.app, &b.t, "&agent_account=nobody@nxcloud.com")
        .await
        .is_empty());
    let colleague = records(&b.app, &b.t, "&agent_account=677").await;
    assert_eq!(colleague.len(), 1);
    assert_eq!(colleague[0]["content"], "a colleague not in the directory");
}
