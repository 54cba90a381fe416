//! Identity: signing up, logging in, and turning an access token into a request context.

mod authenticate;
pub(crate) use authenticate::standing_in;
mod email_flows;
mod log_in;
mod second_factor;
mod sessions;
mod sign_up;

pub use log_in::LogIn;
pub use second_factor::{MfaStatus, TotpConfirmation, TotpEnrolment};
pub use sign_up::SignUp;

use chrono::{DateTime, Utc};
use tessera_domain::{SessionId, Tenant, User};

use crate::ports::{AccessClaims, NewSession, Transaction};
use crate::{AppError, Application};

/// Where a request came from (address, user agent, request id), recorded on sessions
/// and in the audit trail: the audit trail's own [`tessera_domain::AuditOrigin`].
pub use tessera_domain::AuditOrigin as ClientInfo;

/// A fresh token pair and who it is for.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub user: User,
    pub tenant: Tenant,
    /// The session the pair belongs to.
    pub session_id: SessionId,
}

impl Application {
    /// Starts a session for `user` in `tenant` inside `tx` and signs its access token;
    /// `second_factor`: the person proved one (now, or in the session this one follows).
    /// The caller commits `tx`.
    pub(crate) async fn open_session(
        &self,
        tx: &dyn Transaction,
        user: User,
        tenant: Tenant,
        client: &ClientInfo,
        second_factor: bool,
    ) -> Result<AuthSession, AppError> {
        let now = self.ports.clock.now();
        let refresh = self.ports.secrets.generate("rt_");
        let session = NewSession {
            id: SessionId::from_uuid(self.ports.ids.new_id()),
            user_id: user.id,
            current_tenant_id: tenant.id,
            refresh_token_hash: refresh.digest.clone(),
            user_agent: client.user_agent.as_ref().map(|ua| ua.chars().take(512).collect()),
            ip: client.ip.clone(),
            created_at: now,
            expires_at: now + self.auth.refresh_token_ttl,
            second_factor_at: second_factor.then_some(now),
        };
        tx.sessions().insert(&session).await?;
        let (access_token, access_token_expires_at) =
            self.access_token(user.id, tenant.id, session.id, second_factor, now)?;
        Ok(AuthSession {
            access_token,
            access_token_expires_at,
            refresh_token: refresh.plain,
            user,
            tenant,
            session_id: session.id,
        })
    }
}

impl Application {
    /// Signs an access token of the session for the person in the tenant: the token and
    /// when it expires (`access_token_ttl` from `now`).
    pub(crate) fn access_token(
        &self,
        user_id: tessera_domain::UserId,
        tenant_id: tessera_domain::TenantId,
        session_id: SessionId,
        second_factor: bool,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        let claims = AccessClaims {
            user_id,
            tenant_id,
            session_id,
            issued_at: now,
            expires_at: now + self.auth.access_token_ttl,
            second_factor,
        };
        let token = self.ports.token_issuer.issue(&claims).map_err(AppError::Internal)?;
        Ok((token, claims.expires_at))
    }
}

/// A new account for an address whoever speaks for its domain (the tenant's identity
/// provider or directory) vouched for: the address counts as proved, and there is no
/// password (the person signs in through the provider, or sets one with a password
/// reset). Named `name` when usable, else after the address's local part;
/// `name_field` is the input a refusal names.
pub(crate) fn vouched_account(
    id: tessera_domain::UserId,
    email: &tessera_domain::Email,
    name: Option<&str>,
    name_field: &str,
    now: DateTime<Utc>,
) -> Result<User, AppError> {
    let name = name
        .and_then(|name| tessera_domain::DisplayName::parse(name).ok())
        .or_else(|| tessera_domain::DisplayName::parse(email.as_str().split('@').next().unwrap_or_default()).ok())
        .ok_or_else(|| AppError::validation(name_field, "no usable name was given"))?;
    let mut user = User::register(
        id,
        email.clone(),
        name,
        tessera_domain::PasswordHash::new(String::new()),
        now,
    );
    user.email_verified_at = Some(now);
    Ok(user)
}

/// Takes back an account nobody proved the address of (it may have been made by
/// someone else than the address's owner) for whoever now speaks for the address's
/// domain: its password, second factor and sessions end and the address counts as
/// proved. Answers the sessions ended; their cached access is the caller's to drop
/// once its transaction commits.
pub(crate) async fn take_back_account(
    tx: &dyn Transaction,
    user_id: tessera_domain::UserId,
    now: DateTime<Utc>,
) -> Result<Vec<SessionId>, AppError> {
    tx.users()
        .update_password(user_id, &tessera_domain::PasswordHash::new(String::new()), now)
        .await?;
    tx.users().mark_email_verified(user_id, now).await?;
    tx.mfa().remove_factors(user_id).await?;
    Ok(tx.sessions().revoke_all_for_user(user_id, now).await?)
}
