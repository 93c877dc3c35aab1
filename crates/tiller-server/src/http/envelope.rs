//! Success envelopes of the three surfaces (error envelopes are in `error.rs`).

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::RequestId;

/// AIRUDDER chatbot `/api/v1`: `{"request_id","code":200,"message":"Success","data"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct V1<T> {
    pub request_id: String,
    pub code: u16,
    pub message: &'static str,
    pub data: T,
}

impl<T> V1<T> {
    pub fn ok(request_id: &RequestId, data: T) -> Self {
        Self {
            request_id: request_id.0.clone(),
            code: 200,
            message: "Success",
            data,
        }
    }
}

/// AIRUDDER `/service/cloud`: `{"data","status":"OK","code":200}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cloud<T> {
    pub data: T,
    pub status: &'static str,
    pub code: u16,
}

impl<T> Cloud<T> {
    pub fn ok(data: T) -> Self {
        Self {
            data,
            status: "OK",
            code: 200,
        }
    }
}

/// nxlink object result: `{"code":0,"message":"","data","traceId"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Nx<T> {
    pub code: i64,
    pub message: &'static str,
    pub data: T,
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

impl<T> Nx<T> {
    pub fn ok(request_id: &RequestId, data: T) -> Self {
        Self {
            code: 0,
            message: "",
            data,
            trace_id: request_id.0.clone(),
        }
    }
}

/// `/api/v1` error: `code` is the HTTP status, `data` is null.
#[derive(Debug, Serialize, ToSchema)]
pub struct V1Error {
    pub request_id: String,
    pub code: u16,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub data: (),
}

/// `/service/cloud` error: `status` is the HTTP reason phrase.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloudError {
    #[schema(value_type = Option<Object>)]
    pub data: (),
    pub status: &'static str,
    pub code: u16,
    pub message: String,
}

/// nxlink error, sent with HTTP 200: 1001–1005 authentication, 1002 parameters,
/// endpoint codes such as 21058, 22072; -1 otherwise.
#[derive(Debug, Serialize, ToSchema)]
pub struct NxError {
    pub code: i64,
    pub message: String,
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

macro_rules! json_response {
    ($($t:ident),*) => {$(
        impl<T: Serialize> IntoResponse for $t<T> {
            fn into_response(self) -> Response {
                Json(self).into_response()
            }
        }
    )*};
}
json_response!(V1, Cloud, Nx);
