//! Relay connections: page info, cursors, and a macro that declares a connection and
//! its edge type for one node type, so every list pages the same way.

use super::access::{Access, Rule};
use async_graphql::SimpleObject;
use tessera_application::Cursor;
use tessera_application::tenants::MyTenant;
use tessera_domain::{Membership, Role, Workspace, WorkspaceMembership};

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("PageInfo", &["*"], Access::Inherited),
];

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

/// Records listed oldest first: the cursor is their creation time and id.
macro_rules! cursored_by_creation {
    ($($record:ty),*) => {$(
        impl Cursored for $record {
            fn cursor(&self) -> String {
                Cursor::new(self.created_at, self.id.as_uuid()).encode()
            }
        }
    )*};
}
cursored_by_creation!(
    Workspace,
    tessera_domain::Invitation,
    Role,
    WorkspaceMembership,
    Membership
);

impl Cursored for MyTenant {
    fn cursor(&self) -> String {
        self.membership.cursor()
    }
}

/// `relay_connection!(Connection, Edge, Node, DomainItem, Extra, |app, request, extra| count_future)`
/// declares the connection (edges, nodes, pageInfo, and a `totalCount` computed only
/// when asked for) over `Page<DomainItem>`. `Extra` is whatever the count needs (a filter).
/// With `|ctx, app, request, extra|` the count also gets the GraphQL context (to count
/// through a loader, for connections nested in a list). A trailing `prefetch = path`
/// names `async fn(&Context, &[DomainItem], &Lookahead)`, called before `edges` or
/// `nodes` hand out the page, to load what its rows point at in one batch per relation.
macro_rules! relay_connection {
    ($connection:ident, $edge:ident, $node:ty, $item:ty, $extra:ty, |$app:ident, $request:ident, $extra_name:ident| $count:expr $(, prefetch = $prefetch:path)?) => {
        $crate::graphql::pagination::relay_connection!(
            $connection,
            $edge,
            $node,
            $item,
            $extra,
            |_ctx, $app, $request, $extra_name| $count
            $(, prefetch = $prefetch)?
        );
    };
    ($connection:ident, $edge:ident, $node:ty, $item:ty, $extra:ty, |$ctx:ident, $app:ident, $request:ident, $extra_name:ident| $count:expr $(, prefetch = $prefetch:path)?) => {
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
            async fn edges(&self, _ctx: &async_graphql::Context<'_>) -> Vec<$edge> {
                use $crate::graphql::pagination::Cursored;
                $( $prefetch(_ctx, &self.page.items, &_ctx.look_ahead().field("node")).await; )?
                self.page
                    .items
                    .iter()
                    .map(|item| $edge {
                        cursor: item.cursor(),
                        node: <$node>::from(item),
                    })
                    .collect()
            }

            async fn nodes(&self, _ctx: &async_graphql::Context<'_>) -> Vec<$node> {
                $( $prefetch(_ctx, &self.page.items, &_ctx.look_ahead()).await; )?
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
                let $ctx = ctx;
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
