//! The permission catalogue and tenant roles.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::roles::{CreateRole, DeleteRole, UpdateRole};
use tessera_domain::{Permission, Role as DomainRole, RoleId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::pagination::{page_cost, relay_connection};

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["permissions"], Access::Public),
    ("PermissionInfo", &["*"], Access::Inherited),
    ("Query", &["roles", "role", "myRole"], Access::Member),
    ("Mutation", &["createRole", "updateRole", "deleteRole"], Access::Permission(Permission::RolesManage)),
    ("Role", &["*"], Access::Inherited),
    ("RoleConnection", &["*"], Access::Inherited),
    ("RoleEdge", &["*"], Access::Inherited),
];

/// One entry of the closed permission catalogue, for role editors.
#[derive(SimpleObject, Clone)]
pub struct PermissionInfo {
    /// Stable name, e.g. `members:invite`.
    pub name: String,
    /// Display group, e.g. `Members`.
    pub group: String,
    pub description: String,
}

impl From<Permission> for PermissionInfo {
    fn from(permission: Permission) -> Self {
        Self {
            name: permission.as_str().to_owned(),
            group: permission.group().to_owned(),
            description: permission.description().to_owned(),
        }
    }
}

#[derive(Default)]
pub struct RoleQuery;

// Each field is worked out only when a document asks for it (a members page shows a
// role on every row, usually only its name and permissions).
#[derive(Clone)]
pub struct Role(Arc<DomainRole>);

/// A named set of permissions inside the tenant.
#[Object]
impl Role {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        self.0.name.as_str()
    }

    /// `owner`, `admin`, `member` or `viewer` for the seeded roles; null for the tenant's own.
    async fn system_key(&self) -> Option<&'static str> {
        self.0.system.map(|s| s.key())
    }

    /// False for the owner role, which is fixed.
    async fn editable(&self) -> bool {
        !self.0.is_owner()
    }

    /// Stable permission names, e.g. `members:invite`.
    async fn permissions(&self) -> PermissionNames<'_> {
        PermissionNames(&self.0.permissions)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

impl From<Arc<DomainRole>> for Role {
    fn from(role: Arc<DomainRole>) -> Self {
        Self(role)
    }
}

impl From<&DomainRole> for Role {
    fn from(role: &DomainRole) -> Self {
        Self(Arc::new(role.clone()))
    }
}

/// A role's permission names: `[String!]!` in the schema, answered as one list value
/// instead of through the engine's resolution of each name as an item of its own (a
/// members page asks every row's role for them).
pub struct PermissionNames<'a>(&'a tessera_domain::PermissionSet);

impl async_graphql::OutputType for PermissionNames<'_> {
    fn type_name() -> std::borrow::Cow<'static, str> {
        <Vec<&str> as async_graphql::OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<&str> as async_graphql::OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        <Vec<&str> as async_graphql::OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &async_graphql::ContextSelectionSet<'_>,
        _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        Ok(async_graphql::Value::List(
            self.0
                .iter()
                .map(|permission| async_graphql::Value::String(permission.as_str().to_owned()))
                .collect(),
        ))
    }
}

impl Role {
    /// The role a row points at, through the request's loader.
    pub(crate) async fn of_row(ctx: &Context<'_>, id: RoleId) -> Result<Self> {
        super::loaders::load_required(ctx, id, "role").await.map(Self)
    }
}

relay_connection!(
    RoleConnection,
    RoleEdge,
    Role,
    DomainRole,
    (),
    |app, request, _extra| { app.count_roles(request) }
);

#[derive(InputObject)]
pub struct CreateRoleInput {
    pub name: String,
    /// Permission names; you can only grant permissions you hold.
    pub permissions: Vec<String>,
}

#[derive(InputObject)]
pub struct UpdateRoleInput {
    pub id: ID,
    pub name: Option<String>,
    /// Replaces the role's permissions when given.
    pub permissions: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct DeleteRoleInput {
    pub id: ID,
    /// Where the role's holders move; required while anyone holds the role.
    pub replacement_role_id: Option<ID>,
}

#[Object]
impl RoleQuery {
    /// Every permission a role can grant, in catalogue order.
    async fn permissions(&self) -> Vec<PermissionInfo> {
        Permission::ALL.iter().copied().map(PermissionInfo::from).collect()
    }

    /// The tenant's roles, oldest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<RoleConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_roles(request, &page).await.gql()?;
        Ok(RoleConnection { page, extra: () })
    }

    /// The caller's own role in the current tenant, with its permissions; null for an
    /// API key (a key holds permissions, not a role).
    async fn my_role(&self, ctx: &Context<'_>) -> Result<Option<Role>> {
        let request = member(ctx)?;
        Ok(application(ctx).my_role(request).await.gql()?.as_ref().map(Role::from))
    }

    /// One role of the tenant; null when it does not exist there.
    async fn role(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Role>> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, RoleId::parse)?;
        Ok(application(ctx)
            .get_role(request, id)
            .await
            .gql()?
            .as_ref()
            .map(Role::from))
    }
}

#[derive(Default)]
pub struct RoleMutation;

#[Object]
impl RoleMutation {
    async fn create_role(&self, ctx: &Context<'_>, input: CreateRoleInput) -> Result<Role> {
        let request = member(ctx)?;
        let command = CreateRole {
            name: input.name,
            permissions: input.permissions,
        };
        application(ctx)
            .create_role(request, command)
            .await
            .gql()
            .map(|r| Role::from(&r))
    }

    async fn update_role(&self, ctx: &Context<'_>, input: UpdateRoleInput) -> Result<Role> {
        let request = member(ctx)?;
        let id = parse_id("id", &input.id, RoleId::parse)?;
        let command = UpdateRole {
            id,
            name: input.name,
            permissions: input.permissions,
        };
        application(ctx)
            .update_role(request, command)
            .await
            .gql()
            .map(|r| Role::from(&r))
    }

    /// Returns the id of the deleted role.
    async fn delete_role(&self, ctx: &Context<'_>, input: DeleteRoleInput) -> Result<ID> {
        let request = member(ctx)?;
        let id = parse_id("id", &input.id, RoleId::parse)?;
        let replacement_role_id = match input.replacement_role_id {
            Some(raw) => Some(parse_id("replacementRoleId", &raw, RoleId::parse)?),
            None => None,
        };
        let command = DeleteRole {
            id,
            replacement_role_id,
        };
        application(ctx)
            .delete_role(request, command)
            .await
            .gql()
            .map(|id| ID(id.to_string()))
    }
}
