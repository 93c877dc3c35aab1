//! `Authorization: Token <token>` (or `Bearer`) for `/service/cloud/*`.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use tiller_core::{Entity, StoreError, TenantId};

use super::{record_tenant, request_id};
use crate::{
    http::{ApiError, RequestId},
    state::AppState,
};

/// A caller of `/service/cloud/*` holding a valid token.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub tenant: TenantId,
    pub request_id: RequestId,
}

impl FromRequestParts<AppState> for TokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let raw = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing Authorization header; send `Token <token>`")
            })?
            .to_str()
            .map_err(|_| ApiError::unauthorized("Authorization header is not valid text"))?;
        let token = raw
            .split_once(' ')
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
            })
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("Authorization must be `Token <token>` or `Bearer <token>`")
            })?;
        let tenant =
            match state.credentials.by_token(token, state.clock.now()).await {
                Ok(t) => t,
                Err(StoreError::NotFound(Entity::Token)) => return Err(ApiError::unauthorized(
                    "token is invalid or has expired; get a new one from POST /service/cloud/auth",
                )),
                Err(e) => return Err(e.into()),
            };
        record_tenant(tenant);
        Ok(Self {
            tenant,
            request_id: request_id(&parts.extensions),
        })
    }
}
