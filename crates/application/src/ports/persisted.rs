//! Persisted GraphQL documents by hash.

use async_trait::async_trait;

/// Documents by their SHA-256 (hex), for automatic persisted queries. Losing an entry
/// is harmless: the client sends the document again.
#[async_trait]
pub trait PersistedQueryStore: Send + Sync {
    async fn get(&self, hash: &str) -> Option<String>;
    async fn put(&self, hash: &str, document: &str);
}
