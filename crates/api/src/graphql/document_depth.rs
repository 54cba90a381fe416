//! How deep a document nests, each part by its own rule. The schema's own fields count
//! level by level against `MAX_QUERY_DEPTH`. Introspection (`__schema`, `__type`) is
//! bounded by the schema rather than by the caller, so its `ofType` chains (which
//! GraphiQL's and the code generators' introspection queries nest a dozen deep) do not
//! count; what it may not do is repeat the schema inside itself: at most two levels of
//! the list fields that can (`fields`, `interfaces`, `possibleTypes`, `inputFields`),
//! the rule graphql-js applies to introspection. Measured through fragments, each
//! fragment once (a fragment spread many times, or a chain of fragments each spreading
//! the next twice, costs no more than one spread; a fragment met again on its own path
//! counts as nothing, cycles being the validator's to report). Used before a request is
//! identified (HTTP) and by the engine for every document it parses (WebSocket too),
//! where the tenant's plan may also allow fewer levels (`max_query_depth`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Variables};
use tessera_domain::Allowance;

use super::context::Caller;
use crate::http::RequestRefusal;

/// Introspection fields whose items can hold the schema's types again.
const INTROSPECTION_LISTS: &[&str] = &["fields", "interfaces", "possibleTypes", "inputFields"];

/// Levels of [`INTROSPECTION_LISTS`] one path through an introspection may nest.
pub const MAX_INTROSPECTION_LISTS: usize = 2;

/// Nesting beyond this is not counted further (any configured limit is far below it).
const DEPTH_COUNTED: usize = 256;

/// The deepest nesting of a document's operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Levels of the schema's own fields (`{ me { email } }` is 2).
    pub fields: usize,
    /// Levels of introspection list fields (`__schema { types { fields { name } } }` is 1).
    pub introspection_lists: usize,
}

impl Depth {
    /// Every operation of `document`, measured.
    pub fn of(document: &ExecutableDocument) -> Self {
        let mut walker = Walker {
            document,
            fragments: HashMap::new(),
            in_progress: HashSet::new(),
        };
        document
            .operations
            .iter()
            .map(|(_, operation)| walker.set(&operation.node.selection_set.node, false, 0))
            .fold(Self::default(), Self::deepest)
    }

    fn deepest(self, other: Self) -> Self {
        Self {
            fields: self.fields.max(other.fields),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
        }
    }

    /// Why a document this deep is refused with `max_depth` levels of fields allowed.
    pub fn refusal(self, max_depth: usize) -> Option<String> {
        if self.fields > max_depth {
            return Some(format!(
                "the document is nested too deep ({} levels of fields); at most {max_depth} are allowed",
                self.fields
            ));
        }
        if self.introspection_lists > MAX_INTROSPECTION_LISTS {
            return Some(format!(
                "the introspection nests `fields`, `interfaces`, `possibleTypes` or `inputFields` {} levels deep; \
                 at most {MAX_INTROSPECTION_LISTS} are allowed",
                self.introspection_lists
            ));
        }
        None
    }
}

struct Walker<'d> {
    document: &'d ExecutableDocument,
    /// A fragment's depth, by name and by whether it was spread inside introspection.
    fragments: HashMap<(&'d str, bool), Depth>,
    in_progress: HashSet<(&'d str, bool)>,
}

impl<'d> Walker<'d> {
    fn set(&mut self, set: &'d SelectionSet, introspection: bool, level: usize) -> Depth {
        if level > DEPTH_COUNTED {
            return Depth::default();
        }
        let mut deepest = Depth::default();
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let inner = &field.node.selection_set.node;
                    if introspection {
                        let below = self.set(inner, true, level + 1);
                        Depth {
                            fields: 0,
                            introspection_lists: below.introspection_lists
                                + usize::from(INTROSPECTION_LISTS.contains(&name)),
                        }
                    } else if name == "__schema" || name == "__type" {
                        self.set(inner, true, level + 1)
                    } else if name.starts_with("__") {
                        Depth::default()
                    } else {
                        let below = self.set(inner, false, level + 1);
                        Depth {
                            fields: below.fields + 1,
                            ..below
                        }
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node, introspection, level)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), introspection, level)
                }
            };
            deepest = deepest.deepest(depth);
        }
        deepest
    }

    fn fragment(&mut self, name: &'d str, introspection: bool, level: usize) -> Depth {
        let key = (name, introspection);
        if let Some(depth) = self.fragments.get(&key) {
            return *depth;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Depth::default();
        };
        if !self.in_progress.insert(key) {
            return Depth::default();
        }
        let depth = self.set(&fragment.node.selection_set.node, introspection, level);
        self.in_progress.remove(&key);
        self.fragments.insert(key, depth);
        depth
    }
}

/// The engine's depth check, by the rules above (in place of its own, which counts
/// introspection like any field): every parsed document, whichever way it came.
pub struct DepthLimit {
    max_depth: usize,
}

impl DepthLimit {
    pub fn new(max_depth: usize) -> Self {
        Self { max_depth }
    }
}

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DepthCheck {
            max_depth: self.max_depth,
        })
    }
}

struct DepthCheck {
    max_depth: usize,
}

#[async_trait::async_trait]
impl Extension for DepthCheck {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let depth = Depth::of(&document);
        if let Some(message) = depth.refusal(self.max_depth) {
            return Err(refused(message, RequestRefusal::QueryTooDeep));
        }
        // The tenant's plan may bound it more tightly than the server does.
        if let Some(Caller::Member(request)) = ctx.data_opt::<Caller>()
            && let Allowance::AtMost(most) = request.limits().max_query_depth
            && u64::try_from(depth.fields).unwrap_or(u64::MAX) > most
        {
            return Err(refused(
                format!(
                    "the query's depth is {}; the tenant's plan allows at most {most} (max_query_depth)",
                    depth.fields
                ),
                RequestRefusal::ValidationFailed,
            ));
        }
        Ok(document)
    }
}

/// A document refused before it runs, with its code from the refusal table.
fn refused(message: String, refusal: RequestRefusal) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", refusal.code());
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(query: &str) -> Depth {
        Depth::of(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn fields_count_and_introspection_counts_only_its_repeating_lists() {
        assert_eq!(depth("{ me { email } }").fields, 2);
        assert_eq!(depth("{ me { __typename } }").fields, 1);
        let of_type = format!(
            "{{ __type(name: \"X\") {{ fields {{ type {{ {} name {} }} }} }} }}",
            "ofType { ".repeat(10),
            "}".repeat(10)
        );
        let of_type = of_type.as_str();
        assert_eq!(
            depth(of_type),
            Depth {
                fields: 0,
                introspection_lists: 1
            }
        );
        let repeated = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert_eq!(depth(repeated).introspection_lists, 3);
        assert!(depth(repeated).refusal(12).is_some());
        assert!(depth("{ a { b { c } } }").refusal(2).is_some());
        assert!(depth(of_type).refusal(2).is_none());
    }

    #[test]
    fn a_fragment_counts_by_where_it_is_spread_and_once_however_often() {
        let through_fragment = "{ __schema { types { ...T } } } fragment T on __Type { fields { type { ...T } } }";
        // The fragment meets itself on its own path: counted once, the cycle is the validator's.
        assert_eq!(depth(through_fragment).introspection_lists, 1);
        let mut chain = String::from("query { me { ...F0 } }");
        for n in 0..30 {
            chain.push_str(&format!(" fragment F{n} on User {{ ...F{} ...F{} }}", n + 1, n + 1));
        }
        chain.push_str(" fragment F30 on User { email }");
        assert_eq!(depth(&chain).fields, 2);
    }
}
