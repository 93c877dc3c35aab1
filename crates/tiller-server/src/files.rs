//! The local-disk [`FileStorage`]: `{dir}/{tenant}/{id}/{name}`. Writes go to a temporary
//! name first and are renamed into place, so a crash never leaves a half file behind.

use std::path::{Path, PathBuf};

use tiller_core::{
    files::{sanitize_name, FileError, FileStorage, StagedFile, StoredFile},
    TenantId,
};
use tokio::io::AsyncWriteExt as _;

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
    async fn stage(&self, t: TenantId, name: &str) -> Result<Box<dyn StagedFile>, FileError> {
        let id = tiller_core::ids::random_hex32();
        let name = sanitize_name(name);
        let path = self.path(t, &id, &name).ok_or(FileError::NotFound)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        tokio::fs::create_dir_all(&dir).await?;
        let tmp = dir.join(format!(".{name}.partial"));
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(Box::new(LocalStaged {
            file: tokio::io::BufWriter::new(file),
            tmp,
            path,
            dir,
            stored: StoredFile {
                tenant: t,
                id,
                name,
                size: 0,
            },
        }))
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

/// A file being written under a temporary name in its own directory.
struct LocalStaged {
    file: tokio::io::BufWriter<tokio::fs::File>,
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    stored: StoredFile,
}

#[async_trait::async_trait]
impl StagedFile for LocalStaged {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        self.file.write_all(chunk).await?;
        self.stored.size += chunk.len() as u64;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<StoredFile, FileError> {
        self.file.flush().await?;
        tokio::fs::rename(&self.tmp, &self.path).await?;
        Ok(self.stored)
    }

    async fn discard(self: Box<Self>) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.tmp).await;
        let _ = tokio::fs::remove_dir(&self.dir).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_discarded_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = LocalFiles::new(dir.path());
        let mut staged = files.stage(TenantId(7), "x.bin").await.unwrap();
        staged.write(b"abc").await.unwrap();
        staged.discard().await;
        let left: Vec<_> = std::fs::read_dir(dir.path().join("7")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

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
