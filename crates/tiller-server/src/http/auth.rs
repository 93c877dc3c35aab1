//! The three ways a caller proves who it is, as extractors that resolve the tenant before
//! the handler runs (svix's `permissions::Organization`). Each failure is answered in the
//! surface's envelope and nothing is changed.
//!
//! - [`TokenCaller`]: `/service/cloud/*`, `Authorization: Token <token>` (or `Bearer`).
//! - [`Signed`]: `/api/v1/*`, `X-AIRudder-Sign-Key` + `X-AIRudder-Sign` (HMAC-SHA256 of the
//!   body, optionally bound to `X-AIRudder-Timestamp`).
//! - [`NxSigned`]: nxlink `/saas/*`, `accessKey`/`ts`/`bizType`/`action`/`sign` headers.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap},
};
use serde::de::DeserializeOwned;
use tiller_core::{
    signing::{airudder, nxlink},
    tenant::Tenant,
    StoreError, TenantId,
};

use super::{
    body::{parse_json, read_body},
    ApiError, ErrorKind, RequestId,
};
use crate::state::AppState;

fn request_id(parts_ext: &axum::http::Extensions) -> RequestId {
    parts_ext.get::<RequestId>().cloned().unwrap_or_default()
}

fn record_tenant(t: TenantId) {
    tracing::Span::current().record("tenant", t.0);
}

/// Looks a tenant up by one of its keys; an unknown key becomes `unknown`.
async fn tenant_by<F, Fut>(lookup: F, unknown: ApiError) -> Result<Tenant, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Tenant, StoreError>>,
{
    match lookup().await {
        Ok(t) => Ok(t),
        Err(StoreError::NotFound) => Err(unknown),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------
// Token

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
            match state.store.token_owner(token, state.clock.now()).await {
                Ok(t) => t,
                Err(StoreError::NotFound) => return Err(ApiError::unauthorized(
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

// ---------------------------------------------------------------------------------------
// X-AIRudder-Sign

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

impl<T: DeserializeOwned> FromRequest<AppState> for Signed<T> {
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
        let tenant = tenant_by(
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
        let body = parse_json(&body)?;
        Ok(Self {
            tenant,
            request_id,
            body,
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

// ---------------------------------------------------------------------------------------
// nxlink

/// The `bizType` and `action` a nxlink route accepts; attached to the route as an
/// extension (`.route_layer(Extension(NxRoute { .. }))`).
#[derive(Debug, Clone, Copy)]
pub struct NxRoute {
    pub biz_type: &'static str,
    pub action: &'static str,
}

/// nxlink's WhatsApp/SaaS routes: `bizType` 2, `action` mt.
pub const NX_WHATSAPP_MT: NxRoute = NxRoute {
    biz_type: "2",
    action: "mt",
};

/// A verified nxlink request: the tenant and the raw body (empty for GET).
#[derive(Debug)]
pub struct NxSigned {
    pub tenant: Tenant,
    pub request_id: RequestId,
    pub body: Bytes,
}

impl NxSigned {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body).map_err(|e| e.nx_code(1002))
    }
}

fn nx_error(kind: ErrorKind, code: i64, message: impl Into<String>) -> ApiError {
    ApiError::new(kind, message).nx_code(code)
}

impl FromRequest<AppState> for NxSigned {
    type Rejection = ApiError;

    /// Checks in the order of nxlink's checklist: common headers (1001), timestamp (1004),
    /// access key (1005), bizType/action (1002), signature (1003).
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let request_id = request_id(req.extensions());
        let route = req
            .extensions()
            .get::<NxRoute>()
            .copied()
            .unwrap_or(NX_WHATSAPP_MT);
        let multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            });

        let mut common = [
            ("accessKey", ""),
            ("ts", ""),
            ("bizType", ""),
            ("action", ""),
            ("sign", ""),
        ];
        for (name, value) in &mut common {
            *value = headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    nx_error(
                        ErrorKind::Unauthorized,
                        1001,
                        format!("Missing common parameters: {name}"),
                    )
                })?;
        }
        let [(_, access_key), (_, ts), (_, biz_type), (_, action), (_, sign)] = common;

        let ts_ms: i64 = ts.parse().map_err(|_| {
            nx_error(
                ErrorKind::Unauthorized,
                1004,
                "Timestamp has expired: ts must be milliseconds",
            )
        })?;
        let skew = (state.clock.now().timestamp_millis() - ts_ms).unsigned_abs();
        if skew > state.cfg.auth.nxlink_max_skew_ms {
            return Err(nx_error(
                ErrorKind::Unauthorized,
                1004,
                format!("Timestamp has expired: ts is {skew} ms from server time"),
            ));
        }
        let tenant = tenant_by(
            || state.store.tenant_by_access_key(access_key),
            nx_error(
                ErrorKind::Unauthorized,
                1005,
                "Insufficient permissions: unknown accessKey",
            ),
        )
        .await?;
        if biz_type != route.biz_type || action != route.action {
            return Err(nx_error(
                ErrorKind::BadRequest,
                1002,
                format!(
                    "Parameter error: this API takes bizType={} and action={}",
                    route.biz_type, route.action
                ),
            ));
        }
        let algorithm = match headers.get("algorithm").and_then(|v| v.to_str().ok()) {
            None => nxlink::Algorithm::Md5,
            Some(v) => nxlink::Algorithm::parse(v).ok_or_else(|| {
                nx_error(
                    ErrorKind::BadRequest,
                    1002,
                    "Parameter error: algorithm must be md5 or sha256",
                )
            })?,
        };
        let body = read_body(req, state).await.map_err(|e| e.nx_code(1002))?;
        let signed = nxlink::CommonHeaders {
            access_key,
            action,
            biz_type,
            ts,
        };
        let signed_body = (!multipart).then_some(&body[..]);
        if !nxlink::verify(
            signed,
            signed_body,
            tenant.access_secret.expose(),
            algorithm,
            sign,
        ) {
            return Err(nx_error(ErrorKind::Unauthorized, 1003, "Invalid signature"));
        }
        record_tenant(tenant.id);
        Ok(Self {
            tenant,
            request_id,
            body,
        })
    }
}
