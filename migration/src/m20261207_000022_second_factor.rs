//! A second factor for password log-ins: each person's TOTP authenticator (its secret
//! sealed by the application), their recovery codes (digests), the short-lived
//! challenges a correct password leads to, which sessions proved a second factor, and
//! which tenants require one. All are global tables like `users` and `sessions`: a
//! person's factor serves every tenant they belong to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{APP_ROLE, run_script};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000022_second_factor"
    }
}

fn up_script(id: &str, time: &str) -> String {
    format!(
        "CREATE TABLE user_totp (\n\
           user_id {id} PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
           sealed_secret text NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           confirmed_at {time},\n\
           last_used_step bigint\n\
         );\n\
         CREATE TABLE mfa_recovery_codes (\n\
           user_id {id} NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
           code_digest text NOT NULL,\n\
           created_at {time} NOT NULL,\n\
           used_at {time},\n\
           PRIMARY KEY (user_id, code_digest)\n\
         );\n\
         CREATE TABLE mfa_challenges (\n\
           challenge_digest text PRIMARY KEY NOT NULL,\n\
           user_id {id} NOT NULL REFERENCES users (id) ON DELETE CASCADE,\n\
           log_in_tenant_id {id} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,\n\
           created_at {time} NOT NULL,\n\
           expires_at {time} NOT NULL,\n\
           attempts integer NOT NULL DEFAULT 0,\n\
           used_at {time}\n\
         );\n\
         CREATE INDEX ix_mfa_challenges_user ON mfa_challenges (user_id);\n\
         ALTER TABLE sessions ADD COLUMN second_factor_at {time};\n\
         ALTER TABLE tenants ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;\n"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let mut sql = up_script("uuid", "timestamptz");
                sql.push_str(&format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON user_totp, mfa_recovery_codes, mfa_challenges TO {APP_ROLE};\n"
                ));
                run_script(manager, &sql).await
            }
            DbBackend::Sqlite => run_script(manager, &up_script("BLOB", "TEXT")).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_script(
            manager,
            "ALTER TABLE tenants DROP COLUMN mfa_required;\n\
             ALTER TABLE sessions DROP COLUMN second_factor_at;\n\
             DROP TABLE mfa_challenges;\n\
             DROP TABLE mfa_recovery_codes;\n\
             DROP TABLE user_totp;\n",
        )
        .await
    }
}
