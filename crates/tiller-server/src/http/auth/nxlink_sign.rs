//! nxlink's `accessKey`/`ts`/`bizType`/`action`/`sign` (+ optional `algorithm`) for `/saas/*`.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{header, HeaderMap},
};
use serde::de::DeserializeOwned;
use tiller_core::{signing::nxlink, tenant::Tenant};

use super::{record_tenant, request_id, KeyKind};
use crate::{
    http::{
        body::{parse_json, read_body},
        ApiError, ErrorKind, RequestId,
    },
    state::AppState,
};

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

/// The five required common headers, exactly as received.
struct Common {
    access_key: String,
    ts: String,
    biz_type: String,
    action: String,
    sign: String,
}

impl Common {
    /// 1001 when any of them is missing or empty (names are matched case-insensitively).
    fn read(headers: &HeaderMap) -> Result<Self, ApiError> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    nx_error(
                        ErrorKind::Unauthorized,
                        1001,
                        format!("Missing common parameters: {name}"),
                    )
                })
        };
        Ok(Self {
            access_key: get("accessKey")?,
            ts: get("ts")?,
            biz_type: get("bizType")?,
            action: get("action")?,
            sign: get("sign")?,
        })
    }

    /// 1004 when `ts` is not milliseconds within the allowed skew of server time.
    fn check_ts(&self, state: &AppState) -> Result<(), ApiError> {
        let ts_ms: i64 = self.ts.parse().map_err(|_| {
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
        Ok(())
    }

    /// 1002 when the route takes another bizType/action.
    fn check_route(&self, route: NxRoute) -> Result<(), ApiError> {
        if self.biz_type == route.biz_type && self.action == route.action {
            return Ok(());
        }
        Err(nx_error(
            ErrorKind::BadRequest,
            1002,
            format!(
                "Parameter error: this API takes bizType={} and action={}",
                route.biz_type, route.action
            ),
        ))
    }
}

/// The optional `algorithm` header: md5 by default; 1002 for anything but md5/sha256.
fn algorithm(headers: &HeaderMap) -> Result<nxlink::Algorithm, ApiError> {
    match headers.get("algorithm").and_then(|v| v.to_str().ok()) {
        None => Ok(nxlink::Algorithm::Md5),
        Some(v) => nxlink::Algorithm::parse(v).ok_or_else(|| {
            nx_error(
                ErrorKind::BadRequest,
                1002,
                "Parameter error: algorithm must be md5 or sha256",
            )
        }),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

impl FromRequest<AppState> for NxSigned {
    type Rejection = ApiError;

    /// Checks in the order of nxlink's checklist: common headers (1001), timestamp (1004),
    /// access key (1005), bizType/action (1002), signature (1003).
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let request_id = request_id(req.extensions());
        let route = req
            .extensions()
            .get::<NxRoute>()
            .copied()
            .unwrap_or(NX_WHATSAPP_MT);
        let common = Common::read(req.headers())?;
        common.check_ts(state)?;
        let tenant = state
            .credential_cache
            .tenant(
                KeyKind::Access,
                &common.access_key,
                || state.credentials.by_access_key(&common.access_key),
                nx_error(
                    ErrorKind::Unauthorized,
                    1005,
                    "Insufficient permissions: unknown accessKey",
                ),
            )
            .await?;
        common.check_route(route)?;
        let algorithm = algorithm(req.headers())?;
        let multipart = is_multipart(req.headers());
        let body = read_body(req, state).await.map_err(|e| e.nx_code(1002))?;
        let signed = nxlink::CommonHeaders {
            access_key: &common.access_key,
            action: &common.action,
            biz_type: &common.biz_type,
            ts: &common.ts,
        };
        // Multipart bodies are not part of the signature (nxlink §2.2).
        let signed_body = (!multipart).then_some(&body[..]);
        if !nxlink::verify(
            signed,
            signed_body,
            tenant.access_secret.expose(),
            algorithm,
            &common.sign,
        ) {
            return Err(nx_error(ErrorKind::Unauthorized, 1003, "Invalid signature"));
        }
        if tenant.is_disabled() {
            return Err(nx_error(
                ErrorKind::Unauthorized,
                1005,
                "Insufficient permissions: this company is disabled",
            ));
        }
        record_tenant(tenant.id);
        Ok(Self {
            tenant,
            request_id,
            body,
        })
    }
}
