//! The caller's identity and tenants: the current one, all of theirs, switching
//! between them and creating a new one.

mod domains;

use std::collections::HashMap;

use tessera_domain::{Membership, Name, NewAuditEvent, Slug, Tenant, TenantId, User};

use crate::ForbiddenReason;
use crate::identity::{AuthSession, ClientInfo};
use crate::ports::HeldRole;
use crate::{AppError, Application, FieldErrors, Page, PageRequest, RequestContext, TenantScope};

/// One of the caller's tenants (its id is the membership's), with their role there.
#[derive(Debug, Clone)]
pub struct MyTenant {
    pub membership: Membership,
    pub role: HeldRole,
}

impl Application {
    #[tracing::instrument(level = "debug", name = "me", skip_all)]
    pub async fn me(&self, ctx: &RequestContext) -> Result<User, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_read().await?;
        tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))
    }

    #[tracing::instrument(level = "debug", name = "current_tenant", skip_all)]
    pub async fn current_tenant(&self, ctx: &RequestContext) -> Result<Tenant, AppError> {
        let tx = self.global_read().await?;
        tx.tenants()
            .find_by_id(ctx.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))
    }

    /// Whether any account exists (used to refuse seeding a non-empty database).
    pub async fn has_any_user(&self) -> Result<bool, AppError> {
        let tx = self.global_tx().await?;
        Ok(tx.users().exists_any().await?)
    }

    /// The tenants where the caller is an active member, with their role there, oldest
    /// membership first (keyset-paged): two statements however long the page. The
    /// tenants themselves are read by [`Application::my_tenants_by_ids`].
    #[tracing::instrument(level = "debug", name = "my_tenants", skip_all)]
    pub async fn my_tenants(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<MyTenant>, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let page = tx.memberships().list_own_active(me, page).await?;
        let ids: Vec<TenantId> = page.items.iter().map(|m| m.tenant_id).collect();
        let roles: HashMap<TenantId, HeldRole> = tx
            .roles()
            .held_by(me, &ids)
            .await?
            .into_iter()
            .map(|r| (r.tenant_id, r))
            .collect();
        page.try_map(|membership| {
            let role = roles
                .get(&membership.tenant_id)
                .filter(|role| role.role_id == membership.role_id)
                .cloned()
                .ok_or_else(|| AppError::internal("a membership points at a missing role"))?;
            Ok(MyTenant { membership, role })
        })
    }

    #[tracing::instrument(level = "debug", name = "count_my_tenants", skip_all)]
    pub async fn count_my_tenants(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        Ok(tx.memberships().count_own_active(me).await?)
    }

    /// Those of these tenants where the caller holds a membership, in one statement
    /// (the batch behind the tenant of each of my memberships).
    #[tracing::instrument(level = "debug", name = "my_tenants_by_ids", skip_all, fields(tenants = ids.len()))]
    pub async fn my_tenants_by_ids(&self, ctx: &RequestContext, ids: &[TenantId]) -> Result<Vec<Tenant>, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        Ok(tx.tenants().find_joined_by(me, ids).await?)
    }

    /// A new token pair for another tenant where the caller is an active member.
    #[tracing::instrument(level = "debug", name = "switch_tenant", skip_all, fields(tenant_id = %tenant_id))]
    pub async fn switch_tenant(
        &self,
        ctx: &RequestContext,
        tenant_id: TenantId,
        client: ClientInfo,
    ) -> Result<AuthSession, AppError> {
        let me = ctx.require_person()?;
        let tx = self.global_tx().await?;
        tx.enter_user(me).await?;
        let membership = tx
            .memberships()
            .list_own(me)
            .await?
            .into_iter()
            .find(|m| m.tenant_id == tenant_id && m.is_active());
        let tenant = tx.tenants().find_by_id(tenant_id).await?;
        let tenant = match (tenant, membership) {
            (Some(tenant), Some(_)) if tenant.is_active() => tenant,
            (Some(tenant), Some(membership)) if tenant.status != tessera_domain::TenantStatus::Deleted => {
                // Past due, or suspended and the caller one of its owners.
                tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
                crate::identity::standing_in(tx.as_ref(), &tenant, &membership).await?;
                tenant
            }
            // Not a member (or no such tenant): the same answer, so ids reveal nothing.
            _ => {
                return Err(AppError::Forbidden {
                    reason: ForbiddenReason::NotAMember,
                    message: "you are not an active member of this tenant".into(),
                });
            }
        };
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        // The caller is an active member of the tenant switched to (checked above), whose
        // chain keeps the event.
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        let event = audit_in(ctx, tenant.id, "session.tenant_switched", self.ports.clock.now()).change(
            "tenant_id",
            Some(ctx.tenant_id()),
            Some(tenant.id),
        );
        self.journal(tx.as_ref(), &event).await?;
        let session = self
            .open_session(tx.as_ref(), user, tenant, &client, ctx.has_second_factor())
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// An existing user creates another tenant and becomes its owner.
    #[tracing::instrument(level = "debug", name = "create_tenant", skip_all)]
    pub async fn create_tenant(
        &self,
        ctx: &RequestContext,
        name: &str,
        slug: Option<&str>,
        client: ClientInfo,
    ) -> Result<AuthSession, AppError> {
        let me = ctx.require_person()?;
        let mut errors = FieldErrors::new();
        let name = errors.check("name", Name::parse(name));
        let slug = match slug {
            Some(raw) => errors.check("slug", Slug::parse_tenant(raw)).map(Some),
            None => Some(None),
        };
        let (Some(name), Some(slug)) = (name, slug) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.ports.clock.now();
        let tx = self.global_tx().await?;
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        let tenant = self
            .provision_tenant(tx.as_ref(), user.id, name, slug.as_ref(), now)
            .await
            .map_err(|error| match error {
                AppError::Conflict { message, .. } => AppError::Conflict {
                    field: "slug".into(),
                    message,
                },
                other => other,
            })?;
        // `provision_tenant` entered the new tenant: the event opens its chain.
        let event = audit_in(ctx, tenant.id, "tenant.created", now)
            .change("name", None::<&str>, Some(tenant.name.as_str()))
            .change("slug", None::<&str>, Some(tenant.slug.as_str()));
        self.journal(tx.as_ref(), &event).await?;
        let session = self
            .open_session(tx.as_ref(), user, tenant, &client, ctx.has_second_factor())
            .await?;
        tx.commit().await?;
        Ok(session)
    }
}

/// An event about `tenant_id` in that tenant's own chain (not the request's tenant),
/// by the request's actor, from its origin.
fn audit_in(
    ctx: &RequestContext,
    tenant_id: TenantId,
    action: &'static str,
    now: chrono::DateTime<chrono::Utc>,
) -> NewAuditEvent {
    NewAuditEvent::new(
        Some(tenant_id),
        ctx.audit_actor(),
        action,
        "tenant",
        Some(tenant_id.to_string()),
        now,
    )
    .with_origin(ctx.origin().clone())
}

/// A tenant named by the request itself (a header), next to the credential's own.
#[derive(Debug, Clone)]
pub enum TenantSelector {
    Id(String),
    Slug(String),
    /// The request's host: it names a tenant only if it is a verified custom domain.
    Host(String),
}

impl Application {
    /// Checks a tenant named by a header against the credential's tenant: the
    /// credential decides, so a header naming any other tenant is refused
    /// (`FORBIDDEN`), and one naming no tenant at all is `NOT_FOUND`.
    pub async fn check_requested_tenant(
        &self,
        ctx: &RequestContext,
        selector: &TenantSelector,
    ) -> Result<(), AppError> {
        let requested = match selector {
            TenantSelector::Id(raw) => {
                let id = TenantId::parse(raw).map_err(|_| AppError::validation("X-Tenant-Id", "is not a valid id"))?;
                if id == ctx.tenant_id() {
                    return Ok(());
                }
                let tx = self.global_tx().await?;
                tx.tenants().find_by_id(id).await?
            }
            TenantSelector::Slug(raw) => {
                let slug = Slug::parse(raw).map_err(|e| AppError::validation("X-Tenant-Slug", e.to_string()))?;
                let tx = self.global_tx().await?;
                tx.tenants().find_by_slug(&slug).await?
            }
            TenantSelector::Host(host) => {
                return match self.tenant_of_domain(host).await? {
                    None => Ok(()),
                    Some(id) if id == ctx.tenant_id() => Ok(()),
                    Some(_) => Err(tenant_mismatch()),
                };
            }
        };
        match requested {
            None => Err(AppError::NotFound("tenant")),
            Some(tenant) if tenant.id == ctx.tenant_id() => Ok(()),
            Some(_) => Err(tenant_mismatch()),
        }
    }
}

fn tenant_mismatch() -> AppError {
    AppError::Forbidden {
        reason: ForbiddenReason::TenantMismatch,
        message: "the requested tenant is not the one this credential belongs to; switch tenants first".into(),
    }
}
