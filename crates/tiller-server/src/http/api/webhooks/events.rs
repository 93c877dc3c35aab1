//! The webhook event log: events with their deliveries, attempts, and replay.

use axum::extract::State;
use serde::Deserialize;
use tiller_core::webhooks::{DeliveryState, EventQuery};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::views::webhooks::{AttemptOut, EventOut, ReplayOut};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        params::{page_size, unix_seconds},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(list_attempts))
        .routes(routes!(replay_events))
}

fn state(raw: Option<&str>) -> Result<Option<DeliveryState>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            DeliveryState::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be pending, delivered or dead, not {s:?}"
                ))
            })
        })
        .transpose()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListEventsIn {
    /// Events created at or after this unix second.
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
    /// Only events with a delivery in this state: `pending`, `delivered` or `dead`.
    #[serde(default)]
    pub status: Option<String>,
    pub size: i64,
}

/// Events, newest first, with the state of each delivery.
#[utoipa::path(post, path = "/api/v1/webhook/event/list", tag = "webhooks", request_body = ListEventsIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<Vec<EventOut>>), (status = 400, body = V1Error)))]
async fn list_events(
    State(app): State<AppState>,
    req: Signed<ListEventsIn>,
) -> Result<V1<Vec<EventOut>>, ApiError> {
    let b = req.body;
    let q = EventQuery {
        from: unix_seconds(b.start_time, "start_time")?,
        to: unix_seconds(b.end_time, "end_time")?,
        state: state(b.status.as_deref())?,
        limit: page_size(b.size)?,
    };
    let events = app.webhooks.events(req.tenant.id, &q).await?;
    Ok(V1::ok(
        &req.request_id,
        events.iter().map(EventOut::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventIdIn {
    pub event_id: String,
}

/// Every attempt at an event: status code, latency, response excerpt, outcome.
#[utoipa::path(post, path = "/api/v1/webhook/event/attempts", tag = "webhooks", request_body = EventIdIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<Vec<AttemptOut>>), (status = 404, body = V1Error)))]
async fn list_attempts(
    State(app): State<AppState>,
    req: Signed<EventIdIn>,
) -> Result<V1<Vec<AttemptOut>>, ApiError> {
    let attempts = app
        .webhooks
        .attempts(req.tenant.id, &req.body.event_id)
        .await?;
    Ok(V1::ok(
        &req.request_id,
        attempts.iter().map(AttemptOut::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplayIn {
    /// Replay this event…
    #[serde(default)]
    pub event_id: Option<String>,
    /// …or, with `status: "dead"`, every dead delivery of events created in
    /// `[start_time, end_time]` (unix seconds).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
}

/// Sends events again under their original `webhook-id`, with a fresh retry schedule.
#[utoipa::path(post, path = "/api/v1/webhook/event/replay", tag = "webhooks", request_body = ReplayIn,
    security(("airudder_sign" = [])), responses((status = 200, body = V1<ReplayOut>), (status = 400, body = V1Error), (status = 404, body = V1Error)))]
async fn replay_events(
    State(app): State<AppState>,
    req: Signed<ReplayIn>,
) -> Result<V1<ReplayOut>, ApiError> {
    let b = req.body;
    let replayed = match (b.event_id.as_deref(), b.status.as_deref()) {
        (Some(id), None) => app.webhooks.replay_event(req.tenant.id, id).await?,
        (None, Some("dead")) => {
            let from = unix_seconds(b.start_time, "start_time")?
                .ok_or_else(|| ApiError::bad_request("start_time is required"))?;
            let to = unix_seconds(b.end_time, "end_time")?.unwrap_or_else(|| app.clock.now());
            app.webhooks.replay_dead(req.tenant.id, from, to).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "give event_id, or status \"dead\" with start_time (and end_time)",
            ))
        }
    };
    Ok(V1::ok(&req.request_id, ReplayOut { replayed }))
}
