//! Stage 2, decoding: a GET query string or a POST body becomes one GraphQL request or
//! a batch of them. Bodies are bounded in size and refused unless they are JSON; the
//! parser's own words never reach the client.

use axum::body::{Body, Bytes};
use serde_json::Value;

use super::refusal::{Refused, RequestRefusal};

/// What the client sent.
#[derive(Debug)]
pub enum Decoded {
    One(Box<async_graphql::Request>),
    /// A JSON array of operations, each decoded when it runs.
    Batch(Vec<Value>),
}

/// A GET request's query string. The engine's parser reads `query`, `variables` and
/// `extensions` but knows the operation's name only as `operation_name`: the
/// specification's `operationName` is read here, with `documentId`.
pub fn query_string(query: &str) -> Result<async_graphql::Request, Refused> {
    let mut request = async_graphql::http::parse_query_string(query)
        .map_err(|error| Refused::new(RequestRefusal::NotAGraphqlRequest, format!("invalid request: {error}")))?;
    let mut document_id = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "operationName" if request.operation_name.is_none() && !value.is_empty() => {
                request.operation_name = Some(value.into_owned());
            }
            "documentId" => document_id = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(id) = document_id {
        name_document(&mut request, &id)?;
    }
    Ok(request)
}

/// `documentId` (the GraphQL-over-HTTP persisted documents form: `sha256:<hex>`, or the
/// bare 64 hexadecimal digits of the SHA-256) becomes the `extensions.persistedQuery`
/// it names, so the persisted stage treats a document id and an APQ hash alike.
fn name_document(request: &mut async_graphql::Request, id: &str) -> Result<(), Refused> {
    let Some(hex) = super::persisted::sha256_digits(id.strip_prefix("sha256:").unwrap_or(id)) else {
        return Err(Refused::new(
            RequestRefusal::BadPersistedQuery,
            "documentId must be `sha256:` followed by the document's SHA-256 in 64 hexadecimal digits",
        ));
    };
    if let Some(persisted) = request.extensions.get("persistedQuery") {
        let named = match persisted {
            async_graphql::Value::Object(persisted) => match persisted.get("sha256Hash") {
                Some(async_graphql::Value::String(hash)) => hash.eq_ignore_ascii_case(&hex),
                _ => false,
            },
            _ => false,
        };
        if !named {
            return Err(Refused::new(
                RequestRefusal::BadPersistedQuery,
                "documentId and extensions.persistedQuery name different documents",
            ));
        }
        return Ok(());
    }
    let mut persisted = async_graphql::indexmap::IndexMap::new();
    persisted.insert(async_graphql::Name::new("version"), async_graphql::Value::from(1));
    persisted.insert(async_graphql::Name::new("sha256Hash"), async_graphql::Value::from(hex));
    request
        .extensions
        .insert("persistedQuery".into(), async_graphql::Value::Object(persisted));
    Ok(())
}

/// A POST body of at most `limit` bytes, with at most `max_batch` operations in a
/// batch (`0`: batches are refused).
pub async fn body(body: Body, limit: usize, max_batch: usize) -> Result<Decoded, Refused> {
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Refused::new(
            RequestRefusal::BodyTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
        Refused::new(
            RequestRefusal::BodyNotJson,
            "the body is not valid JSON (or nests too deep)",
        )
    })?;
    let Value::Array(operations) = value else {
        return operation(value).map(|request| Decoded::One(Box::new(request)));
    };
    if max_batch == 0 {
        return Err(Refused::new(
            RequestRefusal::BatchesRefused,
            "batched requests are not accepted; send one operation per request",
        ));
    }
    if operations.is_empty() || operations.len() > max_batch {
        return Err(Refused::new(
            RequestRefusal::BatchTooLarge,
            format!(
                "a batch holds 1 to {max_batch} operations; this one has {}",
                operations.len()
            ),
        ));
    }
    Ok(Decoded::Batch(operations))
}

/// One operation of a body.
pub fn operation(mut value: Value) -> Result<async_graphql::Request, Refused> {
    let document_id = value.as_object_mut().and_then(|body| body.remove("documentId"));
    let mut request = serde_json::from_value::<async_graphql::Request>(value).map_err(|error| {
        Refused::new(
            RequestRefusal::NotAGraphqlRequest,
            format!("the body is not a GraphQL request: {error}"),
        )
    })?;
    match document_id {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => name_document(&mut request, &id)?,
        Some(_) => {
            return Err(Refused::new(
                RequestRefusal::BadPersistedQuery,
                "documentId must be a string",
            ));
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn decode(text: &str, max_batch: usize) -> Result<Decoded, RequestRefusal> {
        body(Body::from(text.to_owned()), 1024, max_batch)
            .await
            .map_err(|refused| refused.refusal)
    }

    #[tokio::test]
    async fn a_body_is_one_request_or_a_bounded_batch() {
        assert!(matches!(
            decode(r#"{"query":"{ me { email } }"}"#, 0).await,
            Ok(Decoded::One(_))
        ));
        assert!(matches!(
            decode(r#"[{"query":"{ a }"},{"query":"{ b }"}]"#, 2).await,
            Ok(Decoded::Batch(operations)) if operations.len() == 2
        ));
        assert_eq!(decode("[]", 2).await.err(), Some(RequestRefusal::BatchTooLarge));
        assert_eq!(
            decode(r#"[{"query":"{ a }"},{"query":"{ b }"}]"#, 1).await.err(),
            Some(RequestRefusal::BatchTooLarge)
        );
        assert_eq!(
            decode(r#"[{"query":"{ a }"}]"#, 0).await.err(),
            Some(RequestRefusal::BatchesRefused)
        );
    }

    #[tokio::test]
    async fn broken_oversized_and_foreign_bodies_are_refused_plainly() {
        assert_eq!(decode("{", 0).await.err(), Some(RequestRefusal::BodyNotJson));
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let refused = body(Body::from(deep), 4096, 0).await.expect_err("too deep");
        assert_eq!(refused.refusal, RequestRefusal::BodyNotJson);
        assert!(!refused.message.contains("recursion"), "{}", refused.message);
        assert_eq!(
            decode(&"x".repeat(2048), 0).await.err(),
            Some(RequestRefusal::BodyTooLarge)
        );
        assert_eq!(
            decode(r#"{"query": 42}"#, 0).await.err(),
            Some(RequestRefusal::NotAGraphqlRequest)
        );
        assert!(query_string("query=%7B%20me%20%7D").is_ok());
    }

    fn named_hash(request: &async_graphql::Request) -> Option<String> {
        match request.extensions.get("persistedQuery")? {
            async_graphql::Value::Object(persisted) => match persisted.get("sha256Hash")? {
                async_graphql::Value::String(hash) => Some(hash.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    #[test]
    fn a_document_id_names_a_persisted_document_in_a_body_or_a_query_string() {
        let hex = "AB".repeat(32);
        let lower = hex.to_ascii_lowercase();
        for id in [format!("sha256:{hex}"), hex.clone()] {
            let request =
                operation(serde_json::json!({ "documentId": id, "variables": { "first": 5 } })).expect("a document id");
            assert_eq!(named_hash(&request), Some(lower.clone()));
            assert!(request.query.is_empty());
        }
        let request = query_string(&format!("documentId=sha256%3A{hex}&operationName=Me")).expect("GET");
        assert_eq!(named_hash(&request), Some(lower.clone()));
        assert_eq!(request.operation_name.as_deref(), Some("Me"));
        // The same document named twice is fine; two different ones are refused.
        let same = serde_json::json!({
            "documentId": format!("sha256:{lower}"),
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": lower } },
        });
        assert!(operation(same).is_ok());
        let different = serde_json::json!({
            "documentId": format!("sha256:{lower}"),
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "cd".repeat(32) } },
        });
        for refused in [
            operation(different).err(),
            operation(serde_json::json!({ "documentId": "sha1:abc" })).err(),
            operation(serde_json::json!({ "documentId": 7 })).err(),
            query_string("documentId=nope").err(),
        ] {
            assert_eq!(refused.map(|r| r.refusal), Some(RequestRefusal::BadPersistedQuery));
        }
    }
}
