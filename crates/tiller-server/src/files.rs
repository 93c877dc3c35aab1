//! The local-disk [`FileStorage`]: `{dir}/{tenant}/{id}/{name}`. Writes go to a temporary
//! name first and are renamed into place, so a crash never leaves a half file behind.

use std::path::{Path, PathBuf};

use tiller_core::{
    files::{sanitize_name, FileError, FileStorage, StoredFile},
    TenantId,
};

#[derive(Debug, Clone)]
pub struct LocalFiles {
    dir: PathBuf,
}

impl LocalFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, t: TenantId, id: &str, name: &str) -> Option<PathBuf> {
        // Ids are ours (32 hex) and names are sanitised on the way in; refuse anything else
        // so a crafted URL cannot walk out of the directory.
        let id_ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
        (id_ok && sanitize_name(name) == name)
            .then(|| self.dir.join(t.0.to_string()).join(id).join(name))
    }
}

#[async_trait::async_trait]
impl FileStorage for LocalFiles {
    async fn put(&self, t: TenantId, name: &str, bytes: &[u8]) -> Result<StoredFile, FileError> {
        let id = tiller_core::ids::random_hex32();
        let name = sanitize_name(name);
        let path = self.path(t, &id, &name).ok_or(FileError::NotFound)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".{name}.partial"));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(StoredFile {
            tenant: t,
            id,
            name,
            size: bytes.len() as u64,
        })
    }

    async fn get(&self, t: TenantId, id: &str, name: &str) -> Result<Vec<u8>, FileError> {
        let path = self.path(t, id, name).ok_or(FileError::NotFound)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FileError::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_and_reads_back_and_refuses_crafted_paths() {
        let dir = tempfile::tempdir().unwrap();
        let files = LocalFiles::new(dir.path());
        let f = files.put(TenantId(7), "a b.txt", b"hello").await.unwrap();
        assert_eq!(f.name, "a_b.txt");
        assert_eq!(f.size, 5);
        assert_eq!(
            files.get(TenantId(7), &f.id, &f.name).await.unwrap(),
            b"hello"
        );
        assert!(matches!(
            files.get(TenantId(8), &f.id, &f.name).await,
            Err(FileError::NotFound)
        ));
        assert!(matches!(
            files.get(TenantId(7), "../../x", &f.name).await,
            Err(FileError::NotFound)
        ));
        assert!(matches!(
            files.get(TenantId(7), &f.id, "../a_b.txt").await,
            Err(FileError::NotFound)
        ));
    }
}
