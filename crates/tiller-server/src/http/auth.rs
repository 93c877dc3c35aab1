//! The three ways a caller proves who it is, as extractors that resolve the tenant before
//! the handler runs (svix's `permissions::Organization`). Each failure is answered in the
//! surface's envelope and nothing is changed.
//!
//! - [`TokenCaller`]: `/service/cloud/*`, `Authorization: Token <token>` (or `Bearer`).
//! - [`Signed`]: `/api/v1/*`, `X-AIRudder-Sign-Key` + `X-AIRudder-Sign` (HMAC-SHA256 of the
//!   body, optionally bound to `X-AIRudder-Timestamp`).
//! - [`NxSigned`]: nxlink `/saas/*`, `accessKey`/`ts`/`bizType`/`action`/`sign` headers.

mod airudder_sign;
mod cache;
mod nxlink_sign;
mod token;

pub use airudder_sign::{
    SignCheck, Signed, SignedRaw, SignedStream, SIGN_HEADER, SIGN_KEY_HEADER, TIMESTAMP_HEADER,
};
pub use cache::{CredentialCache, KeyKind};
pub use nxlink_sign::{NxRoute, NxSigned, NX_WHATSAPP_MT};
use tiller_core::TenantId;
pub use token::TokenCaller;

use super::RequestId;

pub(super) fn request_id(parts_ext: &axum::http::Extensions) -> RequestId {
    parts_ext.get::<RequestId>().cloned().unwrap_or_default()
}

pub(super) fn record_tenant(t: TenantId) {
    tracing::Span::current().record("tenant", t.0);
}
