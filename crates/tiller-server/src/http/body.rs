//! Reading and parsing request bodies with errors in the API's envelope: a body over the
//! limit is a 413, malformed JSON and wrong shapes are 400s that say what is wrong.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::state::AppState;

/// Reads the whole body, honouring the configured size limit.
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                super::ErrorKind::PayloadTooLarge,
                format!(
                    "request body is larger than {} bytes",
                    state.cfg.server.body_limit_bytes
                ),
            )
        } else {
            ApiError::bad_request(format!(
                "could not read the request body: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Parses JSON, turning serde's error into a message that names the problem and place.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::bad_request(
                "request body is empty; expected a JSON object",
            ))
        }
        // serde would read a JSON array into a struct by position; no documented body is one.
        Some(b'[') => {
            return Err(ApiError::bad_request(
                "request body must be a JSON object, not an array",
            ))
        }
        Some(_) => {}
    }
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::bad_request(format!("invalid request body: {e}"))
        }
        _ => ApiError::bad_request(format!("malformed JSON: {e}")),
    })
}

/// `Json<T>` for unsigned routes, without axum's Content-Type requirement (integrators'
/// clients differ there) and with errors in our envelope.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The body as sent, for routes that must check a signature over the exact bytes before
/// reading them; the size limit and errors as [`read_body`]'s.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req, state).await.map(RawBody)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::http::ErrorKind;

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only the parse outcome matters")]
    struct In {
        name: String,
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = parse_json::<In>(b"").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        assert!(format!("{e:?}").contains("empty"));
        assert!(format!("{:?}", parse_json::<In>(b"{nope").unwrap_err()).contains("malformed JSON"));
        assert!(
            format!("{:?}", parse_json::<In>(b"{}").unwrap_err()).contains("missing field `name`")
        );
        assert!(
            format!("{:?}", parse_json::<In>(br#"{"name":5}"#).unwrap_err())
                .contains("invalid type")
        );
        assert!(parse_json::<In>(br#"{"name":"x"}"#).is_ok());
    }
}
