//! The in-memory store: its state, and a transaction that works on a copy of it and
//! writes it back on commit, so rollback-on-drop behaves like a real store.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    ApiKey, Invitation, Membership, Role, SessionId, Tenant, TenantId, User, UserId, Workspace, WorkspaceId,
    WorkspaceMembership,
};
use uuid::Uuid;

use super::credentials::FakeSession;
use crate::ports::ApiKeyRepository;
use crate::ports::{
    InvitationRepository, MemberFilter, MembershipRepository, RoleRepository, SessionRepository, Store, StoreError,
    StoreResult, TenantRepository, Transaction, UserRepository, WorkspaceRepository,
};
use crate::{Page, PageRequest, TenantScope};

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
    pub billing_events: Vec<crate::ports::BillingEventRecord>,
    /// The daily usage rollups.
    pub usage: std::collections::BTreeMap<tessera_domain::UsageKey, tessera_domain::UsageCounts>,
    /// Tenant exports, each with its writer's lease.
    pub exports: Vec<(tessera_domain::TenantExport, Option<DateTime<Utc>>)>,
    /// Appended audit events, in order (committed with the rest of the transaction).
    pub audit: Vec<tessera_domain::NewAuditEvent>,
    pub totp: Vec<tessera_domain::TotpFactor>,
    pub recovery_codes: Vec<super::mfa::FakeRecoveryCode>,
    pub mfa_challenges: Vec<tessera_domain::MfaChallenge>,
    pub sso_connections: Vec<tessera_domain::SsoConnection>,
    pub sso_sign_ins: Vec<tessera_domain::SsoSignIn>,
    pub scim: super::scim::ScimState,
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
            single_read: false,
        }))
    }
    async fn begin_single_read(&self) -> StoreResult<Box<dyn Transaction>> {
        Ok(Box::new(FakeTransaction {
            shared: self.state.clone(),
            working: Mutex::new(self.snapshot()),
            entered: Mutex::new(None),
            single_read: true,
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
    pub(super) entered: Mutex<Option<TenantId>>,
    /// Opened by `begin_single_read`: like the real store's, it enters no tenant or user.
    single_read: bool,
}

impl FakeTransaction {
    fn require_transaction(&self) -> StoreResult<()> {
        match self.single_read {
            true => Err(StoreError::failure("a single read enters no tenant or user")),
            false => Ok(()),
        }
    }
}

impl FakeTransaction {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.working.lock().expect("fake transaction lock")
    }
}

/// One keyset page of `rows` by `(created_at, id)`, as the real store reads it: past
/// the cursor in the request's direction, one extra row to know whether more exist.
pub(super) fn keyset_page<T>(rows: Vec<T>, page: &PageRequest, key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) -> Page<T> {
    use crate::pagination::Direction;
    let cursor = page.cursor.map(|c| (c.created_at, c.id));
    let mut rows: Vec<T> = rows
        .into_iter()
        .filter(|row| match (cursor, page.direction) {
            (None, _) => true,
            (Some(cursor), Direction::Forward) => key(row) > cursor,
            (Some(cursor), Direction::Backward) => key(row) < cursor,
        })
        .collect();
    rows.sort_by_key(|row| key(row));
    if page.direction == Direction::Backward {
        rows.reverse();
    }
    rows.truncate(page.limit as usize + 1);
    Page::from_scan(page, rows)
}

/// Refuses to write a row of another tenant, with the real store's error.
pub(super) fn owned(scope: &TenantScope, row_tenant: TenantId) -> StoreResult<()> {
    if in_scope(scope, row_tenant) {
        Ok(())
    } else {
        Err(StoreError::failure(format!(
            "refused to write a row of tenant {row_tenant} inside the scope of tenant {}",
            scope.tenant_id()
        )))
    }
}

pub(super) fn in_scope(scope: &TenantScope, tenant: TenantId) -> bool {
    scope.tenant_id() == tenant
}

/// A row the fakes keep for one tenant.
pub(super) trait TenantRow: Clone {
    fn tenant(&self) -> TenantId;
}

macro_rules! tenant_rows {
    ($($row:ty),*) => {$(
        impl TenantRow for $row {
            fn tenant(&self) -> TenantId {
                self.tenant_id
            }
        }
    )*};
}
tenant_rows!(
    ApiKey,
    Invitation,
    Membership,
    Role,
    Workspace,
    WorkspaceMembership,
    tessera_domain::CustomDomain
);

/// The first of `scope`'s tenant's rows that `matches`.
pub(super) fn find_in<T: TenantRow>(rows: &[T], scope: &TenantScope, matches: impl Fn(&T) -> bool) -> Option<T> {
    rows.iter()
        .find(|row| in_scope(scope, row.tenant()) && matches(row))
        .cloned()
}

/// The first of `scope`'s tenant's rows that `matches`, to change in place.
pub(super) fn find_mut<'a, T: TenantRow>(
    rows: &'a mut [T],
    scope: &TenantScope,
    matches: impl Fn(&T) -> bool,
) -> Option<&'a mut T> {
    rows.iter_mut()
        .find(|row| in_scope(scope, row.tenant()) && matches(row))
}

/// Every one of `scope`'s tenant's rows that `matches`.
pub(super) fn pick<T: TenantRow>(rows: &[T], scope: &TenantScope, matches: impl Fn(&T) -> bool) -> Vec<T> {
    rows.iter()
        .filter(|row| in_scope(scope, row.tenant()) && matches(row))
        .cloned()
        .collect()
}

/// How many rows `scope`'s tenant has.
pub(super) fn count_in<T: TenantRow>(rows: &[T], scope: &TenantScope) -> u64 {
    rows.iter().filter(|row| in_scope(scope, row.tenant())).count() as u64
}

/// One page of `scope`'s tenant's rows, in the order `key` gives.
pub(super) fn page_in<T: TenantRow>(
    rows: &[T],
    scope: &TenantScope,
    page: &PageRequest,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Page<T> {
    let mine = rows
        .iter()
        .filter(|row| in_scope(scope, row.tenant()))
        .cloned()
        .collect();
    keyset_page(mine, page, key)
}

pub(super) fn belongs(state: &State, workspace: WorkspaceId, member_of: Option<UserId>) -> bool {
    member_of.is_none_or(|user| {
        state
            .workspace_members
            .iter()
            .any(|m| m.workspace_id == workspace && m.user_id == user)
    })
}

/// A user's workspace memberships in the scope, by `(created_at, id)`; with `visible_to`,
/// only in workspaces that user belongs to as well.
pub(super) fn workspaces_of_member(
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

/// The member filter, as the real store applies it: `search` is a substring of the
/// member's email or lower-cased display name.
pub(super) fn matches(state: &State, filter: &MemberFilter, membership: &Membership) -> bool {
    let found = |search: &str| {
        state.users.iter().any(|user| {
            user.id == membership.user_id
                && (user.email.as_str().contains(search) || user.display_name.as_str().to_lowercase().contains(search))
        })
    };
    filter.role_id.is_none_or(|role| membership.role_id == role)
        && filter.status.is_none_or(|status| membership.status == status)
        && filter.search.as_deref().is_none_or(found)
}

#[async_trait]
impl Transaction for FakeTransaction {
    async fn enter_tenant_exclusively(&self, scope: &TenantScope) -> StoreResult<()> {
        // The fake store's transactions already run one at a time.
        self.enter_tenant(scope).await
    }
    async fn enter_tenant_for_quota(&self, scope: &TenantScope) -> StoreResult<Tenant> {
        self.enter_tenant(scope).await?;
        self.state()
            .tenants
            .iter()
            .find(|t| t.id == scope.tenant_id())
            .cloned()
            .ok_or(StoreError::NotFound)
    }
    async fn enter_tenant(&self, scope: &TenantScope) -> StoreResult<()> {
        self.require_transaction()?;
        *self.entered.lock().expect("fake transaction lock") = Some(scope.tenant_id());
        Ok(())
    }
    async fn enter_user(&self, _user_id: UserId) -> StoreResult<()> {
        self.require_transaction()
    }
    fn users(&self) -> &dyn UserRepository {
        self
    }
    fn tenants(&self) -> &dyn TenantRepository {
        self
    }
    fn billing_events(&self) -> &dyn crate::ports::BillingEventRepository {
        self
    }
    fn usage(&self) -> &dyn crate::ports::UsageRepository {
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
    fn mfa(&self) -> &dyn crate::ports::MfaRepository {
        self
    }
    fn sso(&self) -> &dyn crate::ports::SsoRepository {
        self
    }
    fn scim(&self) -> &dyn crate::ports::ScimRepository {
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
    fn exports(&self) -> &dyn crate::ports::TenantExportRepository {
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
