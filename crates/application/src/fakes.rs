//! In-memory fakes of the ports, for unit-testing use cases without a database.
//! A transaction works on a copy of the state and writes it back on commit, so
//! rollback-on-drop behaves like a real store.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tessera_domain::{
    ApiKey, ApiKeyId, Email, Invitation, InvitationId, InvitationStatus, Membership, MembershipStatus, Password,
    PasswordHash, PermissionSet, Role, RoleId, SessionId, Slug, SystemRole, Tenant, TenantId, User, UserId, Workspace,
    WorkspaceId, WorkspaceMembership,
};
use uuid::Uuid;

use crate::ports::{
    AccessCache, AccessClaims, Clock, IdGenerator, InvitationRepository, IssuedSecret, Mailer, MemberAccess,
    MemberFilter, MembershipRepository, NewSession, PasswordHasher, RoleRepository, SecretGenerator, SessionRepository,
    Store, StoreError, StoreResult, TenantRepository, TokenError, TokenIssuer, Transaction, UserRepository,
    WorkspaceRepository,
};
use crate::ports::{ApiKeyRepository, CachedApiKey, HeldRole, OutgoingMail};
use crate::{Application, AuthSettings, Page, PageRequest, Ports, TenantScope};
use tessera_domain::Session;

#[derive(Clone, Default)]
pub struct State {
    pub users: Vec<User>,
    pub tenants: Vec<Tenant>,
    pub roles: Vec<Role>,
    pub memberships: Vec<Membership>,
    pub workspaces: Vec<Workspace>,
    pub workspace_members: Vec<WorkspaceMembership>,
    pub sessions: Vec<FakeSession>,
    pub invitations: Vec<Invitation>,
    pub used_refresh_digests: Vec<(String, SessionId)>,
    pub api_keys: Vec<ApiKey>,
    pub user_tokens: Vec<tessera_domain::UserToken>,
    pub custom_domains: Vec<tessera_domain::CustomDomain>,
    pub onboarding: Vec<tessera_domain::OnboardingRecord>,
    pub tenant_settings: Vec<tessera_domain::TenantSettings>,
    pub outbox: Vec<crate::ports::OutboxEvent>,
    /// Outbox events handed over, and when.
    pub delivered: Vec<(Uuid, DateTime<Utc>)>,
    pub webhook_endpoints: Vec<(tessera_domain::WebhookEndpoint, tessera_domain::SigningSecrets)>,
    pub webhook_deliveries: Vec<tessera_domain::WebhookDelivery>,
    /// Appended audit events, in order (committed with the rest of the transaction).
    pub audit: Vec<tessera_domain::NewAuditEvent>,
}

#[derive(Clone, Default)]
pub struct FakeStore {
    pub state: Arc<Mutex<State>>,
}

impl FakeStore {
    pub fn snapshot(&self) -> State {
        self.state.lock().expect("fake store lock").clone()
    }
}

#[async_trait]
impl Store for FakeStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Ok(Box::new(FakeTransaction {
            shared: self.state.clone(),
            working: Mutex::new(self.snapshot()),
            entered: Mutex::new(None),
        }))
    }
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

pub struct FakeTransaction {
    shared: Arc<Mutex<State>>,
    working: Mutex<State>,
    /// The tenant the transaction entered (Postgres would hold it in `app.tenant_id`).
    entered: Mutex<Option<TenantId>>,
}

impl FakeTransaction {
    fn state(&self) -> MutexGuard<'_, State> {
        self.working.lock().expect("fake transaction lock")
    }
}

/// The first page of `rows` in key order (the fakes do not follow cursors).
fn first_page<T, K: Ord>(mut rows: Vec<T>, page: &PageRequest, key: impl Fn(&T) -> K) -> Page<T> {
    rows.sort_by_key(|row| key(row));
    rows.truncate(page.limit as usize + 1);
    Page::from_scan(page, rows)
}

fn in_scope(scope: &TenantScope, tenant: TenantId) -> bool {
    scope.tenant_id() == tenant
}

fn belongs(state: &State, workspace: WorkspaceId, member_of: Option<UserId>) -> bool {
    member_of.is_none_or(|user| {
        state
            .workspace_members
            .iter()
            .any(|m| m.workspace_id == workspace && m.user_id == user)
    })
}

/// A user's workspace memberships in the scope, by `(created_at, id)`; with `visible_to`,
/// only in workspaces that user belongs to as well.
fn workspaces_of_member(
    state: &State,
    scope: &TenantScope,
    user_id: UserId,
    visible_to: Option<UserId>,
) -> Vec<WorkspaceMembership> {
    let mut rows: Vec<WorkspaceMembership> = state
        .workspace_members
        .iter()
        .filter(|m| in_scope(scope, m.tenant_id) && m.user_id == user_id && belongs(state, m.workspace_id, visible_to))
        .cloned()
        .collect();
    rows.sort_by_key(|m| (m.created_at, m.id));
    rows
}

fn matches(filter: &MemberFilter, membership: &Membership) -> bool {
    filter.role_id.is_none_or(|role| membership.role_id == role)
        && filter.status.is_none_or(|status| membership.status == status)
}

#[async_trait]
impl Transaction for FakeTransaction {
    async fn enter_tenant(&self, scope: &TenantScope) -> StoreResult<()> {
        *self.entered.lock().expect("fake transaction lock") = Some(scope.tenant_id());
        Ok(())
    }
    async fn enter_user(&self, _user_id: UserId) -> StoreResult<()> {
        Ok(())
    }
    fn users(&self) -> &dyn UserRepository {
        self
    }
    fn tenants(&self) -> &dyn TenantRepository {
        self
    }
    fn memberships(&self) -> &dyn MembershipRepository {
        self
    }
    fn roles(&self) -> &dyn RoleRepository {
        self
    }
    fn workspaces(&self) -> &dyn WorkspaceRepository {
        self
    }
    fn sessions(&self) -> &dyn SessionRepository {
        self
    }
    fn invitations(&self) -> &dyn InvitationRepository {
        self
    }
    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self
    }
    fn user_tokens(&self) -> &dyn crate::ports::UserTokenRepository {
        self
    }
    fn custom_domains(&self) -> &dyn crate::ports::CustomDomainRepository {
        self
    }
    fn onboarding(&self) -> &dyn crate::ports::OnboardingRepository {
        self
    }
    fn tenant_settings(&self) -> &dyn crate::ports::TenantSettingsRepository {
        self
    }
    fn outbox(&self) -> &dyn crate::ports::OutboxRepository {
        self
    }
    fn webhooks(&self) -> &dyn crate::ports::WebhookRepository {
        self
    }
    fn audit(&self) -> &dyn crate::ports::AuditRepository {
        self
    }
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let working = self.working.into_inner().expect("fake transaction lock");
        *self.shared.lock().expect("fake store lock") = working;
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
        let mut rows: Vec<Tenant> = self
            .state()
            .tenants
            .iter()
            .filter(|t| {
                search.is_none_or(|s| t.slug.as_str().contains(s) || t.name.as_str().to_lowercase().contains(s))
            })
            .cloned()
            .collect();
        rows.sort_by_key(|t| (t.created_at, t.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count_all(&self, search: Option<&str>) -> StoreResult<u64> {
        Ok(self
            .state()
            .tenants
            .iter()
            .filter(|t| {
                search.is_none_or(|s| t.slug.as_str().contains(s) || t.name.as_str().to_lowercase().contains(s))
            })
            .count() as u64)
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
    async fn update_status(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .tenants
            .iter_mut()
            .find(|t| t.id == tenant.id)
            .ok_or(StoreError::NotFound)?;
        stored.status = tenant.status;
        stored.updated_at = tenant.updated_at;
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
        assert!(
            in_scope(scope, membership.tenant_id),
            "membership written outside its scope"
        );
        self.state().memberships.push(membership.clone());
        Ok(())
    }
    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>> {
        Ok(self
            .state()
            .memberships
            .iter()
            .find(|m| in_scope(scope, m.tenant_id) && m.user_id == user_id)
            .cloned())
    }
    async fn update(&self, scope: &TenantScope, expected: &Membership, membership: &Membership) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .memberships
            .iter_mut()
            .find(|m| in_scope(scope, m.tenant_id) && m.id == membership.id)
            .ok_or(StoreError::NotFound)?;
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
        let mut rows: Vec<Membership> = self
            .state()
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && matches(filter, m))
            .cloned()
            .collect();
        rows.sort_by_key(|m| (m.created_at, m.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count(&self, scope: &TenantScope, filter: &MemberFilter) -> StoreResult<u64> {
        Ok(self
            .state()
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && matches(filter, m))
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
        let mut rows = own_active(&self.state(), user_id);
        rows.sort_by_key(|m| (m.created_at, m.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count_own_active(&self, user_id: UserId) -> StoreResult<u64> {
        Ok(own_active(&self.state(), user_id).len() as u64)
    }
    async fn find_by_users(&self, scope: &TenantScope, user_ids: &[UserId]) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state()
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && user_ids.contains(&m.user_id))
            .cloned()
            .collect())
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
        assert!(in_scope(scope, role.tenant_id), "role written outside its scope");
        self.state().roles.push(role.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>> {
        Ok(self
            .state()
            .roles
            .iter()
            .find(|r| in_scope(scope, r.tenant_id) && r.id == id)
            .cloned())
    }
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[RoleId]) -> StoreResult<Vec<Role>> {
        Ok(self
            .state()
            .roles
            .iter()
            .filter(|r| in_scope(scope, r.tenant_id) && ids.contains(&r.id))
            .cloned()
            .collect())
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
        Ok(self
            .state()
            .roles
            .iter()
            .find(|r| in_scope(scope, r.tenant_id) && r.system == Some(system))
            .cloned())
    }
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Role>> {
        let mut rows: Vec<Role> = self
            .state()
            .roles
            .iter()
            .filter(|r| in_scope(scope, r.tenant_id))
            .cloned()
            .collect();
        rows.sort_by_key(|r| (r.created_at, r.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .roles
            .iter()
            .filter(|r| in_scope(scope, r.tenant_id))
            .count() as u64)
    }
    async fn update(&self, scope: &TenantScope, expected: &Role, role: &Role) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .roles
            .iter_mut()
            .find(|r| in_scope(scope, r.tenant_id) && r.id == role.id)
            .ok_or(StoreError::NotFound)?;
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

#[async_trait]
impl WorkspaceRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()> {
        assert!(
            in_scope(scope, workspace.tenant_id),
            "workspace written outside its scope"
        );
        let mut state = self.state();
        if state
            .workspaces
            .iter()
            .any(|w| w.tenant_id == workspace.tenant_id && w.slug == workspace.slug)
        {
            return Err(StoreError::Duplicate("slug"));
        }
        state.workspaces.push(workspace.clone());
        Ok(())
    }
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[WorkspaceId]) -> StoreResult<Vec<Workspace>> {
        Ok(self
            .state()
            .workspaces
            .iter()
            .filter(|w| in_scope(scope, w.tenant_id) && ids.contains(&w.id))
            .cloned()
            .collect())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(self
            .state()
            .workspaces
            .iter()
            .find(|w| in_scope(scope, w.tenant_id) && w.id == id)
            .cloned())
    }
    async fn update(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .workspaces
            .iter_mut()
            .find(|w| in_scope(scope, w.tenant_id) && w.id == workspace.id)
            .ok_or(StoreError::NotFound)?;
        *stored = workspace.clone();
        Ok(())
    }
    async fn delete(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.workspaces.len();
        state
            .workspaces
            .retain(|w| !(in_scope(scope, w.tenant_id) && w.id == id));
        if state.workspaces.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn list(
        &self,
        scope: &TenantScope,
        member_of: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Workspace>> {
        let state = self.state();
        let mut rows: Vec<Workspace> = state
            .workspaces
            .iter()
            .filter(|w| in_scope(scope, w.tenant_id) && belongs(&state, w.id, member_of))
            .cloned()
            .collect();
        rows.sort_by_key(|w| (w.created_at, w.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count(&self, scope: &TenantScope, member_of: Option<UserId>) -> StoreResult<u64> {
        let state = self.state();
        Ok(state
            .workspaces
            .iter()
            .filter(|w| in_scope(scope, w.tenant_id) && belongs(&state, w.id, member_of))
            .count() as u64)
    }
    async fn find_member(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Option<WorkspaceMembership>> {
        Ok(self
            .state()
            .workspace_members
            .iter()
            .find(|m| in_scope(scope, m.tenant_id) && m.workspace_id == workspace_id && m.user_id == user_id)
            .cloned())
    }
    async fn memberships_of_user(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        Ok(self
            .state()
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.user_id == user_id && workspace_ids.contains(&m.workspace_id))
            .cloned()
            .collect())
    }
    async fn first_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        let mut rows: Vec<WorkspaceMembership> = self
            .state()
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && workspace_ids.contains(&m.workspace_id))
            .cloned()
            .collect();
        rows.sort_by_key(|m| (m.workspace_id, m.created_at, m.id));
        let mut kept = Vec::new();
        for workspace in workspace_ids {
            kept.extend(
                rows.iter()
                    .filter(|m| m.workspace_id == *workspace)
                    .take(per_workspace as usize)
                    .cloned(),
            );
        }
        Ok(kept)
    }
    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let mut rows: Vec<WorkspaceMembership> = self
            .state()
            .workspace_members
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.workspace_id == workspace_id)
            .cloned()
            .collect();
        rows.sort_by_key(|m| (m.created_at, m.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<(WorkspaceId, u64)>> {
        let state = self.state();
        Ok(workspace_ids
            .iter()
            .map(|id| {
                let count = state
                    .workspace_members
                    .iter()
                    .filter(|m| in_scope(scope, m.tenant_id) && m.workspace_id == *id)
                    .count() as u64;
                (*id, count)
            })
            .filter(|(_, count)| *count > 0)
            .collect())
    }
    async fn first_workspaces_of(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
        per_user: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>> {
        let mut kept = Vec::new();
        for user in user_ids {
            let mut rows = workspaces_of_member(&self.state(), scope, *user, visible_to);
            rows.truncate(per_user as usize);
            kept.extend(rows);
        }
        Ok(kept)
    }
    async fn list_of_member(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        visible_to: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>> {
        let mut rows = workspaces_of_member(&self.state(), scope, user_id, visible_to);
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count_of_members(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
    ) -> StoreResult<Vec<(UserId, u64)>> {
        let state = self.state();
        Ok(user_ids
            .iter()
            .map(|id| (*id, workspaces_of_member(&state, scope, *id, visible_to).len() as u64))
            .filter(|(_, count)| *count > 0)
            .collect())
    }
    async fn update_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .workspace_members
            .iter_mut()
            .find(|m| in_scope(scope, m.tenant_id) && m.id == member.id)
            .ok_or(StoreError::NotFound)?;
        *stored = member.clone();
        Ok(())
    }
    async fn remove_member(&self, scope: &TenantScope, workspace_id: WorkspaceId, user_id: UserId) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.workspace_members.len();
        state
            .workspace_members
            .retain(|m| !(in_scope(scope, m.tenant_id) && m.workspace_id == workspace_id && m.user_id == user_id));
        if state.workspace_members.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn add_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()> {
        assert!(
            in_scope(scope, member.tenant_id),
            "workspace member written outside its scope"
        );
        self.state().workspace_members.push(member.clone());
        Ok(())
    }
    async fn remove_member_everywhere(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<()> {
        self.state()
            .workspace_members
            .retain(|m| !(in_scope(scope, m.tenant_id) && m.user_id == user_id));
        Ok(())
    }
}

/// A stored session with its current refresh-token digest.
#[derive(Clone)]
pub struct FakeSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub current_tenant_id: TenantId,
    pub refresh_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn record(session: &FakeSession) -> Session {
    Session {
        id: session.id,
        user_id: session.user_id,
        current_tenant_id: session.current_tenant_id,
        user_agent: session.user_agent.clone(),
        ip: session.ip.clone(),
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        expires_at: session.expires_at,
        revoked_at: session.revoked_at,
    }
}

#[async_trait]
impl SessionRepository for FakeTransaction {
    async fn insert(&self, session: &NewSession) -> StoreResult<()> {
        self.state().sessions.push(FakeSession {
            id: session.id,
            user_id: session.user_id,
            current_tenant_id: session.current_tenant_id,
            refresh_token_hash: session.refresh_token_hash.clone(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            created_at: session.created_at,
            expires_at: session.expires_at,
            last_used_at: None,
            revoked_at: None,
        });
        Ok(())
    }
    async fn find_by_id(&self, id: SessionId) -> StoreResult<Option<Session>> {
        Ok(self.state().sessions.iter().find(|s| s.id == id).map(record))
    }
    async fn find_by_refresh_digest(&self, digest: &str) -> StoreResult<Option<Session>> {
        Ok(self
            .state()
            .sessions
            .iter()
            .find(|s| s.refresh_token_hash == digest)
            .map(record))
    }
    async fn find_by_used_refresh_digest(&self, digest: &str) -> StoreResult<Option<SessionId>> {
        Ok(self
            .state()
            .used_refresh_digests
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, id)| *id))
    }
    async fn rotate(
        &self,
        id: SessionId,
        old_digest: &str,
        new_digest: &str,
        tenant_id: TenantId,
        client: &crate::identity::ClientInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let session = state
            .sessions
            .iter_mut()
            .find(|s| s.id == id && s.refresh_token_hash == old_digest && s.revoked_at.is_none())
            .ok_or(StoreError::NotFound)?;
        session.refresh_token_hash = new_digest.to_owned();
        session.current_tenant_id = tenant_id;
        session.last_used_at = Some(now);
        if client.user_agent.is_some() {
            session.user_agent.clone_from(&client.user_agent);
        }
        if client.ip.is_some() {
            session.ip.clone_from(&client.ip);
        }
        state.used_refresh_digests.push((old_digest.to_owned(), id));
        Ok(())
    }
    async fn revoke(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        for session in self
            .state()
            .sessions
            .iter_mut()
            .filter(|s| s.id == id && s.revoked_at.is_none())
        {
            session.revoked_at = Some(now);
        }
        Ok(())
    }
    async fn revoke_all_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionId>> {
        let mut ended = Vec::new();
        for session in self
            .state()
            .sessions
            .iter_mut()
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none())
        {
            session.revoked_at = Some(now);
            ended.push(session.id);
        }
        Ok(ended)
    }
    async fn count_live_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .state()
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .map(record)
            .filter(|s| s.is_live(now))
            .count() as u64)
    }
    async fn list_live_for_user(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Session>> {
        let mut rows: Vec<Session> = self
            .state()
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .map(record)
            .filter(|s| s.is_live(now))
            .collect();
        rows.sort_by_key(|s| (s.created_at, s.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
}

#[async_trait]
impl InvitationRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        assert!(
            in_scope(scope, invitation.tenant_id),
            "invitation written outside its scope"
        );
        self.state().invitations.push(invitation.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: InvitationId) -> StoreResult<Option<Invitation>> {
        Ok(self
            .state()
            .invitations
            .iter()
            .find(|i| in_scope(scope, i.tenant_id) && i.id == id)
            .cloned())
    }
    async fn find_by_token_digest(&self, scope: &TenantScope, digest: &str) -> StoreResult<Option<Invitation>> {
        Ok(self
            .state()
            .invitations
            .iter()
            .find(|i| in_scope(scope, i.tenant_id) && i.token_digest == digest)
            .cloned())
    }
    async fn update(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .invitations
            .iter_mut()
            .find(|i| in_scope(scope, i.tenant_id) && i.id == invitation.id)
            .ok_or(StoreError::NotFound)?;
        if stored.status != tessera_domain::InvitationStatus::Pending {
            return Err(StoreError::Stale);
        }
        *stored = invitation.clone();
        Ok(())
    }
    async fn revoke_pending_for(&self, scope: &TenantScope, email: &Email) -> StoreResult<()> {
        for invitation in self
            .state()
            .invitations
            .iter_mut()
            .filter(|i| in_scope(scope, i.tenant_id) && &i.email == email && i.status == InvitationStatus::Pending)
        {
            invitation.status = InvitationStatus::Revoked;
        }
        Ok(())
    }
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Invitation>> {
        let mut rows: Vec<Invitation> = self
            .state()
            .invitations
            .iter()
            .filter(|i| in_scope(scope, i.tenant_id))
            .cloned()
            .collect();
        rows.sort_by_key(|i| (i.created_at, i.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .invitations
            .iter()
            .filter(|i| in_scope(scope, i.tenant_id))
            .count() as u64)
    }
}

/// A map, counting lookups, so tests can see hits and invalidations.
#[derive(Clone, Default)]
pub struct FakeAccessCache {
    pub entries: Arc<Mutex<std::collections::HashMap<(TenantId, UserId), MemberAccess>>>,
    pub revoked: Arc<Mutex<Vec<SessionId>>>,
    pub api_keys: Arc<Mutex<std::collections::HashMap<(TenantId, ApiKeyId), CachedApiKey>>>,
}

#[async_trait]
impl AccessCache for FakeAccessCache {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess> {
        self.entries
            .lock()
            .expect("cache lock")
            .get(&(tenant_id, user_id))
            .cloned()
    }
    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess) {
        self.entries
            .lock()
            .expect("cache lock")
            .insert((tenant_id, user_id), access.clone());
    }
    async fn get_api_key(&self, tenant_id: TenantId, key_id: ApiKeyId) -> Option<CachedApiKey> {
        self.api_keys
            .lock()
            .expect("cache lock")
            .get(&(tenant_id, key_id))
            .cloned()
    }
    async fn put_api_key(&self, key: &CachedApiKey) {
        self.api_keys
            .lock()
            .expect("cache lock")
            .insert((key.key.tenant_id, key.key.id), key.clone());
    }
    async fn invalidate_tenant(&self, tenant_id: TenantId) {
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|(tenant, _), _| *tenant != tenant_id);
        self.api_keys
            .lock()
            .expect("cache lock")
            .retain(|(tenant, _), _| *tenant != tenant_id);
    }
    async fn revoke_session(&self, session_id: SessionId) {
        self.revoked.lock().expect("cache lock").push(session_id);
    }
    async fn is_session_revoked(&self, session_id: SessionId) -> bool {
        self.revoked.lock().expect("cache lock").contains(&session_id)
    }
}

#[async_trait]
impl ApiKeyRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()> {
        assert!(in_scope(scope, key.tenant_id), "API key written outside its scope");
        self.state().api_keys.push(key.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        Ok(self
            .state()
            .api_keys
            .iter()
            .find(|k| in_scope(scope, k.tenant_id) && k.id == id)
            .cloned())
    }
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
        let mut rows: Vec<ApiKey> = self
            .state()
            .api_keys
            .iter()
            .filter(|k| in_scope(scope, k.tenant_id))
            .cloned()
            .collect();
        rows.sort_by_key(|k| (k.created_at, k.id));
        rows.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, rows))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .api_keys
            .iter()
            .filter(|k| in_scope(scope, k.tenant_id))
            .count() as u64)
    }
    async fn revoke(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        Ok(
            match state
                .api_keys
                .iter_mut()
                .find(|k| in_scope(scope, k.tenant_id) && k.id == id && k.revoked_at.is_none())
            {
                Some(key) => {
                    key.revoked_at = Some(at);
                    true
                }
                None => false,
            },
        )
    }
    async fn record_use(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        if let Some(key) = self
            .state()
            .api_keys
            .iter_mut()
            .find(|k| in_scope(scope, k.tenant_id) && k.id == id)
        {
            key.last_used_at = Some(at);
        }
        Ok(())
    }
    async fn restrict(
        &self,
        scope: &TenantScope,
        id: ApiKeyId,
        from: &PermissionSet,
        to: &PermissionSet,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        Ok(
            match state.api_keys.iter_mut().find(|k| {
                in_scope(scope, k.tenant_id) && k.id == id && k.revoked_at.is_none() && k.permissions == *from
            }) {
                Some(key) => {
                    key.permissions = to.clone();
                    true
                }
                None => false,
            },
        )
    }
    async fn live_created_by(
        &self,
        scope: &TenantScope,
        creators: &crate::ports::KeyCreators,
    ) -> StoreResult<Vec<ApiKey>> {
        let state = self.state();
        let made_it = |creator: UserId| match creators {
            crate::ports::KeyCreators::Person(user_id) => creator == *user_id,
            crate::ports::KeyCreators::HoldersOf(role_id) => state.memberships.iter().any(|m| {
                in_scope(scope, m.tenant_id)
                    && m.user_id == creator
                    && m.role_id == *role_id
                    && m.status != MembershipStatus::Removed
            }),
        };
        let mut keys: Vec<ApiKey> = state
            .api_keys
            .iter()
            .filter(|k| in_scope(scope, k.tenant_id) && k.revoked_at.is_none() && made_it(k.created_by))
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }
}

#[async_trait]
impl crate::ports::UserTokenRepository for FakeTransaction {
    async fn insert(&self, token: &tessera_domain::UserToken) -> StoreResult<()> {
        self.state().user_tokens.push(token.clone());
        Ok(())
    }
    async fn find_by_digest(&self, digest: &str) -> StoreResult<Option<tessera_domain::UserToken>> {
        Ok(self.state().user_tokens.iter().find(|t| t.digest == digest).cloned())
    }
    async fn mark_used(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let token = state
            .user_tokens
            .iter_mut()
            .find(|t| t.digest == digest && t.used_at.is_none())
            .ok_or(StoreError::NotFound)?;
        token.used_at = Some(at);
        Ok(())
    }
    async fn retire_all(
        &self,
        user_id: UserId,
        purpose: tessera_domain::TokenPurpose,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        for token in self
            .state()
            .user_tokens
            .iter_mut()
            .filter(|t| t.user_id == user_id && t.purpose == purpose && t.used_at.is_none())
        {
            token.used_at = Some(at);
        }
        Ok(())
    }
}

/// Counts failures per key, without time.
#[derive(Clone, Default)]
pub struct FakeAttempts {
    pub failures: Arc<Mutex<std::collections::HashMap<String, u32>>>,
}

#[async_trait]
impl crate::ports::AttemptLimiter for FakeAttempts {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let failures = self.failures.lock().expect("attempts lock");
        (failures.get(key).copied().unwrap_or(0) >= max).then_some(60)
    }
    async fn record_failure(&self, key: &str) {
        *self
            .failures
            .lock()
            .expect("attempts lock")
            .entry(key.to_owned())
            .or_default() += 1;
    }
    async fn reset(&self, key: &str) {
        self.failures.lock().expect("attempts lock").remove(key);
    }
}

/// Keeps sent mail for inspection.
#[derive(Clone, Default)]
pub struct FakeMailer {
    pub sent: Arc<Mutex<Vec<OutgoingMail>>>,
}

#[async_trait]
impl Mailer for FakeMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>> {
        self.sent.lock().expect("mailer lock").push(mail.clone());
        Ok(())
    }
}

/// "Hashes" by prefixing; verification compares. Enough to test the use cases' flow.
pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Box<dyn StdError + Send + Sync>> {
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.as_str() == format!("plain:{}", password.expose())
    }
    async fn verify_dummy(&self, _password: &Password) {}
}

/// Tokens are the claims in a readable form; `expired:` tokens are refused as expired.
pub struct ReadableTokens;

impl TokenIssuer for ReadableTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, Box<dyn StdError + Send + Sync>> {
        Ok(format!("{}|{}|{}", claims.user_id, claims.tenant_id, claims.session_id))
    }
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.starts_with("expired:") {
            return Err(TokenError::Expired);
        }
        let mut parts = token.split('|');
        let mut next = || parts.next().ok_or(TokenError::Invalid);
        let user_id = UserId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let tenant_id = TenantId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let session_id = tessera_domain::SessionId::parse(next()?).map_err(|_| TokenError::Invalid)?;
        let now = fixed_now();
        Ok(AccessClaims {
            user_id,
            tenant_id,
            session_id,
            issued_at: now,
            expires_at: now + Duration::minutes(15),
        })
    }
}

pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("a valid fixed time")
}

pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        fixed_now()
    }
}

pub struct SequentialIds(Mutex<u128>);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let mut next = self.0.lock().expect("id lock");
        *next += 1;
        Uuid::from_u128(*next)
    }
}

pub struct CountingSecrets(Mutex<u32>);

impl SecretGenerator for CountingSecrets {
    fn generate(&self, prefix: &str) -> IssuedSecret {
        let mut n = self.0.lock().expect("secret lock");
        *n += 1;
        let plain = format!("{prefix}secret-{n}");
        IssuedSecret {
            digest: self.digest(&plain),
            plain,
        }
    }
    fn digest(&self, plain: &str) -> String {
        format!("digest:{plain}")
    }
}

#[async_trait]
impl crate::ports::CustomDomainRepository for FakeTransaction {
    async fn list(&self, scope: &TenantScope) -> StoreResult<Vec<tessera_domain::CustomDomain>> {
        let mut rows: Vec<_> = self
            .state()
            .custom_domains
            .iter()
            .filter(|d| in_scope(scope, d.tenant_id))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.created_at, a.domain.as_str()).cmp(&(b.created_at, b.domain.as_str())));
        Ok(rows)
    }
    async fn find(
        &self,
        scope: &TenantScope,
        domain: &tessera_domain::DomainName,
    ) -> StoreResult<Option<tessera_domain::CustomDomain>> {
        Ok(self
            .state()
            .custom_domains
            .iter()
            .find(|d| in_scope(scope, d.tenant_id) && &d.domain == domain)
            .cloned())
    }
    async fn insert(&self, scope: &TenantScope, claim: &tessera_domain::CustomDomain) -> StoreResult<()> {
        assert!(in_scope(scope, claim.tenant_id), "domain claimed outside its scope");
        let mut state = self.state();
        if state
            .custom_domains
            .iter()
            .any(|d| d.tenant_id == claim.tenant_id && d.domain == claim.domain)
        {
            return Err(StoreError::Duplicate("domain"));
        }
        state.custom_domains.push(claim.clone());
        Ok(())
    }
    async fn mark_verified(
        &self,
        scope: &TenantScope,
        domain: &tessera_domain::DomainName,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .custom_domains
            .iter()
            .any(|d| !in_scope(scope, d.tenant_id) && &d.domain == domain && d.is_verified())
        {
            return Err(StoreError::Duplicate("domain"));
        }
        let claim = state
            .custom_domains
            .iter_mut()
            .find(|d| in_scope(scope, d.tenant_id) && &d.domain == domain)
            .ok_or(StoreError::NotFound)?;
        claim.verified_at = Some(at);
        claim.verification_token.clear();
        Ok(())
    }
    async fn delete(&self, scope: &TenantScope, domain: &tessera_domain::DomainName) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.custom_domains.len();
        state
            .custom_domains
            .retain(|d| !(in_scope(scope, d.tenant_id) && &d.domain == domain));
        if state.custom_domains.len() == before {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
    async fn find_verified_owner(&self, domain: &tessera_domain::DomainName) -> StoreResult<Option<TenantId>> {
        Ok(self
            .state()
            .custom_domains
            .iter()
            .find(|d| &d.domain == domain && d.is_verified())
            .map(|d| d.tenant_id))
    }
}

#[async_trait]
impl crate::ports::OnboardingRepository for FakeTransaction {
    async fn find(&self, user_id: UserId) -> StoreResult<Option<tessera_domain::OnboardingRecord>> {
        Ok(self
            .state()
            .onboarding
            .iter()
            .find(|r| r.progress.user_id == user_id)
            .cloned())
    }
    async fn insert(&self, record: &tessera_domain::OnboardingRecord) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .onboarding
            .iter()
            .any(|r| r.progress.user_id == record.progress.user_id)
        {
            return Err(StoreError::Duplicate("onboarding"));
        }
        state.onboarding.push(record.clone());
        Ok(())
    }
    async fn save(&self, record: &tessera_domain::OnboardingRecord, expected_version: i64) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .onboarding
            .iter_mut()
            .find(|r| r.progress.user_id == record.progress.user_id && r.progress.version == expected_version)
            .ok_or(StoreError::NotFound)?;
        *stored = record.clone();
        Ok(())
    }
    async fn is_completed(&self, user_id: UserId) -> StoreResult<bool> {
        Ok(self
            .state()
            .onboarding
            .iter()
            .any(|r| r.progress.user_id == user_id && r.progress.is_completed()))
    }
    async fn funnel(&self, scope: &TenantScope) -> StoreResult<crate::ports::OnboardingFunnel> {
        use tessera_domain::OnboardingStage;
        let state = self.state();
        let mut by_stage: Vec<(OnboardingStage, u64)> = OnboardingStage::ALL.iter().map(|s| (*s, 0)).collect();
        let mut durations = Vec::new();
        for member in state
            .memberships
            .iter()
            .filter(|m| in_scope(scope, m.tenant_id) && m.is_active())
        {
            let record = state.onboarding.iter().find(|r| r.progress.user_id == member.user_id);
            let stage = record.map_or(OnboardingStage::Started, |r| r.progress.stage);
            if let Some(entry) = by_stage.iter_mut().find(|(s, _)| *s == stage) {
                entry.1 += 1;
            }
            if let Some(done) = record.and_then(|r| r.progress.completed_at.map(|c| c - r.progress.started_at)) {
                durations.push(done.num_milliseconds() as f64 / 1000.0);
            }
        }
        durations.sort_by(f64::total_cmp);
        let median = match durations.len() {
            0 => None,
            n if n % 2 == 1 => Some(durations[n / 2]),
            n => Some((durations[n / 2 - 1] + durations[n / 2]) / 2.0),
        };
        let members = by_stage.iter().map(|(_, n)| n).sum();
        let completed = by_stage[by_stage.len() - 1].1;
        Ok(crate::ports::OnboardingFunnel {
            by_stage,
            members,
            completed,
            median_seconds_to_complete: median,
        })
    }
}

#[async_trait]
impl crate::ports::TenantSettingsRepository for FakeTransaction {
    async fn find(&self, scope: &TenantScope) -> StoreResult<Option<tessera_domain::TenantSettings>> {
        Ok(self
            .state()
            .tenant_settings
            .iter()
            .find(|s| in_scope(scope, s.tenant_id))
            .cloned())
    }
    async fn upsert(
        &self,
        scope: &TenantScope,
        previous: &tessera_domain::TenantSettings,
        settings: &tessera_domain::TenantSettings,
    ) -> StoreResult<()> {
        assert!(
            in_scope(scope, settings.tenant_id),
            "settings written outside their scope"
        );
        let mut state = self.state();
        let mut stored = state
            .tenant_settings
            .iter()
            .find(|s| s.tenant_id == settings.tenant_id)
            .cloned()
            .unwrap_or_else(|| previous.clone());
        macro_rules! changed {
            ($($field:ident),*) => {$(
                if settings.$field != previous.$field {
                    stored.$field = settings.$field.clone();
                }
            )*};
        }
        changed!(logo_url, primary_colour, locale, time_zone, company_size, industry);
        stored.updated_at = settings.updated_at;
        state.tenant_settings.retain(|s| s.tenant_id != settings.tenant_id);
        state.tenant_settings.push(stored);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::OutboxRepository for FakeTransaction {
    async fn record(&self, scope: &TenantScope, event: &crate::ports::OutboxEvent) -> StoreResult<()> {
        assert!(in_scope(scope, event.tenant_id), "event recorded outside its scope");
        self.state().outbox.push(event.clone());
        Ok(())
    }
    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<crate::ports::OutboxEvent>> {
        let state = self.state();
        Ok(state
            .outbox
            .iter()
            .filter(|e| in_scope(scope, e.tenant_id) && !state.delivered.iter().any(|(id, _)| *id == e.id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        let state = self.state();
        let mut tenants: Vec<TenantId> = state
            .outbox
            .iter()
            .filter(|e| {
                !state.delivered.iter().any(|(id, _)| *id == e.id) && e.next_attempt_at.is_none_or(|at| at <= now)
            })
            .map(|e| e.tenant_id)
            .collect();
        tenants.dedup();
        tenants.truncate(limit as usize);
        Ok(tenants)
    }
    async fn claim(&self, scope: &TenantScope, limit: u64) -> StoreResult<Option<Vec<crate::ports::OutboxEvent>>> {
        self.pending(scope, limit).await.map(Some)
    }
    async fn mark_delivered(&self, scope: &TenantScope, ids: &[Uuid], at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        for id in ids {
            assert!(
                state.outbox.iter().any(|e| e.id == *id && in_scope(scope, e.tenant_id)),
                "an event of another tenant marked"
            );
            state.delivered.push((*id, at));
        }
        Ok(())
    }
    async fn prune(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let old: Vec<Uuid> = state
            .delivered
            .iter()
            .filter(|(_, at)| *at < before)
            .map(|(id, _)| *id)
            .collect();
        let count = state.outbox.len();
        state
            .outbox
            .retain(|e| !(in_scope(scope, e.tenant_id) && old.contains(&e.id)));
        Ok((count - state.outbox.len()) as u64)
    }
    async fn postpone(&self, scope: &TenantScope, id: Uuid, attempts: u32, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let event = state
            .outbox
            .iter_mut()
            .find(|e| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        event.attempts = attempts;
        event.next_attempt_at = Some(at);
        Ok(())
    }
}

#[async_trait]
impl crate::ports::WebhookRepository for FakeTransaction {
    async fn insert_endpoint(
        &self,
        scope: &TenantScope,
        endpoint: &tessera_domain::WebhookEndpoint,
        secrets: &tessera_domain::SigningSecrets,
    ) -> StoreResult<()> {
        assert!(
            in_scope(scope, endpoint.tenant_id),
            "endpoint written outside its scope"
        );
        self.state().webhook_endpoints.push((endpoint.clone(), secrets.clone()));
        Ok(())
    }
    async fn find_endpoint(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<Option<tessera_domain::WebhookEndpoint>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .map(|(e, _)| e.clone()))
    }
    async fn list_endpoints(
        &self,
        scope: &TenantScope,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::WebhookEndpoint>> {
        let rows: Vec<_> = self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id))
            .map(|(e, _)| e.clone())
            .collect();
        Ok(first_page(rows, page, |e| (e.created_at, e.id.as_uuid())))
    }
    async fn count_endpoints(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id))
            .count() as u64)
    }
    async fn enabled_endpoints(&self, scope: &TenantScope) -> StoreResult<Vec<tessera_domain::WebhookEndpoint>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .filter(|(e, _)| in_scope(scope, e.tenant_id) && e.enabled)
            .map(|(e, _)| e.clone())
            .collect())
    }
    async fn update_endpoint(
        &self,
        scope: &TenantScope,
        expected: &tessera_domain::WebhookEndpoint,
        endpoint: &tessera_domain::WebhookEndpoint,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let (stored, _) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == endpoint.id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        if (stored.updated_at, stored.enabled) != (expected.updated_at, expected.enabled) {
            return Err(StoreError::Stale);
        }
        let failures = stored.failed_deliveries_in_a_row;
        *stored = endpoint.clone();
        stored.failed_deliveries_in_a_row = failures;
        Ok(())
    }
    async fn delete_endpoint(&self, scope: &TenantScope, id: tessera_domain::WebhookEndpointId) -> StoreResult<()> {
        let mut state = self.state();
        state
            .webhook_endpoints
            .retain(|(e, _)| !(e.id == id && in_scope(scope, e.tenant_id)));
        state.webhook_deliveries.retain(|d| d.endpoint_id != id);
        Ok(())
    }
    async fn secrets(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<Option<tessera_domain::SigningSecrets>> {
        Ok(self
            .state()
            .webhook_endpoints
            .iter()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .map(|(_, s)| s.clone()))
    }
    async fn set_secrets(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
        secrets: &tessera_domain::SigningSecrets,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let (_, stored) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        *stored = secrets.clone();
        Ok(())
    }
    async fn note_outcome(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookEndpointId,
        gave_up: bool,
    ) -> StoreResult<u32> {
        let mut state = self.state();
        let (stored, _) = state
            .webhook_endpoints
            .iter_mut()
            .find(|(e, _)| e.id == id && in_scope(scope, e.tenant_id))
            .ok_or(StoreError::NotFound)?;
        stored.failed_deliveries_in_a_row = if gave_up {
            stored.failed_deliveries_in_a_row + 1
        } else {
            0
        };
        Ok(stored.failed_deliveries_in_a_row)
    }
    async fn insert_deliveries(
        &self,
        scope: &TenantScope,
        deliveries: &[tessera_domain::WebhookDelivery],
    ) -> StoreResult<()> {
        let mut state = self.state();
        for delivery in deliveries {
            assert!(
                in_scope(scope, delivery.tenant_id),
                "delivery written outside its scope"
            );
            state.webhook_deliveries.push(delivery.clone());
        }
        Ok(())
    }
    async fn find_delivery(
        &self,
        scope: &TenantScope,
        id: tessera_domain::WebhookDeliveryId,
    ) -> StoreResult<Option<tessera_domain::WebhookDelivery>> {
        Ok(self
            .state()
            .webhook_deliveries
            .iter()
            .find(|d| d.id == id && in_scope(scope, d.tenant_id))
            .cloned())
    }
    async fn list_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::WebhookDelivery>> {
        let rows: Vec<_> = self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint && in_scope(scope, d.tenant_id))
            .cloned()
            .collect();
        Ok(first_page(rows, page, |d| (d.created_at, d.id.as_uuid())))
    }
    async fn count_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
    ) -> StoreResult<u64> {
        Ok(self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint && in_scope(scope, d.tenant_id))
            .count() as u64)
    }
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>> {
        let mut tenants: Vec<TenantId> = self
            .state()
            .webhook_deliveries
            .iter()
            .filter(|d| d.status == tessera_domain::DeliveryStatus::Pending && d.next_attempt_at <= now)
            .map(|d| d.tenant_id)
            .collect();
        tenants.dedup();
        tenants.truncate(limit as usize);
        Ok(tenants)
    }
    async fn claim_due(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
        skip: &[tessera_domain::WebhookEndpointId],
    ) -> StoreResult<Vec<tessera_domain::WebhookDelivery>> {
        let mut state = self.state();
        let mut claimed = Vec::new();
        let mut due: Vec<&mut tessera_domain::WebhookDelivery> = state
            .webhook_deliveries
            .iter_mut()
            .filter(|d| {
                in_scope(scope, d.tenant_id)
                    && d.status == tessera_domain::DeliveryStatus::Pending
                    && d.next_attempt_at <= now
                    && !skip.contains(&d.endpoint_id)
            })
            .collect();
        due.sort_by_key(|d| d.next_attempt_at);
        for delivery in due {
            if claimed.len() as u64 == limit {
                break;
            }
            claimed.push(delivery.clone());
            delivery.next_attempt_at = lease_until;
        }
        Ok(claimed)
    }
    async fn update_delivery(
        &self,
        scope: &TenantScope,
        delivery: &tessera_domain::WebhookDelivery,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let stored = state
            .webhook_deliveries
            .iter_mut()
            .find(|d| d.id == delivery.id && in_scope(scope, d.tenant_id))
            .ok_or(StoreError::NotFound)?;
        *stored = delivery.clone();
        Ok(())
    }
    async fn prune_deliveries(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let count = state.webhook_deliveries.len();
        state
            .webhook_deliveries
            .retain(|d| !(in_scope(scope, d.tenant_id) && d.completed_at.is_some_and(|at| at < before)));
        Ok((count - state.webhook_deliveries.len()) as u64)
    }
    async fn fail_pending(
        &self,
        scope: &TenantScope,
        endpoint: tessera_domain::WebhookEndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut failed = 0;
        for delivery in self.state().webhook_deliveries.iter_mut().filter(|d| {
            d.endpoint_id == endpoint
                && in_scope(scope, d.tenant_id)
                && d.status == tessera_domain::DeliveryStatus::Pending
        }) {
            delivery.status = tessera_domain::DeliveryStatus::Failed;
            delivery.last_error = Some(reason.to_owned());
            delivery.completed_at = Some(at);
            failed += 1;
        }
        Ok(failed)
    }
}

/// Remembers what was published; subscribers receive what is published after they subscribe.
#[derive(Clone, Default)]
pub struct FakeEventBus {
    pub published: Arc<Mutex<Vec<crate::ports::OutboxEvent>>>,
}

#[async_trait]
impl crate::ports::EventBus for FakeEventBus {
    async fn publish(&self, event: &crate::ports::OutboxEvent) {
        self.published.lock().expect("bus lock").push(event.clone());
    }
    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn crate::ports::EventSubscription> {
        let seen = self.published.lock().expect("bus lock").len();
        Box::new(FakeSubscription {
            published: self.published.clone(),
            tenant_id,
            seen,
        })
    }
}

struct FakeSubscription {
    published: Arc<Mutex<Vec<crate::ports::OutboxEvent>>>,
    tenant_id: TenantId,
    seen: usize,
}

#[async_trait]
impl crate::ports::EventSubscription for FakeSubscription {
    async fn next(&mut self) -> Option<crate::ports::OutboxEvent> {
        let published = self.published.lock().expect("bus lock");
        while let Some(event) = published.get(self.seen) {
            self.seen += 1;
            if event.tenant_id == self.tenant_id {
                return Some(event.clone());
            }
        }
        None
    }
}

/// Answers each delivery with the next scripted status (200 once the script is spent),
/// and remembers what it was asked to send.
#[derive(Clone, Default)]
pub struct FakeWebhookSender {
    pub script: Arc<Mutex<std::collections::VecDeque<u16>>>,
    pub sent: Arc<Mutex<Vec<crate::ports::OutgoingWebhook>>>,
    /// A receiver that never answers: sends to URLs containing this hang for good.
    pub black_hole: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl crate::ports::WebhookSender for FakeWebhookSender {
    async fn send(&self, webhook: &crate::ports::OutgoingWebhook) -> crate::ports::WebhookOutcome {
        self.sent.lock().expect("sender lock").push(webhook.clone());
        let hangs = self
            .black_hole
            .lock()
            .expect("sender lock")
            .as_deref()
            .is_some_and(|hole| webhook.url.contains(hole));
        if hangs {
            std::future::pending::<()>().await;
        }
        let status = self.script.lock().expect("sender lock").pop_front().unwrap_or(200);
        crate::ports::WebhookOutcome {
            status: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
        }
    }
}

#[async_trait]
impl crate::ports::AuditRepository for FakeTransaction {
    async fn append(&self, event: &tessera_domain::NewAuditEvent) -> StoreResult<()> {
        // As row level security would: a tenant's event needs the transaction in that tenant.
        if let Some(tenant) = event.tenant_id {
            let entered = *self.entered.lock().expect("fake transaction lock");
            assert_eq!(
                entered,
                Some(tenant),
                "`{}` appended outside its tenant's transaction",
                event.action
            );
        }
        self.state().audit.push(event.clone());
        Ok(())
    }
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &crate::ports::AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::AuditEvent>> {
        // Oldest first over the whole chain; the fake ignores cursors.
        let mut events: Vec<tessera_domain::AuditEvent> = self
            .state()
            .audit
            .iter()
            .enumerate()
            .filter(|(_, e)| e.tenant_id == Some(scope.tenant_id()))
            .filter(|(_, e)| filter.action.as_deref().is_none_or(|a| a == e.action))
            .map(|(n, e)| tessera_domain::AuditEvent {
                id: Uuid::from_u128(n as u128 + 1),
                sequence: n as i64 + 1,
                event: e.clone(),
                previous_hash: String::new(),
                hash: String::new(),
            })
            .collect();
        if page.direction == crate::pagination::Direction::Backward {
            events.reverse();
        }
        events.truncate(page.limit as usize + 1);
        Ok(Page::from_scan(page, events))
    }
    async fn count(&self, scope: &TenantScope, filter: &crate::ports::AuditFilter) -> StoreResult<u64> {
        Ok(self
            .state()
            .audit
            .iter()
            .filter(|e| e.tenant_id == Some(scope.tenant_id()))
            .filter(|e| filter.action.as_deref().is_none_or(|a| a == e.action))
            .count() as u64)
    }
}

#[derive(Default)]
pub struct FakePersistedQueries(Mutex<std::collections::HashMap<String, String>>);

#[async_trait]
impl crate::ports::PersistedQueryStore for FakePersistedQueries {
    async fn get(&self, hash: &str) -> Option<String> {
        self.0.lock().expect("fake persisted queries lock").get(hash).cloned()
    }
    async fn put(&self, hash: &str, document: &str) {
        self.0
            .lock()
            .expect("fake persisted queries lock")
            .insert(hash.to_owned(), document.to_owned());
    }
}

/// GCRA buckets in a map, on a clock that never moves (nothing refills).
#[derive(Default)]
pub struct FakeRateLimiter {
    buckets: Mutex<std::collections::HashMap<String, i64>>,
}

#[async_trait]
impl crate::ports::RateLimiter for FakeRateLimiter {
    async fn known_refusal(&self, key: &str, quota: crate::rate_limits::Quota) -> Option<std::time::Duration> {
        let buckets = self.buckets.lock().expect("fake rate limiter lock");
        let (decision, _) = crate::rate_limits::gcra(0, Some(*buckets.get(key)?), quota);
        decision.retry_after.filter(|_| !decision.allowed)
    }

    async fn acquire(&self, key: &str, quota: crate::rate_limits::Quota) -> crate::rate_limits::RateDecision {
        let mut buckets = self.buckets.lock().expect("fake rate limiter lock");
        let (decision, store) = crate::rate_limits::gcra(0, buckets.get(key).copied(), quota);
        if let Some(tat) = store {
            buckets.insert(key.to_owned(), tat);
        }
        decision
    }
}

/// Approves a domain whose name starts with `ok.` and refuses every other.
pub struct FakeDomainVerifier;

#[async_trait]
impl crate::ports::DomainVerifier for FakeDomainVerifier {
    async fn verify(&self, domain: &tessera_domain::DomainName, _token: &str) -> Result<(), String> {
        if domain.as_str().starts_with("ok.") {
            Ok(())
        } else {
            Err("the token is not served".into())
        }
    }
}

/// An application over fresh fakes, and the store to inspect. Onboarding does not
/// gate here (see [`application_with`]).
pub fn application() -> (Application, FakeStore) {
    application_with(AuthSettings {
        onboarding_gate: false,
        ..AuthSettings::default()
    })
}

pub fn application_with(auth: AuthSettings) -> (Application, FakeStore) {
    let store = FakeStore::default();
    let ports = Ports {
        store: Arc::new(store.clone()),
        password_hasher: Arc::new(PlainHasher),
        token_issuer: Arc::new(ReadableTokens),
        clock: Arc::new(FixedClock),
        ids: Arc::new(SequentialIds(Mutex::new(0))),
        secrets: Arc::new(CountingSecrets(Mutex::new(0))),
        mailer: Arc::new(FakeMailer::default()),
        access_cache: Arc::new(FakeAccessCache::default()),
        attempts: Arc::new(FakeAttempts::default()),
        domain_verifier: Arc::new(FakeDomainVerifier),
        rate_limiter: Arc::new(FakeRateLimiter::default()),
        persisted_queries: Arc::new(FakePersistedQueries::default()),
        event_bus: Arc::new(FakeEventBus::default()),
        webhook_sender: Arc::new(FakeWebhookSender::default()),
    };
    (Application::new(ports, auth), store)
}

/// An application whose event bus and webhook sender the test can see.
pub fn application_with_webhooks(
    settings: crate::webhooks::WebhookSettings,
) -> (Application, FakeStore, FakeEventBus, FakeWebhookSender) {
    let (app, store) = application_with(AuthSettings {
        onboarding_gate: false,
        ..AuthSettings::default()
    });
    let bus = FakeEventBus::default();
    let sender = FakeWebhookSender::default();
    let mut ports = app.ports.clone();
    ports.event_bus = Arc::new(bus.clone());
    ports.webhook_sender = Arc::new(sender.clone());
    let app = Application::new(ports, app.auth.clone()).with_webhooks(settings);
    (app, store, bus, sender)
}
