//! Ports: what the use cases need from storage, crypto, time and randomness. Adapters
//! live in the infrastructure crate; tests may supply fakes.
//!
//! Every read and write goes through a [`Transaction`]. Tenant data is reachable only
//! after [`Transaction::enter_tenant`] with a [`TenantScope`], and every tenant-scoped
//! repository method takes that scope again, so the adapter can filter by it.

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    ApiKey, ApiKeyId, CustomDomain, DisplayName, DomainName, Email, Invitation, InvitationId, Membership,
    MembershipStatus, Onboarding, OnboardingStage, OrganizationInput, Password, PasswordHash, PermissionSet,
    PersonalInfoInput, Role, RoleId, SessionId, SigningSecrets, Slug, SystemRole, Tenant, TenantId, TenantSettings,
    TermsInput, User, UserId, WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId, Workspace,
    WorkspaceId, WorkspaceMembership,
};
use uuid::Uuid;

use crate::{Page, PageRequest, TenantScope};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule was broken; carries the input field it concerns.
    #[error("duplicate value for {0}")]
    Duplicate(&'static str),
    /// The row to change does not exist (or is not visible in this scope).
    #[error("row not found")]
    NotFound,
    /// The row no longer holds what the change was based on: another request changed
    /// it since it was read (a conditional update matched nothing).
    #[error("row changed meanwhile")]
    Stale,
    /// The store could not answer (connection, constraint, corrupt row…).
    #[error("store failure: {0}")]
    Failure(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    pub fn failure(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Failure(error.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Opens units of work.
#[async_trait]
pub trait Store: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}

/// One database transaction. Dropping it without `commit` rolls everything back.
/// After any error the transaction must be abandoned: some stores (Postgres) refuse
/// every later statement in it, and `commit` would silently roll back.
#[async_trait]
pub trait Transaction: Send + Sync {
    /// Binds the transaction to one tenant (on Postgres: the row-level-security setting).
    async fn enter_tenant(&self, scope: &TenantScope) -> StoreResult<()>;
    /// Lets the transaction read the given user's own memberships across tenants.
    async fn enter_user(&self, user_id: UserId) -> StoreResult<()>;

    fn users(&self) -> &dyn UserRepository;
    fn tenants(&self) -> &dyn TenantRepository;
    fn memberships(&self) -> &dyn MembershipRepository;
    fn roles(&self) -> &dyn RoleRepository;
    fn workspaces(&self) -> &dyn WorkspaceRepository;
    fn sessions(&self) -> &dyn SessionRepository;
    fn invitations(&self) -> &dyn InvitationRepository;
    fn api_keys(&self) -> &dyn ApiKeyRepository;
    fn user_tokens(&self) -> &dyn UserTokenRepository;
    fn custom_domains(&self) -> &dyn CustomDomainRepository;
    fn onboarding(&self) -> &dyn OnboardingRepository;
    fn tenant_settings(&self) -> &dyn TenantSettingsRepository;
    fn outbox(&self) -> &dyn OutboxRepository;
    fn webhooks(&self) -> &dyn WebhookRepository;
    fn audit(&self) -> &dyn AuditRepository;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Global user identities.
#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn insert(&self, user: &User) -> StoreResult<()>;
    async fn find_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// Those of these users who hold a membership (of any status) of the scope's
    /// tenant, in one statement: a user outside the tenant is absent.
    async fn find_members_by_ids(&self, scope: &TenantScope, ids: &[UserId]) -> StoreResult<Vec<User>>;
    async fn mark_email_verified(&self, id: UserId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn update_password(&self, id: UserId, hash: &PasswordHash, at: DateTime<Utc>) -> StoreResult<()>;
    /// Sets or clears the platform-administrator flag; `NotFound` without such a user.
    async fn set_platform_admin(&self, id: UserId, admin: bool) -> StoreResult<()>;
    /// `NotFound` without such a user.
    async fn update_display_name(&self, id: UserId, name: &DisplayName, at: DateTime<Utc>) -> StoreResult<()>;
    async fn exists_any(&self) -> StoreResult<bool>;
}

/// Tenants themselves (the table of tenants is not tenant-scoped).
#[async_trait]
pub trait TenantRepository: Send + Sync {
    async fn insert(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn find_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn find_by_slug(&self, slug: &Slug) -> StoreResult<Option<Tenant>>;
    /// Those of these tenants, not deleted, where the user holds an active membership (needs
    /// [`Transaction::enter_user`]), in one statement.
    async fn find_joined_by(&self, user_id: UserId, ids: &[TenantId]) -> StoreResult<Vec<Tenant>>;
    /// Every tenant (platform administration), keyset-paged; `search` matches slug or name.
    async fn list_all(&self, search: Option<&str>, page: &PageRequest) -> StoreResult<Page<Tenant>>;
    async fn count_all(&self, search: Option<&str>) -> StoreResult<u64>;
    /// Saves status and `updated_at`; `NotFound` when there is no such tenant.
    async fn update_status(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Saves name, slug and `updated_at`; `Duplicate("slug")` when the slug is taken.
    async fn update_profile(&self, tenant: &Tenant) -> StoreResult<()>;
}

/// A role the user holds somewhere, as their own membership shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRole {
    pub tenant_id: TenantId,
    pub role_id: RoleId,
    pub name: String,
    pub system: Option<SystemRole>,
}

/// Narrows a member list; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Case-insensitive substring of the member's email or display name.
    pub search: Option<String>,
    pub role_id: Option<RoleId>,
    pub status: Option<MembershipStatus>,
}

#[async_trait]
pub trait MembershipRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, membership: &Membership) -> StoreResult<()>;
    async fn find_by_user(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<Option<Membership>>;
    /// Saves role, status and `updated_at` only if the row still holds the role and
    /// status of `expected` (what the change was based on); `Stale` when another
    /// request changed them meanwhile, `NotFound` when the row is not in scope.
    async fn update(&self, scope: &TenantScope, expected: &Membership, membership: &Membership) -> StoreResult<()>;
    /// The active members holding `role_id`, locked until the transaction ends (on
    /// Postgres `FOR UPDATE`; SQLite runs one writer at a time): two owners leaving or
    /// demoting each other at once see each other's change, never both succeed.
    async fn lock_active_holders(&self, scope: &TenantScope, role_id: RoleId) -> StoreResult<Vec<UserId>>;
    /// Keyset page over `(created_at, id)`, filtered.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Membership>>;
    async fn count(&self, scope: &TenantScope, filter: &MemberFilter) -> StoreResult<u64>;
    /// The caller's own memberships in every tenant (needs [`Transaction::enter_user`]),
    /// oldest first. Used by the authentication path before any scope exists.
    async fn list_own(&self, user_id: UserId) -> StoreResult<Vec<Membership>>;
    /// The user's active memberships of tenants that are not deleted (needs
    /// [`Transaction::enter_user`]), keyset page over `(created_at, id)`.
    async fn list_own_active(&self, user_id: UserId, page: &PageRequest) -> StoreResult<Page<Membership>>;
    async fn count_own_active(&self, user_id: UserId) -> StoreResult<u64>;
    /// The memberships of these users in the scope's tenant, in one statement.
    async fn find_by_users(&self, scope: &TenantScope, user_ids: &[UserId]) -> StoreResult<Vec<Membership>>;
}

#[async_trait]
pub trait RoleRepository: Send + Sync {
    /// Stores the role and its permissions.
    async fn insert(&self, scope: &TenantScope, role: &Role) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: RoleId) -> StoreResult<Option<Role>>;
    /// Roles with their permissions, in a fixed number of statements.
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[RoleId]) -> StoreResult<Vec<Role>>;
    async fn find_system(&self, scope: &TenantScope, system: SystemRole) -> StoreResult<Option<Role>>;
    /// The roles of the user's own memberships in these tenants (needs
    /// [`Transaction::enter_user`]); one statement.
    async fn held_by(&self, user_id: UserId, tenant_ids: &[TenantId]) -> StoreResult<Vec<HeldRole>>;
    async fn permissions_of(&self, scope: &TenantScope, id: RoleId) -> StoreResult<PermissionSet>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Role>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Saves the name and the permission set of `role` if the stored role still has
    /// `expected`'s (what the change was based on), writing only what differs; `Stale`
    /// when another request changed it meanwhile.
    async fn update(&self, scope: &TenantScope, expected: &Role, role: &Role) -> StoreResult<()>;
    async fn delete(&self, scope: &TenantScope, id: RoleId) -> StoreResult<()>;
    /// Memberships (not removed) and workspace memberships that hold the role.
    async fn count_holders(&self, scope: &TenantScope, id: RoleId) -> StoreResult<u64>;
    /// Moves every membership and workspace membership from one role to another.
    async fn reassign_holders(&self, scope: &TenantScope, from: RoleId, to: RoleId) -> StoreResult<()>;
}

#[async_trait]
pub trait WorkspaceRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<Option<Workspace>>;
    /// One statement for any number of ids (ids outside the scope are absent).
    async fn find_by_ids(&self, scope: &TenantScope, ids: &[WorkspaceId]) -> StoreResult<Vec<Workspace>>;
    /// Saves name and `updated_at`; `NotFound` when the row is not in scope.
    async fn update(&self, scope: &TenantScope, workspace: &Workspace) -> StoreResult<()>;
    /// `NotFound` when the row is not in scope.
    async fn delete(&self, scope: &TenantScope, id: WorkspaceId) -> StoreResult<()>;
    /// The tenant's workspaces; with `member_of`, only those that user belongs to.
    async fn list(
        &self,
        scope: &TenantScope,
        member_of: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<Workspace>>;
    async fn count(&self, scope: &TenantScope, member_of: Option<UserId>) -> StoreResult<u64>;
    /// `Duplicate("userId")` when the user is already a member of the workspace.
    async fn add_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()>;
    async fn find_member(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Option<WorkspaceMembership>>;
    /// The user's own memberships among these workspaces.
    async fn memberships_of_user(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// The first `per_workspace` members of each workspace by `(created_at, id)`, in one
    /// statement (a window over the workspaces), ordered by workspace then that key.
    async fn first_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
        per_workspace: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// Keyset page over the workspace's members `(created_at, id)`.
    async fn list_members(
        &self,
        scope: &TenantScope,
        workspace_id: WorkspaceId,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>>;
    /// How many members each of these workspaces has, in one statement (a workspace
    /// without members, or outside the scope, is absent).
    async fn count_members_of(
        &self,
        scope: &TenantScope,
        workspace_ids: &[WorkspaceId],
    ) -> StoreResult<Vec<(WorkspaceId, u64)>>;
    /// The first `per_user` workspace memberships of each user by `(created_at, id)`,
    /// in one statement; with `visible_to`, only workspaces that user also belongs to.
    async fn first_workspaces_of(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
        per_user: u64,
    ) -> StoreResult<Vec<WorkspaceMembership>>;
    /// Keyset page over a user's workspace memberships `(created_at, id)`; with
    /// `visible_to`, only workspaces that user also belongs to.
    async fn list_of_member(
        &self,
        scope: &TenantScope,
        user_id: UserId,
        visible_to: Option<UserId>,
        page: &PageRequest,
    ) -> StoreResult<Page<WorkspaceMembership>>;
    /// How many workspaces each of these users belongs to (as `visible_to` sees them),
    /// in one statement; a user in none is absent.
    async fn count_of_members(
        &self,
        scope: &TenantScope,
        user_ids: &[UserId],
        visible_to: Option<UserId>,
    ) -> StoreResult<Vec<(UserId, u64)>>;
    /// Saves the member's workspace role; `NotFound` when not in scope.
    async fn update_member(&self, scope: &TenantScope, member: &WorkspaceMembership) -> StoreResult<()>;
    /// `NotFound` when the user is not a member of the workspace.
    async fn remove_member(&self, scope: &TenantScope, workspace_id: WorkspaceId, user_id: UserId) -> StoreResult<()>;
    /// Takes a user out of every workspace of the tenant.
    async fn remove_member_everywhere(&self, scope: &TenantScope, user_id: UserId) -> StoreResult<()>;
}

#[async_trait]
pub trait InvitationRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: InvitationId) -> StoreResult<Option<Invitation>>;
    async fn find_by_token_digest(&self, scope: &TenantScope, digest: &str) -> StoreResult<Option<Invitation>>;
    /// Saves status and `accepted_at` of an invitation that is still pending (accepting
    /// and revoking both start there); `Stale` when it no longer is, `NotFound` when
    /// not in scope.
    async fn update(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()>;
    /// Revokes every pending invitation to `email` (a new one replaces them).
    async fn revoke_pending_for(&self, scope: &TenantScope, email: &Email) -> StoreResult<()>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<Invitation>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
}

/// What the authentication path needs to know about a member of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccess {
    pub role_id: RoleId,
    pub permissions: PermissionSet,
    /// The user finished onboarding (until then, tenant work may be gated).
    pub onboarded: bool,
    /// The tenant's plan (sizes its rate limit).
    pub plan: tessera_domain::Plan,
}

/// An API key whose secret was verified, with its tenant's plan: what the next request
/// with the same key needs, without a database round trip. A usable key's permissions
/// are already cut down to what its creator holds; a revoked or expired key is kept
/// too, so presenting it again costs no database work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedApiKey {
    pub key: tessera_domain::ApiKey,
    pub plan: tessera_domain::Plan,
}

/// Documents by their SHA-256 (hex), for automatic persisted queries. Losing an entry
/// is harmless: the client sends the document again.
#[async_trait]
pub trait PersistedQueryStore: Send + Sync {
    async fn get(&self, hash: &str) -> Option<String>;
    async fn put(&self, hash: &str, document: &str);
}

/// Counts requests per bucket (GCRA, see [`crate::rate_limits::gcra`]). Never fails:
/// an adapter that loses its backend falls back to counting in process.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn acquire(&self, key: &str, quota: crate::rate_limits::Quota) -> crate::rate_limits::RateDecision;

    /// Whether the bucket refuses right now, as far as this process knows without a
    /// round trip or spending anything: `Some(retry after)` when it does. In process
    /// this is exact; a shared store answers with the refusals this process saw lately.
    async fn known_refusal(&self, key: &str, quota: crate::rate_limits::Quota) -> Option<std::time::Duration>;

    /// Takes one request from each bucket in order and stops at the first that refuses
    /// (the buckets after it are not spent): one decision per bucket looked at. An
    /// adapter may do it in one round trip.
    async fn acquire_in_order(
        &self,
        buckets: &[(String, crate::rate_limits::Quota)],
    ) -> Vec<crate::rate_limits::RateDecision> {
        let mut decisions = Vec::with_capacity(buckets.len());
        for (key, quota) in buckets {
            let decision = self.acquire(key, *quota).await;
            let refused = !decision.allowed;
            decisions.push(decision);
            if refused {
                break;
            }
        }
        decisions
    }
}

/// Remembers [`MemberAccess`] between requests. Every use case that changes roles or
/// memberships invalidates the tenant, so a change applies on the member's next
/// request. Adapters never fail the request: a cache that cannot answer is a miss.
#[async_trait]
pub trait AccessCache: Send + Sync {
    async fn get(&self, tenant_id: TenantId, user_id: UserId) -> Option<MemberAccess>;
    async fn put(&self, tenant_id: TenantId, user_id: UserId, access: &MemberAccess);
    /// A verified API key of the tenant, as stored by `put_api_key`.
    async fn get_api_key(&self, tenant_id: TenantId, key_id: tessera_domain::ApiKeyId) -> Option<CachedApiKey>;
    async fn put_api_key(&self, key: &CachedApiKey);
    /// Forgets every member and every API key of the tenant.
    async fn invalidate_tenant(&self, tenant_id: TenantId);
    /// Marks a session revoked, so its access tokens stop working before they expire
    /// (kept at least as long as an access token lives).
    async fn revoke_session(&self, session_id: SessionId);
    async fn is_session_revoked(&self, session_id: SessionId) -> bool;
    /// Both checks of an authentication: is the session revoked, and the member's
    /// cached access (one round trip where the backend allows it).
    async fn lookup(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_id: SessionId,
    ) -> (bool, Option<MemberAccess>) {
        if self.is_session_revoked(session_id).await {
            return (true, None);
        }
        (false, self.get(tenant_id, user_id).await)
    }
}

#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()>;
    async fn find_by_id(&self, scope: &TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>>;
    /// Keyset page over `(created_at, id)`.
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<ApiKey>>;
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Revokes the key at `at`; `false` when it was already revoked. Touches nothing else.
    async fn revoke(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Notes the key's use at `at`, and nothing else (a revocation committed meanwhile stands).
    async fn record_use(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Narrows a live key's permissions from `from` to `to`; `false` when the key was
    /// revoked or its permissions changed meanwhile.
    async fn restrict(
        &self,
        scope: &TenantScope,
        id: ApiKeyId,
        from: &PermissionSet,
        to: &PermissionSet,
    ) -> StoreResult<bool>;
    /// The keys not yet revoked that these people created, oldest first.
    async fn live_created_by(&self, scope: &TenantScope, creators: &KeyCreators) -> StoreResult<Vec<ApiKey>>;
}

/// Whose API keys: one person's, or those of everyone whose tenant membership (not
/// removed) holds a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCreators {
    Person(UserId),
    HoldersOf(RoleId),
}

/// Counts failed attempts per key in a fixed window (log-in throttling).
#[async_trait]
pub trait AttemptLimiter: Send + Sync {
    /// Seconds until the key may try again, when it has used up `max` failures.
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64>;
    /// Records one failure for the key.
    async fn record_failure(&self, key: &str);
    /// Forgets the key's failures (after a success).
    async fn reset(&self, key: &str);
}

/// What a mailed user token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A single-use token mailed to a user; only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub digest: String,
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait UserTokenRepository: Send + Sync {
    async fn insert(&self, token: &UserToken) -> StoreResult<()>;
    async fn find_by_digest(&self, digest: &str) -> StoreResult<Option<UserToken>>;
    /// Marks the token used, only if it was not yet (`NotFound` otherwise).
    async fn mark_used(&self, digest: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Marks every unused token of the user for this purpose used (one outstanding at a time).
    async fn retire_all(&self, user_id: UserId, purpose: TokenPurpose, at: DateTime<Utc>) -> StoreResult<()>;
}

/// What the user typed on their current stage and has not submitted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageDraft {
    PersonalInfo(PersonalInfoInput),
    Organization(OrganizationInput),
    Terms(TermsInput),
}

impl StageDraft {
    pub fn stage(&self) -> OnboardingStage {
        match self {
            StageDraft::PersonalInfo(_) => OnboardingStage::PersonalInfo,
            StageDraft::Organization(_) => OnboardingStage::Organization,
            StageDraft::Terms(_) => OnboardingStage::Terms,
        }
    }
}

/// A user's onboarding progress as stored: the state machine and the current draft.
#[derive(Debug, Clone)]
pub struct OnboardingRecord {
    pub progress: Onboarding,
    pub draft: Option<StageDraft>,
}

/// Onboarding progress of a tenant's active members, computed by the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnboardingFunnel {
    /// Members per stage, every stage listed (members who never began count as `Started`).
    pub by_stage: Vec<(OnboardingStage, u64)>,
    pub members: u64,
    pub completed: u64,
    pub median_seconds_to_complete: Option<f64>,
}

/// Onboarding progress is the user's own (one row per user, across tenants).
#[async_trait]
pub trait OnboardingRepository: Send + Sync {
    async fn find(&self, user_id: UserId) -> StoreResult<Option<OnboardingRecord>>;
    /// `Duplicate("onboarding")` when the user already has progress.
    async fn insert(&self, record: &OnboardingRecord) -> StoreResult<()>;
    /// Saves only if the stored version is still `expected_version` (`NotFound` otherwise:
    /// someone saved in between). The record carries the new version.
    async fn save(&self, record: &OnboardingRecord, expected_version: i64) -> StoreResult<()>;
    async fn is_completed(&self, user_id: UserId) -> StoreResult<bool>;
    async fn funnel(&self, scope: &TenantScope) -> StoreResult<OnboardingFunnel>;
}

#[async_trait]
pub trait TenantSettingsRepository: Send + Sync {
    async fn find(&self, scope: &TenantScope) -> StoreResult<Option<TenantSettings>>;
    /// Stores `settings`, writing only the fields that differ from `previous` (what the
    /// change was based on) and `updated_at`: two people changing different settings
    /// at once both keep their change. Creates the row on the first save.
    async fn upsert(
        &self,
        scope: &TenantScope,
        previous: &TenantSettings,
        settings: &TenantSettings,
    ) -> StoreResult<()>;
}

/// A domain event, recorded in the same transaction as the change it reports, for
/// delivery after commit (webhooks, live subscriptions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// `workspace.renamed`, … (see [`tessera_domain::DOMAIN_EVENT_TYPES`]).
    pub event_type: String,
    /// The JSON document webhooks receive and subscriptions stream.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Not before this (after a failed attempt); `None` means at once.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait OutboxRepository: Send + Sync {
    async fn record(&self, scope: &TenantScope, event: &OutboxEvent) -> StoreResult<()>;
    /// Oldest first, at most `limit` (for delivery and for tests).
    async fn pending(&self, scope: &TenantScope, limit: u64) -> StoreResult<Vec<OutboxEvent>>;
    /// Tenants with undelivered events that are due: the only outbox read that is not
    /// inside one tenant (it returns ids only; on Postgres through a function that
    /// reveals nothing else).
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>>;
    /// Takes the tenant's queue for this transaction: `None` when another worker holds
    /// it (Postgres: an advisory lock per tenant, tried without waiting, so a busy
    /// tenant is skipped), else its oldest undelivered events, locked `FOR UPDATE`, so
    /// each tenant is delivered in order.
    async fn claim(&self, scope: &TenantScope, limit: u64) -> StoreResult<Option<Vec<OutboxEvent>>>;
    async fn mark_delivered(&self, scope: &TenantScope, ids: &[Uuid], at: DateTime<Utc>) -> StoreResult<()>;
    /// Deletes the scope's events handed over before `before`; returns how many.
    async fn prune(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64>;
    /// After a failed attempt: try again at `next_attempt_at`.
    async fn postpone(
        &self,
        scope: &TenantScope,
        id: Uuid,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// A tenant's webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn insert_endpoint(
        &self,
        scope: &TenantScope,
        endpoint: &WebhookEndpoint,
        secrets: &SigningSecrets,
    ) -> StoreResult<()>;
    async fn find_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    async fn list_endpoints(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<WebhookEndpoint>>;
    async fn count_endpoints(&self, scope: &TenantScope) -> StoreResult<u64>;
    /// Every enabled endpoint of the tenant (a tenant has a bounded number).
    async fn enabled_endpoints(&self, scope: &TenantScope) -> StoreResult<Vec<WebhookEndpoint>>;
    /// Writes url, description, events, enabled, disabled reason and `updated_at` if
    /// the stored endpoint is still as `expected` (same `updated_at` and enabled
    /// flag); `Stale` when another request or the delivery worker changed it meanwhile.
    async fn update_endpoint(
        &self,
        scope: &TenantScope,
        expected: &WebhookEndpoint,
        endpoint: &WebhookEndpoint,
    ) -> StoreResult<()>;
    async fn delete_endpoint(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<()>;
    async fn secrets(&self, scope: &TenantScope, id: WebhookEndpointId) -> StoreResult<Option<SigningSecrets>>;
    async fn set_secrets(
        &self,
        scope: &TenantScope,
        id: WebhookEndpointId,
        secrets: &SigningSecrets,
    ) -> StoreResult<()>;
    /// After a delivery ended: a success resets the endpoint's count of deliveries
    /// that gave up in a row, a give-up adds one. Returns the new count.
    async fn note_outcome(&self, scope: &TenantScope, id: WebhookEndpointId, gave_up: bool) -> StoreResult<u32>;

    async fn insert_deliveries(&self, scope: &TenantScope, deliveries: &[WebhookDelivery]) -> StoreResult<()>;
    async fn find_delivery(&self, scope: &TenantScope, id: WebhookDeliveryId) -> StoreResult<Option<WebhookDelivery>>;
    async fn list_deliveries(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookDelivery>>;
    async fn count_deliveries(&self, scope: &TenantScope, endpoint: WebhookEndpointId) -> StoreResult<u64>;
    /// Tenants with pending deliveries that are due (ids only, like
    /// [`OutboxRepository::due_tenants`]).
    async fn due_tenants(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<TenantId>>;
    /// Due pending deliveries, oldest first, locked (`FOR UPDATE SKIP LOCKED`) and
    /// leased until `lease_until`: a worker that dies mid-delivery leaves them to be
    /// retried then. Deliveries to the endpoints in `skip` (already busy) are left.
    async fn claim_due(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
        skip: &[WebhookEndpointId],
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Writes status, attempts, schedule, response and completion.
    async fn update_delivery(&self, scope: &TenantScope, delivery: &WebhookDelivery) -> StoreResult<()>;
    /// Deletes the scope's deliveries that ended (succeeded or failed) before `before`.
    async fn prune_deliveries(&self, scope: &TenantScope, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Marks the endpoint's pending deliveries failed (it was disabled).
    async fn fail_pending(
        &self,
        scope: &TenantScope,
        endpoint: WebhookEndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// Where committed domain events are announced to live subscribers: in process, or
/// across replicas (Redis pub/sub).
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, event: &OutboxEvent);
    /// The events of one tenant from now on: an event of another tenant never wakes
    /// this subscription.
    fn subscribe(&self, tenant_id: TenantId) -> Box<dyn EventSubscription>;
}

#[async_trait]
pub trait EventSubscription: Send {
    /// The next event of the subscribed tenant; `None` when the bus is gone.
    async fn next(&mut self) -> Option<OutboxEvent>;
}

/// One signed HTTP delivery about to be sent.
#[derive(Debug, Clone)]
pub struct OutgoingWebhook {
    pub url: String,
    pub delivery_id: WebhookDeliveryId,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    /// Every secret that signs it (the current one, and a rotated one still valid).
    pub secrets: Vec<String>,
    pub sent_at: DateTime<Utc>,
}

/// How the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Why it failed (no answer, timeout, refused address, non-2xx).
    pub error: Option<String>,
}

impl WebhookOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, webhook: &OutgoingWebhook) -> WebhookOutcome;
}

/// What [`AuditRepository::list`] may filter on (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail. Appending is the only write: rows are never updated or deleted
/// by the application (Postgres refuses it to the runtime role).
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends to the event's chain: its tenant's (the transaction must have entered
    /// that tenant), or the platform's when it has none. Concurrent appends to one
    /// chain are serialized by the chain head's row lock.
    async fn append(&self, event: &tessera_domain::NewAuditEvent) -> StoreResult<()>;
    /// A tenant's events, oldest first, keyset-paginated over `(occurred_at, id)`.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<tessera_domain::AuditEvent>>;
    async fn count(&self, scope: &TenantScope, filter: &AuditFilter) -> StoreResult<u64>;
}

#[async_trait]
pub trait CustomDomainRepository: Send + Sync {
    /// The tenant's domains, oldest first (a handful at most: the use cases cap them).
    async fn list(&self, scope: &TenantScope) -> StoreResult<Vec<CustomDomain>>;
    async fn find(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<Option<CustomDomain>>;
    /// `Duplicate("domain")` when the tenant already claims the name.
    async fn insert(&self, scope: &TenantScope, domain: &CustomDomain) -> StoreResult<()>;
    /// `Duplicate("domain")` when another tenant holds the name verified; `NotFound` without the claim.
    async fn mark_verified(&self, scope: &TenantScope, domain: &DomainName, at: DateTime<Utc>) -> StoreResult<()>;
    /// `NotFound` without the claim.
    async fn delete(&self, scope: &TenantScope, domain: &DomainName) -> StoreResult<()>;
    /// The tenant holding this name verified, whoever asks (requests name tenants by host).
    async fn find_verified_owner(&self, domain: &DomainName) -> StoreResult<Option<TenantId>>;
}

/// Checks that whoever controls a host name serves a token there (proof of control).
#[async_trait]
pub trait DomainVerifier: Send + Sync {
    /// `Ok(())` when `domain` serves `token`; otherwise a reason for the tenant's admin.
    async fn verify(&self, domain: &DomainName, token: &str) -> Result<(), String>;
}

/// A message for one recipient. The application says *what* to tell them; the mail
/// adapter renders the text from its templates.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: Email,
    pub message: MailMessage,
}

/// Every kind of mail Tessera sends, with the facts its template needs.
#[derive(Clone)]
pub enum MailMessage {
    VerifyEmail {
        token: String,
        valid_for: chrono::Duration,
    },
    PasswordReset {
        token: String,
        valid_for: chrono::Duration,
    },
    Invitation {
        tenant_name: String,
        role_name: String,
        token: String,
        expires_at: DateTime<Utc>,
    },
}

impl MailMessage {
    /// A stable name for logs and template lookup (never the content: mails carry secrets).
    pub fn kind(&self) -> &'static str {
        match self {
            MailMessage::VerifyEmail { .. } => "verify_email",
            MailMessage::PasswordReset { .. } => "password_reset",
            MailMessage::Invitation { .. } => "invitation",
        }
    }
}

/// Sends mail (SMTP in production, the log in development, memory in tests).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), Box<dyn StdError + Send + Sync>>;
}

/// A log-in session: the refresh-token family a token pair belongs to.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub current_tenant_id: TenantId,
    pub refresh_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored session (without its refresh token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub current_tenant_id: TenantId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SessionRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Sessions are global (a user's, across tenants). Each holds the digest of its
/// current refresh token; digests of tokens already exchanged are kept so that a
/// replayed token is recognised as such.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    async fn insert(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_by_id(&self, id: SessionId) -> StoreResult<Option<SessionRecord>>;
    /// The session whose *current* refresh token has this digest.
    async fn find_by_refresh_digest(&self, digest: &str) -> StoreResult<Option<SessionRecord>>;
    /// The session a *previously exchanged* refresh token belonged to.
    async fn find_by_used_refresh_digest(&self, digest: &str) -> StoreResult<Option<SessionId>>;
    /// Swaps the current refresh token (only if it still is `old_digest`: `NotFound`
    /// otherwise, e.g. after a concurrent refresh) and remembers the old one as used.
    /// The client's user agent and IP, where known, replace the recorded ones.
    async fn rotate(
        &self,
        id: SessionId,
        old_digest: &str,
        new_digest: &str,
        tenant_id: TenantId,
        client: &crate::identity::ClientInfo,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn revoke(&self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes every live session of the user; returns their ids.
    async fn revoke_all_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionId>>;
    async fn count_live_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Live sessions of the user, keyset-paged over `(created_at, id)`.
    async fn list_live_for_user(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<SessionRecord>>;
}

/// Slow, salted password hashing (the adapter decides the algorithm and runs it off
/// the request threads).
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Box<dyn StdError + Send + Sync>>;
    /// `false` for a wrong password or an unreadable hash.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool;
    /// Spends the same time as a real check; used when the account does not exist so
    /// the answer's timing does not reveal that.
    async fn verify_dummy(&self, password: &Password);
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Signs and checks access tokens.
pub trait TokenIssuer: Send + Sync {
    fn issue(&self, claims: &AccessClaims) -> Result<String, Box<dyn StdError + Send + Sync>>;
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError>;
}

pub trait Clock: Send + Sync {
    /// Now, at microsecond precision (what every store keeps).
    fn now(&self) -> DateTime<Utc>;
}

pub trait IdGenerator: Send + Sync {
    /// A new, time-ordered unique id.
    fn new_id(&self) -> Uuid;
}

/// An opaque secret handed to a client once; only its digest is stored.
#[derive(Clone)]
pub struct IssuedSecret {
    pub plain: String,
    pub digest: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedSecret(<redacted>)")
    }
}

pub trait SecretGenerator: Send + Sync {
    /// A new random secret with the given visible prefix (e.g. `rt_`).
    fn generate(&self, prefix: &str) -> IssuedSecret;
    /// The digest stored for a presented secret.
    fn digest(&self, plain: &str) -> String;
}
