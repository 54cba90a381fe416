//! Log-in with email and password, into a chosen tenant or the oldest active one.
//! A wrong email and a wrong password get the same answer, in the same time.

use tessera_domain::{Email, Password, Slug, TenantStatus};

use super::{AuthSession, ClientInfo};
use crate::{AppError, Application};

#[derive(Debug, Clone)]
pub struct LogIn {
    pub email: String,
    pub password: String,
    pub tenant_slug: Option<String>,
}

const BAD_CREDENTIALS: &str = "the email or password is incorrect";

impl Application {
    #[tracing::instrument(name = "log_in", skip_all)]
    pub async fn log_in(&self, input: LogIn, client: ClientInfo) -> Result<AuthSession, AppError> {
        let tenant_slug = match input.tenant_slug.as_deref() {
            Some(raw) => Some(Slug::parse(raw).map_err(|e| AppError::validation("tenantSlug", e.to_string()))?),
            None => None,
        };
        let password =
            Password::presented(&input.password).map_err(|_| AppError::Unauthenticated(BAD_CREDENTIALS.into()))?;
        let Ok(email) = Email::parse(&input.email) else {
            self.ports.password_hasher.verify_dummy(&password).await;
            return Err(AppError::Unauthenticated(BAD_CREDENTIALS.into()));
        };

        // Throttle before any password work: per account and per client address. The
        // answer does not say which one tripped.
        let account_key = format!("login:account:{email}");
        let ip_key = client.ip.as_deref().map(|ip| format!("login:ip:{ip}"));
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

        // Read the account, then check the password outside any transaction.
        let lookup = self.ports.store.begin().await?;
        let user = lookup.users().find_by_email(&email).await?;
        drop(lookup);
        let Some(user) = user else {
            self.ports.password_hasher.verify_dummy(&password).await;
            return Err(failed().await);
        };
        if !self.ports.password_hasher.verify(&password, &user.password_hash).await {
            return Err(failed().await);
        }
        self.ports.attempts.reset(&account_key).await;

        let tx = self.ports.store.begin().await?;
        tx.enter_user(user.id).await?;
        let memberships = tx.memberships().list_own(user.id).await?;
        let mut chosen = None;
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
                TenantStatus::Suspended => suspended = true,
                TenantStatus::Deleted => {}
            }
        }
        let Some(tenant) = chosen else {
            return Err(if suspended {
                AppError::Forbidden {
                    reason: "TENANT_SUSPENDED",
                    message: "this tenant is suspended".into(),
                }
            } else if tenant_slug.is_some() {
                AppError::Forbidden {
                    reason: "NOT_A_MEMBER",
                    message: "you are not an active member of this tenant".into(),
                }
            } else {
                AppError::Forbidden {
                    reason: "NO_ACTIVE_MEMBERSHIP",
                    message: "you are not an active member of any tenant".into(),
                }
            });
        };
        let session = self.open_session(tx.as_ref(), user, tenant, &client).await?;
        tx.commit().await?;
        Ok(session)
    }
}
