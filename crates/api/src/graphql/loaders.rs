//! DataLoaders, one per relation, created per request for the caller (a loader shared
//! between requests would share what it loaded across callers). Each batches the keys
//! of one resolution pass into one call of an application use case.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use tessera_application::workspaces::WorkspaceMemberView;
use tessera_application::{AppError, Application, Page, RequestContext};
use tessera_domain::WorkspaceId;

/// Workspace → its first members (keyed with the page size asked for).
pub struct WorkspaceMembersLoader {
    app: Arc<Application>,
    request: RequestContext,
}

impl Loader<(WorkspaceId, u32)> for WorkspaceMembersLoader {
    type Value = Page<WorkspaceMemberView>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[(WorkspaceId, u32)]) -> Result<HashMap<(WorkspaceId, u32), Self::Value>, Self::Error> {
        // Keys of one pass almost always share a page size: one call per size.
        let mut by_size: HashMap<u32, Vec<WorkspaceId>> = HashMap::new();
        for (id, first) in keys {
            by_size.entry(*first).or_default().push(*id);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for (first, ids) in by_size {
            let pages = self
                .app
                .first_members_of_workspaces(&self.request, &ids, first)
                .await
                .map_err(Arc::new)?;
            loaded.extend(pages.into_iter().map(|(id, page)| ((id, first), page)));
        }
        Ok(loaded)
    }
}

/// The loaders for one request made by `request`.
pub fn for_request(app: Arc<Application>, request: RequestContext) -> DataLoader<WorkspaceMembersLoader> {
    DataLoader::new(WorkspaceMembersLoader { app, request }, tokio::spawn)
}
