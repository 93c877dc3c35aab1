//! Media: `GET /{version}/{media_id}` answers the metadata and a short-lived URL; that URL
//! (here `/fake/media/{id}`, at Meta a lookaside host) serves the bytes to a bearer of the
//! token; `POST /{version}/{phone_number_id}/media` uploads a file as multipart.

use std::sync::Arc;

use axum::{
    extract::{Multipart, Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    errors::GraphError,
    state::{Inner, Media, Shared},
};

impl Inner {
    pub fn add_media(&mut self, bytes: Vec<u8>, mime_type: &str) -> String {
        let id = self.numeric_id();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.media.insert(
            id.clone(),
            Media {
                bytes,
                mime_type: mime_type.to_owned(),
                sha256,
            },
        );
        id
    }
}

pub(super) async fn info(
    State(shared): State<Arc<Shared>>,
    Path((_version, media_id)): Path<(String, String)>,
) -> Response {
    let inner = shared.lock();
    let Some(media) = inner.media.get(&media_id) else {
        return GraphError::no_object("get", &media_id).into_response();
    };
    // Meta's URL carries a hash too; clients must fetch it as given, not build it.
    let url = format!(
        "{}/fake/media/{media_id}?hash={}",
        shared.base_url,
        &media.sha256[..16]
    );
    Json(json!({
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.bytes.len(),
        "id": media_id,
    }))
    .into_response()
}

pub(super) async fn download(
    State(shared): State<Arc<Shared>>,
    Path(media_id): Path<String>,
) -> Response {
    match shared.lock().media.get(&media_id) {
        Some(m) => (
            [(header::CONTENT_TYPE, m.mime_type.clone())],
            m.bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "unknown media").into_response(),
    }
}

pub(super) async fn upload(
    State(shared): State<Arc<Shared>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    multipart: Multipart,
) -> Response {
    match store_upload(&shared, &phone_number_id, multipart).await {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn store_upload(
    shared: &Shared,
    phone_number_id: &str,
    mut multipart: Multipart,
) -> Result<String, GraphError> {
    if !shared.lock().numbers.contains_key(phone_number_id) {
        return Err(GraphError::no_object("post", phone_number_id));
    }
    let malformed = |e: axum::extract::multipart::MultipartError| {
        GraphError::invalid_parameter(format!("Malformed multipart body: {e}"))
    };
    let (mut product, mut kind, mut file) = (None, None, None);
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("messaging_product") => product = Some(field.text().await.map_err(malformed)?),
            Some("type") => kind = Some(field.text().await.map_err(malformed)?),
            Some("file") => {
                let mime = field.content_type().map(str::to_owned);
                file = Some((mime, field.bytes().await.map_err(malformed)?));
            }
            Some(other) => return Err(GraphError::unexpected_key(other, None)),
            None => {}
        }
    }
    match product.as_deref() {
        None => return Err(GraphError::required("messaging_product")),
        Some(p) if !p.eq_ignore_ascii_case("whatsapp") => {
            return Err(GraphError::one_of("messaging_product", &["whatsapp"], p))
        }
        Some(_) => {}
    }
    let (file_mime, bytes) = file.ok_or_else(|| GraphError::required("file"))?;
    let mime = kind
        .or(file_mime)
        .ok_or_else(|| GraphError::required("type"))?;
    Ok(shared.lock().add_media(bytes.to_vec(), &mime))
}
