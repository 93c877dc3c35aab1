//! The OpenAPI 3.1 description of every route, generated from the handlers' annotations:
//! routes are registered through `utoipa_axum::routes!`, so a route cannot exist without
//! being described. Served at `GET /openapi.json`; committed as `docs/openapi.json`
//! (a test fails when the two drift).

use std::sync::Arc;

use axum::{Extension, Json};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, SecurityScheme},
    Modify, OpenApi,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tiller",
        description = "Conversation engagement server. AIRUDDER-compatible `/service/cloud` \
                       (token) and `/api/v1` (X-AIRudder-Sign) APIs, and the nxlink-compatible \
                       `/saas` API. Choices where the upstream docs are silent: docs/compat.md."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Token API and credential checks"),
        (name = "chat", description = "Sessions and messages (AIRUDDER chatbot API)"),
        (name = "files", description = "Uploaded media"),
        (name = "robots", description = "Robots: dialogue flows and external robots (Tiller's own)"),
        (name = "seats", description = "The seat (agent) directory behind nxlink's agent fields (Tiller's own)"),
        (name = "nxlink", description = "nxlink-compatible API"),
        (name = "webhooks", description = "Webhook endpoints, event log and replay (Tiller's own)"),
        (name = "ops", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// Names of the security schemes; handlers name them as literals in `security(...)`
/// (the attribute takes no constants), and a test checks every one is defined.
pub mod scheme {
    pub const TOKEN: &str = "token";
    pub const AIRUDDER_SIGN: &str = "airudder_sign";
    pub const NXLINK_SIGN: &str = "nxlink_sign";
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |name: &str, description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                description,
            )))
        };
        components.add_security_scheme(
            scheme::TOKEN,
            header(
                "Authorization",
                "`Token <token>` (or `Bearer <token>`) from POST /service/cloud/auth",
            ),
        );
        components.add_security_scheme(
            scheme::AIRUDDER_SIGN,
            header(
                "X-AIRudder-Sign",
                "Lowercase hex HMAC-SHA256 of the raw body keyed with the tenant's sign_secret, \
                 with the tenant's key in X-AIRudder-Sign-Key; optional X-AIRudder-Timestamp \
                 (unix seconds) makes the signed message \"{timestamp}.{body}\"",
            ),
        );
        components.add_security_scheme(
            scheme::NXLINK_SIGN,
            header(
                "sign",
                "nxlink signature over accessKey, action, bizType, ts (ms), the body and the \
                 accessSecret; md5 by default, sha256 with the `algorithm` header",
            ),
        );
    }
}

/// The document, as served.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object))
)]
pub async fn get_openapi(
    Extension(doc): Extension<Arc<serde_json::Value>>,
) -> Json<serde_json::Value> {
    Json((*doc).clone())
}
