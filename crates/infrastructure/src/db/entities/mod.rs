//! SeaORM entities: the table layout. They never leave this crate; each module maps
//! its row to the domain type next to the definition.

/// What every entity declares besides its model: no SeaORM relations (joins are
/// written in the repositories) and the default write behaviour. `table!(tenant)` also
/// names the column the scoped helpers filter every statement on.
macro_rules! table {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
    (tenant) => {
        table!();

        impl crate::db::scoped::TenantOwned for Entity {
            fn tenant_column() -> Column {
                Column::TenantId
            }
        }
    };
}
use table;

pub mod api_key;
pub mod audit_event;
pub mod billing_event;
pub mod invitation;
pub mod membership;
pub mod mfa_challenge;
pub mod mfa_recovery_code;
pub mod onboarding_progress;
pub mod outbox_event;
mod positional;
pub mod role;
pub mod role_permission;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_token;
pub mod scim_user;
pub mod session;
pub mod sso_connection;
pub mod sso_sign_in;
pub mod tenant;
pub mod tenant_domain;
pub mod tenant_export;
pub mod tenant_setting;
pub mod used_refresh_token;
pub mod user;
pub mod user_token;
pub mod user_totp;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod workspace;
pub mod workspace_member;

pub(crate) use positional::Positional;
use tessera_application::ports::StoreError;

/// A stored value that no longer passes the domain's rules is a storage fault.
pub(crate) fn corrupt(table: &str, column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::failure(format!("corrupt {table}.{column}: {detail}"))
}
