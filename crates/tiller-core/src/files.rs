//! Uploaded files (the "upload file" chat API): a storage port so the local-disk default
//! can be joined by an S3-compatible store without touching the API.

use crate::TenantId;

/// A stored file: where it lives is the storage's business; `key` finds it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub tenant: TenantId,
    /// 32 hex, unguessable: the file's URL is its only credential (like a pre-signed URL).
    pub id: String,
    /// The sanitised file name.
    pub name: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("file not found")]
    NotFound,
    #[error("file storage failed")]
    Io(#[from] std::io::Error),
}

#[async_trait::async_trait]
pub trait FileStorage: Send + Sync {
    async fn put(&self, t: TenantId, name: &str, bytes: &[u8]) -> Result<StoredFile, FileError> {
        let mut staged = self.stage(t, name).await?;
        if let Err(e) = staged.write(bytes).await {
            staged.discard().await;
            return Err(e);
        }
        staged.commit().await
    }
    /// Starts a file written in pieces; it is visible only once committed.
    async fn stage(&self, t: TenantId, name: &str) -> Result<Box<dyn StagedFile>, FileError>;
    async fn get(&self, t: TenantId, id: &str, name: &str) -> Result<Vec<u8>, FileError>;
}

/// A file being written (a streamed upload): commit it once the request proved
/// authentic, or discard it.
#[async_trait::async_trait]
pub trait StagedFile: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), FileError>;
    async fn commit(self: Box<Self>) -> Result<StoredFile, FileError>;
    async fn discard(self: Box<Self>);
}

/// A file name safe on any disk and in a URL path: the last path component, with
/// characters other than letters, digits, `.`, `-` and `_` replaced by `_`.
pub fn sanitize_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if name.trim_matches('.').is_empty() {
        return "file".to_owned();
    }
    name
}

/// The MIME type implied by a URL's or file name's extension, for the common chat media
/// types; `None` when the extension is unknown.
pub fn mime_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    // Only the last path segment names a file: `https://x.com/23` has no extension.
    let file = path.rsplit('/').next().unwrap_or(path);
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "3gp" => "video/3gpp",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    })
}

/// A media message's MIME type: the link's extension when it has one, else the file
/// name's (pre-signed links such as `https://…/23?Expires=…` carry no extension, the
/// `name` beside them does).
pub fn media_mime_type(link: Option<&str>, name: Option<&str>) -> Option<&'static str> {
    link.and_then(mime_type_of)
        .or_else(|| name.and_then(mime_type_of))
}

#[cfg(test)]
mod tests {
    use super::{media_mime_type, mime_type_of, sanitize_name};

    #[test]
    fn media_mime_type_falls_back_to_the_file_name() {
        let link = "https://xxxxxxx.com/23?Expires=1760597396&";
        assert_eq!(mime_type_of(link), None, "a host's `.com` is no extension");
        assert_eq!(
            media_mime_type(Some(link), Some("樱花.jpg")),
            Some("image/jpeg")
        );
        assert_eq!(
            media_mime_type(Some("https://x/a.png"), Some("b.pdf")),
            Some("image/png"),
            "the link's own extension wins"
        );
        assert_eq!(
            media_mime_type(None, Some("b.pdf")),
            Some("application/pdf")
        );
        assert_eq!(media_mime_type(Some(link), None), None);
        assert_eq!(media_mime_type(None, None), None);
    }

    #[test]
    fn mime_types_follow_the_extension() {
        assert_eq!(
            mime_type_of("https://x/y/樱花.JPG?Expires=1"),
            Some("image/jpeg")
        );
        assert_eq!(mime_type_of("a.pdf"), Some("application/pdf"));
        assert_eq!(mime_type_of("https://x/noext"), None);
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize_name("report.pdf"), "report.pdf");
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\x\\my file (1).png"), "my_file__1_.png");
        assert_eq!(sanitize_name(".."), "file");
        assert_eq!(sanitize_name(""), "file");
        assert_eq!(sanitize_name(&"a".repeat(300)).len(), 128);
    }
}
