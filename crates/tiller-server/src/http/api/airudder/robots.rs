//! Robots: upload a dialogue flow or an external robot, list them, read one. Paths and
//! fields are Tiller's design in the documented conventions (docs/compat.md).

use axum::extract::State;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tiller_core::robots::Robot;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

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
        .routes(routes!(create_robot))
        .routes(routes!(list_robots))
        .routes(routes!(robot_detail))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRobotIn {
    /// The definition: YAML or JSON text, or a JSON object.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Answer every new session of the tenant that names no robot.
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RobotOut {
    pub robot_id: String,
    pub name: String,
    /// `flow` or `rasa`.
    pub kind: &'static str,
    pub flow_id: String,
    pub default: bool,
    pub created_at: String,
    /// The definition as uploaded (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

impl RobotOut {
    fn of(robot: Robot, with_definition: bool) -> Self {
        Self {
            robot_id: robot.robot_id,
            name: robot.name,
            kind: robot.kind.as_str(),
            flow_id: robot.flow_id,
            default: robot.is_default,
            created_at: robot.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            definition: with_definition.then_some(robot.definition),
        }
    }
}

/// Uploads a robot: validated first, with errors that name the line and the problem.
#[utoipa::path(
    post,
    path = "/api/v1/robot/create",
    tag = "robots",
    request_body = CreateRobotIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<RobotOut>), (status = 400, body = V1Error))
)]
async fn create_robot(
    State(app): State<AppState>,
    req: Signed<CreateRobotIn>,
) -> Result<V1<RobotOut>, ApiError> {
    let source = match req.body.definition {
        Value::String(text) => text,
        object @ Value::Object(_) => object.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "definition must be YAML or JSON text, or a JSON object",
            ))
        }
    };
    let robot = app
        .robots
        .import(req.tenant.id, &source, req.body.default)
        .await?;
    Ok(V1::ok(&req.request_id, RobotOut::of(robot, false)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ListRobotsIn {}

/// The tenant's robots, oldest first.
#[utoipa::path(
    post,
    path = "/api/v1/robot/list",
    tag = "robots",
    request_body = ListRobotsIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<Vec<RobotOut>>))
)]
async fn list_robots(
    State(app): State<AppState>,
    req: Signed<ListRobotsIn>,
) -> Result<V1<Vec<RobotOut>>, ApiError> {
    let robots = app.robots.list(req.tenant.id).await?;
    let out = robots.into_iter().map(|r| RobotOut::of(r, false)).collect();
    Ok(V1::ok(&req.request_id, out))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RobotDetailIn {
    pub robot_id: String,
}

/// One robot with its definition.
#[utoipa::path(
    post,
    path = "/api/v1/robot/detail",
    tag = "robots",
    request_body = RobotDetailIn,
    security(("airudder_sign" = [])),
    responses((status = 200, body = V1<RobotOut>), (status = 404, body = V1Error))
)]
async fn robot_detail(
    State(app): State<AppState>,
    req: Signed<RobotDetailIn>,
) -> Result<V1<RobotOut>, ApiError> {
    let robot = app.robots.robot(req.tenant.id, &req.body.robot_id).await?;
    Ok(V1::ok(&req.request_id, RobotOut::of(robot, true)))
}
