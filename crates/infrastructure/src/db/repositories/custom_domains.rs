use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tessera_application::TenantScope;
use tessera_application::ports::{CustomDomainRepository, StoreResult};
use tessera_domain::{CustomDomain, DomainName, TenantId};

use crate::db::entities::tenant_domain;
use crate::db::{SeaTransaction, db_failure, found, scoped, unique_as};

#[async_trait]
impl CustomDomainRepository for SeaTransaction {
    async fn list(&self, scope: &TenantScope) -> StoreResult<Vec<CustomDomain>> {
        scoped::select::<tenant_domain::Entity>(scope)
            .order_by_asc(tenant_domain::Column::CreatedAt)
            .order_by_asc(tenant_domain::Column::Domain)
            // The use cases cap claims far below this; the bound keeps the query bounded.
            .limit(100)
            .all(&self.txn)
            .await
            .map_err(db_failure)?
            .into_iter()
            .map(tenant_domain::Model::into_domain)
            .collect()
    }

    async fn find(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<Option<CustomDomain>> {
        scoped::select::<tenant_domain::Entity>(scope)
            .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant_domain::Model::into_domain)
            .transpose()
    }

    async fn insert(&self, scope: &TenantScope, claim: &CustomDomain) -> StoreResult<()> {
        scoped::ensure_owned(scope, claim.tenant_id)?;
        self.insert_row(tenant_domain::Model::from_domain(claim), unique_as("domain"))
            .await
    }

    async fn mark_verified(
        &self,
        scope: &TenantScope,
        domain: &DomainName,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let result = scoped::update::<tenant_domain::Entity>(scope)
            .col_expr(tenant_domain::Column::VerifiedAt, Expr::value(Some(at)))
            // Its job is done; verified rows are readable by every tenant's sessions.
            .col_expr(tenant_domain::Column::VerificationToken, Expr::value(""))
            .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
            .exec(&self.txn)
            .await
            .map_err(unique_as("domain"))?;
        found(result.rows_affected)
    }

    async fn delete(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<()> {
        let result = scoped::delete::<tenant_domain::Entity>(scope)
            .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        found(result.rows_affected)
    }

    async fn find_verified_owner(&self, domain: &DomainName) -> StoreResult<Option<TenantId>> {
        // Deliberately unscoped: the host names the tenant before one is chosen. Only
        // verified claims count (on Postgres, the only rows a policy shows here).
        let row = tenant_domain::Entity::find()
            .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
            .filter(tenant_domain::Column::VerifiedAt.is_not_null())
            .one(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(row.map(|row| TenantId::from_uuid(row.tenant_id)))
    }
}
