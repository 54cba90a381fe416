//! The runtime role moves an audit chain's head (its last position and hash) and
//! nothing else: where archiving left off (`archived_sequence`, `archived_hash`) is the
//! owner's, and `tessera audit verify` trusts it as the start of a chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000014_audit_head_grants"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(()); // SQLite has no roles
        }
        run_script(
            manager,
            &format!(
                "REVOKE UPDATE ON audit_chain_heads FROM {APP_ROLE};\n\
                 GRANT UPDATE (sequence, hash) ON audit_chain_heads TO {APP_ROLE};\n"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        run_script(
            manager,
            &format!(
                "REVOKE UPDATE (sequence, hash) ON audit_chain_heads FROM {APP_ROLE};\n\
                 GRANT UPDATE ON audit_chain_heads TO {APP_ROLE};\n"
            ),
        )
        .await
    }
}
