//! Users (global identities), their mailed single-use tokens, and password hashing.

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{DisplayName, Email, Password, PasswordHash, TokenPurpose, User, UserId, UserToken};

use super::StoreResult;
use crate::TenantScope;

/// Global user identities.
#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn insert(&self, user: &User) -> StoreResult<()>;
    async fn find_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// Those of these users who hold a membership (of any status) of the scope's
    /// tenant, in one statement: a user outside the tenant is absent.
    async fn find_members_by_ids(&self, scope: &TenantScope, ids: &[UserId]) -> StoreResult<Vec<User>>;
    async fn mark_email_verified(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn update_password(&self, id: UserId, hash: &PasswordHash, at: DateTime<Utc>) -> StoreResult<()>;
    /// Sets or clears the platform-administrator flag; `NotFound` without such a user.
    async fn set_platform_admin(&self, id: UserId, admin: bool) -> StoreResult<()>;
    /// `NotFound` without such a user.
    async fn update_display_name(&self, id: UserId, name: &DisplayName, at: DateTime<Utc>) -> StoreResult<()>;
    async fn exists_any(&self) -> StoreResult<bool>;
    /// Erases the person from the user row (email and name replaced with these, password
    /// hash cleared, verification and platform flag dropped) and from what hangs off it:
    /// their sessions' addresses and user agents, their onboarding answers, their mailed
    /// tokens. The id stays, so audit chains that name it still verify.
    async fn anonymise(&self, id: UserId, email: &Email, name: &DisplayName, at: DateTime<Utc>) -> StoreResult<()>;
}

#[async_trait]
pub trait UserTokenRepository: Send + Sync {
    async fn insert(&self, token: &UserToken) -> StoreResult<()>;
    async fn find_by_digest(&self, digest: &str) -> StoreResult<Option<UserToken>>;
    /// Marks the token used, only if it was not yet (`NotFound` otherwise).
    async fn mark_used(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Marks every unused token of the user for this purpose used (one outstanding at a time).
    async fn retire_all(&self, user_id: UserId, purpose: TokenPurpose, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Slow, salted password hashing (the adapter decides the algorithm and runs it off
/// the request threads).
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Box<dyn StdError + Send + Sync>>;
    /// `false` for a wrong password or an unreadable hash.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool;
    /// Spends the same time as a real check; used when the account does not exist so
    /// the answer's timing does not reveal that.
    async fn verify_dummy(&self, password: &Password);
}
