//! Sessions: refresh-token rotation with theft detection, logging out, and listing or
//! ending one's own sessions. Ending a session stops its access tokens on the next
//! request (a revocation mark in the access cache), not at their expiry.

use tessera_domain::{AuditActor, NewAuditEvent, SessionId};

use super::{AuthSession, ClientInfo};
use crate::{AppError, Application, Page, PageRequest, RequestContext, TenantScope};

const REFRESH_REFUSED: &str = "the refresh token is not valid";

impl Application {
    /// Exchanges a refresh token for a new pair. The presented token dies; presenting
    /// an already-exchanged token ends the whole session (someone else has a copy).
    #[tracing::instrument(level = "debug", name = "refresh_session", skip_all)]
    pub async fn refresh_session(&self, refresh_token: &str, client: ClientInfo) -> Result<AuthSession, AppError> {
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(refresh_token.trim());
        let tx = self.global_tx().await?;
        let Some(session) = tx.sessions().find_by_refresh_digest(&digest).await? else {
            if let Some(stolen) = tx.sessions().find_by_used_refresh_digest(&digest).await? {
                tracing::warn!(session_id = %stolen, "a refresh token was replayed; ending its session");
                tx.sessions().revoke(stolen, now).await?;
                // Recorded in the transaction that ends the session: the two stand or fall together.
                let event = match tx.sessions().find_by_id(stolen).await? {
                    Some(record) => {
                        // The session's own tenant, as the replayed token's session names it.
                        tx.enter_tenant(&TenantScope::new(record.current_tenant_id)).await?;
                        NewAuditEvent::new(
                            Some(record.current_tenant_id),
                            AuditActor::User(record.user_id),
                            "session.refresh_reuse_detected",
                            "session",
                            Some(stolen.to_string()),
                            now,
                        )
                    }
                    None => NewAuditEvent::new(
                        None,
                        AuditActor::Anonymous,
                        "session.refresh_reuse_detected",
                        "session",
                        Some(stolen.to_string()),
                        now,
                    ),
                };
                self.journal(tx.as_ref(), &event.with_origin(client.clone())).await?;
                tx.commit().await?;
                self.ports.access_cache.revoke_session(stolen).await;
            }
            return Err(AppError::Unauthenticated(REFRESH_REFUSED.into()));
        };
        if !session.is_live(now) {
            return Err(AppError::Unauthenticated(REFRESH_REFUSED.into()));
        }
        let user = tx
            .users()
            .find_by_id(session.user_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated(REFRESH_REFUSED.into()))?;
        tx.enter_user(user.id).await?;
        let membership = tx
            .memberships()
            .list_own(user.id)
            .await?
            .into_iter()
            .find(|m| m.tenant_id == session.current_tenant_id && m.is_active());
        let tenant = tx.tenants().find_by_id(session.current_tenant_id).await?;
        let unavailable =
            || AppError::Unauthenticated("the session's tenant is no longer available; log in again".into());
        let (Some(tenant), Some(membership)) = (tenant, membership) else {
            return Err(unavailable());
        };
        if !tenant.is_active() {
            // A past-due tenant's members, and a suspended tenant's owners, stay signed in.
            tx.enter_tenant(&crate::TenantScope::new(tenant.id)).await?;
            super::standing_in(tx.as_ref(), &tenant, &membership)
                .await
                .map_err(|_| unavailable())?;
        }
        let next = self.ports.secrets.generate("rt_");
        tx.sessions()
            .rotate(session.id, &digest, &next.digest, tenant.id, &client, now)
            .await
            .map_err(|_| AppError::Unauthenticated(REFRESH_REFUSED.into()))?;
        // The user is an active member of the session's tenant (checked above).
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        let event = NewAuditEvent::new(
            Some(tenant.id),
            AuditActor::User(user.id),
            "session.refreshed",
            "session",
            Some(session.id.to_string()),
            now,
        )
        .with_origin(client.clone());
        self.commit_with(tx, &event).await?;
        let (access_token, access_token_expires_at) =
            self.access_token(user.id, tenant.id, session.id, session.second_factor_at.is_some(), now)?;
        Ok(AuthSession {
            access_token,
            access_token_expires_at,
            refresh_token: next.plain,
            user,
            tenant,
            session_id: session.id,
        })
    }

    /// Ends the session behind this request.
    #[tracing::instrument(level = "debug", name = "log_out", skip_all)]
    pub async fn log_out(&self, ctx: &RequestContext) -> Result<(), AppError> {
        ctx.require_person()?;
        let session_id = ctx
            .session_id()
            .ok_or_else(|| AppError::validation("session", "this caller has no session"))?;
        let event = ctx.audit("session.logged_out", "session", session_id, self.ports.clock.now());
        self.end_session(ctx, session_id, event).await
    }

    /// Ends every session of the caller, on every device.
    #[tracing::instrument(level = "debug", name = "log_out_everywhere", skip_all)]
    pub async fn log_out_everywhere(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        let ended = tx.sessions().revoke_all_for_user(me, now).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        let event = ctx.audit("session.logged_out_everywhere", "user", me, now);
        self.commit_with(tx, &event).await?;
        for id in &ended {
            self.ports.access_cache.revoke_session(*id).await;
        }
        Ok(ended.len() as u64)
    }

    /// Ends one of the caller's own sessions; another user's session is not found.
    #[tracing::instrument(level = "debug", name = "revoke_session", skip_all, fields(session_id = %id))]
    pub async fn revoke_session(&self, ctx: &RequestContext, id: SessionId) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        let session = tx.sessions().find_by_id(id).await?;
        if !session.is_some_and(|s| s.user_id == me && s.revoked_at.is_none()) {
            return Err(AppError::NotFound("session"));
        }
        drop(tx);
        let event = ctx.audit("session.revoked", "session", id, self.ports.clock.now());
        self.end_session(ctx, id, event).await
    }

    /// The caller's live sessions, oldest first.
    pub async fn list_sessions(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<tessera_domain::Session>, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_read().await?;
        Ok(tx
            .sessions()
            .list_live_for_user(me, self.ports.clock.now(), page)
            .await?)
    }

    pub async fn count_sessions(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_read().await?;
        Ok(tx.sessions().count_live_for_user(me, self.ports.clock.now()).await?)
    }

    /// Ends one session and records `event` (in the caller's tenant) with it.
    async fn end_session(&self, ctx: &RequestContext, id: SessionId, event: NewAuditEvent) -> Result<(), AppError> {
        let tx = self.global_tx().await?;
        tx.sessions().revoke(id, self.ports.clock.now()).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        self.commit_with(tx, &event).await?;
        self.ports.access_cache.revoke_session(id).await;
        Ok(())
    }
}
