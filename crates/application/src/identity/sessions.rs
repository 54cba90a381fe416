//! Sessions: refresh-token rotation with theft detection, logging out, and listing or
//! ending one's own sessions. Ending a session stops its access tokens on the next
//! request (a revocation mark in the access cache), not at their expiry.

use tessera_domain::SessionId;

use super::{AuthSession, ClientInfo};
use crate::ports::{AccessClaims, SessionRecord};
use crate::{AppError, Application, Page, PageRequest, RequestContext};

const REFRESH_REFUSED: &str = "the refresh token is not valid";

impl Application {
    /// Exchanges a refresh token for a new pair. The presented token dies; presenting
    /// an already-exchanged token ends the whole session (someone else has a copy).
    #[tracing::instrument(name = "refresh_session", skip_all)]
    pub async fn refresh_session(&self, refresh_token: &str, client: ClientInfo) -> Result<AuthSession, AppError> {
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(refresh_token.trim());
        let tx = self.ports.store.begin().await?;
        let Some(session) = tx.sessions().find_by_refresh_digest(&digest).await? else {
            if let Some(stolen) = tx.sessions().find_by_used_refresh_digest(&digest).await? {
                tracing::warn!(session_id = %stolen, "a refresh token was replayed; ending its session");
                tx.sessions().revoke(stolen, now).await?;
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
        let active = tx
            .memberships()
            .list_own(user.id)
            .await?
            .into_iter()
            .any(|m| m.tenant_id == session.current_tenant_id && m.is_active());
        let tenant = tx.tenants().find_by_id(session.current_tenant_id).await?;
        let Some(tenant) = tenant.filter(|t| t.is_active() && active) else {
            return Err(AppError::Unauthenticated(
                "the session's tenant is no longer available; log in again".into(),
            ));
        };
        let next = self.ports.secrets.generate("rt_");
        tx.sessions()
            .rotate(session.id, &digest, &next.digest, tenant.id, &client, now)
            .await
            .map_err(|_| AppError::Unauthenticated(REFRESH_REFUSED.into()))?;
        tx.commit().await?;
        let claims = AccessClaims {
            user_id: user.id,
            tenant_id: tenant.id,
            session_id: session.id,
            issued_at: now,
            expires_at: now + self.auth.access_token_ttl,
        };
        let access_token = self.ports.token_issuer.issue(&claims).map_err(AppError::Internal)?;
        Ok(AuthSession {
            access_token,
            access_token_expires_at: claims.expires_at,
            refresh_token: next.plain,
            user,
            tenant,
        })
    }

    /// Ends the session behind this request.
    #[tracing::instrument(name = "log_out", skip_all)]
    pub async fn log_out(&self, ctx: &RequestContext) -> Result<(), AppError> {
        ctx.require_person()?;
        let session_id = ctx
            .session_id()
            .ok_or_else(|| AppError::validation("session", "this caller has no session"))?;
        self.end_sessions(&[session_id]).await
    }

    /// Ends every session of the caller, on every device.
    #[tracing::instrument(name = "log_out_everywhere", skip_all)]
    pub async fn log_out_everywhere(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        ctx.require_person()?;
        let tx = self.ports.store.begin().await?;
        let ended = tx
            .sessions()
            .revoke_all_for_user(ctx.user_id(), self.ports.clock.now())
            .await?;
        tx.commit().await?;
        for id in &ended {
            self.ports.access_cache.revoke_session(*id).await;
        }
        Ok(ended.len() as u64)
    }

    /// Ends one of the caller's own sessions; another user's session is not found.
    #[tracing::instrument(name = "revoke_session", skip_all, fields(session_id = %id))]
    pub async fn revoke_session(&self, ctx: &RequestContext, id: SessionId) -> Result<(), AppError> {
        ctx.require_person()?;
        let tx = self.ports.store.begin().await?;
        let session = tx.sessions().find_by_id(id).await?;
        if !session.is_some_and(|s| s.user_id == ctx.user_id() && s.revoked_at.is_none()) {
            return Err(AppError::NotFound("session"));
        }
        drop(tx);
        self.end_sessions(&[id]).await
    }

    /// The caller's live sessions, oldest first.
    pub async fn list_sessions(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<SessionRecord>, AppError> {
        ctx.require_person()?;
        let tx = self.ports.store.begin().await?;
        Ok(tx
            .sessions()
            .list_live_for_user(ctx.user_id(), self.ports.clock.now(), page)
            .await?)
    }

    pub async fn count_sessions(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let tx = self.ports.store.begin().await?;
        Ok(tx
            .sessions()
            .count_live_for_user(ctx.user_id(), self.ports.clock.now())
            .await?)
    }

    async fn end_sessions(&self, ids: &[SessionId]) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let tx = self.ports.store.begin().await?;
        for id in ids {
            tx.sessions().revoke(*id, now).await?;
        }
        tx.commit().await?;
        for id in ids {
            self.ports.access_cache.revoke_session(*id).await;
        }
        Ok(())
    }
}
