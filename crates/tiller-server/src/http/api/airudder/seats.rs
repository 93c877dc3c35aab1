//! The seat (agent) directory: save a seat, list them. Paths and fields are Tiller's
//! design in the documented conventions (docs/compat.md); nxlink chat records show a
//! seat's name and e-mail as `agent_name` and `agent_account`.

use axum::extract::State;
use serde::Deserialize;
use tiller_core::seats::NewSeat;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::seat_wire::{SaveSeatIn, SeatOut};
use crate::{
    http::{
        auth::Signed,
        envelope::{V1Error, V1},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(save_seat))
        .routes(routes!(list_seats))
}

/// Adds a seat, or gives the seat with this `seat_id` a new name and e-mail.
#[utoipa::path(
    post,
    path = "/api/v1/seat/save",
    tag = "seats",
    request_body = SaveSeatIn,
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<SeatOut>),
        (status = 400, description = "A field is missing or malformed", body = V1Error),
        (status = 409, description = "Another seat of the tenant has the e-mail", body = V1Error),
    )
)]
async fn save_seat(
    State(app): State<AppState>,
    req: Signed<SaveSeatIn>,
) -> Result<V1<SeatOut>, ApiError> {
    let new = NewSeat::try_from(req.body)?;
    let seat = app.seats.save(req.tenant.id, &new).await?;
    Ok(V1::ok(&req.request_id, seat.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListSeatsIn {}

/// The tenant's seats, by `seat_id`.
#[utoipa::path(
    post,
    path = "/api/v1/seat/list",
    tag = "seats",
    request_body = ListSeatsIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<Vec<SeatOut>>))
)]
async fn list_seats(
    State(app): State<AppState>,
    req: Signed<ListSeatsIn>,
) -> Result<V1<Vec<SeatOut>>, ApiError> {
    let seats = app.seats.list(req.tenant.id).await?;
    Ok(V1::ok(
        &req.request_id,
        seats.into_iter().map(SeatOut::from).collect(),
    ))
}
