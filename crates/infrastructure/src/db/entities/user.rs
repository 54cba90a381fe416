use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{DisplayName, Email, PasswordHash, User, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub email_verified_at: Option<DateTimeUtc>,
    pub is_platform_admin: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!();

impl Model {
    pub fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            id: UserId::from_uuid(self.id),
            email: Email::parse(&self.email).map_err(|e| corrupt("users", "email", e))?,
            display_name: DisplayName::parse(&self.display_name).map_err(|e| corrupt("users", "display_name", e))?,
            password_hash: PasswordHash::new(self.password_hash),
            email_verified_at: self.email_verified_at,
            is_platform_admin: self.is_platform_admin,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            password_hash: user.password_hash.as_str().to_owned(),
            email_verified_at: user.email_verified_at,
            is_platform_admin: user.is_platform_admin,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}
