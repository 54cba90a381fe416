//! A document's shape, measured once per document text: it is parsed, its root fields,
//! aliases and depth are counted, and each operation's fields are found with their
//! access rules (see [`crate::graphql::access_plan`]). A bounded cache keeps that by the
//! text (persisted documents arrive here as their text too), so a document sent again
//! is neither parsed nor measured again: the engine gets a copy of the parsed document.
//! The engine validates a document in full until it has once run it (validation and
//! all); after that, a document that declares no variables (whose validation is then
//! the same for every request) runs on a schema that only measures its complexity and
//! depth. A document with variables is validated in full every time: the engine's
//! validation also checks the request's variables against it. Hits and misses are
//! counted in `tessera_cache_requests_total{kind="document"}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

use crate::graphql::access_plan::{FieldTypes, OperationFields};
use crate::graphql::document_depth::Depth;

/// Root fields that get the strict per-address bucket.
const AUTHENTICATION_FIELDS: &[&str] = &[
    "logIn",
    "signUp",
    "requestPasswordReset",
    "resetPassword",
    "refreshSession",
    "verifyMfa",
    "completeSsoSignIn",
];

/// What a parsed document costs to keep, per byte of its text (its syntax tree, the
/// names it shares, the fields found), and per entry.
const BYTES_PER_TEXT_BYTE: usize = 16;
const BYTES_PER_ENTRY: usize = 1024;

/// Documents measured so far, and the schema's field types to measure new ones with.
pub struct Documents {
    types: FieldTypes,
    cache: Option<moka::sync::Cache<Arc<str>, Arc<Entry>>>,
}

struct Entry {
    document: ExecutableDocument,
    measured: Arc<Measured>,
}

impl Documents {
    /// Keeps about `budget_bytes` of parsed documents (none with 0).
    pub fn new(types: FieldTypes, budget_bytes: u64) -> Self {
        let cache = (budget_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(budget_bytes)
                .weigher(|text: &Arc<str>, _: &Arc<Entry>| {
                    u32::try_from(text.len() * BYTES_PER_TEXT_BYTE + BYTES_PER_ENTRY).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self { types, cache }
    }

    /// The shape of the request's document. The parsed document is left in the
    /// request, so the engine does not parse it again; an unparsable one is left for
    /// the engine to report.
    pub fn shape(&self, request: &mut async_graphql::Request) -> Shape {
        if let Some(cache) = &self.cache {
            let found = cache.get(request.query.as_str());
            count(found.is_some());
            if let Some(entry) = found {
                request.set_parsed_query(entry.document.clone());
                return Shape::select(entry.measured.clone(), request.operation_name.as_deref());
            }
        }
        let Ok(document) = request.parsed_query() else {
            return Shape::select(Arc::default(), None);
        };
        let measured = Arc::new(Measured::of(document, &self.types));
        if let Some(cache) = &self.cache {
            let entry = Entry {
                document: document.clone(),
                measured: measured.clone(),
            };
            cache.insert(Arc::from(request.query.as_str()), Arc::new(entry));
        }
        Shape::select(measured, request.operation_name.as_deref())
    }
}

fn count(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("tessera_cache_requests_total", "kind" => "document", "result" => result, "layer" => "memory")
        .increment(1);
}

/// What one document holds, whichever operation runs (nothing, for a document that
/// does not parse).
#[derive(Debug)]
struct Measured {
    /// The root fields of every operation.
    names: Vec<String>,
    /// Some operation is a mutation.
    mutation: bool,
    most_root_fields: usize,
    aliases: usize,
    depth: Depth,
    label: &'static str,
    /// Each operation: its name, whether it is a mutation, and the fields it reaches.
    operations: Vec<(Option<String>, bool, OperationFields)>,
    /// Some operation declares variables.
    variables: bool,
    /// The engine ran the document (so it passed the engine's validation in full), and
    /// it declares no variables.
    validated: AtomicBool,
}

impl Default for Measured {
    fn default() -> Self {
        Self {
            names: Vec::new(),
            mutation: false,
            most_root_fields: 0,
            aliases: 0,
            depth: Depth::default(),
            label: "unknown",
            operations: Vec::new(),
            variables: false,
            validated: AtomicBool::new(false),
        }
    }
}

impl Measured {
    fn of(document: &ExecutableDocument, types: &FieldTypes) -> Self {
        let mut measured = Self::default();
        for (name, operation) in document.operations.iter() {
            let is_mutation = operation.node.ty == OperationType::Mutation;
            measured.mutation |= is_mutation;
            measured.variables |= !operation.node.variable_definitions.is_empty();
            let mut roots = Vec::new();
            let mut visited = Vec::new();
            root_field_names(document, &operation.node.selection_set.node, &mut visited, &mut roots);
            measured.most_root_fields = measured.most_root_fields.max(roots.len());
            measured.aliases += count_aliases(&operation.node.selection_set.node);
            measured.names.extend(roots);
            measured.operations.push((
                name.map(ToString::to_string),
                is_mutation,
                OperationFields::of(types, document, &operation.node),
            ));
        }
        for fragment in document.fragments.values() {
            measured.aliases += count_aliases(&fragment.node.selection_set.node);
        }
        measured.depth = Depth::of(document);
        measured.label = label(measured.mutation, &measured.names);
        measured
    }
}

/// A bounded label: the first root field if the schema has it, else `unknown`.
fn label(mutation: bool, names: &[String]) -> &'static str {
    let root = if mutation { "Mutation" } else { "Query" };
    names
        .first()
        .and_then(|name| {
            crate::graphql::access::rules()
                .find(|(t, f, _)| *t == root && *f == name.as_str())
                .map(|(_, f, _)| f)
        })
        .unwrap_or("unknown")
}

/// Aliases in a selection set, all the way down (fragments are counted where defined).
fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The root fields of a selection set, looking through inline fragments and
/// fragment spreads (each fragment once).
fn root_field_names(
    document: &ExecutableDocument,
    set: &SelectionSet,
    visited: &mut Vec<String>,
    names: &mut Vec<String>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => names.push(field.node.name.node.to_string()),
            Selection::InlineFragment(fragment) => {
                root_field_names(document, &fragment.node.selection_set.node, visited, names);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if visited.contains(&name) {
                    continue;
                }
                visited.push(name);
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    root_field_names(document, &fragment.node.selection_set.node, visited, names);
                }
            }
        }
    }
}

/// The root fields of the operations in a document, whether any is a mutation, the
/// largest number of root fields in one operation and of aliases in the document, and
/// the operation that would run (by `operationName`).
pub struct Shape {
    measured: Arc<Measured>,
    selected: Option<usize>,
    /// The operation that would run is a mutation.
    pub runs_mutation: bool,
}

impl Shape {
    /// What the document asks for, measured without a cache and without the schema's
    /// types (no operation's fields are known).
    #[cfg(test)]
    pub fn of(request: &mut async_graphql::Request) -> Self {
        Documents::new(FieldTypes::default(), 0).shape(request)
    }

    fn select(measured: Arc<Measured>, operation_name: Option<&str>) -> Self {
        let operations = &measured.operations;
        let selected = match (operations.as_slice(), operation_name) {
            // An anonymous operation alone in its document.
            ([(None, _, _)], _) => Some(0),
            (_, Some(wanted)) => operations
                .iter()
                .position(|(name, _, _)| name.as_deref() == Some(wanted)),
            ([_], None) => Some(0),
            (_, None) => None,
        };
        let runs_mutation = selected.is_some_and(|index| operations[index].1);
        Self {
            measured,
            selected,
            runs_mutation,
        }
    }

    /// The fields the operation that would run can resolve, when it is known.
    pub fn fields(&self) -> Option<&OperationFields> {
        self.selected.map(|index| &self.measured.operations[index].2)
    }

    pub fn aliases(&self) -> usize {
        self.measured.aliases
    }

    pub fn most_root_fields(&self) -> usize {
        self.measured.most_root_fields
    }

    pub fn depth(&self) -> Depth {
        self.measured.depth
    }

    /// Some operation reads the schema itself (`__schema` or `__type` at its root).
    pub fn introspects(&self) -> bool {
        self.measured.names.iter().any(|n| n == "__schema" || n == "__type")
    }

    /// Log-in, sign-up and reset requests get the strict per-address bucket.
    pub fn authentication(&self) -> bool {
        self.measured.mutation
            && self
                .measured
                .names
                .iter()
                .any(|n| AUTHENTICATION_FIELDS.contains(&n.as_str()))
    }

    /// A bounded label: the first root field if the schema has it, else `unknown`.
    pub fn label(&self) -> &'static str {
        self.measured.label
    }

    /// The engine has run this document before and its validation does not depend on
    /// the request: it need not be validated again.
    pub fn validated(&self) -> bool {
        self.measured.validated.load(Ordering::Relaxed)
    }

    /// The engine ran the document (its answer has data): it passed validation. Kept
    /// only for a document that declares no variables.
    pub fn ran(&self) {
        if !self.measured.variables && self.selected.is_some() {
            self.measured.validated.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(budget: u64) -> Documents {
        Documents::new(FieldTypes::from_sdl(&crate::graphql::schema_sdl()), budget)
    }

    /// The document measured here is the one the engine runs: it stays parsed in the
    /// request (the engine takes a parsed document over the text).
    #[test]
    fn the_measured_document_stays_parsed_in_the_request() {
        let mut request = async_graphql::Request::new("{ me { email } }");
        Shape::of(&mut request);
        request.query = "{ not graphql".into();
        assert!(request.parsed_query().is_ok(), "the text was parsed again");
    }

    /// Only a document the engine ran, and that declares no variables, skips the
    /// engine's validation after: its next request finds it validated.
    #[test]
    fn a_document_is_validated_once_only_when_it_declares_no_variables() {
        let documents = documents(1 << 20);
        let plain = "{ members(first: 5) { nodes { user { email } } } }";
        let first = documents.shape(&mut async_graphql::Request::new(plain));
        assert!(!first.validated(), "not run yet");
        first.ran();
        assert!(documents.shape(&mut async_graphql::Request::new(plain)).validated());

        let with_variables = "query Page($n: Int) { members(first: $n) { nodes { user { email } } } }";
        let first = documents.shape(&mut async_graphql::Request::new(with_variables));
        first.ran();
        assert!(
            !documents
                .shape(&mut async_graphql::Request::new(with_variables))
                .validated(),
            "a document with variables is validated with each request's variables"
        );

        // An operation that is not in the document runs nothing.
        let two = "query A { me { email } } query B { me { displayName } }";
        documents.shape(&mut async_graphql::Request::new(two)).ran();
        assert!(!documents.shape(&mut async_graphql::Request::new(two)).validated());
    }

    #[test]
    fn a_log_in_is_an_authentication_and_labels_name_only_known_fields() {
        let log_in = Shape::of(&mut async_graphql::Request::new(
            "mutation { logIn(input: {}) { accessToken } }",
        ));
        assert!(log_in.authentication());
        assert_eq!(log_in.label(), "logIn");
        let unknown = Shape::of(&mut async_graphql::Request::new("{ whatever }"));
        assert!(!unknown.authentication());
        assert_eq!(unknown.label(), "unknown");
        let unparsable = Shape::of(&mut async_graphql::Request::new("{ me "));
        assert_eq!(unparsable.label(), "unknown");
        assert!(unparsable.fields().is_none());
    }

    #[test]
    fn the_operation_that_runs_is_chosen_by_its_name() {
        let text = "query A { me { email } } mutation B { logOut }";
        let documents = documents(0);
        let named = |name: Option<&str>| {
            let mut request = async_graphql::Request::new(text);
            if let Some(name) = name {
                request = request.operation_name(name);
            }
            documents.shape(&mut request)
        };
        assert!(!named(Some("A")).runs_mutation);
        assert_eq!(named(Some("A")).fields().map(OperationFields::len), Some(2));
        assert!(named(Some("B")).runs_mutation);
        assert!(named(Some("C")).fields().is_none(), "no such operation");
        assert!(named(None).fields().is_none(), "two operations and no name");
    }

    /// A document sent again is not parsed again: the cached copy is what the engine
    /// gets (here the text is made unparsable behind the cache's back, and the shape
    /// and the parsed document still come back).
    #[test]
    fn a_document_sent_again_comes_from_the_cache() {
        let cached = documents(1024 * 1024);
        let text = "query Page { members(first: 5) { edges { node { status } } } }";
        let first = cached.shape(&mut async_graphql::Request::new(text));
        assert_eq!(first.fields().map(OperationFields::len), Some(4));
        let cache = cached.cache.as_ref().expect("a cache");
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 1);

        let mut again = async_graphql::Request::new(text);
        let shape = cached.shape(&mut again);
        assert_eq!(shape.label(), "members");
        assert!(Arc::ptr_eq(&shape.measured, &first.measured), "measured once");
        again.query = "{ not graphql".into();
        let document = again.parsed_query().expect("the cached document was handed over");
        assert_eq!(document.operations.iter().count(), 1);

        // Without a budget nothing is kept.
        let uncached = documents(0);
        let one = uncached.shape(&mut async_graphql::Request::new(text));
        let two = uncached.shape(&mut async_graphql::Request::new(text));
        assert!(!Arc::ptr_eq(&one.measured, &two.measured));
    }
}
