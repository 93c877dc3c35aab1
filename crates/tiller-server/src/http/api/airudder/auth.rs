//! `POST /service/cloud/auth` — 验证并获取令牌 / Token Authentication and Obtain.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tiller_core::auth::AuthError;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        body::JsonBody,
        envelope::{Cloud, CloudError},
        ApiError,
    },
    state::AppState,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"APPKey":"YK/9/KasbUt0hAod6W5HEg","APPSecret":"l5uzAdirgEduBNQXOfec7w"}))]
pub struct AuthIn {
    #[serde(rename = "APPKey")]
    pub app_key: String,
    #[serde(rename = "APPSecret")]
    pub app_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub token: String,
}

/// 验证并获取令牌 / Token Authentication and Obtain: swaps the app credentials for a token
/// valid 24 hours; asking again while it is valid returns it with its lifetime renewed.
#[utoipa::path(
    post,
    path = "/service/cloud/auth",
    tag = "auth",
    request_body = AuthIn,
    responses(
        (status = 200, body = Cloud<TokenOut>),
        (status = 400, description = "Malformed body", body = CloudError),
        (status = 401, description = "Wrong APPKey or APPSecret", body = CloudError),
    )
)]
async fn create_token(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<AuthIn>,
) -> Result<Cloud<TokenOut>, ApiError> {
    if body.app_key.is_empty() || body.app_secret.is_empty() {
        return Err(ApiError::bad_request(
            "APPKey and APPSecret must not be empty",
        ));
    }
    let token = app
        .tokens
        .issue(&body.app_key, &body.app_secret)
        .await
        .map_err(|e| match e {
            AuthError::BadCredentials | AuthError::Disabled => {
                ApiError::unauthorized(e.to_string())
            }
            AuthError::Store(e) => e.into(),
        })?;
    tracing::Span::current().record("tenant", token.tenant.0);
    Ok(Cloud::ok(TokenOut { token: token.token }))
}
