//! `X-AIRudder-Sign-Key` + `X-AIRudder-Sign` (+ optional `X-AIRudder-Timestamp`) for `/api/v1/*`.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::HeaderMap,
};
use serde::de::DeserializeOwned;
use tiller_core::{signing::airudder, tenant::Tenant};

use super::{record_tenant, request_id, KeyKind};
use crate::{
    http::{
        body::{parse_json, read_body},
        ApiError, RequestId,
    },
    state::AppState,
};

pub const SIGN_KEY_HEADER: &str = "x-airudder-sign-key";
pub const SIGN_HEADER: &str = "x-airudder-sign";
pub const TIMESTAMP_HEADER: &str = "x-airudder-timestamp";

/// A verified `/api/v1` request: the caller's tenant and its parsed JSON body.
#[derive(Debug)]
pub struct Signed<T> {
    pub tenant: Tenant,
    pub request_id: RequestId,
    pub body: T,
}

fn text_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::unauthorized(format!("{name} header is not valid text")))
        })
        .transpose()
}

/// A verified `/api/v1` request whose body is not JSON (a multipart upload): the tenant,
/// the headers and the raw body the signature covered.
#[derive(Debug)]
pub struct SignedRaw {
    pub tenant: Tenant,
    pub request_id: RequestId,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl FromRequest<AppState> for SignedRaw {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let request_id = request_id(req.extensions());
        let key = text_header(&headers, SIGN_KEY_HEADER)?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("missing X-AIRudder-Sign-Key header"))?;
        let sign = text_header(&headers, SIGN_HEADER)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::unauthorized("missing X-AIRudder-Sign header"))?;
        let timestamp = text_header(&headers, TIMESTAMP_HEADER)?;
        if let Some(ts) = timestamp {
            check_timestamp_secs(ts, state)?;
        }
        let body = read_body(req, state).await?;
        let tenant = state
            .credentials
            .tenant(
                KeyKind::Sign,
                key,
                || state.store.tenant_by_sign_key(key),
                ApiError::unauthorized("unknown X-AIRudder-Sign-Key"),
            )
            .await?;
        if !airudder::verify(tenant.sign_secret.expose(), timestamp, &body, sign) {
            return Err(ApiError::unauthorized(
                "X-AIRudder-Sign does not match: expected lowercase hex HMAC-SHA256 of the raw body \
                 (of \"{timestamp}.{body}\" when X-AIRudder-Timestamp is sent)",
            ));
        }
        record_tenant(tenant.id);
        Ok(Self {
            tenant,
            request_id,
            headers,
            body,
        })
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    /// The signature is checked before the body is parsed, so an unsigned caller learns
    /// nothing about body validation.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let raw = SignedRaw::from_request(req, state).await?;
        Ok(Self {
            body: parse_json(&raw.body)?,
            tenant: raw.tenant,
            request_id: raw.request_id,
        })
    }
}

fn check_timestamp_secs(ts: &str, state: &AppState) -> Result<(), ApiError> {
    let secs: i64 = ts
        .trim()
        .parse()
        .map_err(|_| ApiError::unauthorized("X-AIRudder-Timestamp must be unix seconds"))?;
    let skew = (state.clock.now().timestamp() - secs).unsigned_abs();
    if skew > state.cfg.auth.sign_max_skew_secs {
        return Err(ApiError::unauthorized(format!(
            "X-AIRudder-Timestamp is {skew} s away from server time (at most {} s allowed)",
            state.cfg.auth.sign_max_skew_secs
        )));
    }
    Ok(())
}
