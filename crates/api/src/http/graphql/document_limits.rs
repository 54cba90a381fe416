//! Stage 4, document limits: the shape of a document (its size, aliases, root fields and
//! depth, through fragments) is measured from the text alone and refused past the
//! configured limits, before the caller is even identified (introspection by its own
//! rule, see [`crate::graphql::document_depth`]). The engine's own validation
//! (complexity, and the same depth rules for what arrives over WebSocket) runs later,
//! in the run stage.

use super::documents::{Documents, Shape};
use super::refusal::{Refused, RequestRefusal};
use crate::graphql::SchemaLimits;

/// How the request came: a GET may only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Measures the document and refuses it past `limits`; a mutation sent with GET is
/// refused too (also when a persisted hash stood for it).
pub fn check(
    limits: &SchemaLimits,
    documents: &Documents,
    request: &mut async_graphql::Request,
    method: Method,
) -> Result<Shape, Refused> {
    if request.query.len() > limits.max_document_bytes {
        return Err(Refused::new(
            RequestRefusal::DocumentTooLarge,
            format!("the document is larger than {} bytes", limits.max_document_bytes),
        ));
    }
    let shape = documents.shape(request);
    if method == Method::Get && shape.runs_mutation {
        return Err(Refused::new(
            RequestRefusal::MutationOverGet,
            "mutations must be sent with POST",
        ));
    }
    type Says = fn(usize) -> String;
    let measured: [(usize, usize, RequestRefusal, Says); 2] = [
        (
            shape.aliases(),
            limits.max_aliases,
            RequestRefusal::TooManyAliases,
            |n| format!("the document has {n} aliases"),
        ),
        (
            shape.most_root_fields(),
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
    if let Some(message) = shape.depth().refusal(limits.max_depth) {
        return Err(Refused::new(RequestRefusal::QueryTooDeep, message));
    }
    Ok(shape)
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
        check(
            &limits(),
            &Documents::new(Default::default(), 0),
            &mut async_graphql::Request::new(query),
            method,
        )
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
}
