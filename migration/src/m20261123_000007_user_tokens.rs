//! Single-use, expiring tokens mailed to a user (email verification, password reset);
//! only their digests are stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000007_user_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (id, time) = match manager.get_database_backend() {
            DbBackend::Postgres => ("uuid", "timestamptz"),
            DbBackend::Sqlite => ("BLOB", "TEXT"),
            other => return Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        };
        let mut sql = format!(
            "CREATE TABLE user_tokens (\n\
               token_digest text PRIMARY KEY NOT NULL,\n\
               user_id {id} NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
               purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),\n\
               created_at {time} NOT NULL,\n\
               expires_at {time} NOT NULL,\n\
               used_at {time}\n\
             );\n\
             CREATE INDEX ix_user_tokens_user ON user_tokens (user_id, purpose);\n"
        );
        if manager.get_database_backend() == DbBackend::Postgres {
            sql.push_str(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON user_tokens TO {APP_ROLE};\n"
            ));
        }
        run_script(manager, &sql).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(manager, "DROP TABLE user_tokens;").await
    }
}
