//! Persisted queries: documents remembered by their SHA-256, so clients may send the
//! hash alone (automatic persisted queries). The store is a port: Redis when
//! replicas share it, in process otherwise. What one caller may add is bounded: each
//! tenant (for its members and keys) and each client address (for everyone else) may
//! register a limited number of new documents a day, so nobody can fill the store.

use tessera_domain::TenantId;

use crate::Application;
use crate::rate_limits::{Quota, address_bucket};

/// Who asks to remember a document.
#[derive(Debug, Clone, Copy)]
pub enum Registrant<'a> {
    /// A member or API key of this tenant: the tenant's budget.
    Tenant(TenantId),
    /// A caller without a credential, by client address (an IPv6 client by its /64).
    Address(&'a str),
}

/// How many new documents a registrant may add per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistedQuerySettings {
    pub registrations_per_day: u32,
}

impl Default for PersistedQuerySettings {
    fn default() -> Self {
        Self {
            registrations_per_day: 500,
        }
    }
}

impl Application {
    /// The document registered under `hash`, if any.
    pub async fn persisted_document(&self, hash: &str) -> Option<String> {
        self.ports.persisted_queries.get(hash).await
    }

    /// Registers `document` under `hash` (the caller has checked that it is its hash
    /// and that it is a valid document), unless the registrant has used up today's
    /// budget; then it is not stored and the client simply sends it again next time.
    /// Returns whether it was stored.
    pub async fn remember_document(&self, hash: &str, document: &str, registrant: Registrant<'_>) -> bool {
        if self.ports.persisted_queries.get(hash).await.is_some() {
            return true;
        }
        let key = match registrant {
            Registrant::Tenant(tenant_id) => format!("apq:tenant:{tenant_id}"),
            Registrant::Address(ip) => format!("apq:ip:{}", address_bucket(ip)),
        };
        let quota = Quota {
            limit: self.persisted.registrations_per_day.max(1),
            period: std::time::Duration::from_secs(24 * 60 * 60),
        };
        if !self.ports.rate_limiter.acquire(&key, quota).await.allowed {
            tracing::info!("a persisted document was not stored: the registrant's daily budget is spent");
            return false;
        }
        self.ports.persisted_queries.put(hash, document).await;
        true
    }
}
