//! External robots over HTTP: a Rasa REST channel stand-in on a random port, and what a
//! session does when the robot cannot be reached.

use std::sync::{Arc, Mutex};

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};

use crate::robots::{option_id, text_of, Bot};

/// A Rasa REST channel stand-in: records what it was sent and answers by rule.
#[derive(Clone, Default)]
struct Rasa {
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn rasa_webhook(State(rasa): State<Rasa>, Json(body): Json<Value>) -> Json<Value> {
    rasa.seen.lock().unwrap().push(body.clone());
    let message = body["message"].as_str().unwrap_or_default();
    Json(if message == "/handoff" {
        json!([{"recipient_id": body["sender"], "text": "connecting you"},
               {"recipient_id": body["sender"], "custom": {"handoff": true, "output_label": "D",
                 "slots": {"topic": "refund"}}}])
    } else {
        json!([{"recipient_id": body["sender"], "text": format!("you said {message}"),
                "buttons": [{"title": "Human", "payload": "/handoff"}]}])
    })
}

async fn start_rasa() -> (Rasa, String) {
    let rasa = Rasa::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/rest/webhook",
        listener.local_addr().unwrap()
    );
    let app = Router::new()
        .route("/webhooks/rest/webhook", post(rasa_webhook))
        .with_state(rasa.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (rasa, url)
}

#[tokio::test]
async fn an_external_rasa_robot_answers_and_hands_off() {
    let (rasa, url) = start_rasa().await;
    let b = Bot::start(&format!(
        "name: nlu\nrasa:\n  url: {url}\n  timeout_secs: 5\n"
    ))
    .await;
    assert_eq!(b.robot["kind"], "rasa");
    b.text("c1", "where is my parcel").await;
    b.app.turns().await;
    let said = b.robot_said("c1").await;
    assert_eq!(text_of(&said[0]), "you said where is my parcel");
    let human = option_id(&said[0], "Human");

    b.user(
        "c1",
        json!({"type": "interactive", "interactive": {"type": "button_reply",
        "button_reply": {"id": human, "title": "Human"}}}),
    )
    .await;
    b.app.turns().await;
    assert_eq!(
        *rasa.seen.lock().unwrap(),
        [
            json!({"sender": "c1", "message": "where is my parcel"}),
            json!({"sender": "c1", "message": "/handoff"})
        ]
    );
    assert_eq!(text_of(&b.robot_said("c1").await[0]), "connecting you");
    assert_eq!(b.session("c1").await["status"], "pending_agent");
    let transfer = b.events("session.transfer").await;
    assert_eq!(
        transfer[0]["conclusion"],
        json!({"record_slots": {"topic": "refund"}, "output_label": "D"})
    );
}

#[tokio::test]
async fn an_unreachable_external_robot_ends_the_session_with_error() {
    // Port 9 (discard) on loopback: nothing listens there.
    let b = Bot::start("name: nlu\nrasa:\n  url: http://127.0.0.1:9/webhooks/rest/webhook\n").await;
    b.text("c1", "hi").await;
    b.app.turns().await;
    let s = b.session("c1").await;
    assert_eq!(
        (s["status"].as_str(), s["session_end_reason"].as_str()),
        (Some("closed"), Some("error"))
    );
    assert_eq!(
        b.events("session.end").await[0]["session_end_reason"],
        "error"
    );
}
