//! Meta's limits: throughput per number (130429), the pair rate (131056), the customer
//! service window (131047, asynchronous) and undeliverable users (131026).

use std::{sync::Arc, time::Duration};

use chrono::Duration as Span;
use serde_json::json;
use tiller_core::Clock;
use tiller_testkit::{
    whatsapp::{Limits, PairLimit, TemplateSpec},
    ManualClock,
};
use tokio::task::JoinSet;

use super::*;

#[tokio::test]
async fn a_hundred_sends_at_once_exceed_eighty_per_second() {
    let mut c = config();
    c.limits = Limits {
        throughput_per_second: Some(80),
        ..Limits::off()
    };
    let (fake, _receiver) = start(c).await;
    let fake = Arc::new(fake);
    let mut sends = JoinSet::new();
    for i in 0..100 {
        let fake = fake.clone();
        // Distinct users, so only the number's throughput can refuse them.
        sends.spawn(async move { send(&fake, &text_to(&format!("62812000{i:04}"), "hi")).await });
    }
    let (mut accepted, mut limited) = (0, 0);
    while let Some(result) = sends.join_next().await {
        let (status, answer) = result.expect("send task");
        if status == 200 {
            accepted += 1;
        } else {
            assert_eq!(status, 429, "{answer}");
            let e = graph_error(&answer, 130_429);
            assert_eq!(e["message"], "(#130429) Rate limit hit");
            assert_eq!(e["error_data"]["messaging_product"], "whatsapp");
            limited += 1;
        }
    }
    assert!(accepted >= 80, "{accepted} accepted");
    assert!(limited > 0, "none of 100 was limited");
    assert_eq!(fake.sent().len(), accepted);
}

#[tokio::test]
async fn the_pair_rate_refuses_a_burst_to_one_user_but_not_to_another() {
    let interval = Duration::from_millis(500);
    let mut c = config();
    c.limits = Limits {
        pair: Some(PairLimit { interval, burst: 2 }),
        ..Limits::off()
    };
    let (fake, _receiver) = start(c).await;
    assert_eq!(send(&fake, &text_to(USER, "1")).await.0, 200);
    assert_eq!(send(&fake, &text_to(USER, "2")).await.0, 200);
    let (status, answer) = send(&fake, &text_to(USER, "3")).await;
    assert_eq!(status, 429, "{answer}");
    let e = graph_error(&answer, 131_056);
    assert_eq!(
        e["message"],
        "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    );
    assert_eq!(send(&fake, &text_to("6289999999999", "other")).await.0, 200);
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    assert_eq!(send(&fake, &text_to(USER, "4")).await.0, 200);
    assert_eq!(fake.sent().len(), 4);
}

fn failed_error(statuses: &[Value]) -> Value {
    assert_eq!(status_names(statuses), ["failed"], "{statuses:?}");
    assert!(statuses[0].get("pricing").is_none());
    assert!(statuses[0].get("conversation").is_none());
    statuses[0]["errors"][0].clone()
}

#[tokio::test]
async fn free_form_outside_the_service_window_fails_with_131047() {
    let clock = ManualClock::new();
    let mut c = config();
    c.clock = Arc::new(clock.clone());
    let (fake, receiver) = start(c).await;
    fake.add_template(
        WABA,
        TemplateSpec::approved("order_update", "en_US", "UTILITY", json!([])),
    );

    // Never wrote: accepted, then failed.
    let (status, answer) = send(&fake, &text_to(USER, "hello?")).await;
    assert_eq!(status, 200, "{answer}");
    let never = wamid_of(&answer);
    fake.idle().await;
    let error = failed_error(&statuses_of(&receiver, &never));
    assert_eq!(error["code"], 131_047);
    assert_eq!(error["title"], "Re-engagement message");
    assert_eq!(error["message"], "Re-engagement message");
    assert!(error["error_data"]["details"].is_string());
    assert!(error["href"].is_string());
    assert_eq!(fake.sent()[0].failure, Some(131_047));

    // Wrote 23 h ago: inside the window.
    user_writes(&fake, USER).await;
    clock.advance(Span::hours(23));
    let (_, answer) = send(&fake, &text_to(USER, "still open")).await;
    let inside = wamid_of(&answer);
    // Two more hours: closed again, but a template still goes out.
    clock.advance(Span::hours(2));
    let (_, answer) = send(&fake, &text_to(USER, "too late")).await;
    let late = wamid_of(&answer);
    let template = json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}}});
    let (_, answer) = send(&fake, &template).await;
    let templated = wamid_of(&answer);
    fake.idle().await;

    assert_eq!(
        status_names(&statuses_of(&receiver, &inside)),
        ["sent", "delivered", "read"]
    );
    assert_eq!(
        failed_error(&statuses_of(&receiver, &late))["code"],
        131_047
    );
    let statuses = statuses_of(&receiver, &templated);
    assert_eq!(status_names(&statuses), ["sent", "delivered", "read"]);
    assert_eq!(statuses[0]["pricing"]["category"], "utility");
    assert_eq!(statuses[0]["pricing"]["billable"], true);
    // Webhook timestamps follow the fake's clock.
    assert_eq!(
        statuses[0]["timestamp"],
        clock.now().timestamp().to_string()
    );
}

#[tokio::test]
async fn note_inbound_opens_the_window_at_a_given_time() {
    let clock = ManualClock::new();
    let mut c = config();
    c.clock = Arc::new(clock.clone());
    let (fake, receiver) = start(c).await;
    fake.note_inbound(PNID, USER, clock.now() - Span::hours(25));
    let (_, answer) = send(&fake, &text_to(USER, "a")).await;
    let stale = wamid_of(&answer);
    fake.note_inbound(PNID, USER, clock.now() - Span::hours(1));
    let (_, answer) = send(&fake, &text_to(USER, "b")).await;
    let fresh = wamid_of(&answer);
    fake.idle().await;
    assert_eq!(
        failed_error(&statuses_of(&receiver, &stale))["code"],
        131_047
    );
    assert_eq!(status_names(&statuses_of(&receiver, &fresh))[0], "sent");
    assert!(receiver.received().len() == 4, "note_inbound posts nothing");
}

#[tokio::test]
async fn an_undeliverable_user_gets_a_failed_131026() {
    let mut c = config();
    c.limits = Limits::off();
    c.undeliverable.insert("6280000000001".into());
    let (fake, receiver) = start(c).await;
    fake.add_undeliverable("6280000000002");
    let mut wamids = Vec::new();
    for user in ["6280000000001", "6280000000002"] {
        let (status, answer) = send(&fake, &text_to(user, "hi")).await;
        assert_eq!(status, 200, "accepted first: {answer}");
        wamids.push(wamid_of(&answer));
    }
    fake.idle().await;
    for wamid in &wamids {
        let error = failed_error(&statuses_of(&receiver, wamid));
        assert_eq!(error["code"], 131_026);
        assert_eq!(error["title"], "Message undeliverable");
    }
    assert!(fake.sent().iter().all(|s| s.failure == Some(131_026)));
}
