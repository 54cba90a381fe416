//! Stage 4, document limits: the shape of a document (its size, aliases, root fields and
//! depth, through fragments) is measured from the text alone and refused past the
//! configured limits, before the caller is even identified (introspection by its own
//! rule, see [`crate::graphql::document_depth`]). The engine's own validation
//! (complexity, and the same depth rules for what arrives over WebSocket) runs later,
//! in the run stage.

use async_graphql::parser::types::{DocumentOperations, OperationType};

use super::refusal::{Refused, RequestRefusal};
use crate::graphql::SchemaLimits;
use crate::graphql::document_depth::Depth;

/// How the request came: a GET may only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Measures the document and refuses it past `limits`; a mutation sent with GET is
/// refused too (also when a persisted hash stood for it).
pub fn check(limits: &SchemaLimits, request: &mut async_graphql::Request, method: Method) -> Result<Shape, Refused> {
    if request.query.len() > limits.max_document_bytes {
        return Err(Refused::new(
            RequestRefusal::DocumentTooLarge,
            format!("the document is larger than {} bytes", limits.max_document_bytes),
        ));
    }
    let shape = Shape::of(request);
    if method == Method::Get && shape.runs_mutation {
        return Err(Refused::new(
            RequestRefusal::MutationOverGet,
            "mutations must be sent with POST",
        ));
    }
    type Says = fn(usize) -> String;
    let measured: [(usize, usize, RequestRefusal, Says); 2] = [
        (shape.aliases, limits.max_aliases, RequestRefusal::TooManyAliases, |n| {
            format!("the document has {n} aliases")
        }),
        (
            shape.most_root_fields,
            limits.max_root_fields,
            RequestRefusal::TooManyRootFields,
            |n| format!("an operation selects {n} root fields"),
        ),
    ];
    for (found, most, refusal, says) in measured {
        if found > most {
            return Err(Refused::new(
                refusal,
                format!("{}; at most {most} are allowed", says(found)),
            ));
        }
    }
    if let Some(message) = shape.depth.refusal(limits.max_depth) {
        return Err(Refused::new(RequestRefusal::QueryTooDeep, message));
    }
    Ok(shape)
}

/// Root fields that get the strict per-address bucket.
const AUTHENTICATION_FIELDS: &[&str] = &[
    "logIn",
    "signUp",
    "requestPasswordReset",
    "resetPassword",
    "refreshSession",
];

/// The root fields of the operations in a document, whether any is a mutation, and
/// the largest number of root fields in one operation and of aliases in the document.
pub struct Shape {
    names: Vec<String>,
    mutation: bool,
    /// The operation that would run (by `operationName`) is a mutation.
    pub runs_mutation: bool,
    most_root_fields: usize,
    aliases: usize,
    /// The deepest nesting of any operation, through fragments.
    depth: Depth,
}

/// Aliases in a selection set, all the way down (fragments are counted where defined).
fn count_aliases(set: &async_graphql::parser::types::SelectionSet) -> usize {
    use async_graphql::parser::types::Selection;
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
    document: &async_graphql::parser::types::ExecutableDocument,
    set: &async_graphql::parser::types::SelectionSet,
    visited: &mut Vec<String>,
    names: &mut Vec<String>,
) {
    use async_graphql::parser::types::Selection;
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

impl Shape {
    /// What the document asks for (an unparsable one asks for nothing: the engine
    /// reports its syntax error). The parsed document stays in the request, so the
    /// engine does not parse it again.
    pub fn of(request: &mut async_graphql::Request) -> Self {
        let mut fields = Self {
            names: Vec::new(),
            mutation: false,
            runs_mutation: false,
            most_root_fields: 0,
            aliases: 0,
            depth: Depth::default(),
        };
        let operation_name = request.operation_name.clone();
        let Ok(document) = request.parsed_query() else {
            return fields; // execution reports the syntax error
        };
        let selected = match (&document.operations, operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        fields.runs_mutation = selected.is_some_and(|op| op.node.ty == OperationType::Mutation);
        for (_, operation) in document.operations.iter() {
            fields.mutation |= operation.node.ty == OperationType::Mutation;
            let mut roots = Vec::new();
            let mut visited = Vec::new();
            root_field_names(document, &operation.node.selection_set.node, &mut visited, &mut roots);
            fields.most_root_fields = fields.most_root_fields.max(roots.len());
            fields.aliases += count_aliases(&operation.node.selection_set.node);
            fields.names.extend(roots);
        }
        for fragment in document.fragments.values() {
            fields.aliases += count_aliases(&fragment.node.selection_set.node);
        }
        fields.depth = Depth::of(document);
        fields
    }

    /// Some operation reads the schema itself (`__schema` or `__type` at its root).
    pub fn introspects(&self) -> bool {
        self.names.iter().any(|n| n == "__schema" || n == "__type")
    }

    /// Log-in, sign-up and reset requests get the strict per-address bucket.
    pub fn authentication(&self) -> bool {
        self.mutation && self.names.iter().any(|n| AUTHENTICATION_FIELDS.contains(&n.as_str()))
    }

    /// A bounded label: the first root field if the schema has it, else `unknown`.
    pub fn label(&self) -> &'static str {
        let root = if self.mutation { "Mutation" } else { "Query" };
        self.names
            .first()
            .and_then(|name| {
                crate::graphql::access::rules()
                    .find(|(t, f, _)| *t == root && *f == name.as_str())
                    .map(|(_, f, _)| f)
            })
            .unwrap_or("unknown")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SchemaLimits {
        SchemaLimits {
            max_depth: 4,
            max_aliases: 2,
            max_root_fields: 2,
            max_document_bytes: 400,
            ..SchemaLimits::default()
        }
    }

    fn refusal(query: &str, method: Method) -> Option<RequestRefusal> {
        check(&limits(), &mut async_graphql::Request::new(query), method)
            .err()
            .map(|refused| refused.refusal)
    }

    #[test]
    fn each_limit_refuses_its_own_excess() {
        assert_eq!(refusal("{ me { email } }", Method::Get), None);
        assert_eq!(
            refusal(&format!("{{ me {{ {} }} }}", "email ".repeat(80)), Method::Post),
            Some(RequestRefusal::DocumentTooLarge)
        );
        assert_eq!(
            refusal("{ a: me { email } b: me { email } c: me { email } }", Method::Post),
            Some(RequestRefusal::TooManyAliases)
        );
        assert_eq!(
            refusal(
                "{ me { email } currentTenant { name } permissions { name } }",
                Method::Post
            ),
            Some(RequestRefusal::TooManyRootFields)
        );
        assert_eq!(
            refusal("{ a { b { c { d { e } } } } }", Method::Post),
            Some(RequestRefusal::QueryTooDeep)
        );
        assert_eq!(
            refusal("mutation { logOut }", Method::Get),
            Some(RequestRefusal::MutationOverGet)
        );
        assert_eq!(refusal("mutation { logOut }", Method::Post), None);
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
    }
}
