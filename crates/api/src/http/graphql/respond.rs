//! Stage 8, the answer: a request error (no `data`) answers 400 under the GraphQL
//! media type and loses its `data` key; every error carries a code (the engine's own
//! field errors are about the caller's input); the request is counted in the metrics;
//! cookies set by resolvers and the `RateLimit-*` headers are added.

use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use tessera_application::rate_limits::Admitted;

use super::negotiate::{MediaType, respond};
use super::refusal::{RequestRefusal, add_rate_limit_headers};
use super::run::Ran;
use crate::graphql::ErrorCode;

pub fn answer(media: MediaType, ran: Ran, admitted: &Admitted, operation: &'static str, started: Instant) -> Response {
    let body = body_of(&ran);
    record(operation, started, &body);
    let status = match (media, ran.is_request_error) {
        (MediaType::GraphqlResponse, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut http = respond(status, media, &body);
    // Headers set by resolvers (session cookies).
    for (name, value) in &ran.response.http_headers {
        http.headers_mut().append(name, value.clone());
    }
    add_rate_limit_headers(&mut http, admitted);
    http
}

/// The response as JSON, with every error coded.
fn body_of(ran: &Ran) -> Value {
    let mut body =
        serde_json::to_value(&ran.response).unwrap_or_else(|_| json!({ "errors": [{ "message": "internal error" }] }));
    if let Some(object) = body.as_object_mut() {
        if ran.is_request_error {
            object.remove("data");
        }
        let default_code = if ran.is_request_error {
            RequestRefusal::ValidationFailed.code()
        } else {
            ErrorCode::BadUserInput.code()
        };
        if let Some(Value::Array(errors)) = object.get_mut("errors") {
            for error in errors {
                let extensions = error
                    .as_object_mut()
                    .map(|e| e.entry("extensions").or_insert_with(|| json!({})));
                if let Some(Value::Object(extensions)) = extensions {
                    extensions.entry("code").or_insert_with(|| json!(default_code));
                }
            }
        }
    }
    body
}

fn record(operation: &'static str, started: Instant, body: &Value) {
    let errors = body.get("errors").and_then(Value::as_array);
    let outcome = if errors.is_some_and(|e| !e.is_empty()) {
        "error"
    } else {
        "ok"
    };
    metrics::counter!("tessera_graphql_requests_total", "operation" => operation, "outcome" => outcome).increment(1);
    metrics::histogram!("tessera_graphql_request_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    for error in errors.into_iter().flatten() {
        let code = error["extensions"]["code"].as_str().unwrap_or("UNKNOWN");
        // Codes come from our own closed set; anything else is folded.
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
    use async_graphql::ServerError;

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
    }
}
