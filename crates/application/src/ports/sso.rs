//! Single sign-on: the tenants' connections, the sign-ins in flight, and the OpenID
//! Connect client that talks to providers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{SsoConnection, SsoSignIn, UserId};

use super::StoreResult;
use crate::TenantScope;

#[async_trait]
pub trait SsoRepository: Send + Sync {
    async fn find_connection(&self, scope: &TenantScope) -> StoreResult<Option<SsoConnection>>;
    /// Creates or replaces the scope's connection.
    async fn put_connection(&self, scope: &TenantScope, connection: &SsoConnection) -> StoreResult<()>;
    /// `false` when there was none.
    async fn delete_connection(&self, scope: &TenantScope) -> StoreResult<bool>;
    /// Stores a sign-in, dropping sign-ins (of anyone) that ended before `now`.
    async fn insert_sign_in(&self, sign_in: &SsoSignIn, now: DateTime<Utc>) -> StoreResult<()>;
    async fn find_sign_in(&self, state_digest: &str) -> StoreResult<Option<SsoSignIn>>;
    /// Marks the provider's callback taken, only if it was not yet (`false` otherwise).
    async fn take_callback(&self, state_digest: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records who signed in and the digest of the hand-over code.
    async fn record_handover(&self, state_digest: &str, user_id: UserId, handover_digest: &str) -> StoreResult<()>;
    async fn find_handover(&self, handover_digest: &str) -> StoreResult<Option<SsoSignIn>>;
    /// Marks the hand-over code used, only if it was not yet (`false` otherwise).
    async fn take_handover(&self, handover_digest: &str, at: DateTime<Utc>) -> StoreResult<bool>;
}

/// Who a provider says signed in, from an ID token that was verified (signature with
/// the provider's published key and an algorithm it advertises, issuer, audience,
/// expiry, nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a provider step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused (e.g. the code was already used or has expired).
    #[error("the identity provider refused: {0}")]
    Refused(String),
    /// The ID token failed verification.
    #[error("the identity provider's token is not valid: {0}")]
    InvalidToken(String),
}

/// What one sign-in asks of the provider.
#[derive(Debug, Clone, Copy)]
pub struct OidcClientRef<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
}

/// The OpenID Connect relying party: discovery and keys (cached), the authorization
/// code flow with PKCE (S256), and ID token verification.
#[async_trait]
pub trait OidcClient: Send + Sync {
    /// The provider's authorization URL for this sign-in.
    async fn authorization_url(
        &self,
        client: OidcClientRef<'_>,
        state: &str,
        nonce: &str,
        code_verifier: &str,
    ) -> Result<String, OidcError>;
    /// Redeems the authorization code and verifies the ID token it returns.
    async fn redeem(
        &self,
        client: OidcClientRef<'_>,
        client_secret: &str,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<OidcIdentity, OidcError>;
}
