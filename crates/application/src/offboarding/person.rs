//! A person's own data: an export of everything Tessera holds about them across
//! tenants (profile, memberships, sessions, the audit events they did), streamed as
//! NDJSON through a signed link, and the deletion of their account (memberships
//! removed, sessions and keys ended, the user row anonymised; audit events keep the
//! user's id, which no longer names anyone, so every chain still verifies).

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tessera_domain::{AuditActor, AuditEvent, DisplayName, Email, NewAuditEvent, TenantStatus, UserId};

use super::DownloadLink;
use crate::ports::{ByteStream, KeyCreators};
use crate::{AppError, Application, ForbiddenReason, PageRequest, RequestContext, TenantScope};

/// Audit events read per step of a personal export.
const EVENTS_PER_STEP: u32 = 500;

fn link_message(user: UserId, expires: i64) -> String {
    format!("person-export:{user}:{expires}")
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Where a personal export's stream stands.
enum Part {
    Profile,
    Memberships,
    Sessions(Option<String>),
    Audit(Option<(uuid::Uuid, i64)>),
    Done,
}

fn event_line(event: &AuditEvent) -> Value {
    let e = &event.event;
    json!({
        "kind": "audit_event",
        "tenant_id": e.tenant_id.map(|t| t.to_string()),
        "sequence": event.sequence,
        "id": event.id.to_string(),
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "changes": e.changes.iter().map(|c| json!({ "field": c.field, "before": c.before, "after": c.after })).collect::<Vec<_>>(),
        "ip": e.origin.ip,
        "user_agent": e.origin.user_agent,
        "occurred_at": time(e.occurred_at),
        "hash": event.hash,
    })
}

impl Application {
    /// A signed link to download everything about the caller (a person), recorded in
    /// the platform's audit chain.
    pub async fn export_my_data(&self, ctx: &RequestContext) -> Result<DownloadLink, AppError> {
        let offboarding = self.offboarding()?;
        let me = ctx.require_person()?;
        let now = self.ports.clock.now();
        let expires_at = now + offboarding.settings.link_ttl;
        let expires = expires_at.timestamp();
        let signature = offboarding.ports.signer.sign(&link_message(me, expires));
        let tx = self.global_tx().await?;
        let event = NewAuditEvent::new(
            None,
            AuditActor::User(me),
            "user.data_exported",
            "user",
            Some(me.to_string()),
            now,
        )
        .with_origin(ctx.origin().clone());
        self.commit_with(tx, &event).await?;
        Ok(DownloadLink {
            path: format!("/exports/me?user={me}&expires={expires}&signature={signature}"),
            expires_at,
        })
    }

    /// The NDJSON stream a personal export link opens: one line per fact, read step by
    /// step (never all at once).
    pub async fn open_personal_export(
        &self,
        user: UserId,
        expires: i64,
        signature: &str,
    ) -> Result<ByteStream, AppError> {
        let offboarding = self.offboarding()?;
        let now = self.ports.clock.now();
        let refused = || AppError::Forbidden {
            reason: ForbiddenReason::MissingPermission,
            message: "this download link is not valid or has expired; ask for a new one".into(),
        };
        if !offboarding.ports.signer.verify(&link_message(user, expires), signature) || expires < now.timestamp() {
            return Err(refused());
        }
        // A deleted (anonymised) account's link opens nothing.
        let tx = self.global_tx().await?;
        let live = tx
            .users()
            .find_by_id(user)
            .await?
            .is_some_and(|u| !u.password_hash.as_str().is_empty());
        drop(tx);
        if !live {
            return Err(refused());
        }
        let app = self.clone();
        let lines = futures_util::stream::unfold(Part::Profile, move |part| {
            let app = app.clone();
            async move {
                if matches!(part, Part::Done) {
                    return None;
                }
                match app.personal_export_step(user, part).await {
                    Ok((lines, next)) => {
                        let mut bytes = Vec::new();
                        for line in lines {
                            bytes.extend(line.to_string().into_bytes());
                            bytes.push(b'\n');
                        }
                        Some((Ok(bytes), next))
                    }
                    Err(error) => Some((Err(std::io::Error::other(error.to_string())), Part::Done)),
                }
            }
        });
        Ok(lines.boxed())
    }

    async fn personal_export_step(&self, me: UserId, part: Part) -> Result<(Vec<Value>, Part), AppError> {
        let tx = self.global_tx().await?;
        match part {
            Part::Profile => {
                let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
                let line = json!({
                    "kind": "profile",
                    "id": user.id.to_string(),
                    "email": user.email.as_str(),
                    "display_name": user.display_name.as_str(),
                    "email_verified_at": user.email_verified_at.map(time),
                    "platform_admin": user.is_platform_admin,
                    "created_at": time(user.created_at),
                });
                Ok((vec![line], Part::Memberships))
            }
            Part::Memberships => {
                tx.enter_user(me).await?;
                let mut lines = Vec::new();
                for membership in tx.memberships().list_own(me).await? {
                    // The person's own membership: its tenant may be entered to name its role.
                    let scope = TenantScope::new(membership.tenant_id);
                    let tenant = tx.tenants().find_by_id(membership.tenant_id).await?;
                    tx.enter_tenant(&scope).await?;
                    let role = tx.roles().find_by_id(&scope, membership.role_id).await?;
                    lines.push(json!({
                        "kind": "membership",
                        "tenant_id": membership.tenant_id.to_string(),
                        "tenant_slug": tenant.as_ref().map(|t| t.slug.as_str().to_owned()),
                        "tenant_name": tenant.as_ref().map(|t| t.name.as_str().to_owned()),
                        "role": role.map(|r| r.name.as_str().to_owned()),
                        "status": membership.status.as_str(),
                        "joined_at": time(membership.created_at),
                    }));
                }
                Ok((lines, Part::Sessions(None)))
            }
            Part::Sessions(after) => {
                let page = PageRequest::parse(Some(100), after.as_deref(), None, None)?;
                let sessions = tx
                    .sessions()
                    .list_live_for_user(me, self.ports.clock.now(), &page)
                    .await?;
                let next = match (sessions.has_next_page, sessions.items.last()) {
                    (true, Some(last)) => {
                        Part::Sessions(Some(crate::Cursor::new(last.created_at, last.id.as_uuid()).encode()))
                    }
                    _ => Part::Audit(None),
                };
                let lines = sessions
                    .items
                    .iter()
                    .map(|s| {
                        json!({
                            "kind": "session",
                            "id": s.id.to_string(),
                            "tenant_id": s.current_tenant_id.to_string(),
                            "ip": s.ip,
                            "user_agent": s.user_agent,
                            "created_at": time(s.created_at),
                            "last_used_at": s.last_used_at.map(time),
                            "expires_at": time(s.expires_at),
                        })
                    })
                    .collect();
                Ok((lines, next))
            }
            Part::Audit(after) => {
                // Postgres reads another person's events for nobody: the transaction names whose.
                tx.enter_user(me).await?;
                let events = tx.audit().by_actor(me, after, EVENTS_PER_STEP).await?;
                let next = match events.last() {
                    Some(last) if events.len() == EVENTS_PER_STEP as usize => Part::Audit(Some((
                        last.event.tenant_id.map_or(uuid::Uuid::nil(), |t| t.as_uuid()),
                        last.sequence,
                    ))),
                    _ => Part::Done,
                };
                Ok((events.iter().map(event_line).collect(), next))
            }
            Part::Done => Ok((Vec::new(), Part::Done)),
        }
    }

    /// Deletes the caller's account (re-authenticated): refused while they are the only
    /// owner of a tenant that is not being deleted (`SOLE_OWNER`, with the tenants);
    /// otherwise, in one transaction, every membership is removed (with its workspace
    /// memberships, and the API keys the person created revoked), every session ended,
    /// and the user row anonymised.
    #[tracing::instrument(level = "debug", name = "delete_my_account", skip_all)]
    pub async fn delete_my_account(&self, ctx: &RequestContext, password: &str) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        self.reauthenticate(tx.as_ref(), ctx, password).await?;
        tx.enter_user(me).await?;
        let memberships = tx.memberships().list_own(me).await?;
        let mut sole = Vec::new();
        for membership in memberships.iter().filter(|m| m.is_active()) {
            // The person's own memberships: their tenants may be entered.
            let scope = TenantScope::new(membership.tenant_id);
            tx.enter_tenant(&scope).await?;
            let Some(role) = tx.roles().find_by_id(&scope, membership.role_id).await? else {
                continue;
            };
            let Some(tenant) = tx.tenants().find_by_id(membership.tenant_id).await? else {
                continue;
            };
            let leaving = matches!(tenant.status, TenantStatus::PendingDeletion | TenantStatus::Deleted);
            if role.is_owner() && !leaving {
                let owners = tx.memberships().lock_active_holders(&scope, role.id).await?;
                if owners.iter().all(|owner| *owner == me) {
                    sole.push(tenant.slug.as_str().to_owned());
                }
            }
        }
        if !sole.is_empty() {
            return Err(AppError::SoleOwner { tenants: sole });
        }
        let now = self.ports.clock.now();
        let mut tenants = Vec::new();
        for before in memberships {
            let scope = TenantScope::new(before.tenant_id);
            tx.enter_tenant(&scope).await?;
            let mut keys_revoked = 0;
            for mut key in tx.api_keys().live_created_by(&scope, &KeyCreators::Person(me)).await? {
                if key.revoke(now) && tx.api_keys().revoke(&scope, key.id, now).await? {
                    keys_revoked += 1;
                }
            }
            let mut membership = before.clone();
            membership.remove(now);
            if membership != before {
                tx.memberships().update(&scope, &before, &membership).await?;
            }
            tx.workspaces().remove_member_everywhere(&scope, me).await?;
            let event = NewAuditEvent::new(
                Some(before.tenant_id),
                AuditActor::User(me),
                "member.account_deleted",
                "user",
                Some(me.to_string()),
                now,
            )
            .change("status", Some(before.status.as_str()), Some(membership.status.as_str()))
            .change("api_keys_revoked", None::<u64>, Some(keys_revoked))
            .with_origin(ctx.origin().clone());
            self.journal(tx.as_ref(), &event).await?;
            tenants.push(before.tenant_id);
        }
        let ended = tx.sessions().revoke_all_for_user(me, now).await?;
        let email = Email::parse(&format!("deleted-{}@deleted.invalid", me.as_uuid().simple()))
            .map_err(|e| AppError::internal(e.to_string()))?;
        let name = DisplayName::parse("Deleted user").map_err(|e| AppError::internal(e.to_string()))?;
        tx.users().anonymise(me, &email, &name, now).await?;
        tx.mfa().remove_factors(me).await?;
        let event = NewAuditEvent::new(
            None,
            AuditActor::User(me),
            "user.account_deleted",
            "user",
            Some(me.to_string()),
            now,
        )
        .change("memberships_removed", None::<u64>, Some(tenants.len() as u64))
        .change("sessions_ended", None::<u64>, Some(ended.len() as u64))
        .with_origin(ctx.origin().clone());
        self.commit_with(tx, &event).await?;
        for session in ended {
            self.ports.access_cache.revoke_session(session).await;
        }
        for tenant in tenants {
            self.access_changed(tenant).await;
        }
        Ok(())
    }
}
