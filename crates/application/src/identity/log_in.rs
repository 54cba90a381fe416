//! Log-in with email and password, into a chosen tenant or the oldest active one.
//! A wrong email and a wrong password get the same answer, in the same time. Every
//! refused attempt is recorded in the platform's audit trail (`session.login_failed`).

use chrono::{DateTime, Utc};
use tessera_domain::{AuditActor, Email, NewAuditEvent, Password, Slug, TenantStatus, UserId};

use super::{AuthSession, ClientInfo};
use crate::ForbiddenReason;
use crate::rate_limits::Quota;
use crate::{AppError, Application, TenantScope};

#[derive(Debug, Clone)]
pub struct LogIn {
    pub email: String,
    pub password: String,
    pub tenant_slug: Option<String>,
}

const BAD_CREDENTIALS: &str = "the email or password is incorrect";

impl Application {
    #[tracing::instrument(level = "debug", name = "log_in", skip_all)]
    pub async fn log_in(&self, input: LogIn, client: ClientInfo) -> Result<AuthSession, AppError> {
        let tenant_slug = match input.tenant_slug.as_deref() {
            Some(raw) => Some(Slug::parse(raw).map_err(|e| AppError::validation("tenantSlug", e.to_string()))?),
            None => None,
        };
        let now = self.ports.clock.now();
        let email = Email::parse(&input.email).ok();
        let Ok(password) = Password::presented(&input.password) else {
            self.record_security_event(login_failed(None, email.as_ref(), "wrong_password", &client, now))
                .await;
            return Err(AppError::Unauthenticated(BAD_CREDENTIALS.into()));
        };
        let Some(email) = email else {
            self.ports.password_hasher.verify_dummy(&password).await;
            self.record_security_event(login_failed(None, None, "unknown_email", &client, now))
                .await;
            return Err(AppError::Unauthenticated(BAD_CREDENTIALS.into()));
        };

        // Throttle before any password work: per account and per client address. The
        // answer does not say which one tripped.
        let account_key = format!("login:account:{email}");
        let ip_key = client
            .ip
            .as_deref()
            .map(|ip| format!("login:ip:{}", crate::rate_limits::address_bucket(ip)));
        let account_wait = self
            .ports
            .attempts
            .blocked_for(&account_key, self.auth.max_failed_logins_per_account)
            .await;
        let ip_wait = match &ip_key {
            Some(key) => {
                self.ports
                    .attempts
                    .blocked_for(key, self.auth.max_failed_logins_per_ip)
                    .await
            }
            None => None,
        };
        if let Some(wait) = account_wait.max(ip_wait) {
            // A throttled client may keep knocking: each account's refusals are noted at
            // most once a minute, so a flood of them does not become a flood of writes.
            // The account is not looked up while throttled: no user id to name.
            let note = self
                .ports
                .rate_limiter
                .acquire(&format!("audit-note:{account_key}"), Quota::per_minute(1))
                .await;
            if note.allowed {
                self.record_security_event(login_failed(None, Some(&email), "throttled", &client, now))
                    .await;
            }
            return Err(AppError::RateLimited {
                retry_after_seconds: wait,
            });
        }
        let failed = || async {
            self.ports.attempts.record_failure(&account_key).await;
            if let Some(key) = &ip_key {
                self.ports.attempts.record_failure(key).await;
            }
            AppError::Unauthenticated(BAD_CREDENTIALS.into())
        };

        // A domain that signs in through its tenant's provider refuses passwords (its
        // tenant's owners excepted), before any password work.
        if let Some(refusal) = self.password_refusal(&email).await? {
            self.record_security_event(login_failed(None, Some(&email), "sso_required", &client, now))
                .await;
            return Err(refusal);
        }

        // Read the account, then check the password outside any transaction.
        let lookup = self.global_read().await?;
        let user = lookup.users().find_by_email(&email).await?;
        drop(lookup);
        // Both refusals record one event, so they still take the same time.
        let Some(user) = user else {
            self.ports.password_hasher.verify_dummy(&password).await;
            self.record_security_event(login_failed(None, Some(&email), "unknown_email", &client, now))
                .await;
            return Err(failed().await);
        };
        if !self.ports.password_hasher.verify(&password, &user.password_hash).await {
            self.record_security_event(login_failed(
                Some(user.id),
                Some(&email),
                "wrong_password",
                &client,
                now,
            ))
            .await;
            return Err(failed().await);
        }
        self.ports.attempts.reset(&account_key).await;

        let tx = self.global_tx().await?;
        tx.enter_user(user.id).await?;
        let memberships = tx.memberships().list_own(user.id).await?;
        let mut chosen = None;
        // A tenant the person may enter with less than full standing (past due, or
        // suspended and theirs to own): taken when no active one is found.
        let mut fallback = None;
        let mut suspended = false;
        for membership in memberships.into_iter().filter(|m| m.is_active()) {
            let Some(tenant) = tx.tenants().find_by_id(membership.tenant_id).await? else {
                continue;
            };
            if let Some(wanted) = &tenant_slug
                && &tenant.slug != wanted
            {
                continue;
            }
            match tenant.status {
                TenantStatus::Active => {
                    chosen = Some(tenant);
                    break;
                }
                TenantStatus::PastDue | TenantStatus::Suspended | TenantStatus::PendingDeletion => {
                    tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
                    match super::standing_in(tx.as_ref(), &tenant, &membership).await {
                        Ok(_) => {
                            fallback.get_or_insert(tenant);
                        }
                        Err(_) => suspended = true,
                    }
                }
                TenantStatus::Deleted => {}
            }
        }
        let Some(tenant) = chosen.or(fallback) else {
            return Err(if suspended {
                AppError::Forbidden {
                    reason: ForbiddenReason::TenantSuspended,
                    message: "this tenant is suspended".into(),
                }
            } else if tenant_slug.is_some() {
                AppError::Forbidden {
                    reason: ForbiddenReason::NotAMember,
                    message: "you are not an active member of this tenant".into(),
                }
            } else {
                AppError::Forbidden {
                    reason: ForbiddenReason::NoActiveMembership,
                    message: "you are not an active member of any tenant".into(),
                }
            });
        };
        // The user is an active member of the tenant they log in to: the log-in path may
        // mint its scope, and the event belongs to that tenant's chain.
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        if tx
            .mfa()
            .find_totp(user.id)
            .await?
            .is_some_and(|factor| factor.is_confirmed())
        {
            // The password was right; the session waits for the second factor.
            return Err(self.challenge_second_factor(tx, &user, &tenant, &client).await?);
        }
        let session = self.open_session(tx.as_ref(), user, tenant, &client, false).await?;
        let event = NewAuditEvent::new(
            Some(session.tenant.id),
            AuditActor::User(session.user.id),
            "session.logged_in",
            "session",
            Some(session.session_id.to_string()),
            now,
        )
        .with_origin(client.clone());
        self.commit_with(tx, &event).await?;
        Ok(session)
    }
}

/// `session.login_failed`: a platform event (no tenant is known yet) by nobody known,
/// naming the account when it exists. The reason is for the platform's operators; the
/// caller's answer never tells them apart.
fn login_failed(
    user_id: Option<UserId>,
    email: Option<&Email>,
    reason: &'static str,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> NewAuditEvent {
    NewAuditEvent::new(
        None,
        AuditActor::Anonymous,
        "session.login_failed",
        "user",
        user_id.map(|id| id.to_string()),
        now,
    )
    .change("email", None::<&str>, email.map(Email::as_str))
    .change("reason", None::<&str>, Some(reason))
    .with_origin(client.clone())
}
