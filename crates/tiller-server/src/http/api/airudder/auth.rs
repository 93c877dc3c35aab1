//! `POST /service/cloud/auth` — 验证并获取令牌 / Token Authentication and Obtain.

use axum::{extract::State, routing::post, Router};
use serde::{Deserialize, Serialize};
use tiller_core::auth::{issue_token, AuthError};

use crate::{
    http::{body::JsonBody, envelope::Cloud, ApiError},
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/service/cloud/auth", post(create_token))
}

#[derive(Debug, Deserialize)]
pub struct AuthIn {
    #[serde(rename = "APPKey")]
    pub app_key: String,
    #[serde(rename = "APPSecret")]
    pub app_secret: String,
}

#[derive(Debug, Serialize)]
pub struct TokenOut {
    pub token: String,
}

async fn create_token(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<AuthIn>,
) -> Result<Cloud<TokenOut>, ApiError> {
    if body.app_key.is_empty() || body.app_secret.is_empty() {
        return Err(ApiError::bad_request(
            "APPKey and APPSecret must not be empty",
        ));
    }
    let token = issue_token(
        &*app.store,
        &*app.clock,
        app.cfg.token_ttl(),
        &body.app_key,
        &body.app_secret,
    )
    .await
    .map_err(|e| match e {
        AuthError::BadCredentials => ApiError::unauthorized(e.to_string()),
        AuthError::Store(e) => e.into(),
    })?;
    tracing::Span::current().record("tenant", token.tenant.0);
    Ok(Cloud::ok(TokenOut { token: token.token }))
}
