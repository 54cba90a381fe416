use tessera_domain::{Membership, MembershipStatus, Permission, RoleId, UserId};

use crate::ports::MemberFilter;
use crate::{AppError, Application, Page, PageRequest, PageWithPeople, RequestContext, WithPeople};

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

impl Application {
    pub async fn list_members(
        &self,
        ctx: &RequestContext,
        filter: &MemberListFilter,
        page: &PageRequest,
    ) -> Result<Page<Membership>, AppError> {
        Ok(self
            .list_members_with(ctx, filter, page, WithPeople::default())
            .await?
            .page)
    }

    /// A page of members and, as `with` asks, their users and roles, all in one
    /// transaction: the users joined to the page's statement, the roles from the
    /// request's cache or in one more.
    #[tracing::instrument(level = "debug", name = "list_members", skip_all)]
    pub async fn list_members_with(
        &self,
        ctx: &RequestContext,
        filter: &MemberListFilter,
        page: &PageRequest,
        with: WithPeople,
    ) -> Result<PageWithPeople<Membership>, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let filter = filter.validate()?;
        let tx = self.tenant_tx(&scope).await?;
        if !with.users {
            let page = tx.memberships().list(&scope, &filter, page).await?;
            return self
                .page_with_people(tx.as_ref(), ctx, &scope, page, with, |m| (m.user_id, m.role_id))
                .await;
        }
        // The users come with the page, in its statement.
        let joined = tx.memberships().list_with_users(&scope, &filter, page).await?;
        let mut users = Vec::with_capacity(joined.items.len());
        let page = joined.map(|(membership, user)| {
            users.push(user);
            membership
        });
        let with_roles = WithPeople { users: false, ..with };
        let read = self
            .page_with_people(tx.as_ref(), ctx, &scope, page, with_roles, |m| (m.user_id, m.role_id))
            .await?;
        Ok(PageWithPeople { users, ..read })
    }

    pub async fn count_members(&self, ctx: &RequestContext, filter: &MemberListFilter) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let filter = filter.validate()?;
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.memberships().count(&scope, &filter).await?)
    }

    /// `None` when the user is not a member of the caller's tenant.
    #[tracing::instrument(level = "debug", name = "get_member", skip_all, fields(user_id = %user_id))]
    pub async fn get_member(&self, ctx: &RequestContext, user_id: UserId) -> Result<Option<Membership>, AppError> {
        let scope = ctx.authorize(Permission::MembersRead)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.memberships().find_by_user(&scope, user_id).await?)
    }

    /// The memberships of these users in the caller's tenant, in one statement (the
    /// batch behind a user's membership). A person may read their own; reading another
    /// person's, or reading as an API key, needs `members:read`
    /// ([`RequestContext::authorize_member_read`], which the resolver asks per key first).
    #[tracing::instrument(level = "debug", name = "memberships_of_users", skip_all, fields(users = user_ids.len()))]
    pub async fn memberships_of_users(
        &self,
        ctx: &RequestContext,
        user_ids: &[UserId],
    ) -> Result<Vec<Membership>, AppError> {
        let scope = ctx.member_scope()?;
        for user_id in user_ids {
            ctx.authorize_member_read(*user_id)?;
        }
        let tx = self.tenant_tx(scope).await?;
        Ok(tx.memberships().find_by_users(scope, user_ids).await?)
    }
}
