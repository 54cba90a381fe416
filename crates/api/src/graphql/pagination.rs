//! Relay connections: page info, cursors, and a macro that declares a connection and
//! its edge type for one node type, so every list pages the same way.

use async_graphql::SimpleObject;
use tessera_application::Cursor;
use tessera_application::members::MemberView;
use tessera_application::workspaces::WorkspaceMemberView;
use tessera_domain::{Role, Workspace};

#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// An item that knows its position in its list.
pub trait Cursored {
    fn cursor(&self) -> String;
}

impl Cursored for Workspace {
    fn cursor(&self) -> String {
        Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

impl Cursored for tessera_domain::Invitation {
    fn cursor(&self) -> String {
        Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

impl Cursored for Role {
    fn cursor(&self) -> String {
        Cursor::new(self.created_at, self.id.as_uuid()).encode()
    }
}

impl Cursored for WorkspaceMemberView {
    fn cursor(&self) -> String {
        Cursor::new(self.membership.created_at, self.membership.id.as_uuid()).encode()
    }
}

impl Cursored for MemberView {
    fn cursor(&self) -> String {
        Cursor::new(self.membership.created_at, self.membership.id.as_uuid()).encode()
    }
}

/// `relay_connection!(Connection, Edge, Node, DomainItem, Extra, |app, request, extra| count_future)`
/// declares the connection (edges, nodes, pageInfo, and a `totalCount` computed only
/// when asked for) over `Page<DomainItem>`. `Extra` is whatever the count needs (a filter).
macro_rules! relay_connection {
    ($connection:ident, $edge:ident, $node:ty, $item:ty, $extra:ty, |$app:ident, $request:ident, $extra_name:ident| $count:expr) => {
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        pub struct $connection {
            pub(crate) page: tessera_application::Page<$item>,
            pub(crate) extra: $extra,
        }

        #[async_graphql::Object]
        impl $connection {
            async fn edges(&self) -> Vec<$edge> {
                use $crate::graphql::pagination::Cursored;
                self.page
                    .items
                    .iter()
                    .map(|item| $edge {
                        cursor: item.cursor(),
                        node: <$node>::from(item),
                    })
                    .collect()
            }

            async fn nodes(&self) -> Vec<$node> {
                self.page.items.iter().map(<$node>::from).collect()
            }

            async fn page_info(&self) -> $crate::graphql::pagination::PageInfo {
                use $crate::graphql::pagination::Cursored;
                $crate::graphql::pagination::PageInfo {
                    has_next_page: self.page.has_next_page,
                    has_previous_page: self.page.has_previous_page,
                    start_cursor: self.page.items.first().map(|item| item.cursor()),
                    end_cursor: self.page.items.last().map(|item| item.cursor()),
                }
            }

            /// The number of items in the whole list; counted only when asked for.
            async fn total_count(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<u64> {
                use $crate::graphql::errors::GqlResult;
                let $request = $crate::graphql::context::member(ctx)?;
                let $app = $crate::graphql::context::application(ctx);
                let $extra_name = &self.extra;
                $count.await.gql()
            }
        }
    };
}

pub(crate) use relay_connection;

/// The complexity of a page: its nodes' cost times the page size asked for (the
/// default page when none is given), so `first: 100` costs five times `first: 20`.
pub(crate) fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(20).max(1) as usize;
    size.saturating_mul(child_complexity).saturating_add(1)
}
