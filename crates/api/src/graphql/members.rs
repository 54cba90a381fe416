//! Members of the current tenant.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Lookahead, Object, Result};
use chrono::{DateTime, Utc};
use tessera_application::members::MemberListFilter;
use tessera_application::{PageRequest, WithPeople};
use tessera_domain::{
    Membership, MembershipStatus as DomainStatus, Role as DomainRole, RoleId, User as DomainUser, UserId,
};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::identity::User;
use super::loaders::{FirstWorkspacesOf, MembershipOf, load_required, prefetch, rows_ask_for};
use super::pagination::{page_cost, relay_connection};
use super::roles::Role;
use super::workspaces::MemberWorkspaceConnection;
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["members", "member"], Access::Permission(Permission::MembersRead)),
    ("Mutation", &["updateMemberRole", "removeMember"], Access::Permission(Permission::MembersManage)),
    ("Mutation", &["leaveTenant", "transferOwnership"], Access::Person),
    // Member: a member of the tenant, behind `members:read`; every field listed
    ("Member", &["user", "role", "status", "joinedAt", "workspaces"], Access::Inherited),
    ("MemberConnection", &["*"], Access::Inherited),
    ("MemberEdge", &["*"], Access::Inherited),
];

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MembershipStatus {
    Invited,
    Active,
    Removed,
}

impl From<DomainStatus> for MembershipStatus {
    fn from(status: DomainStatus) -> Self {
        match status {
            DomainStatus::Invited => Self::Invited,
            DomainStatus::Active => Self::Active,
            DomainStatus::Removed => Self::Removed,
        }
    }
}

impl From<MembershipStatus> for DomainStatus {
    fn from(status: MembershipStatus) -> Self {
        match status {
            MembershipStatus::Invited => Self::Invited,
            MembershipStatus::Active => Self::Active,
            MembershipStatus::Removed => Self::Removed,
        }
    }
}

/// A member. On a members page (where it is also the page's row) it holds a share of
/// the user and role read with the page when the document asked for them, so its
/// `user` and `role` need no loader.
#[derive(Clone)]
pub struct Member {
    membership: Membership,
    user: Option<Arc<DomainUser>>,
    role: Option<Arc<DomainRole>>,
}

impl From<Membership> for Member {
    fn from(membership: Membership) -> Self {
        Self {
            membership,
            user: None,
            role: None,
        }
    }
}

impl From<&Membership> for Member {
    fn from(membership: &Membership) -> Self {
        membership.clone().into()
    }
}

impl super::pagination::Cursored for Member {
    fn cursor(&self) -> String {
        self.membership.cursor()
    }
}

/// A page's row as its node (the connection builds nodes from its rows).
impl From<&Member> for Member {
    fn from(row: &Member) -> Self {
        row.clone()
    }
}

/// A person's membership of the tenant.
#[Object]
impl Member {
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        match &self.user {
            Some(user) => Ok(User::from(user.clone())),
            None => load_required(ctx, self.membership.user_id, "user")
                .await
                .map(User::from),
        }
    }

    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        match &self.role {
            Some(role) => Ok(Role::from(role.clone())),
            None => Role::of_row(ctx, self.membership.role_id).await,
        }
    }

    async fn status(&self) -> MembershipStatus {
        self.membership.status.into()
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.membership.created_at
    }

    /// The workspaces this member belongs to, in the order they joined them; only those
    /// you can see (all of them with `workspaces:manage`, otherwise those you share).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MemberWorkspaceConnection> {
        let request = member(ctx)?;
        let user_id = self.membership.user_id;
        // Asked per member, so one member's refusal does not fail a batch of others.
        request.authorize_member_read(user_id).gql()?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        // A first page of each member in a list is batched across the members.
        let page = if after.is_none() && before.is_none() && last.is_none() {
            load_required(ctx, FirstWorkspacesOf(user_id, page.limit), "member").await?
        } else {
            application(ctx)
                .list_member_workspaces(request, user_id, &page)
                .await
                .gql()?
        };
        Ok(MemberWorkspaceConnection { page, extra: user_id })
    }
}

relay_connection!(
    MemberConnection,
    MemberEdge,
    Member,
    Member,
    MemberListFilter,
    |app, request, filter| { app.count_members(request, filter) },
    prefetch = prefetch_members
);

/// A members page's memberships read back through `user { membership }`, in one batch
/// (only those the caller may read: the others are refused row by row). Its users and
/// roles need no look-ahead: `members` reads them with the page.
async fn prefetch_members(ctx: &Context<'_>, items: &[Member], wanted: &Lookahead<'_>) {
    let Ok(request) = member(ctx) else { return };
    let readable = items
        .iter()
        .map(|row| &row.membership)
        .filter(|m| request.authorize_member_read(m.user_id).is_ok())
        .map(|m| MembershipOf(m.user_id));
    prefetch(ctx, wanted.field("user").field("membership").exists(), readable).await;
}

#[derive(InputObject, Default)]
pub struct MemberFilterInput {
    /// Part of the email or display name, case-insensitive.
    pub search: Option<String>,
    pub role_id: Option<ID>,
    pub status: Option<MembershipStatus>,
}

#[derive(InputObject)]
pub struct UpdateMemberRoleInput {
    pub user_id: ID,
    pub role_id: ID,
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// The tenant's members, oldest first. Needs `members:read`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<MemberFilterInput>,
    ) -> Result<MemberConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let filter = filter.unwrap_or_default();
        let filter = MemberListFilter {
            search: filter.search,
            role_id: match filter.role_id {
                Some(raw) => Some(parse_id("roleId", &raw, RoleId::parse)?),
                None => None,
            },
            status: filter.status.map(Into::into),
        };
        // The users and roles the rows will ask for are read with the page, in its
        // transaction, and each row holds a share of its own.
        let with = WithPeople {
            users: rows_ask_for(ctx, "user"),
            roles: rows_ask_for(ctx, "role"),
        };
        let read = application(ctx)
            .list_members_with(request, &filter, &page, with)
            .await
            .gql()?;
        let users: HashMap<UserId, Arc<DomainUser>> =
            read.users.into_iter().map(|user| (user.id, Arc::new(user))).collect();
        let roles: HashMap<RoleId, Arc<DomainRole>> =
            read.roles.into_iter().map(|role| (role.id, Arc::new(role))).collect();
        Ok(MemberConnection {
            page: read.page.map(|membership| Member {
                user: users.get(&membership.user_id).cloned(),
                role: roles.get(&membership.role_id).cloned(),
                membership,
            }),
            extra: filter,
        })
    }

    /// One member by user id; null when that user is not a member here.
    async fn member(&self, ctx: &Context<'_>, user_id: ID) -> Result<Option<Member>> {
        let request = member(ctx)?;
        let user_id = parse_id("userId", &user_id, UserId::parse)?;
        Ok(application(ctx)
            .get_member(request, user_id)
            .await
            .gql()?
            .as_ref()
            .map(Member::from))
    }
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Needs `members:manage`, and every permission of both the old and the new role.
    async fn update_member_role(&self, ctx: &Context<'_>, input: UpdateMemberRoleInput) -> Result<Member> {
        let request = member(ctx)?;
        let user_id = parse_id("userId", &input.user_id, UserId::parse)?;
        let role_id = parse_id("roleId", &input.role_id, RoleId::parse)?;
        let app = application(ctx);
        app.update_member_role(request, user_id, role_id).await.gql()?;
        reload(ctx, user_id).await
    }

    /// Needs `members:manage`. Returns the removed user's id.
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<ID> {
        let request = member(ctx)?;
        let id = parse_id("userId", &user_id, UserId::parse)?;
        application(ctx).remove_member(request, id).await.gql()?;
        Ok(user_id)
    }

    /// Leaves the current tenant. The last owner cannot leave.
    async fn leave_tenant(&self, ctx: &Context<'_>) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx).leave_tenant(request).await.gql()?;
        Ok(true)
    }

    /// Owners only: makes another active member the owner; you become an admin.
    async fn transfer_ownership(&self, ctx: &Context<'_>, user_id: ID) -> Result<Member> {
        let request = member(ctx)?;
        let id = parse_id("userId", &user_id, UserId::parse)?;
        application(ctx).transfer_ownership(request, id).await.gql()?;
        reload(ctx, id).await
    }
}

async fn reload(ctx: &Context<'_>, user_id: UserId) -> Result<Member> {
    let request = member(ctx)?;
    application(ctx)
        .get_member(request, user_id)
        .await
        .gql()?
        .as_ref()
        .map(Member::from)
        .ok_or_else(|| super::errors::to_graphql_error(&tessera_application::AppError::NotFound("member")))
}
