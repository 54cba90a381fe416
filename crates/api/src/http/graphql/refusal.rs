//! Requests refused before they run: the closed table of their codes, each with its
//! HTTP status and what it means, and the one way such an answer is written. (Errors
//! inside a response that ran are [`crate::graphql::ErrorCode`]s.)

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_application::rate_limits::Admitted;
use tessera_application::wire_table;

use super::negotiate::{MediaType, respond};

wire_table! {
    /// Why a request was answered without running: the closed set of request refusals,
    /// each with its wire code, HTTP status and meaning. The README's error table is
    /// generated from it.
    pub enum RequestRefusal: (&'static str, u16, &'static str) {
        NotJsonMediaType => ("BAD_REQUEST", 415, "a POST body that is not `application/json`"),
        BodyTooLarge => ("BAD_REQUEST", 413, "a body over the size limit (1 MiB)"),
        BodyNotJson => ("BAD_REQUEST", 400, "a body that is not valid JSON, or nests too deep"),
        NotAGraphqlRequest => ("BAD_REQUEST", 400, "JSON that is not a GraphQL request, or a GET query string that is not one"),
        BatchesRefused => ("BAD_REQUEST", 400, "a batch (JSON array) while `MAX_BATCH_OPERATIONS` is 0"),
        BatchTooLarge => ("BATCH_TOO_LARGE", 400, "an empty batch, or one with more than `MAX_BATCH_OPERATIONS` operations"),
        BadPersistedQuery => ("BAD_REQUEST", 400, "`extensions.persistedQuery` that is not an object with a 64-hex-digit `sha256Hash`, or a `documentId` that is not `sha256:` and 64 hex digits (or names another document than the extension)"),
        PersistedQueryNotFound => ("PERSISTED_QUERY_NOT_FOUND", 200, "a hash without its document that nobody registered (message `PersistedQueryNotFound`: send the document once)"),
        PersistedQueryHashMismatch => ("PERSISTED_QUERY_HASH_MISMATCH", 400, "a document whose SHA-256 is not the hash sent with it"),
        PersistedQueryRequired => ("PERSISTED_QUERY_REQUIRED", 403, "a document sent as text by a caller held to trusted documents"),
        PersistedQueryNotTrusted => ("PERSISTED_QUERY_NOT_TRUSTED", 403, "a hash that is not in the trusted-documents manifest, from a caller held to it"),
        DocumentTooLarge => ("DOCUMENT_TOO_LARGE", 400, "a document over `MAX_DOCUMENT_BYTES`"),
        MutationOverGet => ("METHOD_NOT_ALLOWED", 405, "a mutation sent with GET (`Allow: POST`)"),
        TooManyAliases => ("TOO_MANY_ALIASES", 400, "more than `MAX_QUERY_ALIASES` aliases in the document"),
        TooManyRootFields => ("TOO_MANY_ROOT_FIELDS", 400, "an operation with more than `MAX_ROOT_FIELDS` root fields"),
        QueryTooDeep => ("QUERY_TOO_DEEP", 400, "fields nested deeper than `MAX_QUERY_DEPTH`, or an introspection that nests `fields`, `interfaces`, `possibleTypes` or `inputFields` more than two levels deep (its `ofType` chains do not count)"),
        IntrospectionNotAllowed => ("INTROSPECTION_NOT_ALLOWED", 403, "`__schema` or `__type` from a caller without `schema:read` while `INTROSPECTION` is off (production's default)"),
        MonthlyCallsSpent => ("FORBIDDEN", 403, "an API key's request once the API calls of the tenant's plan for this month are spent: `reason: QUOTA_EXCEEDED`, `quota: api_calls_per_month`, `limit`, `used`"),
        RateLimited => ("RATE_LIMITED", 429, "past a rate limit; `Retry-After` and `extensions.retryAfterSeconds` say when to try again"),
        ValidationFailed => ("GRAPHQL_VALIDATION_FAILED", 400, "a document that does not parse, does not validate against the schema, or is more complex than `MAX_QUERY_COMPLEXITY` (no `data`; 200 under `application/json`)"),
    }
}

impl RequestRefusal {
    /// `extensions.code` of the one error in the answer.
    pub const fn code(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status (under `application/json` a request error answers 200 or its
    /// own status as the GraphQL-over-HTTP specification says; see
    /// [`RequestRefusal::status_for`]).
    pub const fn status(self) -> u16 {
        self.row().1
    }

    pub const fn meaning(self) -> &'static str {
        self.row().2
    }
}

/// A request refused before it ran, ready to be written in the negotiated media type.
#[derive(Debug)]
pub struct Refused {
    pub refusal: RequestRefusal,
    pub message: String,
    /// For `RATE_LIMITED`: the decision behind it, for the `RateLimit-*` headers.
    pub admitted: Option<Admitted>,
    /// More of `extensions`, next to `code`.
    pub extensions: serde_json::Map<String, Value>,
}

impl Refused {
    pub fn new(refusal: RequestRefusal, message: impl Into<String>) -> Self {
        Self {
            refusal,
            message: message.into(),
            admitted: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// `403` for a tenant whose plan's API calls this month are spent.
    /// The message and extensions are the ones a field refused by the plan carries.
    pub fn monthly_calls_spent(limit: u64, used: u64) -> Self {
        let refusal = tessera_domain::Refusal::QuotaExceeded {
            quota: tessera_domain::Limit::ApiCallsPerMonth,
            limit,
            used,
        };
        let error = crate::graphql::to_graphql_error(&tessera_application::AppError::OverPlan(refusal));
        let mut refused = Self::new(RequestRefusal::MonthlyCallsSpent, error.message);
        if let Some(extensions) = error.extensions
            && let Ok(Value::Object(extensions)) = serde_json::to_value(extensions)
        {
            refused.extensions = extensions;
            // The table's own code is written over it.
            refused.extensions.remove("code");
        }
        refused
    }

    /// `429` with `Retry-After`, the `RateLimit-*` headers and `retryAfterSeconds`.
    pub fn rate_limited(admitted: Admitted) -> Self {
        Self {
            refusal: RequestRefusal::RateLimited,
            message: "too many requests; slow down".into(),
            admitted: Some(admitted),
            extensions: serde_json::Map::new(),
        }
    }

    /// The answer, counted in the metrics by `operation` (and by the bucket that
    /// refused, for a rate limit).
    pub fn answer(self, media: MediaType, operation: &'static str) -> Response {
        let status = StatusCode::from_u16(self.refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut extensions = json!({ "code": self.refusal.code() });
        if let Value::Object(map) = &mut extensions {
            map.extend(self.extensions);
        }
        let mut retry = None;
        if let Some(admitted) = &self.admitted {
            let seconds = admitted
                .tightest
                .and_then(|(_, decision)| decision.retry_after)
                .map_or(1, |wait| wait.as_secs_f64().ceil() as u64)
                .max(1);
            extensions["retryAfterSeconds"] = json!(seconds);
            retry = Some(seconds);
            let bucket = admitted.tightest.map_or("unknown", |(kind, _)| kind);
            metrics::counter!("tessera_rate_limit_rejections_total", "bucket" => bucket).increment(1);
            metrics::counter!("tessera_graphql_requests_total", "operation" => operation, "outcome" => "rate_limited")
                .increment(1);
            metrics::counter!("tessera_graphql_errors_total", "code" => self.refusal.code()).increment(1);
        }
        let body = json!({ "errors": [{ "message": self.message, "extensions": extensions }] });
        let mut http = respond(status, media, &body);
        if let Some(admitted) = &self.admitted {
            add_rate_limit_headers(&mut http, admitted);
        }
        if let Some(seconds) = retry
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            http.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.refusal == RequestRefusal::MutationOverGet {
            http.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        http
    }
}

/// `RateLimit-*` (and the older `X-RateLimit-*`) from the bucket closest to refusing.
pub fn add_rate_limit_headers(response: &mut Response, admitted: &Admitted) {
    let Some((_, decision)) = admitted.tightest else {
        return;
    };
    let reset = decision.reset_after.as_secs_f64().ceil() as u64;
    for (names, value) in [
        (["ratelimit-limit", "x-ratelimit-limit"], decision.limit.to_string()),
        (
            ["ratelimit-remaining", "x-ratelimit-remaining"],
            decision.remaining.to_string(),
        ),
        (["ratelimit-reset", "x-ratelimit-reset"], reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            for name in names {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value.clone());
            }
        }
    }
}

/// `406` for a client that accepts none of the media types GraphQL answers in.
pub fn not_acceptable() -> Response {
    StatusCode::NOT_ACCEPTABLE.into_response()
}

/// An answer that is not a GraphQL response (kept for the batch's inner answers).
pub fn internal_answer(message: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": crate::graphql::ErrorCode::InternalServerError.code() } }] })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tessera_application::rate_limits::RateDecision;

    use super::*;

    #[test]
    fn every_refusal_has_a_code_a_status_and_a_meaning() {
        for refusal in RequestRefusal::ALL {
            assert!(StatusCode::from_u16(refusal.status()).is_ok(), "{refusal:?}");
            assert!(refusal.code().chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            assert!(!refusal.meaning().is_empty());
        }
    }

    #[tokio::test]
    async fn a_rate_limit_answer_carries_its_headers_and_retry_after() {
        let admitted = Admitted {
            tightest: Some((
                "tenant",
                RateDecision {
                    allowed: false,
                    limit: 5,
                    remaining: 0,
                    reset_after: Duration::from_secs(60),
                    retry_after: Some(Duration::from_millis(11_200)),
                },
            )),
        };
        let answer = Refused::rate_limited(admitted).answer(MediaType::GraphqlResponse, "me");
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers()["retry-after"], "12");
        assert_eq!(answer.headers()["ratelimit-limit"], "5");
        assert_eq!(answer.headers()["x-ratelimit-remaining"], "0");
        let body = axum::body::to_bytes(answer.into_body(), 4096).await.expect("a body");
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], 12);
    }

    #[test]
    fn a_mutation_over_get_says_what_is_allowed() {
        let answer = Refused::new(RequestRefusal::MutationOverGet, "mutations must be sent with POST")
            .answer(MediaType::LegacyJson, "unknown");
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers()["allow"], "POST");
    }
}
