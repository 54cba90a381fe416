//! Stage 8, the answer: a request error (no `data`) answers 400 under the GraphQL
//! media type and loses its `data` key; every error carries a code (the engine's own
//! field errors are about the caller's input); the request is counted in the metrics;
//! cookies set by resolvers and the `RateLimit-*` headers are added.

use std::collections::BTreeMap;
use std::time::Instant;

use async_graphql::ServerError;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use tessera_application::rate_limits::Admitted;

use super::negotiate::{MediaType, respond};
use super::refusal::{RequestRefusal, add_rate_limit_headers};
use super::run::Ran;
use crate::graphql::ErrorCode;

/// The answer's JSON, serialized straight from the engine's response (fields in the
/// order the document asked for them): `data` unless the request failed as a whole,
/// then `errors` and `extensions` when there are any.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

pub fn answer(
    media: MediaType,
    mut ran: Ran,
    admitted: &Admitted,
    operation: &'static str,
    started: Instant,
) -> Response {
    give_every_error_a_code(&mut ran);
    record(operation, started, &ran.response.errors);
    let status = match (media, ran.is_request_error) {
        (MediaType::GraphqlResponse, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = Body {
        data: (!ran.is_request_error).then_some(&ran.response.data),
        errors: &ran.response.errors,
        extensions: &ran.response.extensions,
    };
    let mut http = respond(status, media, &body);
    for (name, value) in &ran.response.http_headers {
        http.headers_mut().append(name, value.clone());
    }
    add_rate_limit_headers(&mut http, admitted);
    http
}

/// An error without a code gets the one its kind implies: a request error failed
/// validation; the engine's own field errors are about the caller's input.
fn give_every_error_a_code(ran: &mut Ran) {
    let default_code = if ran.is_request_error {
        RequestRefusal::ValidationFailed.code()
    } else {
        ErrorCode::BadUserInput.code()
    };
    for error in &mut ran.response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", default_code);
        }
    }
}

fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

fn record(operation: &'static str, started: Instant, errors: &[ServerError]) {
    let outcome = if errors.is_empty() { "ok" } else { "error" };
    metrics::counter!("tessera_graphql_requests_total", "operation" => operation, "outcome" => outcome).increment(1);
    metrics::histogram!("tessera_graphql_request_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    for error in errors {
        let code = code_of(error).unwrap_or("UNKNOWN");
        let code = if code.chars().all(|c| c.is_ascii_uppercase() || c == '_') && code.len() <= 40 {
            code.to_owned()
        } else {
            "OTHER".to_owned()
        };
        metrics::counter!("tessera_graphql_errors_total", "code" => code).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    async fn answered(ran: Ran, media: MediaType) -> (StatusCode, Value) {
        let admitted = Admitted { tightest: None };
        let http = answer(media, ran, &admitted, "unknown", Instant::now());
        let status = http.status();
        let body = axum::body::to_bytes(http.into_body(), 1 << 20).await.expect("a body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn a_request_error_is_400_without_data_and_every_error_has_a_code() {
        let ran = || Ran {
            response: async_graphql::Response::from_errors(vec![ServerError::new("syntax", None)]),
            is_request_error: true,
        };
        let (status, body) = answered(ran(), MediaType::GraphqlResponse).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("data").is_none());
        assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
        let (legacy, _) = answered(ran(), MediaType::LegacyJson).await;
        assert_eq!(legacy, StatusCode::OK, "application/json clients get 200");
    }

    #[tokio::test]
    async fn an_engine_field_error_without_a_code_is_about_the_input() {
        let mut error = ServerError::new("bad variable", None);
        error.path = vec![async_graphql::PathSegment::Field("workspace".into())];
        let mut response = async_graphql::Response::new(async_graphql::Value::Null);
        response.errors = vec![error];
        let ran = Ran {
            response,
            is_request_error: false,
        };
        let (status, body) = answered(ran, MediaType::GraphqlResponse).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(
            body.get("data").is_some_and(Value::is_null),
            "a field error keeps `data`"
        );
    }

    /// The answer is written straight from the engine's response: the fields keep the
    /// document's order, and a code an error already has is kept.
    #[tokio::test]
    async fn the_answer_keeps_the_documents_field_order_and_existing_codes() {
        let mut data = async_graphql::indexmap::IndexMap::new();
        data.insert(async_graphql::Name::new("zeta"), async_graphql::Value::from(1));
        data.insert(async_graphql::Name::new("alpha"), async_graphql::Value::from("a\"b"));
        let mut response = async_graphql::Response::new(async_graphql::Value::Object(data));
        let mut refused = ServerError::new("no", None);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "FORBIDDEN");
        refused.extensions = Some(extensions);
        response.errors = vec![refused];
        let admitted = Admitted { tightest: None };
        let ran = Ran {
            response,
            is_request_error: false,
        };
        let http = answer(MediaType::GraphqlResponse, ran, &admitted, "unknown", Instant::now());
        let bytes = axum::body::to_bytes(http.into_body(), 1 << 20).await.expect("a body");
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        assert!(
            text.starts_with(r#"{"data":{"zeta":1,"alpha":"a\"b"},"errors":[{"message":"no","#),
            "{text}"
        );
        let body: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
}
