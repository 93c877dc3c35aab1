//! Upload file (上传文件): `POST /api/v1/file/upload`, a signed multipart body with one
//! `file` part; and `GET /files/{tenant}/{id}/{name}`, which serves it back. The URL is the
//! file's only credential (32 random hex), like the pre-signed media links AIRUDDER hands
//! out, so channels can fetch media that agents send.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tiller_core::{
    files::{mime_type_of, FileError},
    TenantId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{
        auth::SignedRaw,
        envelope::{V1Error, V1},
        ApiError,
    },
    state::AppState,
};

pub fn routes(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    // The upload limit replaces the general body limit on the upload route only.
    let upload = OpenApiRouter::new()
        .routes(routes!(upload_file))
        .layer(DefaultBodyLimit::max(max_upload_bytes));
    OpenApiRouter::new()
        .merge(upload)
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
        (status = 413, description = "Larger than files.max_upload_bytes", body = V1Error),
    )
)]
async fn upload_file(
    State(app): State<AppState>,
    req: SignedRaw,
) -> Result<V1<UploadOut>, ApiError> {
    let (name, bytes) = file_part(&req.headers, req.body).await?;
    let stored = app
        .files
        .put(req.tenant.id, &name, &bytes)
        .await
        .map_err(ApiError::internal)?;
    let base = public_base(&app, &req.headers);
    Ok(V1::ok(
        &req.request_id,
        UploadOut {
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
        },
    ))
}

/// The `file` part of a multipart body (or its only part), with its file name.
async fn file_part(headers: &HeaderMap, body: Bytes) -> Result<(String, Bytes), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::bad_request("send the file as multipart/form-data with a `file` part")
    })?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let bad = |e: multer::Error| ApiError::bad_request(format!("malformed multipart body: {e}"));
    let mut found = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let is_file = field.name() == Some("file") || field.file_name().is_some();
        if !is_file {
            continue;
        }
        if found.is_some() {
            return Err(ApiError::bad_request("send exactly one file per upload"));
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        found = Some((name, field.bytes().await.map_err(bad)?));
    }
    let (name, bytes) =
        found.ok_or_else(|| ApiError::bad_request("the multipart body has no `file` part"))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the uploaded file is empty"));
    }
    Ok((name, bytes))
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
    Path((tenant, id, name)): Path<(i64, String, String)>,
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
