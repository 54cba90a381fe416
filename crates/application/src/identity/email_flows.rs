//! Mailed, single-use, expiring tokens: verifying an email address and resetting a
//! forgotten password. A reset ends every session. Asking for a reset answers the same
//! whether or not the address has an account.

use tessera_domain::{AuditActor, Email, NewAuditEvent, Password};

use crate::ports::{MailMessage, OutgoingMail};
use crate::{AppError, Application, RequestContext};
use tessera_domain::{TokenPurpose, UserToken};

const INVALID: &str = "is invalid, used or expired";
const VERIFY_EMAIL_TTL: chrono::Duration = chrono::Duration::hours(24);
const PASSWORD_RESET_TTL: chrono::Duration = chrono::Duration::hours(1);

impl Application {
    /// Mails the caller a link-token that proves they own their address.
    #[tracing::instrument(level = "debug", name = "request_email_verification", skip_all)]
    pub async fn request_email_verification(&self, ctx: &RequestContext) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let token = self
            .issue_user_token(tx.as_ref(), user.id, TokenPurpose::VerifyEmail)
            .await?;
        // The request's tenant keeps the event: enter it for the append.
        tx.enter_tenant(ctx.own_scope()).await?;
        let event = ctx
            .audit(
                "user.email_verification_requested",
                "user",
                user.id,
                self.ports.clock.now(),
            )
            .change("email", None::<&str>, Some(user.email.as_str()));
        self.commit_with(tx, &event).await?;
        self.send(OutgoingMail {
            to: user.email,
            message: MailMessage::VerifyEmail {
                token,
                valid_for: VERIFY_EMAIL_TTL,
            },
        })
        .await;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "verify_email", skip_all)]
    pub async fn verify_email(&self, token: &str) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        let found = self.usable_token(tx.as_ref(), token, TokenPurpose::VerifyEmail).await?;
        tx.user_tokens()
            .mark_used(&found.digest, now)
            .await
            .map_err(|_| AppError::validation("token", INVALID))?;
        tx.users().mark_email_verified(found.user_id, now).await?;
        // A platform event: the token proves the mailbox, not any tenant.
        let event = NewAuditEvent::new(
            None,
            AuditActor::User(found.user_id),
            "user.email_verified",
            "user",
            Some(found.user_id.to_string()),
            now,
        );
        self.commit_with(tx, &event).await?;
        Ok(())
    }

    /// Always succeeds; mails a reset token only when the address has an account. The
    /// request is recorded either way (naming the account when there is one), so the
    /// work done, and the time taken, do not tell the two apart.
    #[tracing::instrument(level = "debug", name = "request_password_reset", skip_all)]
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AppError> {
        let now = self.ports.clock.now();
        let email = Email::parse(email).ok();
        let tx = self.global_tx().await?;
        let user = match &email {
            Some(email) => tx.users().find_by_email(email).await?,
            None => None,
        };
        let event = NewAuditEvent::new(
            None,
            AuditActor::Anonymous,
            "user.password_reset_requested",
            "user",
            user.as_ref().map(|user| user.id.to_string()),
            now,
        );
        self.journal(tx.as_ref(), &event).await?;
        let Some(user) = user else {
            tx.commit().await?;
            return Ok(());
        };
        let token = self
            .issue_user_token(tx.as_ref(), user.id, TokenPurpose::ResetPassword)
            .await?;
        tx.commit().await?;
        self.send(OutgoingMail {
            to: user.email,
            message: MailMessage::PasswordReset {
                token,
                valid_for: PASSWORD_RESET_TTL,
            },
        })
        .await;
        Ok(())
    }

    /// Sets a new password from a reset token, and ends every session of the account.
    #[tracing::instrument(level = "debug", name = "reset_password", skip_all)]
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), AppError> {
        let password = Password::parse(new_password).map_err(|e| AppError::validation("newPassword", e.to_string()))?;
        let hash = self
            .ports
            .password_hasher
            .hash(&password)
            .await
            .map_err(AppError::Internal)?;
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        let found = self
            .usable_token(tx.as_ref(), token, TokenPurpose::ResetPassword)
            .await?;
        tx.user_tokens()
            .mark_used(&found.digest, now)
            .await
            .map_err(|_| AppError::validation("token", INVALID))?;
        tx.users().update_password(found.user_id, &hash, now).await?;
        let ended = tx.sessions().revoke_all_for_user(found.user_id, now).await?;
        let user = tx.users().find_by_id(found.user_id).await?;
        // A platform event; what changed is a secret and stays out of it.
        let event = NewAuditEvent::new(
            None,
            AuditActor::User(found.user_id),
            "user.password_reset",
            "user",
            Some(found.user_id.to_string()),
            now,
        );
        self.commit_with(tx, &event).await?;
        for session in ended {
            self.ports.access_cache.revoke_session(session).await;
        }
        if let Some(user) = user {
            // The owner proved control of the mailbox: lift any log-in throttle on the account.
            self.ports
                .attempts
                .reset(&format!("login:account:{}", user.email))
                .await;
        }
        Ok(())
    }

    async fn issue_user_token(
        &self,
        tx: &dyn crate::ports::Transaction,
        user_id: tessera_domain::UserId,
        purpose: TokenPurpose,
    ) -> Result<String, AppError> {
        let now = self.ports.clock.now();
        let (prefix, ttl) = match purpose {
            TokenPurpose::VerifyEmail => ("ev_", VERIFY_EMAIL_TTL),
            TokenPurpose::ResetPassword => ("pr_", PASSWORD_RESET_TTL),
        };
        let secret = self.ports.secrets.generate(prefix);
        tx.user_tokens().retire_all(user_id, purpose, now).await?;
        tx.user_tokens()
            .insert(&UserToken {
                digest: secret.digest,
                user_id,
                purpose,
                created_at: now,
                expires_at: now + ttl,
                used_at: None,
            })
            .await?;
        Ok(secret.plain)
    }

    async fn usable_token(
        &self,
        tx: &dyn crate::ports::Transaction,
        token: &str,
        purpose: TokenPurpose,
    ) -> Result<UserToken, AppError> {
        let digest = self.ports.secrets.digest(token.trim());
        tx.user_tokens()
            .find_by_digest(&digest)
            .await?
            .filter(|t| t.is_usable_for(purpose, self.ports.clock.now()))
            .ok_or_else(|| AppError::validation("token", INVALID))
    }

    async fn send(&self, mail: OutgoingMail) {
        if let Err(error) = self.ports.mailer.send(&mail).await {
            tracing::error!(%error, kind = mail.message.kind(), "sending a mail failed");
        }
    }
}
