//! Tenant API keys for partner integrations.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::api_keys::CreateApiKey;
use tessera_domain::{ApiKey as DomainApiKey, ApiKeyId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::pagination::{page_cost, relay_connection};
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["apiKeys"], Access::Permission(Permission::ApiKeysManage)),
    ("Mutation", &["createApiKey"], Access::Person),
    ("Mutation", &["revokeApiKey"], Access::Permission(Permission::ApiKeysManage)),
    ("ApiKey", &["*"], Access::Inherited),
    ("ApiKeyConnection", &["*"], Access::Inherited),
    ("ApiKeyEdge", &["*"], Access::Inherited),
    // CreatedApiKey: the key's secret, shown once to its creator; every field listed
    ("CreatedApiKey", &["apiKey", "secret"], Access::Inherited),
];

/// An API key (never its secret).
#[derive(SimpleObject, Clone)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_by: ID,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&DomainApiKey> for ApiKey {
    fn from(key: &DomainApiKey) -> Self {
        Self {
            id: ID(key.id.to_string()),
            name: key.name.as_str().to_owned(),
            permissions: key.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            created_by: ID(key.created_by.to_string()),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
        }
    }
}

impl super::pagination::Cursored for DomainApiKey {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

relay_connection!(
    ApiKeyConnection,
    ApiKeyEdge,
    ApiKey,
    DomainApiKey,
    (),
    |app, request, _extra| { app.count_api_keys(request) }
);

/// A new key and its secret. The secret is shown only here: store it now.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <secret>` or `X-Api-Key: <secret>`.
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Permission names; at most the ones you hold.
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The tenant's API keys, oldest first. Needs `api_keys:manage`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ApiKeyConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_api_keys(request, &page).await.gql()?;
        Ok(ApiKeyConnection { page, extra: () })
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Needs `api_keys:manage`, a signed-in person, and every permission given to the key.
    async fn create_api_key(&self, ctx: &Context<'_>, input: CreateApiKeyInput) -> Result<CreatedApiKey> {
        let request = member(ctx)?;
        let command = CreateApiKey {
            name: input.name,
            permissions: input.permissions,
            expires_at: input.expires_at,
        };
        let created = application(ctx).create_api_key(request, command).await.gql()?;
        Ok(CreatedApiKey {
            api_key: ApiKey::from(&created.key),
            secret: created.secret,
        })
    }

    /// Needs `api_keys:manage`. The key stops working on its next use.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let request = member(ctx)?;
        let id = parse_id("id", &id, ApiKeyId::parse)?;
        application(ctx)
            .revoke_api_key(request, id)
            .await
            .gql()
            .map(|k| ApiKey::from(&k))
    }
}
