//! One error type for every surface. Handlers and extractors return [`ApiError`]; its
//! `IntoResponse` only records what went wrong, and [`render_errors`] writes it in the
//! envelope the serving surface's router claimed (`surface.rs`) — `/api/v1` (`{request_id,
//! code, message, data}`), `/service/cloud` (`{data, status, code, message}`) or nxlink
//! `/saas` (`{code, message, traceId}`). Internal causes go to the log once, never to the
//! client.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tiller_core::{
    channels::InboundError, conversations::ConversationError, robots::RobotError, seats::SeatError,
    webhooks::WebhookError, StoreError,
};

use super::{
    envelope::{CloudError, NxError, V1Error},
    surface::{Claim, Envelope},
    RequestId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    Unavailable,
    Internal,
}

impl ErrorKind {
    fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// nxlink's code when the error did not name one: 1002 "Parameter error" for bad
    /// input, -1 "request failed" otherwise.
    fn default_nx_code(self) -> i64 {
        match self {
            Self::BadRequest | Self::PayloadTooLarge => 1002,
            _ => -1,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
    nx_code: Option<i64>,
    cause: Option<anyhow::Error>,
    location: &'static std::panic::Location<'static>,
}

/// What `IntoResponse` leaves for the envelope renderer.
#[derive(Debug, Clone)]
struct ErrorInfo {
    kind: ErrorKind,
    message: String,
    nx_code: Option<i64>,
}

impl ApiError {
    #[track_caller]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            nx_code: None,
            cause: None,
            location: std::panic::Location::caller(),
        }
    }

    #[track_caller]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    #[track_caller]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    #[track_caller]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// An unexpected failure: the client sees a generic 500, the log gets the cause.
    #[track_caller]
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorKind::Internal, "internal server error");
        e.cause = Some(cause.into());
        e
    }

    /// Sets the code this error carries on the nxlink surface (1001–1005, 21058, …).
    #[must_use]
    pub fn nx_code(mut self, code: i64) -> Self {
        self.nx_code = Some(code);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The code set with [`ApiError::nx_code`], for tests that pin it.
    #[cfg(test)]
    pub(crate) fn nx_code_given(&self) -> Option<i64> {
        self.nx_code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for ApiError {
    #[track_caller]
    fn from(e: StoreError) -> Self {
        match e {
            // The entity stays out of the message: clients have always read "not found".
            StoreError::NotFound(_) => Self::not_found("not found"),
            StoreError::Conflict(what) => {
                Self::new(ErrorKind::Conflict, format!("{what} already exists"))
            }
            StoreError::Rejected(why) => Self::new(ErrorKind::Conflict, why),
            StoreError::Unavailable(_) => {
                let mut err = Self::new(ErrorKind::Unavailable, "service temporarily unavailable");
                err.cause = Some(e.into());
                err
            }
            StoreError::Other(_) => Self::internal(e),
        }
    }
}

impl From<WebhookError> for ApiError {
    #[track_caller]
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(_) | WebhookError::Refused(_) => Self::bad_request(e.to_string()),
            WebhookError::NoEndpoint | WebhookError::NoEvent => Self::not_found(e.to_string()),
            WebhookError::Store(e) => e.into(),
        }
    }
}

impl From<ConversationError> for ApiError {
    #[track_caller]
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::SessionNotFound(_) => Self::not_found(e.to_string()),
            ConversationError::Rejected(why) => Self::new(ErrorKind::Conflict, why),
            ConversationError::DuplicateMsgId | ConversationError::Busy => {
                Self::new(ErrorKind::Conflict, e.to_string())
            }
            ConversationError::Invalid(why) => Self::bad_request(why),
            ConversationError::Store(e) => e.into(),
        }
    }
}

impl From<InboundError> for ApiError {
    #[track_caller]
    fn from(e: InboundError) -> Self {
        match e {
            InboundError::NotFound => Self::not_found(e.to_string()),
            InboundError::Unauthorized => Self::unauthorized(e.to_string()),
            InboundError::Forbidden | InboundError::Disabled => {
                Self::new(ErrorKind::Forbidden, e.to_string())
            }
            InboundError::Invalid(_) => Self::bad_request(e.to_string()),
            InboundError::Conversation(e) => e.into(),
            InboundError::Store(e) => e.into(),
        }
    }
}

impl From<RobotError> for ApiError {
    #[track_caller]
    fn from(e: RobotError) -> Self {
        match e {
            RobotError::NotFound(_) => Self::not_found(e.to_string()),
            RobotError::Invalid(errors) => {
                Self::bad_request(format!("invalid robot definition: {errors}"))
            }
            RobotError::Conversation(e) => e.into(),
            RobotError::Store(e) => e.into(),
        }
    }
}

impl From<SeatError> for ApiError {
    #[track_caller]
    fn from(e: SeatError) -> Self {
        match e {
            SeatError::Invalid(why) => Self::bad_request(why.to_string()),
            SeatError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(error = ?cause, at = %self.location, "request failed");
        }
        let mut res = self.kind.status().into_response();
        res.extensions_mut().insert(Arc::new(ErrorInfo {
            kind: self.kind,
            message: self.message,
            nx_code: self.nx_code,
        }));
        res
    }
}

/// Middleware: renders any [`ApiError`] in the envelope the request's surface claimed
/// (`surface.rs`); a request no surface claimed answers in /api/v1's.
pub async fn render_errors(mut req: Request, next: Next) -> Response {
    let claim = Claim::default();
    req.extensions_mut().insert(claim.clone());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_default();
    let mut res = next.run(req).await;
    let info = match res.extensions_mut().remove::<Arc<ErrorInfo>>() {
        Some(info) => info,
        None => match plain_rejection(res).await {
            Ok(info) => info,
            Err(res) => return res,
        },
    };
    let envelope = claim.get().unwrap_or(Envelope::V1);
    let status = info.kind.status();
    let body = match envelope {
        Envelope::V1 => serde_json::to_string(&V1Error {
            request_id: request_id.0,
            code: status.as_u16(),
            message: info.message.clone(),
            data: (),
        }),
        Envelope::Cloud => serde_json::to_string(&CloudError {
            data: (),
            status: status.canonical_reason().unwrap_or("Error"),
            code: status.as_u16(),
            message: info.message.clone(),
        }),
        Envelope::Nxlink => serde_json::to_string(&NxError {
            code: info.nx_code.unwrap_or_else(|| info.kind.default_nx_code()),
            message: info.message.clone(),
            trace_id: request_id.0,
        }),
    }
    .unwrap_or_default();
    // nxlink reports every client error through `code` with HTTP 200 (docs/compat.md).
    let status = if envelope == Envelope::Nxlink && !status.is_server_error() {
        StatusCode::OK
    } else {
        status
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    out
}

/// A client error some layer answered in plain text (an axum extractor's rejection, the
/// body limit) becomes an [`ErrorInfo`], so it too is rendered in the envelope.
async fn plain_rejection(res: Response) -> Result<Arc<ErrorInfo>, Response> {
    let is_plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let kind = match res.status() {
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorKind::BadRequest,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
        StatusCode::METHOD_NOT_ALLOWED => ErrorKind::MethodNotAllowed,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        _ => return Err(res),
    };
    if !is_plain {
        return Err(res);
    }
    let text = axum::body::to_bytes(res.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(Arc::new(ErrorInfo {
        kind,
        message: text,
        nx_code: None,
    }))
}

/// Fallback for paths no route matches: no surface's layer ran, so it claims the envelope
/// of the surface whose prefix the path is under.
pub async fn unknown_route(req: Request) -> ApiError {
    Claim::set(&req, Envelope::for_unknown_path(req.uri().path()));
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Fallback for a known path with the wrong method.
pub async fn wrong_method(req: Request) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!(
            "method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use tiller_core::{Entity, Unique};

    use super::*;

    #[test]
    fn store_errors_map_to_kinds() {
        assert_eq!(
            ApiError::from(StoreError::NotFound(Entity::Session)).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            ApiError::from(StoreError::NotFound(Entity::Session)).message,
            "not found"
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict(Unique::TenantCompany)).kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict(Unique::MessageMsgId)).message,
            "msg_id already exists"
        );
        let other = StoreError::Other("boom".into());
        let e = ApiError::from(other);
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.message, "internal server error");
    }
}
