use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
use tessera_application::ports::{InvitationRepository, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::{Email, Invitation, InvitationId, InvitationStatus};

use crate::db::entities::invitation;
use crate::db::{SeaTransaction, db_failure, keyset, scoped, unchanged, unique_as};

#[async_trait]
impl InvitationRepository for SeaTransaction {
    async fn insert(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        scoped::ensure_owned(scope, invitation.tenant_id)?;
        self.insert_row(invitation::Model::from_domain(invitation), unique_as("token"))
            .await
    }

    async fn find_by_id(&self, scope: &TenantScope, id: InvitationId) -> StoreResult<Option<Invitation>> {
        scoped::select::<invitation::Entity>(scope)
            .filter(invitation::Column::Id.eq(id.as_uuid()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(invitation::Model::into_domain)
            .transpose()
    }

    async fn find_by_token_digest(&self, scope: &TenantScope, digest: &str) -> StoreResult<Option<Invitation>> {
        scoped::select::<invitation::Entity>(scope)
            .filter(invitation::Column::TokenDigest.eq(digest))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(invitation::Model::into_domain)
            .transpose()
    }

    async fn update(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        scoped::ensure_owned(scope, invitation.tenant_id)?;
        let result = scoped::update::<invitation::Entity>(scope)
            .col_expr(invitation::Column::Status, Expr::value(invitation.status.as_str()))
            .col_expr(invitation::Column::AcceptedAt, Expr::value(invitation.accepted_at))
            .filter(invitation::Column::Id.eq(invitation.id.as_uuid()))
            // Accepting and revoking both leave `pending`: of two racing, one lands.
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        unchanged(result.rows_affected)
    }

    async fn revoke_pending_for(&self, scope: &TenantScope, email: &Email) -> StoreResult<()> {
        scoped::update::<invitation::Entity>(scope)
            .col_expr(
                invitation::Column::Status,
                Expr::value(InvitationStatus::Revoked.as_str()),
            )
            .filter(invitation::Column::Email.eq(email.as_str()))
            .filter(invitation::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(())
    }

    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Invitation>> {
        let query = scoped::select::<invitation::Entity>(scope);
        keyset::fetch(
            &self.txn,
            query,
            invitation::Column::CreatedAt,
            invitation::Column::Id,
            page,
            invitation::Model::into_domain,
        )
        .await
    }

    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        scoped::select::<invitation::Entity>(scope)
            .count(&self.txn)
            .await
            .map_err(db_failure)
    }
}
