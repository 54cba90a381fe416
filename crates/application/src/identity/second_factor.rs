//! A second factor for password log-ins. A person enrols a TOTP authenticator (with
//! their password), confirms it with a first code, and gets recovery codes shown once.
//! From then on a correct password leads to a challenge, and `verify_mfa` opens the
//! session with a code from the authenticator or a recovery code. Owners may require a
//! second factor in their tenant: a session without one may then only enrol.
//!
//! Every code works once (a TOTP step is never accepted twice, a recovery code is
//! spent), a challenge takes a few wrong codes before it is spent, and wrong codes
//! count against the account like wrong passwords. The authenticator's secret is kept
//! sealed, bound to its owner.

use chrono::{DateTime, Utc};
use tessera_domain::{
    AuditActor, MfaChallenge, NewAuditEvent, RECOVERY_CODES, Tenant, TenantStatus, TotpFactor, User, UserId,
    normalize_recovery_code,
};

use super::{AuthSession, ClientInfo};
use crate::ports::Transaction;
use crate::{AppError, Application, ForbiddenReason, RequestContext, TenantScope};

/// What enrolling shows the person: the secret (to type) and the URI (for a QR code).
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret: String,
    pub provisioning_uri: String,
}

/// A confirmed authenticator: recovery codes (shown this once) and an access token of
/// the same session that now carries the second factor.
#[derive(Debug, Clone)]
pub struct TotpConfirmation {
    pub recovery_codes: Vec<String>,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
}

/// What a person's second factor stands at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    pub totp_pending: bool,
    pub recovery_codes_left: u64,
    pub session_verified: bool,
}

/// Which kind of code a person gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Totp,
    RecoveryCode,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

const WRONG_CODE: &str = "the code is not right";
const CHALLENGE_ENDED: &str = "this sign-in has expired or was already completed: log in again";

fn wrong_code() -> AppError {
    AppError::Unauthenticated(WRONG_CODE.into())
}

/// The context a person's authenticator secret is sealed for.
fn sealed_for(user_id: UserId) -> String {
    format!("totp:{user_id}")
}

/// The attempt counter wrong codes go to, per account.
fn attempts_key(user_id: UserId) -> String {
    format!("mfa:account:{user_id}")
}

impl Application {
    /// Starts enrolling an authenticator (confirming with the password); replaces one
    /// not yet confirmed. A confirmed one must be disabled first.
    #[tracing::instrument(level = "debug", name = "enrol_totp", skip_all)]
    pub async fn enrol_totp(&self, ctx: &RequestContext, password: &str) -> Result<TotpEnrolment, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        self.reauthenticate(tx.as_ref(), ctx, password).await?;
        if tx.mfa().find_totp(me).await?.is_some_and(|f| f.is_confirmed()) {
            return Err(AppError::Conflict {
                field: "totp".into(),
                message: "an authenticator is already enrolled: disable it first to enrol another".into(),
            });
        }
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        let secret = self.ports.authenticators.new_secret();
        let provisioning_uri = self
            .ports
            .authenticators
            .provisioning_uri(&secret, user.email.as_str())
            .map_err(AppError::Internal)?;
        let factor = TotpFactor {
            user_id: me,
            sealed_secret: self
                .ports
                .secret_box
                .seal(&secret, &sealed_for(me))
                .map_err(AppError::Internal)?,
            created_at: self.ports.clock.now(),
            confirmed_at: None,
            last_used_step: None,
        };
        tx.mfa().put_pending_totp(&factor).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        let event = ctx.audit("user.totp_enrolment_started", "user", me, factor.created_at);
        self.commit_with(tx, &event).await?;
        Ok(TotpEnrolment {
            secret,
            provisioning_uri,
        })
    }

    /// Confirms the authenticator being enrolled with its first code: from now on it
    /// guards log-ins. The session this request belongs to counts as verified.
    #[tracing::instrument(level = "debug", name = "confirm_totp", skip_all)]
    pub async fn confirm_totp(&self, ctx: &RequestContext, code: &str) -> Result<TotpConfirmation, AppError> {
        let me = ctx.require_person()?;
        let session_id = ctx
            .session_id()
            .ok_or_else(|| AppError::validation("session", "this caller has no session"))?;
        self.take_attempt(me).await?;
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let factor = match tx.mfa().find_totp(me).await? {
            Some(factor) if !factor.is_confirmed() => factor,
            Some(_) => {
                return Err(AppError::Conflict {
                    field: "totp".into(),
                    message: "the authenticator is already confirmed".into(),
                });
            }
            None => {
                return Err(AppError::NotFound(
                    "authenticator being enrolled (start with enrolTotp)",
                ));
            }
        };
        let secret = self.open_secret(&factor)?;
        let Some(step) = self.ports.authenticators.matching_step(&secret, code, now) else {
            drop(tx);
            return Err(AppError::validation(
                "code",
                "does not match: enter the current code, and check the device's clock",
            ));
        };
        tx.mfa().confirm_totp(me, step, now).await?;
        let recovery_codes = self.replace_recovery_codes(tx.as_ref(), me, now).await?;
        tx.sessions().mark_second_factor(session_id, now).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        self.commit_with(tx, &ctx.audit("user.totp_enabled", "user", me, now))
            .await?;
        self.ports.attempts.reset(&attempts_key(me)).await;
        let (access_token, access_token_expires_at) = self.access_token(me, ctx.tenant_id(), session_id, true, now)?;
        Ok(TotpConfirmation {
            recovery_codes,
            access_token,
            access_token_expires_at,
        })
    }

    /// Removes the authenticator and the recovery codes, confirming with the password
    /// and a code (from the authenticator, or a recovery code).
    #[tracing::instrument(level = "debug", name = "disable_totp", skip_all)]
    pub async fn disable_totp(&self, ctx: &RequestContext, password: &str, code: &str) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        self.take_attempt(me).await?;
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        self.reauthenticate(tx.as_ref(), ctx, password).await?;
        let factor = self.confirmed_factor(tx.as_ref(), me).await?;
        let Some(proof) = self.prove(tx.as_ref(), &factor, code, true, now).await? else {
            drop(tx);
            return Err(wrong_code());
        };
        tx.mfa().remove_factors(me).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        let event =
            ctx.audit("user.totp_disabled", "user", me, now)
                .change("proof", None::<&str>, Some(proof.as_str()));
        self.commit_with(tx, &event).await?;
        self.ports.attempts.reset(&attempts_key(me)).await;
        Ok(())
    }

    /// New recovery codes in place of the old ones, confirming with a code from the
    /// authenticator.
    #[tracing::instrument(level = "debug", name = "regenerate_recovery_codes", skip_all)]
    pub async fn regenerate_recovery_codes(&self, ctx: &RequestContext, code: &str) -> Result<Vec<String>, AppError> {
        let me = ctx.require_person()?;
        self.take_attempt(me).await?;
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let factor = self.confirmed_factor(tx.as_ref(), me).await?;
        if self.prove(tx.as_ref(), &factor, code, false, now).await?.is_none() {
            drop(tx);
            return Err(wrong_code());
        }
        let codes = self.replace_recovery_codes(tx.as_ref(), me, now).await?;
        tx.enter_tenant(ctx.own_scope()).await?;
        self.commit_with(tx, &ctx.audit("user.recovery_codes_regenerated", "user", me, now))
            .await?;
        self.ports.attempts.reset(&attempts_key(me)).await;
        Ok(codes)
    }

    /// Where the caller's second factor stands.
    pub async fn mfa_status(&self, ctx: &RequestContext) -> Result<MfaStatus, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let factor = tx.mfa().find_totp(me).await?;
        let recovery_codes_left = match &factor {
            Some(factor) if factor.is_confirmed() => tx.mfa().count_unused_recovery_codes(me).await?,
            _ => 0,
        };
        Ok(MfaStatus {
            totp_enabled: factor.as_ref().is_some_and(TotpFactor::is_confirmed),
            totp_pending: factor.as_ref().is_some_and(|f| !f.is_confirmed()),
            recovery_codes_left,
            session_verified: ctx.has_second_factor(),
        })
    }

    /// The second step of a log-in: the challenge `log_in` answered with and a code.
    #[tracing::instrument(level = "debug", name = "verify_mfa", skip_all)]
    pub async fn verify_mfa(&self, challenge: &str, code: &str, client: ClientInfo) -> Result<AuthSession, AppError> {
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(challenge.trim());
        let tx = self.global_tx().await?;
        let record = tx.mfa().find_challenge(&digest).await?;
        let Some(record) = record.filter(|c| c.is_usable(now)) else {
            return Err(AppError::Unauthenticated(CHALLENGE_ENDED.into()));
        };
        let me = record.user_id;
        // Each code tried counts before it is checked, against the account and the
        // challenge, and lands even when nothing else does.
        self.take_attempt(me).await?;
        if !tx.mfa().spend_attempt(&digest, now).await? {
            return Err(AppError::Unauthenticated(CHALLENGE_ENDED.into()));
        }
        tx.commit().await?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let factor = self.confirmed_factor(tx.as_ref(), me).await?;
        let Some(proof) = self.prove(tx.as_ref(), &factor, code, true, now).await? else {
            drop(tx);
            self.record_security_event(
                NewAuditEvent::new(
                    None,
                    AuditActor::Anonymous,
                    "session.mfa_failed",
                    "user",
                    Some(me.to_string()),
                    now,
                )
                .with_origin(client.clone()),
            )
            .await;
            return Err(wrong_code());
        };
        if !tx.mfa().use_challenge(&digest, now).await? {
            return Err(AppError::Unauthenticated(CHALLENGE_ENDED.into()));
        }
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        let tenant = self.tenant_to_enter(tx.as_ref(), me, &record).await?;
        let session = self.open_session(tx.as_ref(), user, tenant, &client, true).await?;
        let event = NewAuditEvent::new(
            Some(session.tenant.id),
            AuditActor::User(me),
            "session.logged_in",
            "session",
            Some(session.session_id.to_string()),
            now,
        )
        .change("second_factor", None::<&str>, Some(proof.as_str()))
        .with_origin(client);
        self.commit_with(tx, &event).await?;
        self.ports.attempts.reset(&attempts_key(me)).await;
        Ok(session)
    }

    /// Whether the caller's tenant requires a second factor of its members (owners
    /// only). Requiring it needs one in the owner's own session, so they cannot lock
    /// themselves out.
    #[tracing::instrument(level = "debug", name = "set_mfa_required", skip_all)]
    pub async fn set_mfa_required(&self, ctx: &RequestContext, required: bool) -> Result<Tenant, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        if required && !ctx.has_second_factor() {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::MfaRequired,
                message: "sign in with a second factor yourself first (enrolTotp, confirmTotp)".into(),
            });
        }
        let now = self.ports.clock.now();
        let mut tenant = tx
            .tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if tenant.mfa_required == required {
            return Ok(tenant);
        }
        let was = tenant.mfa_required;
        tenant.mfa_required = required;
        tenant.updated_at = now;
        tx.tenants().update_security(&tenant).await?;
        let event = ctx
            .audit("tenant.mfa_requirement_changed", "tenant", tenant.id, now)
            .change("mfa_required", Some(was), Some(required));
        self.commit_with(tx, &event).await?;
        self.access_changed(tenant.id).await;
        Ok(tenant)
    }

    /// Inside `tx` (committed by the caller): a challenge for `user`'s second factor in
    /// `tenant`, as the error `log_in` answers with.
    pub(crate) async fn challenge_second_factor(
        &self,
        tx: Box<dyn Transaction>,
        user: &User,
        tenant: &Tenant,
        client: &ClientInfo,
    ) -> Result<AppError, AppError> {
        let now = self.ports.clock.now();
        let issued = self.ports.secrets.generate("mfa_");
        let challenge = MfaChallenge {
            digest: issued.digest.clone(),
            user_id: user.id,
            tenant_id: tenant.id,
            created_at: now,
            expires_at: now + MfaChallenge::LIFETIME,
            attempts: 0,
            used_at: None,
        };
        tx.mfa().insert_challenge(&challenge, now).await?;
        let event = NewAuditEvent::new(
            Some(tenant.id),
            AuditActor::User(user.id),
            "session.second_factor_requested",
            "user",
            Some(user.id.to_string()),
            now,
        )
        .with_origin(client.clone());
        self.commit_with(tx, &event).await?;
        Ok(AppError::MfaChallenge {
            challenge: issued.plain,
            expires_at: challenge.expires_at,
        })
    }

    async fn confirmed_factor(&self, tx: &dyn Transaction, me: UserId) -> Result<TotpFactor, AppError> {
        match tx.mfa().find_totp(me).await? {
            Some(factor) if factor.is_confirmed() => Ok(factor),
            _ => Err(AppError::NotFound("authenticator")),
        }
    }

    fn open_secret(&self, factor: &TotpFactor) -> Result<String, AppError> {
        self.ports
            .secret_box
            .open(&factor.sealed_secret, &sealed_for(factor.user_id))
            .map_err(AppError::Internal)
    }

    /// Spends `code` if it is right: a TOTP code of a step not used before, or (where
    /// `recovery` allows it) an unused recovery code. `None` for a wrong one.
    async fn prove(
        &self,
        tx: &dyn Transaction,
        factor: &TotpFactor,
        code: &str,
        recovery: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Proof>, AppError> {
        let secret = self.open_secret(factor)?;
        if let Some(step) = self.ports.authenticators.matching_step(&secret, code, now) {
            let fresh = factor.accepts_step(step) && tx.mfa().use_totp_step(factor.user_id, step).await?;
            return Ok(fresh.then_some(Proof::Totp));
        }
        let normalized = normalize_recovery_code(code);
        if !recovery || normalized.is_empty() {
            return Ok(None);
        }
        let digest = self.ports.secrets.digest(&normalized);
        let spent = tx.mfa().use_recovery_code(factor.user_id, &digest, now).await?;
        Ok(spent.then_some(Proof::RecoveryCode))
    }

    async fn replace_recovery_codes(
        &self,
        tx: &dyn Transaction,
        me: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AppError> {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| self.ports.authenticators.recovery_code())
            .collect();
        let digests: Vec<String> = codes
            .iter()
            .map(|code| self.ports.secrets.digest(&normalize_recovery_code(code)))
            .collect();
        tx.mfa().replace_recovery_codes(me, &digests, now).await?;
        Ok(codes)
    }

    /// Counts a code about to be checked against the account, then refuses it when the
    /// account has tried too many lately: counted first, so requests racing each other
    /// cannot all slip under the limit. A right code resets the count.
    async fn take_attempt(&self, me: UserId) -> Result<(), AppError> {
        let key = attempts_key(me);
        self.ports.attempts.record_failure(&key).await;
        match self
            .ports
            .attempts
            .blocked_for(&key, self.auth.max_failed_logins_per_account.saturating_add(1))
            .await
        {
            Some(wait) => Err(AppError::RateLimited {
                retry_after_seconds: wait,
            }),
            None => Ok(()),
        }
    }

    /// The challenge's tenant, if the person may still enter it (as `log_in` decided).
    async fn tenant_to_enter(
        &self,
        tx: &dyn Transaction,
        me: UserId,
        challenge: &MfaChallenge,
    ) -> Result<Tenant, AppError> {
        let not_member = || AppError::Forbidden {
            reason: ForbiddenReason::NotAMember,
            message: "you are no longer an active member of this tenant".into(),
        };
        let membership = tx
            .memberships()
            .list_own(me)
            .await?
            .into_iter()
            .find(|m| m.tenant_id == challenge.tenant_id && m.is_active())
            .ok_or_else(not_member)?;
        let tenant = tx
            .tenants()
            .find_by_id(challenge.tenant_id)
            .await?
            .ok_or_else(not_member)?;
        let scope = TenantScope::new(tenant.id);
        tx.enter_tenant(&scope).await?;
        if tenant.status != TenantStatus::Active {
            super::standing_in(tx, &tenant, &membership).await?;
        }
        Ok(tenant)
    }
}
