//! DataLoaders: one per request, made for the request's caller (a loader shared
//! between requests would share what it loaded across callers and tenants). Each
//! relation the schema exposes has its own key type, so the keys of one resolution
//! pass are batched into one call of an application use case, which reads them inside
//! the caller's tenant scope: a page costs the same statements for 5 rows or 100.
//!
//! | relation                        | key                    | use case                       |
//! |---------------------------------|------------------------|--------------------------------|
//! | membership → user               | `UserId`               | `users_by_ids`                 |
//! | membership → role (permissions) | `RoleId`               | `roles_by_ids`                 |
//! | workspace membership → workspace| `WorkspaceId`          | `workspaces_by_ids`            |
//! | my membership → tenant          | `TenantId`             | `my_tenants_by_ids`            |
//! | user → membership here          | [`MembershipOf`]       | `memberships_of_users`         |
//! | workspace → first members       | [`FirstMembersOf`]     | `first_members_of_workspaces`  |
//! | member → first workspaces       | [`FirstWorkspacesOf`]  | `first_workspaces_of_members`  |
//! | workspace → member count        | [`MemberCountOf`]      | `count_members_of_workspaces`  |
//! | member → workspace count        | [`WorkspaceCountOf`]   | `count_workspaces_of_members`  |
//!
//! A role's permissions are aggregated into the role's own row, so loading a role
//! loads them: there is no separate statement to batch.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Result};
use tessera_application::{AppError, Application, Page, PageWithPeople, RequestContext, WithPeople};
use tessera_domain::{
    Membership, Role, RoleId, Tenant, TenantId, User, UserId, Workspace, WorkspaceId, WorkspaceMembership,
};

use super::context::CloneForCaller;
use super::errors::to_graphql_error;

/// The loaders of one request, all made by `request`.
pub struct RequestLoader {
    app: Arc<Application>,
    request: RequestContext,
    remembers: bool,
}

/// A user's membership of the request's tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MembershipOf(pub UserId);

/// The first `.1` members of a workspace, with the users and roles they point at as
/// `.2` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstMembersOf(pub WorkspaceId, pub u32, pub WithPeople);

/// The first `.1` workspace memberships of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstWorkspacesOf(pub UserId, pub u32);

/// How many members a workspace has (its members' `totalCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberCountOf(pub WorkspaceId);

/// How many workspaces a member belongs to (their workspaces' `totalCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkspaceCountOf(pub UserId);

type Loaded<K, V> = Result<HashMap<K, V>, Arc<AppError>>;

/// A failed batch, shared by all its keys. An internal fault's cause is logged here,
/// once per batch: the keys' fields report it without its cause.
fn shared(error: AppError) -> Arc<AppError> {
    if let AppError::Internal(cause) = &error {
        tracing::error!(error = %cause, "a batch of relations could not be loaded");
    }
    Arc::new(error)
}

/// Keys each item by `key`.
fn keyed<K: Eq + Hash, V>(items: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V> {
    items.into_iter().map(|item| (key(&item), item)).collect()
}

/// Groups keys that carry a page size by that size (with whatever else a batch must share,
/// such as what is read along with the pages; one pass nearly always asks one size).
fn by_page_size<I: Copy, K, S: Eq + Hash>(keys: &[K], split: impl Fn(&K) -> (I, S)) -> HashMap<S, Vec<I>> {
    let mut grouped: HashMap<S, Vec<I>> = HashMap::new();
    for key in keys {
        let (id, size) = split(key);
        grouped.entry(size).or_default().push(id);
    }
    grouped
}

/// Loaders of records by their own id: one use-case call for the whole batch. Users
/// and roles are shared (`Arc`): every row of a page that points at one takes it from
/// the loader's cache, and a copy per row would copy its names and permissions.
macro_rules! by_id {
    ($($id:ty => $record:ty: $use_case:ident $(, $shared:ident)?;)*) => {$(
        impl Loader<$id> for RequestLoader {
            type Value = by_id!(@value $record $(, $shared)?);
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$id]) -> Loaded<$id, Self::Value> {
                let records = self.app.$use_case(&self.request, keys).await.map_err(shared)?;
                Ok(keyed(records.into_iter()$(.map($shared::new))?.collect(), |record| record.id))
            }
        }
    )*};
    (@value $record:ty) => { $record };
    (@value $record:ty, $shared:ident) => { $shared<$record> };
}

by_id! {
    UserId => User: users_by_ids, Arc;
    RoleId => Role: roles_by_ids, Arc;
    WorkspaceId => Workspace: workspaces_by_ids;
    TenantId => Tenant: my_tenants_by_ids;
}

impl Loader<MembershipOf> for RequestLoader {
    type Value = Membership;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[MembershipOf]) -> Loaded<MembershipOf, Membership> {
        let ids: Vec<UserId> = keys.iter().map(|key| key.0).collect();
        let memberships = self
            .app
            .memberships_of_users(&self.request, &ids)
            .await
            .map_err(shared)?;
        Ok(keyed(memberships, |membership| MembershipOf(membership.user_id)))
    }
}

impl Loader<FirstMembersOf> for RequestLoader {
    type Value = PageWithPeople<WorkspaceMembership>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[FirstMembersOf]) -> Loaded<FirstMembersOf, Self::Value> {
        let mut loaded = HashMap::with_capacity(keys.len());
        for ((first, with), ids) in by_page_size(keys, |key| (key.0, (key.1, key.2))) {
            let pages = self
                .app
                .first_members_of_workspaces(&self.request, &ids, first, with)
                .await
                .map_err(shared)?;
            loaded.extend(
                pages
                    .into_iter()
                    .map(|(id, page)| (FirstMembersOf(id, first, with), page)),
            );
        }
        Ok(loaded)
    }
}

impl Loader<FirstWorkspacesOf> for RequestLoader {
    type Value = Page<WorkspaceMembership>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[FirstWorkspacesOf]) -> Loaded<FirstWorkspacesOf, Self::Value> {
        let mut loaded = HashMap::with_capacity(keys.len());
        for (first, ids) in by_page_size(keys, |key| (key.0, key.1)) {
            let pages = self
                .app
                .first_workspaces_of_members(&self.request, &ids, first)
                .await
                .map_err(shared)?;
            loaded.extend(pages.into_iter().map(|(id, page)| (FirstWorkspacesOf(id, first), page)));
        }
        Ok(loaded)
    }
}

impl Loader<MemberCountOf> for RequestLoader {
    type Value = u64;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[MemberCountOf]) -> Loaded<MemberCountOf, u64> {
        let ids: Vec<WorkspaceId> = keys.iter().map(|key| key.0).collect();
        let counts = self
            .app
            .count_members_of_workspaces(&self.request, &ids)
            .await
            .map_err(shared)?;
        Ok(counts.into_iter().map(|(id, n)| (MemberCountOf(id), n)).collect())
    }
}

impl Loader<WorkspaceCountOf> for RequestLoader {
    type Value = u64;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[WorkspaceCountOf]) -> Loaded<WorkspaceCountOf, u64> {
        let ids: Vec<UserId> = keys.iter().map(|key| key.0).collect();
        let counts = self
            .app
            .count_workspaces_of_members(&self.request, &ids)
            .await
            .map_err(shared)?;
        Ok(counts.into_iter().map(|(id, n)| (WorkspaceCountOf(id), n)).collect())
    }
}

/// The loaders of one request, as they sit in its GraphQL context.
pub type RequestLoaders = DataLoader<RequestLoader, HashMapCache>;

/// The loaders for one request made by `request`; each collects keys for `delay`
/// after its first before it reads them. A query's loaders remember what they loaded
/// for the rest of the request, so a page's relations can be loaded ahead of its rows
/// ([`prefetch`]); a mutation's do not, so that nothing read before one of its
/// writes is shown after it.
pub fn for_request(app: Arc<Application>, request: RequestContext, delay: Duration, remember: bool) -> RequestLoaders {
    let loaders = DataLoader::with_cache(
        RequestLoader {
            app,
            request,
            remembers: remember,
        },
        tokio::spawn,
        HashMapCache::default(),
    )
    .delay(delay);
    loaders.enable_all_cache(remember);
    loaders
}

/// Hands the loaders what a use case read along with a page (its rows' users and
/// roles, say), so the rows find them without a statement of their own. Nothing for a
/// mutation's loaders, which do not remember.
pub(crate) async fn remember<K>(
    ctx: &Context<'_>,
    values: impl IntoIterator<Item = (K, <RequestLoader as Loader<K>>::Value)>,
) where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    RequestLoader: Loader<K, Error = Arc<AppError>>,
{
    if let Some(loaders) = ctx.data_opt::<RequestLoaders>()
        && loaders.loader().remembers
    {
        loaders.feed_many(values).await;
    }
}

/// Whether the selection of a connection asks its rows for `field` (through `nodes`
/// or `edges { node }`).
pub(crate) fn rows_ask_for(ctx: &Context<'_>, field: &str) -> bool {
    let wanted = ctx.look_ahead();
    wanted.field("nodes").field(field).exists() || wanted.field("edges").field("node").field(field).exists()
}

/// Loads the keys a whole page points at, in one batch, before its rows ask one key
/// each: rows are resolved concurrently, but not all within one loader delay (the
/// executor yields every 32 list items, and a busy runtime may run other requests in
/// between), so without this a page of 50 could cost several statements per relation.
/// The rows then find their keys remembered. Does nothing unless `wanted`, or for a
/// mutation's loaders (which do not remember). A failure is left for the rows to report.
pub(crate) async fn prefetch<K>(ctx: &Context<'_>, wanted: bool, keys: impl IntoIterator<Item = K>)
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    RequestLoader: Loader<K, Error = Arc<AppError>>,
{
    let Some(loaders) = ctx.data_opt::<RequestLoaders>() else {
        return;
    };
    if wanted && loaders.loader().remembers {
        // The rows load their own keys again and report the error there.
        let _ = loaders.load_many(keys).await;
    }
}

/// Loads one value of a relation; `None` when the key names nothing the caller may see.
pub(crate) async fn load<K>(ctx: &Context<'_>, key: K) -> Result<Option<<RequestLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    RequestLoader: Loader<K, Error = Arc<AppError>>,
{
    load_or_refuse(ctx, key).await.map_err(|error| to_graphql_error(&error))
}

/// [`load`] with the use case's own error (for code that reports `AppError`s).
pub(crate) async fn load_or_refuse<K>(
    ctx: &Context<'_>,
    key: K,
) -> Result<Option<<RequestLoader as Loader<K>>::Value>, AppError>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    RequestLoader: Loader<K, Error = Arc<AppError>>,
{
    let loader = ctx
        .data_opt::<RequestLoaders>()
        .ok_or_else(|| AppError::internal("relations are loaded only for a tenant member's request"))?;
    loader.load_one(key).await.map_err(|error| match &*error {
        AppError::Internal(_) => AppError::internal("a relation could not be loaded (its cause is logged)"),
        refused => refused.clone_for_caller(),
    })
}

/// Loads one value that must exist: a row pointing at nothing is a storage fault.
pub(crate) async fn load_required<K>(
    ctx: &Context<'_>,
    key: K,
    what: &'static str,
) -> Result<<RequestLoader as Loader<K>>::Value>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    RequestLoader: Loader<K, Error = Arc<AppError>>,
{
    load(ctx, key)
        .await?
        .ok_or_else(|| to_graphql_error(&AppError::internal(format!("a row points at a missing {what}"))))
}
