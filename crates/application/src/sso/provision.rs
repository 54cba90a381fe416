//! Who a sign-in lets in: the person the provider vouched for, provisioned just in
//! time or linked by email, and the refusals (recorded, creating nothing) and the
//! per-address throttle of the anonymous steps.

use tessera_domain::{
    AuditActor, Email, Limit, Membership, MembershipId, MembershipStatus, NewAuditEvent, SsoConnection, Tenant, UserId,
};

use super::UNKNOWN_SIGN_IN;
use crate::identity::ClientInfo;
use crate::ports::OidcIdentity;
use crate::rate_limits::Quota;
use crate::{AppError, Application, TenantScope};

impl Application {
    /// The user the provider vouched for, created when new, and their active membership
    /// of the tenant, created with the connection's role when missing. Answers the user
    /// and what was provisioned (`user`, `membership` or `nothing`).
    pub(super) async fn provision(
        &self,
        tenant: &Tenant,
        connection: &SsoConnection,
        email: &Email,
        identity: &OidcIdentity,
        client: &ClientInfo,
    ) -> Result<(UserId, &'static str), AppError> {
        let now = self.ports.clock.now();
        let scope = TenantScope::new(tenant.id);
        let tx = self.global_tx().await?;
        let existing = tx.users().find_by_email(email).await?;
        let (user, new_user) = match existing {
            // An account nobody proved the address of may have been made by someone
            // else than its owner: the domain's provider takes it back (its password,
            // second factor and sessions end) before the owner signs in with it.
            Some(user) if user.email_verified_at.is_none() => {
                let ended = crate::identity::take_back_account(tx.as_ref(), user.id, now).await?;
                for session in ended {
                    self.ports.access_cache.revoke_session(session).await;
                }
                let event = NewAuditEvent::new(
                    None,
                    AuditActor::Anonymous,
                    "user.reclaimed_by_sso",
                    "user",
                    Some(user.id.to_string()),
                    now,
                )
                .change("issuer", None::<&str>, Some(connection.issuer.as_str()))
                .with_origin(client.clone());
                // In the platform's chain, landing with the rest of the sign-in.
                tx.audit().append(&event).await?;
                (user, false)
            }
            Some(user) => (user, false),
            None => {
                let user = crate::identity::vouched_account(
                    UserId::from_uuid(self.ports.ids.new_id()),
                    email,
                    identity.name.as_deref(),
                    "name",
                    now,
                )?;
                tx.users().insert(&user).await?;
                (user, true)
            }
        };
        tx.enter_tenant_exclusively(&scope).await?;
        let membership = tx.memberships().find_by_user(&scope, user.id).await?;
        let provisioned = match membership {
            Some(m) if m.status == MembershipStatus::Active => None,
            Some(_) => {
                drop(tx);
                return Err(self
                    .sso_refused(Some(tenant.id), Some(identity), "membership_removed", client)
                    .await);
            }
            None => {
                self.entitle(tx.as_ref(), &scope, Limit::Seats).await?;
                let membership = Membership {
                    id: MembershipId::from_uuid(self.ports.ids.new_id()),
                    tenant_id: tenant.id,
                    user_id: user.id,
                    role_id: connection.provisioned_role_id,
                    status: MembershipStatus::Active,
                    created_at: now,
                    updated_at: now,
                };
                tx.memberships().insert(&scope, &membership).await?;
                Some(membership)
            }
        };
        let what = match (&provisioned, new_user) {
            (_, true) => "user",
            (Some(_), false) => "membership",
            (None, false) => "nothing",
        };
        if let Some(membership) = &provisioned {
            let event = NewAuditEvent::new(
                Some(tenant.id),
                AuditActor::User(user.id),
                "member.provisioned",
                "membership",
                Some(membership.id.to_string()),
                now,
            )
            .change("role_id", None::<String>, Some(membership.role_id.to_string()))
            .change("issuer", None::<&str>, Some(connection.issuer.as_str()))
            .with_origin(client.clone());
            self.commit_with(tx, &event).await?;
            self.access_changed(tenant.id).await;
        } else {
            tx.commit().await?;
        }
        Ok((user.id, what))
    }

    /// A refused sign-in, recorded (in the tenant's chain when known) and answered
    /// `UNAUTHENTICATED`; nothing else is created.
    pub(super) async fn sso_refused(
        &self,
        tenant: Option<tessera_domain::TenantId>,
        identity: Option<&OidcIdentity>,
        reason: &'static str,
        client: &ClientInfo,
    ) -> AppError {
        let event = NewAuditEvent::new(
            tenant,
            AuditActor::Anonymous,
            "sso.sign_in_failed",
            "tenant",
            tenant.map(|t| t.to_string()),
            self.ports.clock.now(),
        )
        .change("reason", None::<&str>, Some(reason))
        .change("subject", None::<&str>, identity.map(|i| i.subject.as_str()))
        .with_origin(client.clone());
        self.record_security_event(event).await;
        AppError::Unauthenticated(match reason {
            "email_not_covered" => "this sign-in's email address is not in a domain of the tenant's connection".into(),
            "membership_removed" => "your membership of this tenant was removed".into(),
            "provider_unavailable" | "code_refused" | "invalid_token" => {
                "the identity provider's answer could not be verified".into()
            }
            _ => UNKNOWN_SIGN_IN.into(),
        })
    }

    /// Sign-in starts and callbacks per client address, like other anonymous work.
    pub(super) async fn throttle_sso(&self, client: &ClientInfo) -> Result<(), AppError> {
        let Some(ip) = client.ip.as_deref() else {
            return Ok(());
        };
        let key = format!("sso:ip:{}", crate::rate_limits::address_bucket(ip));
        let decision = self.ports.rate_limiter.acquire(&key, Quota::per_minute(60)).await;
        if decision.allowed {
            Ok(())
        } else {
            Err(crate::rate_limits::refused(&decision))
        }
    }
}
