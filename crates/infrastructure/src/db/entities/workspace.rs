use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Name, Slug, TenantId, Workspace, WorkspaceId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<Workspace, StoreError> {
        Ok(Workspace {
            id: WorkspaceId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            slug: Slug::parse(&self.slug).map_err(|e| corrupt("workspaces", "slug", e))?,
            name: Name::parse(&self.name).map_err(|e| corrupt("workspaces", "name", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(workspace: &Workspace) -> Self {
        Self {
            tenant_id: workspace.tenant_id.as_uuid(),
            id: workspace.id.as_uuid(),
            slug: workspace.slug.as_str().to_owned(),
            name: workspace.name.as_str().to_owned(),
            created_at: workspace.created_at,
            updated_at: workspace.updated_at,
        }
    }
}
