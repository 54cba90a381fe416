//! Digests of refresh tokens already exchanged, so a replayed token is recognised and
//! its whole session ended (theft detection).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_refresh_token_history"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let sql = format!(
                    "CREATE TABLE used_refresh_tokens (\n\
                       token_digest text PRIMARY KEY,\n\
                       session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,\n\
                       used_at timestamptz NOT NULL\n\
                     );\n\
                     CREATE INDEX ix_used_refresh_tokens_session ON used_refresh_tokens (session_id);\n\
                     CREATE INDEX ix_sessions_user_created ON sessions (user_id, created_at, id);\n\
                     GRANT SELECT, INSERT, DELETE ON used_refresh_tokens TO {APP_ROLE};\n"
                );
                run_script(manager, &sql).await
            }
            DbBackend::Sqlite => {
                run_script(
                    manager,
                    "CREATE TABLE used_refresh_tokens (\n\
                       token_digest TEXT PRIMARY KEY NOT NULL,\n\
                       session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,\n\
                       used_at TEXT NOT NULL\n\
                     );\n\
                     CREATE INDEX ix_used_refresh_tokens_session ON used_refresh_tokens (session_id);\n\
                     CREATE INDEX ix_sessions_user_created ON sessions (user_id, created_at, id);\n",
                )
                .await
            }
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "DROP INDEX ix_sessions_user_created;\nDROP TABLE used_refresh_tokens;",
        )
        .await
    }
}
