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

/// The credentials in a request's headers, checked before any of the body is read: the
/// tenant of `X-AIRudder-Sign-Key`, the presented signature and the timestamp (within the
/// allowed skew). An unknown key is refused without reading the body.
async fn header_credentials(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<(Tenant, String, Option<String>), ApiError> {
    let key = text_header(headers, SIGN_KEY_HEADER)?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing X-AIRudder-Sign-Key header"))?;
    let sign = text_header(headers, SIGN_HEADER)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing X-AIRudder-Sign header"))?;
    let timestamp = text_header(headers, TIMESTAMP_HEADER)?;
    if let Some(ts) = timestamp {
        check_timestamp_secs(ts, state)?;
    }
    let tenant = state
        .credential_cache
        .tenant(
            KeyKind::Sign,
            key,
            || state.credentials.by_sign_key(key),
            ApiError::unauthorized("unknown X-AIRudder-Sign-Key"),
        )
        .await?;
    Ok((tenant, sign.to_owned(), timestamp.map(str::to_owned)))
}

const SIGN_MISMATCH: &str = "X-AIRudder-Sign does not match: expected lowercase hex HMAC-SHA256 \
     of the raw body (of \"{timestamp}.{body}\" when X-AIRudder-Timestamp is sent)";

impl FromRequest<AppState> for SignedRaw {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let request_id = request_id(req.extensions());
        let (tenant, sign, timestamp) = header_credentials(&headers, state).await?;
        let body = read_body(req, state).await?;
        if !airudder::verify(
            tenant.sign_secret.expose(),
            timestamp.as_deref(),
            &body,
            &sign,
        ) {
            return Err(ApiError::unauthorized(SIGN_MISMATCH));
        }
        refuse_disabled(&tenant)?;
        record_tenant(tenant.id);
        Ok(Self {
            tenant,
            request_id,
            headers,
            body,
        })
    }
}

/// An `/api/v1` request whose body is streamed (an upload): the tenant is known from the
/// headers before any of the body is read; whoever reads the body feeds every byte to
/// `check` and calls [`SignCheck::finish`] before keeping anything.
pub struct SignedStream {
    pub tenant: Tenant,
    pub request_id: RequestId,
    pub headers: HeaderMap,
    pub body: axum::body::Body,
    pub check: SignCheck,
}

/// The signature check of a streamed body.
pub struct SignCheck {
    signer: airudder::Signer,
    sign: String,
    tenant: tiller_core::TenantId,
    disabled: bool,
}

impl SignCheck {
    pub fn update(&mut self, chunk: &[u8]) {
        self.signer.update(chunk);
    }

    /// Whether the bytes fed carry the presented signature.
    pub fn finish(self) -> Result<(), ApiError> {
        if !self.signer.verify(&self.sign) {
            return Err(ApiError::unauthorized(SIGN_MISMATCH));
        }
        if self.disabled {
            return Err(ApiError::unauthorized(DISABLED));
        }
        record_tenant(self.tenant);
        Ok(())
    }
}

impl FromRequest<AppState> for SignedStream {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let (tenant, sign, timestamp) = header_credentials(&parts.headers, state).await?;
        let check = SignCheck {
            signer: airudder::Signer::new(tenant.sign_secret.expose(), timestamp.as_deref()),
            sign,
            tenant: tenant.id,
            disabled: tenant.is_disabled(),
        };
        Ok(Self {
            tenant,
            request_id: request_id(&parts.extensions),
            headers: parts.headers,
            body,
            check,
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

const DISABLED: &str = "this company is disabled: its credentials are refused";

/// Refuses a disabled tenant's verified request.
fn refuse_disabled(tenant: &Tenant) -> Result<(), ApiError> {
    if tenant.is_disabled() {
        return Err(ApiError::unauthorized(DISABLED));
    }
    Ok(())
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
