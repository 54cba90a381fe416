//! Persisted queries: documents remembered by their SHA-256, so clients may send the
//! hash alone (automatic persisted queries). The store is a port: Redis when
//! replicas share it, in process otherwise.

use crate::Application;

impl Application {
    /// The document registered under `hash`, if any.
    pub async fn persisted_document(&self, hash: &str) -> Option<String> {
        self.ports.persisted_queries.get(hash).await
    }

    /// Registers `document` under `hash`; the caller has checked that it is its hash.
    pub async fn remember_document(&self, hash: &str, document: &str) {
        self.ports.persisted_queries.put(hash, document).await;
    }
}
