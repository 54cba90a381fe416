//! Directory provisioning (SCIM), administered by the tenant's owners: the bearer
//! tokens its directory client presents at `/scim/v2`, and which role each of the
//! directory's groups gives its members.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_domain::{RoleId, ScimGroup as DomainGroup, ScimGroupId, ScimToken as DomainToken, ScimTokenId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};

pub(super) const RULES: &[Rule] = &[
    // Owners only: the use cases check the role.
    ("Query", &["scimTokens", "scimGroups"], Access::Person),
    (
        "Mutation",
        &["createScimToken", "revokeScimToken", "mapScimGroup"],
        Access::Person,
    ),
    // Reached only through the owner's queries and mutations.
    (
        "ScimToken",
        &["id", "name", "createdAt", "lastUsedAt", "revokedAt"],
        Access::Inherited,
    ),
    ("CreatedScimToken", &["token", "secret"], Access::Inherited),
    (
        "ScimGroup",
        &["id", "displayName", "externalId", "roleId", "createdAt", "updatedAt"],
        Access::Inherited,
    ),
    ("ScimGroupPage", &["items", "total"], Access::Inherited),
];

/// A bearer token of the tenant's directory client (its secret is shown once, when
/// created).
pub struct ScimToken(DomainToken);

#[Object]
impl ScimToken {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// At most a minute behind.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new token and its secret: give the secret to the directory client as its bearer
/// token for `/scim/v2`. It is shown this once.
#[derive(SimpleObject)]
pub struct CreatedScimToken {
    token: ScimToken,
    secret: String,
}

/// A group of the tenant's directory, and the role it gives its members.
pub struct ScimGroup(DomainGroup);

#[Object]
impl ScimGroup {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// The role the group gives its members; null: none (they get `member`, unless
    /// another of their groups gives more).
    async fn role_id(&self) -> Option<ID> {
        self.0.role_id.map(|id| ID(id.to_string()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One page of the directory's groups.
#[derive(SimpleObject)]
pub struct ScimGroupPage {
    items: Vec<ScimGroup>,
    /// How many groups the directory has.
    total: u64,
}

#[derive(Default)]
pub struct ScimQuery;

#[Object]
impl ScimQuery {
    /// The tenant's directory tokens, the newest 50 (owners).
    async fn scim_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ScimToken>> {
        let request = member(ctx)?;
        Ok(application(ctx)
            .scim_tokens(request)
            .await
            .gql()?
            .into_iter()
            .map(ScimToken)
            .collect())
    }

    /// The directory's groups, to map to roles (owners). `offset` from 0, `limit` up
    /// to 100.
    async fn scim_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0, validator(minimum = 0))] offset: i64,
        #[graphql(default = 50, validator(minimum = 1, maximum = 100))] limit: i64,
    ) -> Result<ScimGroupPage> {
        let request = member(ctx)?;
        let page = application(ctx)
            .scim_groups_for_owner(request, offset as u64, limit as u64)
            .await
            .gql()?;
        Ok(ScimGroupPage {
            items: page.items.into_iter().map(ScimGroup).collect(),
            total: page.total,
        })
    }
}

#[derive(Default)]
pub struct ScimMutation;

#[Object]
impl ScimMutation {
    /// Creates a bearer token for the tenant's directory client (owners, with `scim`
    /// in the plan; at most 5 live).
    async fn create_scim_token(&self, ctx: &Context<'_>, name: String) -> Result<CreatedScimToken> {
        let request = member(ctx)?;
        let created = application(ctx).create_scim_token(request, &name).await.gql()?;
        Ok(CreatedScimToken {
            token: ScimToken(created.token),
            secret: created.secret,
        })
    }

    /// Revokes a directory token (owners): its next request is refused.
    async fn revoke_scim_token(&self, ctx: &Context<'_>, id: ID) -> Result<ScimToken> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, ScimTokenId::parse)?;
        Ok(ScimToken(application(ctx).revoke_scim_token(request, id).await.gql()?))
    }

    /// Sets the role a directory group gives its members (owners; never the owner
    /// role), or none with `roleId: null`. Each member gets the strongest role their
    /// groups give, `member` when none does; owners keep theirs.
    async fn map_scim_group(&self, ctx: &Context<'_>, group_id: ID, role_id: Option<ID>) -> Result<ScimGroup> {
        let request = member(ctx)?;
        let group_id = parse_id("groupId", &group_id, ScimGroupId::parse)?;
        let role_id = match role_id {
            Some(raw) => Some(parse_id("roleId", &raw, RoleId::parse)?),
            None => None,
        };
        Ok(ScimGroup(
            application(ctx)
                .map_scim_group(request, group_id, role_id)
                .await
                .gql()?,
        ))
    }
}
