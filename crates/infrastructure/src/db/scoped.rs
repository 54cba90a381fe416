//! Lock 2, the query lock: the one place that adds `tenant_id = scope.tenant()` to
//! selects, updates and deletes on tenant tables, and checks rows being inserted.
//! Repositories start every tenant-table statement here instead of filtering by hand.

use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany};
use tessera_application::TenantScope;
use tessera_application::ports::StoreError;
use tessera_domain::TenantId;

/// An entity whose rows belong to one tenant.
pub trait TenantOwned: EntityTrait {
    fn tenant_column() -> Self::Column;
}

/// `SELECT … WHERE tenant_id = <scope>`.
pub fn select<E: TenantOwned>(scope: &TenantScope) -> Select<E> {
    E::find().filter(E::tenant_column().eq(scope.tenant_id().as_uuid()))
}

/// `UPDATE … WHERE tenant_id = <scope>`.
pub fn update<E: TenantOwned>(scope: &TenantScope) -> UpdateMany<E> {
    E::update_many().filter(E::tenant_column().eq(scope.tenant_id().as_uuid()))
}

/// `DELETE … WHERE tenant_id = <scope>`.
pub fn delete<E: TenantOwned>(scope: &TenantScope) -> DeleteMany<E> {
    E::delete_many().filter(E::tenant_column().eq(scope.tenant_id().as_uuid()))
}

/// Refuses to write a row that belongs to another tenant than the scope.
pub fn ensure_owned(scope: &TenantScope, row_tenant: TenantId) -> Result<(), StoreError> {
    if scope.tenant_id() == row_tenant {
        Ok(())
    } else {
        Err(StoreError::failure(format!(
            "refused to write a row of tenant {row_tenant} inside the scope of tenant {}",
            scope.tenant_id()
        )))
    }
}
