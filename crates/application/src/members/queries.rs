use tessera_domain::{Membership, MembershipStatus, Permission, Role, RoleId, User, UserId};

use crate::ports::{MemberFilter, Transaction};
use crate::{AppError, Application, Page, PageRequest, RequestContext, TenantScope};

/// A member as a list shows it: the membership, the person and their role.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub membership: Membership,
    pub user: User,
    pub role: Role,
}

/// Raw filter arguments from the caller.
#[derive(Debug, Clone, Default)]
pub struct MemberListFilter {
    pub search: Option<String>,
    pub role_id: Option<RoleId>,
    pub status: Option<MembershipStatus>,
}

impl MemberListFilter {
    fn validate(&self) -> Result<MemberFilter, AppError> {
        let search = match self.search.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(text) if text.chars().count() > 100 => {
                return Err(AppError::validation("search", "must be at most 100 characters"));
            }
            Some(text) => Some(text.to_lowercase()),
        };
        Ok(MemberFilter {
            search,
            role_id: self.role_id,
            status: self.status,
        })
    }
}

/// Joins memberships to their users and roles with one statement each, whatever the page size.
async fn views(
    tx: &dyn Transaction,
    scope: &TenantScope,
    memberships: Vec<Membership>,
) -> Result<Vec<MemberView>, AppError> {
    crate::people::with_people(
        tx,
        scope,
        memberships,
        |m| (m.user_id, m.role_id),
        |membership, user, role| MemberView { membership, user, role },
    )
    .await
}

impl Application {
    #[tracing::instrument(name = "list_members", skip_all)]
    pub async fn list_members(
        &self,
        ctx: &RequestContext,
        filter: &MemberListFilter,
        page: &PageRequest,
    ) -> Result<Page<MemberView>, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let filter = filter.validate()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let page = tx.memberships().list(&scope, &filter, page).await?;
        let items = views(tx.as_ref(), &scope, page.items).await?;
        Ok(Page {
            items,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
        })
    }

    pub async fn count_members(&self, ctx: &RequestContext, filter: &MemberListFilter) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let filter = filter.validate()?;
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        Ok(tx.memberships().count(&scope, &filter).await?)
    }

    /// `None` when the user is not a member of the caller's tenant.
    #[tracing::instrument(name = "get_member", skip_all, fields(user_id = %user_id))]
    pub async fn get_member(&self, ctx: &RequestContext, user_id: UserId) -> Result<Option<MemberView>, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let Some(membership) = tx.memberships().find_by_user(&scope, user_id).await? else {
            return Ok(None);
        };
        Ok(views(tx.as_ref(), &scope, vec![membership]).await?.pop())
    }
}
