//! Single sign-on: each tenant's connection (a tenant table, through the query lock)
//! and the sign-ins in flight (global; every "once" is a conditional update).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tessera_application::TenantScope;
use tessera_application::ports::{SsoRepository, StoreResult};
use tessera_domain::{DomainName, IssuerUrl, RoleId, SsoConnection, SsoSignIn, TenantId, UserId};

use crate::db::entities::{corrupt, sso_connection, sso_sign_in};
use crate::db::{SeaTransaction, db_failure, found, scoped};

fn sign_in_of(row: sso_sign_in::Model) -> SsoSignIn {
    SsoSignIn {
        state_digest: row.state_digest,
        tenant_id: TenantId::from_uuid(row.sign_in_tenant_id),
        nonce: row.nonce,
        sealed_code_verifier: row.sealed_code_verifier,
        browser_digest: row.browser_digest,
        created_at: row.created_at,
        expires_at: row.expires_at,
        callback_at: row.callback_at,
        user_id: row.user_id.map(UserId::from_uuid),
        handover_digest: row.handover_digest,
        handed_over_at: row.handed_over_at,
        app_state: row.app_state,
    }
}

#[async_trait]
impl SsoRepository for SeaTransaction {
    async fn find_connection(&self, scope: &TenantScope) -> StoreResult<Option<SsoConnection>> {
        let Some(row) = scoped::select::<sso_connection::Entity>(scope)
            .one(&self.txn)
            .await
            .map_err(db_failure)?
        else {
            return Ok(None);
        };
        Ok(Some(SsoConnection {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            // Stored issuers were checked when set; loopback ones only where allowed then.
            issuer: IssuerUrl::parse(&row.issuer, true).map_err(|e| corrupt("sso_connections", "issuer", e))?,
            client_id: row.client_id,
            sealed_client_secret: row.sealed_client_secret,
            provisioned_role_id: RoleId::from_uuid(row.provisioned_role_id),
            domains: row
                .domains
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| DomainName::parse(d).map_err(|e| corrupt("sso_connections", "domains", e)))
                .collect::<Result<_, _>>()?,
            required: row.required,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    async fn put_connection(&self, scope: &TenantScope, connection: &SsoConnection) -> StoreResult<()> {
        scoped::ensure_owned(scope, connection.tenant_id)?;
        let row = sso_connection::ActiveModel {
            tenant_id: sea_orm::Set(connection.tenant_id.as_uuid()),
            issuer: sea_orm::Set(connection.issuer.as_str().to_owned()),
            client_id: sea_orm::Set(connection.client_id.clone()),
            sealed_client_secret: sea_orm::Set(connection.sealed_client_secret.clone()),
            provisioned_role_id: sea_orm::Set(connection.provisioned_role_id.as_uuid()),
            domains: sea_orm::Set(
                connection
                    .domains
                    .iter()
                    .map(DomainName::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            required: sea_orm::Set(connection.required),
            created_at: sea_orm::Set(connection.created_at),
            updated_at: sea_orm::Set(connection.updated_at),
        };
        sso_connection::Entity::insert(row)
            .on_conflict(
                OnConflict::column(sso_connection::Column::TenantId)
                    .update_columns([
                        sso_connection::Column::Issuer,
                        sso_connection::Column::ClientId,
                        sso_connection::Column::SealedClientSecret,
                        sso_connection::Column::ProvisionedRoleId,
                        sso_connection::Column::Domains,
                        sso_connection::Column::Required,
                        sso_connection::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn delete_connection(&self, scope: &TenantScope) -> StoreResult<bool> {
        let result = scoped::delete::<sso_connection::Entity>(scope)
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected > 0)
    }

    async fn insert_sign_in(&self, sign_in: &SsoSignIn, now: DateTime<Utc>) -> StoreResult<()> {
        // Sign-ins long over go; the index on expires_at keeps this cheap.
        sso_sign_in::Entity::delete_many()
            .filter(sso_sign_in::Column::ExpiresAt.lt(now - SsoSignIn::LIFETIME))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        self.insert_row(
            sso_sign_in::Model {
                state_digest: sign_in.state_digest.clone(),
                sign_in_tenant_id: sign_in.tenant_id.as_uuid(),
                nonce: sign_in.nonce.clone(),
                sealed_code_verifier: sign_in.sealed_code_verifier.clone(),
                browser_digest: sign_in.browser_digest.clone(),
                created_at: sign_in.created_at,
                expires_at: sign_in.expires_at,
                callback_at: None,
                user_id: None,
                handover_digest: None,
                handed_over_at: None,
                app_state: sign_in.app_state.clone(),
            },
            db_failure,
        )
        .await
    }

    async fn find_sign_in(&self, state_digest: &str) -> StoreResult<Option<SsoSignIn>> {
        Ok(sso_sign_in::Entity::find_by_id(state_digest.to_owned())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(sign_in_of))
    }

    async fn take_callback(&self, state_digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = sso_sign_in::Entity::update_many()
            .col_expr(sso_sign_in::Column::CallbackAt, Expr::value(Some(at)))
            .filter(sso_sign_in::Column::StateDigest.eq(state_digest))
            .filter(sso_sign_in::Column::CallbackAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }

    async fn record_handover(&self, state_digest: &str, user_id: UserId, handover_digest: &str) -> StoreResult<()> {
        let result = sso_sign_in::Entity::update_many()
            .col_expr(sso_sign_in::Column::UserId, Expr::value(Some(user_id.as_uuid())))
            .col_expr(sso_sign_in::Column::HandoverDigest, Expr::value(Some(handover_digest)))
            .filter(sso_sign_in::Column::StateDigest.eq(state_digest))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn find_handover(&self, handover_digest: &str) -> StoreResult<Option<SsoSignIn>> {
        Ok(sso_sign_in::Entity::find()
            .filter(sso_sign_in::Column::HandoverDigest.eq(handover_digest))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(sign_in_of))
    }

    async fn take_handover(&self, handover_digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = sso_sign_in::Entity::update_many()
            .col_expr(sso_sign_in::Column::HandedOverAt, Expr::value(Some(at)))
            .filter(sso_sign_in::Column::HandoverDigest.eq(handover_digest))
            .filter(sso_sign_in::Column::HandedOverAt.is_null())
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(result.rows_affected == 1)
    }
}
