//! Reading a signed multipart upload as it arrives. The caller is known from the headers
//! before the body is read ([`SignedStream`]); the body then flows through a tap that
//! counts it against `files.max_upload_bytes` and feeds the signature check, into multer,
//! and the file part into a staged file. The file is committed only when the whole body
//! carried the presented signature; otherwise it is discarded. Memory stays at one chunk.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};

use axum::{
    body::{BodyDataStream, Bytes},
    http::{header, HeaderMap},
};
use futures_util::{Stream, StreamExt as _};
use tiller_core::{
    files::{FileStorage, StagedFile, StoredFile},
    TenantId,
};

use super::{
    auth::{SignCheck, SignedStream},
    ApiError, ErrorKind,
};

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("the upload is larger than {limit} bytes (files.max_upload_bytes)"),
    )
}

/// Stores the one file of a signed multipart upload of at most `limit` bytes.
pub async fn receive(
    files: &dyn FileStorage,
    req: SignedStream,
    limit: usize,
) -> Result<StoredFile, ApiError> {
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let boundary = boundary(&req.headers);
    let tap = Arc::new(Mutex::new(Tap {
        stream: req.body.into_data_stream(),
        check: Some(req.check),
        read: 0,
        limit,
        over: false,
    }));
    let mut staged = None;
    let parsed = match boundary {
        Ok(boundary) => {
            let mut multipart = multer::Multipart::new(TapStream(tap.clone()), boundary);
            file_part(&mut multipart, files, req.tenant.id, &mut staged).await
        }
        Err(e) => Err(e),
    };
    // The signature is checked before anything about the body is reported, so an
    // unsigned caller learns nothing from body validation; that needs the whole body.
    let drained = drain(&tap).await;
    let (over, check) = {
        let mut tap = tap.lock().unwrap_or_else(PoisonError::into_inner);
        (tap.over, tap.check.take())
    };
    let outcome = if over {
        Err(too_large(limit))
    } else {
        drained
            .and_then(|()| {
                check.map_or_else(
                    || Err(ApiError::unauthorized("the signature was not checked")),
                    SignCheck::finish,
                )
            })
            .and(parsed)
    };
    match (outcome, staged) {
        (Ok(size), Some(file)) if size > 0 => file.commit().await.map_err(ApiError::internal),
        (outcome, staged) => {
            if let Some(file) = staged {
                file.discard().await;
            }
            Err(match outcome {
                Err(e) => e,
                Ok(0) => ApiError::bad_request("the uploaded file is empty"),
                Ok(_) => ApiError::bad_request("the multipart body has no `file` part"),
            })
        }
    }
}

fn boundary(headers: &HeaderMap) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    multer::parse_boundary(content_type).map_err(|_| {
        ApiError::bad_request("send the file as multipart/form-data with a `file` part")
    })
}

/// Streams the `file` part (or the only part with a file name) into a staged file and
/// returns its size.
async fn file_part(
    multipart: &mut multer::Multipart<'_>,
    files: &dyn FileStorage,
    tenant: TenantId,
    staged: &mut Option<Box<dyn StagedFile>>,
) -> Result<usize, ApiError> {
    let bad = |e: multer::Error| ApiError::bad_request(format!("malformed multipart body: {e}"));
    let mut size = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let is_file = field.name() == Some("file") || field.file_name().is_some();
        if !is_file {
            continue;
        }
        if staged.is_some() {
            return Err(ApiError::bad_request("send exactly one file per upload"));
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        let file = staged.insert(
            files
                .stage(tenant, &name)
                .await
                .map_err(ApiError::internal)?,
        );
        let mut written = 0;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            file.write(&chunk).await.map_err(ApiError::internal)?;
            written += chunk.len();
        }
        size = Some(written);
    }
    match size {
        Some(n) => Ok(n),
        None => Err(ApiError::bad_request(
            "the multipart body has no `file` part",
        )),
    }
}

/// Reads what multer left (the epilogue, or everything after a malformed part), so the
/// signature covers the whole body; stops at the limit.
async fn drain(tap: &Arc<Mutex<Tap>>) -> Result<(), ApiError> {
    let mut rest = TapStream(tap.clone());
    while let Some(chunk) = rest.next().await {
        if chunk.is_err() {
            return Err(ApiError::bad_request("the request body could not be read"));
        }
    }
    Ok(())
}

struct Tap {
    stream: BodyDataStream,
    check: Option<SignCheck>,
    read: usize,
    limit: usize,
    over: bool,
}

/// The body as multer reads it, counted and signed on the way.
struct TapStream(Arc<Mutex<Tap>>);

impl Stream for TapStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let tap = &mut *guard;
        if tap.over {
            return Poll::Ready(None);
        }
        match Pin::new(&mut tap.stream).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                tap.read += chunk.len();
                if tap.read > tap.limit {
                    tap.over = true;
                    return Poll::Ready(Some(Err(io::Error::other("upload over the limit"))));
                }
                if let Some(check) = &mut tap.check {
                    check.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
