//! Sessions, invitations, API keys and one-time user tokens in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{
    ApiKey, ApiKeyId, Email, Invitation, InvitationId, InvitationStatus, MembershipStatus, PermissionSet, SessionId,
    TenantId, UserId,
};

use crate::ports::ApiKeyRepository;
use crate::ports::{InvitationRepository, NewSession, SessionRepository, StoreError, StoreResult};
use crate::{Page, PageRequest, TenantScope};
use tessera_domain::Session;

use super::store::*;

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
    pub second_factor_at: Option<DateTime<Utc>>,
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
        second_factor_at: session.second_factor_at,
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
            second_factor_at: session.second_factor_at,
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
    async fn mark_second_factor(&self, id: SessionId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let session = state
            .sessions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(StoreError::NotFound)?;
        session.second_factor_at = Some(at);
        Ok(())
    }
    async fn revoke_all_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionId>> {
        Ok(self.revoke_live(user_id, None, now))
    }
    async fn revoke_for_user_in_tenant(
        &self,
        user_id: UserId,
        scope: &TenantScope,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>> {
        Ok(self.revoke_live(user_id, Some(scope.tenant_id()), now))
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
        let rows: Vec<Session> = self
            .state()
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .map(record)
            .filter(|s| s.is_live(now))
            .collect();
        Ok(keyset_page(rows, page, |s| (s.created_at, s.id.as_uuid())))
    }
}

#[async_trait]
impl InvitationRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        owned(scope, invitation.tenant_id)?;
        self.state().invitations.push(invitation.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: InvitationId) -> StoreResult<Option<Invitation>> {
        Ok(find_in(&self.state().invitations, scope, |i| i.id == id))
    }
    async fn find_by_token_digest(&self, scope: &TenantScope, digest: &str) -> StoreResult<Option<Invitation>> {
        Ok(find_in(&self.state().invitations, scope, |i| i.token_digest == digest))
    }
    async fn update(&self, scope: &TenantScope, invitation: &Invitation) -> StoreResult<()> {
        let mut state = self.state();
        let stored = find_mut(&mut state.invitations, scope, |i| i.id == invitation.id).ok_or(StoreError::NotFound)?;
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
        Ok(page_in(&self.state().invitations, scope, page, |i| {
            (i.created_at, i.id.as_uuid())
        }))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(count_in(&self.state().invitations, scope))
    }
}

#[async_trait]
impl ApiKeyRepository for FakeTransaction {
    async fn insert(&self, scope: &TenantScope, key: &ApiKey) -> StoreResult<()> {
        owned(scope, key.tenant_id)?;
        self.state().api_keys.push(key.clone());
        Ok(())
    }
    async fn find_by_id(&self, scope: &TenantScope, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
        Ok(find_in(&self.state().api_keys, scope, |k| k.id == id))
    }
    async fn list(&self, scope: &TenantScope, page: &PageRequest) -> StoreResult<Page<ApiKey>> {
        Ok(page_in(&self.state().api_keys, scope, page, |k| {
            (k.created_at, k.id.as_uuid())
        }))
    }
    async fn count(&self, scope: &TenantScope) -> StoreResult<u64> {
        Ok(count_in(&self.state().api_keys, scope))
    }
    async fn revoke(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        Ok(
            match find_mut(&mut state.api_keys, scope, |k| k.id == id && k.revoked_at.is_none()) {
                Some(key) => {
                    key.revoked_at = Some(at);
                    true
                }
                None => false,
            },
        )
    }
    async fn record_use(&self, scope: &TenantScope, id: ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        if let Some(key) = find_mut(&mut self.state().api_keys, scope, |k| k.id == id) {
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

impl FakeTransaction {
    /// Revokes the user's live sessions (those whose current tenant is `tenant_id`, when
    /// given); answers their ids.
    fn revoke_live(&self, user_id: UserId, tenant_id: Option<TenantId>, now: DateTime<Utc>) -> Vec<SessionId> {
        let mut ended = Vec::new();
        for session in self.state().sessions.iter_mut().filter(|s| {
            s.user_id == user_id
                && s.revoked_at.is_none()
                && tenant_id.is_none_or(|tenant| s.current_tenant_id == tenant)
        }) {
            session.revoked_at = Some(now);
            ended.push(session.id);
        }
        ended
    }
}
