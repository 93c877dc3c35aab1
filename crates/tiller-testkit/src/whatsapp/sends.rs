//! `POST /{version}/{phone_number_id}/messages`: a send (or a read receipt), checked in
//! Meta's order: the number, the body, templates and media, then the pacing limits. An
//! accepted send is answered at once; its fate follows as status webhooks.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{
    errors::{Failure, GraphError},
    state::{self, MarkedRead, Outbound, Pricing, SentMessage, Shared},
    templates,
    validate::{self, Request},
    webhooks,
};

pub(super) async fn messages(
    State(shared): State<Arc<Shared>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    match accept(&shared, &phone_number_id, &body) {
        Ok((answer, wamid)) => {
            if let Some(wamid) = wamid {
                tracing::info!(%phone_number_id, %wamid, "fake WhatsApp accepted a send");
                let task = webhooks::deliver_statuses(shared.clone(), wamid);
                shared.spawn(task);
            } else {
                tracing::info!(%phone_number_id, "fake WhatsApp marked a message read");
            }
            Json(answer).into_response()
        }
        Err(e) => {
            tracing::info!(
                %phone_number_id,
                code = e.code,
                message = %e.message,
                "fake WhatsApp refused a send"
            );
            e.into_response()
        }
    }
}

/// The answer, and the wamid whose statuses are due.
fn accept(
    shared: &Shared,
    phone_number_id: &str,
    body: &[u8],
) -> Result<(Value, Option<String>), GraphError> {
    let number = shared
        .lock()
        .numbers
        .get(phone_number_id)
        .cloned()
        .ok_or_else(|| GraphError::no_object("post", phone_number_id))?;
    let send = match validate::request(body)? {
        Request::MarkRead { message_id } => {
            shared.lock().marked_read.push(MarkedRead {
                phone_number_id: phone_number_id.to_owned(),
                message_id,
            });
            return Ok((json!({"success": true}), None));
        }
        Request::Send(send) => send,
    };
    let now = shared.now();
    let mut inner = shared.lock();
    if let Some(id) = &send.media_id {
        if !inner.media.contains_key(id) {
            return Err(GraphError::invalid_parameter(format!(
                "Param {}['id'] is not a valid media id: {id}",
                send.kind
            )));
        }
    }
    let category = match &send.template {
        Some(t) => Some(templates::check(&inner, &number.waba_id, t)?),
        None => None,
    };
    inner.admit(
        &shared.limits,
        phone_number_id,
        &send.wa_id,
        tokio::time::Instant::now(),
    )?;
    let in_window = inner.in_window(
        shared.limits.service_window,
        phone_number_id,
        &send.wa_id,
        now,
    );
    let failure = if inner.undeliverable.contains(&send.wa_id) {
        Some(Failure::Undeliverable)
    } else if category.is_none() && !in_window {
        Some(Failure::ReEngagement)
    } else {
        None
    };
    let pricing = match category {
        // Utility templates inside the service window are free under per-message pricing.
        Some(c) if !(c == "utility" && in_window) => Pricing {
            billable: true,
            kind: "regular",
            category: c,
        },
        Some(c) => Pricing {
            billable: false,
            kind: "free_customer_service",
            category: c,
        },
        None => Pricing {
            billable: false,
            kind: "free_customer_service",
            category: "service".into(),
        },
    };
    let conversation = failure
        .is_none()
        .then(|| inner.conversation(phone_number_id, &send.wa_id, now));
    let wamid = state::wamid(&send.wa_id);
    inner.outbound.insert(
        wamid.clone(),
        Outbound {
            phone_number_id: phone_number_id.to_owned(),
            recipient: send.wa_id.clone(),
            failure,
            pricing,
            conversation,
            biz_opaque_callback_data: send.biz_opaque_callback_data.clone(),
        },
    );
    inner.sent.push(SentMessage {
        wamid: wamid.clone(),
        phone_number_id: phone_number_id.to_owned(),
        body: serde_json::from_slice(body).unwrap_or_default(),
        failure: failure.map(Failure::code),
    });
    let mut message = json!({"id": wamid});
    if send.template.is_some() {
        message["message_status"] = "accepted".into();
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": send.input, "wa_id": send.wa_id}],
        "messages": [message],
    });
    Ok((answer, Some(wamid)))
}
