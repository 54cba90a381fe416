//! Archives kept in a local directory: `<root>/<tenant>/<export>.tar.gz`, written first
//! under `<root>/.scratch/` and moved into place once complete (a reader never sees a
//! half-written archive). An object store would implement the same port.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tessera_application::ports::{ArchiveStorage, ByteStream, StoreError, StoreResult};
use tokio::io::AsyncReadExt as _;

/// Bytes read per chunk of a download.
const CHUNK: usize = 64 * 1024;

pub struct LocalArchiveStorage {
    root: PathBuf,
}

impl LocalArchiveStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file for `key`, which must be a relative path without `..`.
    fn path_of(&self, key: &str) -> StoreResult<PathBuf> {
        let relative = Path::new(key.trim_end_matches('/'));
        let plain = relative.components().all(|c| matches!(c, Component::Normal(_)));
        if key.is_empty() || !plain {
            return Err(StoreError::failure(format!("`{key}` is not an archive key")));
        }
        Ok(self.root.join(relative))
    }
}

fn failure(error: std::io::Error) -> StoreError {
    StoreError::failure(error)
}

#[async_trait]
impl ArchiveStorage for LocalArchiveStorage {
    fn scratch_path(&self, key: &str) -> PathBuf {
        self.root.join(".scratch").join(key.replace('/', "_"))
    }

    async fn put(&self, key: &str, file: &Path) -> StoreResult<()> {
        let target = self.path_of(key)?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(failure)?;
        }
        tokio::fs::rename(file, &target).await.map_err(failure)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<(u64, ByteStream)>> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(failure(error)),
        };
        let size = file.metadata().await.map_err(failure)?.len();
        let chunks = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buffer = vec![0; CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    Some((Ok(buffer), Some(file)))
                }
                Err(error) => Some((Err(error), None)),
            }
        });
        Ok(Some((size, chunks.boxed())))
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        let path = self.path_of(key)?;
        let removed = if key.ends_with('/') {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        match removed {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(failure(error)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_archive_is_stored_read_back_and_removed() {
        let root = std::env::temp_dir().join(format!("tessera-storage-{}", uuid::Uuid::now_v7()));
        let storage = LocalArchiveStorage::new(&root);
        let scratch = storage.scratch_path("t1/e1.tar.gz");
        tokio::fs::create_dir_all(scratch.parent().expect("parent"))
            .await
            .expect("dir");
        tokio::fs::write(&scratch, vec![7u8; CHUNK + 10]).await.expect("write");
        storage.put("t1/e1.tar.gz", &scratch).await.expect("put");
        let (size, mut chunks) = storage.get("t1/e1.tar.gz").await.expect("get").expect("stored");
        assert_eq!(size, (CHUNK + 10) as u64);
        let mut read = Vec::new();
        while let Some(chunk) = chunks.next().await {
            read.extend(chunk.expect("chunk"));
        }
        assert_eq!(read.len(), CHUNK + 10);
        assert!(
            storage.get("t1/../../etc/passwd").await.is_err(),
            "no way out of the root"
        );
        storage.delete("t1/").await.expect("delete the tenant's folder");
        assert!(storage.get("t1/e1.tar.gz").await.expect("get").is_none());
        storage.delete("t1/").await.expect("deleting twice is fine");
        let _ = std::fs::remove_dir_all(root);
    }
}
