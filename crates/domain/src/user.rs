//! A user is a global identity: one person, one user, members of many tenants.

use chrono::{DateTime, Utc};
use std::fmt;

use crate::{DisplayName, Email, UserId};

/// A password hash in PHC string form. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub password_hash: PasswordHash,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub is_platform_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn register(
        id: UserId,
        email: Email,
        display_name: DisplayName,
        password_hash: PasswordHash,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            email,
            display_name,
            password_hash,
            email_verified_at: None,
            is_platform_admin: false,
            created_at: now,
            updated_at: now,
        }
    }
}
