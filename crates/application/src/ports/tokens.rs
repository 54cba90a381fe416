//! Access tokens: issuing and verifying them.

use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use tessera_domain::{SessionId, TenantId, UserId};

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session proved a second factor (`amr` holds `otp`).
    pub second_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Signs and checks access tokens.
pub trait TokenIssuer: Send + Sync {
    fn issue(&self, claims: &AccessClaims) -> Result<String, Box<dyn StdError + Send + Sync>>;
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError>;
}
