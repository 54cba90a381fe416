//! Users, tenants, memberships and roles in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    Email, InvitationStatus, Limit, Membership, MembershipStatus, PasswordHash, PermissionSet, Role, RoleId, Slug,
    SystemRole, Tenant, TenantId, User, UserId,
};

use crate::ports::HeldRole;
use crate::ports::{
    MemberFilter, MembershipRepository, RoleRepository, StoreError, StoreResult, TenantRepository, UserRepository,
};
use crate::{Page, PageRequest, TenantScope};

use super::store::*;

impl FakeTransaction {
    /// Applies `change` to the stored copy of `tenant` and saves its `updated_at`.
    fn update_tenant(&self, tenant: &Tenant, change: impl FnOnce(&mut Tenant)) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .tenants
            .iter_mut()
            .find(|t| t.id == tenant.id)
            .ok_or(StoreError::NotFound)?;
        change(stored);
        stored.updated_at = tenant.updated_at;
        Ok(())
    }
}

#[async_trait]
impl UserRepository for FakeTransaction {
    async fn insert(&self, user: &User) -> StoreResult<()> {
        let mut state = self.state();
        if state.users.iter().any(|u| u.email == user.email) {
            return Err(StoreError::Duplicate("email"));
        }
        state.users.push(user.clone());
        Ok(())
    }
    async fn find_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.state().users.iter().find(|u| u.id == id).cloned())
    }
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        Ok(self.state().users.iter().find(|u| &u.email == email).cloned())
    }
    async fn mark_email_verified(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(StoreError::NotFound)?;
        user.email_verified_at = Some(at);
        Ok(())
    }
    async fn update_password(&self, id: UserId, hash: &PasswordHash, _at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(StoreError::NotFound)?;
        user.password_hash = hash.clone();
        Ok(())
    }
    async fn anonymise(
        &self,
        id: UserId,
        email: &tessera_domain::Email,
        name: &tessera_domain::DisplayName,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        super::offboarding::anonymise(&mut self.state(), id, email, name, at)
    }
    async fn update_display_name(
        &self,
        id: UserId,
        name: &tessera_domain::DisplayName,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(StoreError::NotFound)?;
        user.display_name = name.clone();
        user.updated_at = at;
        Ok(())
    }
    async fn set_platform_admin(&self, id: UserId, admin: bool) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(StoreError::NotFound)?;
        user.is_platform_admin = admin;
        Ok(())
    }
    async fn find_members_by_ids(&self, scope: &TenantScope, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let state = self.state();
        Ok(state
            .users
            .iter()
            .filter(|u| {
                ids.contains(&u.id)
                    && state
                        .memberships
                        .iter()
                        .any(|m| in_scope(scope, m.tenant_id) && m.user_id == u.id)
            })
            .cloned()
            .collect())
    }
    async fn exists_any(&self) -> StoreResult<bool> {
        Ok(!self.state().users.is_empty())
    }
}

/// The tenant's slug or lower-cased name contains `search` (every tenant without one).
fn searched(t: &Tenant, search: Option<&str>) -> bool {
    search.is_none_or(|s| t.slug.as_str().contains(s) || t.name.as_str().to_lowercase().contains(s))
}

#[async_trait]
impl TenantRepository for FakeTransaction {
    async fn insert(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut state = self.state();
        if state.tenants.iter().any(|t| t.slug == tenant.slug) {
            return Err(StoreError::Duplicate("slug"));
        }
        state.tenants.push(tenant.clone());
        Ok(())
    }
    async fn find_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.state().tenants.iter().find(|t| t.id == id).cloned())
    }
    async fn list_all(&self, search: Option<&str>, page: &PageRequest) -> StoreResult<Page<Tenant>> {
        let rows: Vec<Tenant> = self
            .state()
            .tenants
            .iter()
            .filter(|t| searched(t, search))
            .cloned()
            .collect();
        Ok(keyset_page(rows, page, |t| (t.created_at, t.id.as_uuid())))
    }
    async fn count_all(&self, search: Option<&str>) -> StoreResult<u64> {
        Ok(self.state().tenants.iter().filter(|t| searched(t, search)).count() as u64)
    }
    async fn update_profile(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut state = self.state();
        if state.tenants.iter().any(|t| t.id != tenant.id && t.slug == tenant.slug) {
            return Err(StoreError::Duplicate("slug"));
        }
        let stored = state
            .tenants
            .iter_mut()
            .find(|t| t.id == tenant.id)
            .ok_or(StoreError::NotFound)?;
        stored.name = tenant.name.clone();
        stored.slug = tenant.slug.clone();
        stored.updated_at = tenant.updated_at;
        Ok(())
    }
    async fn update_security(&self, tenant: &Tenant) -> StoreResult<()> {
        self.update_tenant(tenant, |stored| stored.mfa_required = tenant.mfa_required)
    }
    async fn update_plan(&self, tenant: &Tenant) -> StoreResult<()> {
        self.update_tenant(tenant, |stored| {
            stored.plan = tenant.plan.clone();
            stored.plan_overrides = tenant.plan_overrides.clone();
        })
    }
    async fn quota_use(&self, scope: &TenantScope, quota: Limit, now: DateTime<Utc>) -> StoreResult<(Tenant, u64)> {
        let (tenant, held) = self.usage(scope, now).await?;
        Ok((tenant, held.get(&quota).copied().unwrap_or(0)))
    }
    async fn usage(&self, scope: &TenantScope, now: DateTime<Utc>) -> StoreResult<(Tenant, BTreeMap<Limit, u64>)> {
        let state = self.state();
        let tenant = state
            .tenants
            .iter()
            .find(|t| in_scope(scope, t.id))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let count = |quota: Limit| -> u64 {
            let n = match quota {
                Limit::Seats => {
                    state
                        .memberships
                        .iter()
                        .filter(|m| in_scope(scope, m.tenant_id) && m.is_active())
                        .count()
                        + state
                            .invitations
                            .iter()
                            .filter(|i| {
                                in_scope(scope, i.tenant_id)
                                    && i.status == InvitationStatus::Pending
                                    && i.expires_at > now
                            })
                            .count()
                }
                Limit::Workspaces => state.workspaces.iter().filter(|w| in_scope(scope, w.tenant_id)).count(),
                Limit::CustomRoles => state
                    .roles
                    .iter()
                    .filter(|r| in_scope(scope, r.tenant_id) && r.system.is_none())
                    .count(),
                Limit::ApiKeys => state
                    .api_keys
                    .iter()
                    .filter(|k| {
                        in_scope(scope, k.tenant_id)
                            && k.revoked_at.is_none()
                            && k.expires_at.is_none_or(|expiry| expiry > now)
                    })
                    .count(),
                Limit::WebhookEndpoints => state
                    .webhook_endpoints
                    .iter()
                    .filter(|(e, _)| in_scope(scope, e.tenant_id))
                    .count(),
                Limit::CustomDomains => state
                    .custom_domains
                    .iter()
                    .filter(|d| in_scope(scope, d.tenant_id))
                    .count(),
                _ => 0,
            };
            n as u64
        };
        let held = Limit::QUOTAS.iter().map(|quota| (*quota, count(*quota))).collect();
        Ok((tenant, held))
    }
    async fn update_status(&self, tenant: &Tenant, expected: tessera_domain::TenantStatus) -> StoreResult<()> {
        if self
            .state()
            .tenants
            .iter()
            .any(|t| t.id == tenant.id && t.status != expected)
        {
            return Err(StoreError::Stale);
        }
        self.update_tenant(tenant, |stored| {
            stored.status = tenant.status;
            stored.status_reason = tenant.status_reason;
            stored.deletion = tenant.deletion;
        })
    }
    async fn due_for_purge(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Tenant>> {
        let mut due: Vec<Tenant> = self
            .state()
            .tenants
            .iter()
            .filter(|t| {
                t.deletion.is_some() && (t.status == tessera_domain::TenantStatus::Deleted || t.is_due_for_purge(now))
            })
            .cloned()
            .collect();
        due.sort_by_key(|t| t.deletion.map(|d| d.due_at));
        due.truncate(limit as usize);
        Ok(due)
    }
    async fn delete(&self, id: TenantId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.tenants.len();
        state.tenants.retain(|t| t.id != id);
        if state.tenants.len() == before {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
    async fn find_joined_by(&self, user_id: UserId, ids: &[TenantId]) -> StoreResult<Vec<Tenant>> {
        let state = self.state();
        let joined: Vec<TenantId> = own_active(&state, user_id).iter().map(|m| m.tenant_id).collect();
        Ok(state
            .tenants
            .iter()
            .filter(|t| ids.contains(&t.id) && joined.contains(&t.id))
            .cloned()
            .collect())
    }
    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Tenant>> {
        Ok(self.state().tenants.iter().find(|t| &t.slug == slug).cloned())
    }
}

#[async_trait]
impl MembershipRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, membership: &Membership) -> StoreResult<()> {
        owned(scope, membership.tenant_id)?;
        self.state().memberships.push(membership.clone());
        Ok(())
    }
    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>> {
        Ok(find_in(&self.state().memberships, scope, |m| m.user_id == user_id))
    }
    async fn update(&self, scope: &TenantScope, expected: &Membership, membership: &Membership) -> StoreResult<()> {
        let mut state = self.state();
        let stored = find_mut(&mut state.memberships, scope, |m| m.id == membership.id).ok_or(StoreError::NotFound)?;
        if (stored.role_id, stored.status) != (expected.role_id, expected.status) {
            return Err(StoreError::Stale);
        }
        *stored = membership.clone();
        Ok(())
    }
    async fn lock_active_holders(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<Vec<UserId>> {
        Ok(self
            .state()
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.role_id == role_id && m.is_active())
            .map(|m| m.user_id)
            .collect())
    }
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>> {
        let state = self.state();
        let rows: Vec<Membership> = state
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && matches(&state, filter, m))
            .cloned()
            .collect();
        Ok(keyset_page(rows, page, |m| (m.created_at, m.id.as_uuid())))
    }
    async fn list_with_users(
        &self,
        scope: &TenantScope,
        f: &MemberFilter,
        p: &PageRequest,
    ) -> StoreResult<Page<(Membership, User)>> {
        let users = self.state().users.clone();
        let user = |id: UserId| users.iter().find(|u| u.id == id).cloned().ok_or(StoreError::NotFound);
        (MembershipRepository::list(self, scope, f, p).await?).try_map(|m| Ok((m.clone(), user(m.user_id)?)))
    }
    async fn count(&self, scope: &TenantScope, filter: &MemberFilter) -> StoreResult<u64> {
        let state = self.state();
        Ok(state
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && matches(&state, filter, m))
            .count() as u64)
    }
    async fn list_own(&self, user_id: UserId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state()
            .memberships
            .iter()
            .filter(|m| m.user_id == user_id)
            .cloned()
            .collect())
    }
    async fn list_own_active(&self, user_id: UserId, page: &PageRequest) -> StoreResult<Page<Membership>> {
        let rows = own_active(&self.state(), user_id);
        Ok(keyset_page(rows, page, |m| (m.created_at, m.id.as_uuid())))
    }
    async fn count_own_active(&self, user_id: UserId) -> StoreResult<u64> {
        Ok(own_active(&self.state(), user_id).len() as u64)
    }
    async fn find_by_users(&self, scope: &TenantScope, user_ids: &[UserId]) -> StoreResult<Vec<Membership>> {
        Ok(pick(&self.state().memberships, scope, |m| {
            user_ids.contains(&m.user_id)
        }))
    }
}

fn own_active(state: &State, user_id: UserId) -> Vec<Membership> {
    state
        .memberships
        .iter()
        .filter(|m| m.user_id == user_id && m.is_active())
        .filter(|m| {
            state
                .tenants
                .iter()
                .any(|t| t.id == m.tenant_id && !matches!(t.status, tessera_domain::TenantStatus::Deleted))
        })
        .cloned()
        .collect()
}

#[async_trait]
impl RoleRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, role: &Role) -> StoreResult<()> {
        owned(scope, role.tenant_id)?;
        self.state().roles.push(role.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>> {
        Ok(find_in(&self.state().roles, scope, |r| r.id == id))
    }
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[RoleId]) -> StoreResult<Vec<Role>> {
        Ok(pick(&self.state().roles, scope, |r| ids.contains(&r.id)))
    }
    async fn held_by(&self, user_id: UserId, tenant_ids: &[TenantId]) -> StoreResult<Vec<HeldRole>> {
        let state = self.state();
        Ok(state
            .memberships
            .iter()
            .filter(|m| m.user_id == user_id && tenant_ids.contains(&m.tenant_id))
            .filter_map(|m| {
                state
                    .roles
                    .iter()
                    .find(|r| r.tenant_id == m.tenant_id && r.id == m.role_id)
            })
            .map(|r| HeldRole {
                tenant_id: r.tenant_id,
                role_id: r.id,
                name: r.name.as_str().to_owned(),
                system: r.system,
            })
            .collect())
    }
    async fn find_system(&self, scope: &TenantScope, system: SystemRole) -> StoreResult<Option<Role>> {
        Ok(find_in(&self.state().roles, scope, |r| r.system == Some(system)))
    }
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Role>> {
        Ok(page_in(&self.state().roles, scope, page, |r| {
            (r.created_at, r.id.as_uuid())
        }))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(count_in(&self.state().roles, scope))
    }
    async fn update(&self, scope: &TenantScope, expected: &Role, role: &Role) -> StoreResult<()> {
        let mut state = self.state();
        let stored = find_mut(&mut state.roles, scope, |r| r.id == role.id).ok_or(StoreError::NotFound)?;
        if (&stored.name, &stored.permissions) != (&expected.name, &expected.permissions) {
            return Err(StoreError::Stale);
        }
        *stored = role.clone();
        Ok(())
    }
    async fn delete(&self, scope: &TenantScope, id: RoleId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.roles.len();
        state.roles.retain(|r| !(in_scope(scope, r.tenant_id) && r.id == id));
        if state.roles.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn count_holders(&self, scope: &TenantScope, id: RoleId) -> StoreResult<u64> {
        let state = self.state();
        let members = state
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.role_id == id && m.status != MembershipStatus::Removed)
            .count();
        let workspace_members = state
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.role_id == id)
            .count();
        Ok((members + workspace_members) as u64)
    }
    async fn reassign_holders(&self, scope: &TenantScope, from: RoleId, to: RoleId) -> StoreResult<()> {
        let mut state = self.state();
        for m in state
            .memberships
            .iter_mut()
            .filter(|m| in_scope(scope, m.tenant_id) && m.role_id == from)
        {
            m.role_id = to;
        }
        for m in state
            .workspace_members
            .iter_mut()
            .filter(|m| in_scope(scope, m.tenant_id) && m.role_id == from)
        {
            m.role_id = to;
        }
        Ok(())
    }
    async fn permissions_of(&self, scope: &TenantScope, id: RoleId) -> StoreResult<PermissionSet> {
        Ok(self
            .state()
            .roles
            .iter()
            .find(|r| in_scope(scope, r.tenant_id) && r.id == id)
            .map(|r| r.permissions.clone())
            .unwrap_or_default())
    }
}
