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

/// A GET request's query string.
pub fn query_string(query: &str) -> Result<async_graphql::Request, Refused> {
    async_graphql::http::parse_query_string(query)
        .map_err(|error| Refused::new(RequestRefusal::NotAGraphqlRequest, format!("invalid request: {error}")))
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
pub fn operation(value: Value) -> Result<async_graphql::Request, Refused> {
    serde_json::from_value::<async_graphql::Request>(value).map_err(|error| {
        Refused::new(
            RequestRefusal::NotAGraphqlRequest,
            format!("the body is not a GraphQL request: {error}"),
        )
    })
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
}
