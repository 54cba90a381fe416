//! A workspace: a named area inside one tenant; slug unique within the tenant.

use chrono::{DateTime, Utc};

use crate::{Name, Slug, TenantId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub tenant_id: TenantId,
    pub slug: Slug,
    pub name: Name,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Workspace {
    pub fn new(id: WorkspaceId, tenant_id: TenantId, slug: Slug, name: Name, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant_id,
            slug,
            name,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn rename(&mut self, name: Name, now: DateTime<Utc>) {
        self.name = name;
        self.updated_at = now;
    }
}
