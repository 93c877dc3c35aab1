//! Upload file (上传文件): `POST /api/v1/file/upload`, a signed multipart body with one
//! `file` part; and `GET /files/{tenant}/{id}/{name}`, which serves it back. The URL is the
//! file's only credential (32 random hex), like the pre-signed media links AIRUDDER hands
//! out, so channels can fetch media that agents send.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tiller_core::{
    files::{mime_type_of, FileError, StoredFile},
    TenantId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        auth::SignedStream,
        envelope::{V1Error, V1},
        params::PathParams,
        upload, ApiError,
    },
    state::AppState,
};

/// The upload streams its body and enforces `files.max_upload_bytes` itself
/// (`http::upload`), so the general body limit does not apply to it.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_file))
        .routes(routes!(download_file))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadOut {
    pub file_id: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Where the file can be fetched; use it as `media.origin_url`.
    pub url: String,
}

/// 上传文件 / Upload file: a signed multipart body with one `file` part.
#[utoipa::path(
    post,
    path = "/api/v1/file/upload",
    tag = "files",
    request_body(content_type = "multipart/form-data", description = "One part named `file`; the signature covers the raw multipart bytes"),
    security(("airudder_sign" = [])),
    responses(
        (status = 200, body = V1<UploadOut>),
        (status = 400, body = V1Error),
        (status = 401, description = "Unknown key or bad signature; an unknown key is refused before the body is read", body = V1Error),
        (status = 413, description = "Larger than files.max_upload_bytes (16 MiB by default); the message says the limit", body = V1Error),
    )
)]
async fn upload_file(
    State(app): State<AppState>,
    req: SignedStream,
) -> Result<V1<UploadOut>, ApiError> {
    let (request_id, base) = (req.request_id.clone(), public_base(&app, &req.headers));
    let stored = upload::receive(app.files.as_ref(), req, app.cfg.files.max_upload_bytes).await?;
    Ok(V1::ok(&request_id, UploadOut::new(&base, stored)))
}

impl UploadOut {
    fn new(base: &str, stored: StoredFile) -> Self {
        Self {
            url: format!(
                "{base}/files/{}/{}/{}",
                stored.tenant, stored.id, stored.name
            ),
            content_type: mime_type_of(&stored.name)
                .unwrap_or("application/octet-stream")
                .to_owned(),
            file_id: stored.id,
            name: stored.name,
            size: stored.size,
        }
    }
}

/// `server.public_url`, or `http://{Host}` of the request when it is not configured.
fn public_base(app: &AppState, headers: &HeaderMap) -> String {
    let configured = app.cfg.server.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// An uploaded file; the URL from the upload API is its only credential.
#[utoipa::path(
    get,
    path = "/files/{tenant}/{id}/{name}",
    tag = "files",
    params(
        ("tenant" = i64, Path, description = "The owner's tenant_id"),
        ("id" = String, Path, description = "The file_id"),
        ("name" = String, Path, description = "The file name"),
    ),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = V1Error))
)]
async fn download_file(
    State(app): State<AppState>,
    PathParams((tenant, id, name)): PathParams<(i64, String, String)>,
) -> Result<Response, ApiError> {
    match app.files.get(TenantId(tenant), &id, &name).await {
        Ok(bytes) => {
            let mime = mime_type_of(&name).unwrap_or("application/octet-stream");
            Ok((
                [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
                bytes,
            )
                .into_response())
        }
        Err(FileError::NotFound) => Err(ApiError::not_found("no such file")),
        Err(e) => Err(ApiError::internal(e)),
    }
}
