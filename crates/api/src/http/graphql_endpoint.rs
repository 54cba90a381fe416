//! `GET` and `POST /graphql` following the GraphQL-over-HTTP specification:
//! `application/graphql-response+json` (or legacy `application/json` when that is all
//! the client accepts), 4xx for requests that cannot execute, 405 for a mutation over
//! GET, 415 for a body that is not JSON. The bearer token is checked once here.

use std::net::SocketAddr;
use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_application::identity::ClientInfo;
use tessera_application::persisted::Registrant;
use tessera_application::rate_limits::{Admission, Admitted};
use tessera_application::tenants::TenantSelector;
use tessera_domain::Slug;

use crate::AppState;
use crate::graphql::Caller;
use crate::graphql::ClientOrigin;
use crate::graphql::cookies::CookieSession;
use crate::http::TrustedDocuments;
use crate::http::prometheus;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Which media type the response uses, from the `Accept` header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    GraphqlResponse,
    LegacyJson,
}

fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::GraphqlResponse);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .collect();
    if types
        .iter()
        .any(|t| *t == GRAPHQL_RESPONSE || *t == "*/*" || *t == "application/*")
    {
        Some(MediaType::GraphqlResponse)
    } else if types.contains(&JSON) {
        Some(MediaType::LegacyJson)
    } else {
        None
    }
}

fn request_error(status: StatusCode, media: MediaType, message: &str, code: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    respond(status, media, &body)
}

fn respond(status: StatusCode, media: MediaType, body: &Value) -> Response {
    let content_type = match media {
        MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        MediaType::LegacyJson => "application/json; charset=utf-8",
    };
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| br#"{"errors":[{"message":"internal error"}]}"#.to_vec());
    (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let Some(media) = negotiate(request.headers()) else {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    };
    let query = request.uri().query().unwrap_or_default();
    let gql_request = match async_graphql::http::parse_query_string(query) {
        Ok(parsed) => parsed,
        Err(error) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                &format!("invalid request: {error}"),
                "BAD_REQUEST",
            );
        }
    };
    execute(
        &state,
        media,
        request.headers(),
        client_of(&request, &state.config.trusted_proxies),
        gql_request,
        Method::Get,
    )
    .await
}

fn mutation_over_get(media: MediaType) -> Response {
    let mut response = request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        media,
        "mutations must be sent with POST",
        "METHOD_NOT_ALLOWED",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// How the request came: a GET may only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

pub async fn post(State(state): State<AppState>, request: Request) -> Response {
    let Some(media) = negotiate(request.headers()) else {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    };
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(JSON))
        .unwrap_or(false);
    if !is_json {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "the request body must be application/json",
            "BAD_REQUEST",
        );
    }
    let headers = request.headers().clone();
    let client = client_of(&request, &state.config.trusted_proxies);
    let limit = state.config.max_body_bytes;
    let body: Bytes = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return request_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                &format!("the request body is larger than {limit} bytes"),
                "BAD_REQUEST",
            );
        }
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        // The parser's own words (its recursion limit, its positions) stay here.
        Err(_) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                "the body is not valid JSON (or nests too deep)",
                "BAD_REQUEST",
            );
        }
    };
    let Value::Array(operations) = value else {
        return execute_one(&state, media, &headers, client, value).await;
    };
    let most = state.config.max_batch_operations;
    if most == 0 {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            "batched requests are not accepted; send one operation per request",
            "BAD_REQUEST",
        );
    }
    if operations.is_empty() || operations.len() > most {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!(
                "a batch holds 1 to {most} operations; this one has {}",
                operations.len()
            ),
            "BATCH_TOO_LARGE",
        );
    }
    execute_batch(&state, media, &headers, client, operations).await
}

/// One operation of a POST body.
async fn execute_one(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    client: ClientInfo,
    value: Value,
) -> Response {
    match serde_json::from_value::<async_graphql::Request>(value) {
        Ok(request) => execute(state, media, headers, client, request, Method::Post).await,
        Err(error) => request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!("the body is not a GraphQL request: {error}"),
            "BAD_REQUEST",
        ),
    }
}

/// A batch: each operation runs on its own, one after the other, through every limit
/// a single request meets (each one spends from the rate limits). The answer is the
/// array of their answers, in order; cookies any of them set are all kept.
async fn execute_batch(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    client: ClientInfo,
    operations: Vec<Value>,
) -> Response {
    let mut answers = Vec::with_capacity(operations.len());
    let mut carried = HeaderMap::new();
    for operation in operations {
        let response = execute_one(state, media, headers, client.clone(), operation).await;
        let (parts, body) = response.into_parts();
        let answer = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                json!({ "errors": [{ "message": "the operation's answer was not JSON", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] })
            }),
            Err(_) => json!({ "errors": [{ "message": "the operation's answer broke off", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }] }),
        };
        answers.push(answer);
        for (name, value) in &parts.headers {
            if *name == header::SET_COOKIE {
                carried.append(name, value.clone());
            } else if name.as_str().starts_with("ratelimit") || *name == header::RETRY_AFTER {
                carried.insert(name, value.clone());
            }
        }
    }
    let mut http = respond(StatusCode::OK, media, &Value::Array(answers));
    http.headers_mut().extend(carried);
    http
}

/// The client: its user agent and address. Behind trusted proxies the address is the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy; otherwise
/// the header is ignored (anyone can send it).
pub(crate) fn client_of(request: &Request, trusted_proxies: &[std::net::IpAddr]) -> ClientInfo {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = match peer {
        Some(peer) if trusted_proxies.contains(&peer) => request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<std::net::IpAddr>().ok())
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .or(Some(peer)),
        other => other,
    };
    ClientInfo {
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: ip.map(|ip| ip.to_string()),
        request_id: request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

async fn execute(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    client: ClientInfo,
    mut request: async_graphql::Request,
    method: Method,
) -> Response {
    // An address that spent its budget (requests without a credential, failed
    // authentications) is refused before anything is looked up for it: no persisted
    // document, no API key, no database work. A signed-in person's access token is let
    // on: its signature is checked without any lookup, and the person draws from their
    // own buckets.
    let access_token = matches!(credential(headers), Ok(Some(Credential::AccessToken(_))));
    if !access_token && let Some(refused) = state.app.refuse_spent_address(client.ip.as_deref()).await {
        return too_many_requests(media, &refused, "unknown");
    }
    let register = match resolve_persisted(state, media, headers, &mut request).await {
        Ok(register) => register,
        Err(refusal) => return refusal,
    };
    // Shape limits first: a hostile document is refused before any lookup.
    let started = Instant::now();
    let limits = &state.config.schema;
    if request.query.len() > limits.max_document_bytes {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!("the document is larger than {} bytes", limits.max_document_bytes),
            "DOCUMENT_TOO_LARGE",
        );
    }
    let roots = RootFields::of(&request);
    // GET may only read, also when a persisted hash stands for the document.
    if method == Method::Get && roots.runs_mutation {
        return mutation_over_get(media);
    }
    if roots.aliases > limits.max_aliases {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!(
                "the document has {} aliases; at most {} are allowed",
                roots.aliases, limits.max_aliases
            ),
            "TOO_MANY_ALIASES",
        );
    }
    if roots.most_root_fields > limits.max_root_fields {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!(
                "an operation selects {} root fields; at most {} are allowed",
                roots.most_root_fields, limits.max_root_fields
            ),
            "TOO_MANY_ROOT_FIELDS",
        );
    }
    if roots.depth > limits.max_depth {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            &format!(
                "the document is nested too deep ({} levels of fields; at most {} are allowed)",
                roots.depth, limits.max_depth
            ),
            "QUERY_TOO_DEEP",
        );
    }
    let caller = caller_from(state, headers, &client).await;
    let operation = roots.label();
    let span = tracing::Span::current();
    span.record("operation", operation);
    if let Caller::Member(context) = &caller {
        span.record("tenant_id", tracing::field::display(context.tenant_id()));
        let actor = match context.actor() {
            tessera_application::context::Actor::User(user) => format!("user:{user}"),
            tessera_application::context::Actor::ApiKey(key) => format!("api_key:{key}"),
        };
        span.record("actor", actor.as_str());
    }
    if let Caller::Member(context) = &caller {
        metrics::counter!("tessera_tenant_requests_total", "tenant" => prometheus::tenant_label(context.tenant_id().to_string()))
            .increment(1);
    }
    let admitted = state
        .app
        .admit(Admission {
            member: match &caller {
                Caller::Member(context) => Some(context),
                _ => None,
            },
            client_ip: client.ip.as_deref(),
            authentication: roots.authentication(),
        })
        .await;
    if !admitted.allowed() {
        if let Caller::Member(context) = &caller {
            state.app.note_rate_limited(context, operation).await;
        }
        return too_many_requests(media, &admitted, operation);
    }
    // Remembered below only if it passed the shape limits, the rate limits, and the
    // engine's parsing and validation: junk is never stored.
    let to_register = register.map(|hash| (hash, request.query.clone()));
    let client_ip = client.ip.clone();
    let cookies = CookieSession::from_headers(
        state.config.session_cookies,
        state.config.session_cookie_max_age_seconds,
        headers,
    );
    let mut request = request.data(ClientOrigin(client)).data(cookies);
    if let Caller::Member(context) = &caller {
        request = request.data(crate::graphql::loaders::for_request(
            state.app.clone(),
            context.clone(),
            state.config.loader_delay,
            !roots.runs_mutation,
        ));
    }
    let member = match &caller {
        Caller::Member(context) => Some(context.clone()),
        _ => None,
    };
    let response = state.schema.execute(request.data(caller)).await;
    if let Some(context) = &member
        && response.errors.iter().any(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .is_some_and(|code| *code == async_graphql::Value::from("FORBIDDEN"))
        })
    {
        state.app.note_access_denied(context, operation).await;
    }

    // A response with no `data` at all (the document could not be parsed or validated)
    // is a request error: 400 under the GraphQL-over-HTTP media type.
    let is_request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if let Some((hash, document)) = to_register.filter(|_| !is_request_error) {
        let registrant = match &member {
            Some(context) => Some(Registrant::Tenant(context.tenant_id())),
            None => client_ip.as_deref().map(Registrant::Address),
        };
        if let Some(registrant) = registrant {
            state.app.remember_document(&hash, &document, registrant).await;
        }
    }
    let mut body =
        serde_json::to_value(&response).unwrap_or_else(|_| json!({ "errors": [{ "message": "internal error" }] }));
    if let Some(object) = body.as_object_mut() {
        if is_request_error {
            object.remove("data");
        }
        // Every error carries a code. Ours always do; the engine's own field errors
        // (a variable of the wrong type, say) are about the caller's input.
        let default_code = if is_request_error {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
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
    record(operation, started, &body);
    let status = match (media, is_request_error) {
        (MediaType::GraphqlResponse, true) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut http = respond(status, media, &body);
    // Headers set by resolvers (session cookies).
    for (name, value) in &response.http_headers {
        http.headers_mut().append(name, value.clone());
    }
    add_rate_limit_headers(&mut http, &admitted);
    http
}

/// `429` with `Retry-After`, the `RateLimit-*` headers and a `RATE_LIMITED` error
/// carrying `retryAfterSeconds`; counted by the bucket that refused.
pub(crate) fn too_many_requests(media: MediaType, admitted: &Admitted, operation: &'static str) -> Response {
    let retry = admitted
        .tightest
        .and_then(|(_, d)| d.retry_after)
        .map_or(1, |d| d.as_secs_f64().ceil() as u64)
        .max(1);
    let body = json!({ "errors": [{
        "message": "too many requests; slow down",
        "extensions": { "code": "RATE_LIMITED", "retryAfterSeconds": retry }
    }] });
    let bucket = admitted.tightest.map_or("unknown", |(kind, _)| kind);
    metrics::counter!("tessera_rate_limit_rejections_total", "bucket" => bucket).increment(1);
    metrics::counter!("tessera_graphql_requests_total", "operation" => operation, "outcome" => "rate_limited")
        .increment(1);
    metrics::counter!("tessera_graphql_errors_total", "code" => "RATE_LIMITED").increment(1);
    let mut http = respond(StatusCode::TOO_MANY_REQUESTS, media, &body);
    add_rate_limit_headers(&mut http, admitted);
    if let Ok(value) = HeaderValue::from_str(&retry.to_string()) {
        http.headers_mut().insert(header::RETRY_AFTER, value);
    }
    http
}

/// Automatic persisted queries and trusted documents. A request may send
/// `extensions.persistedQuery.sha256Hash` without a query: the document comes from the
/// trusted manifest or the store (`PersistedQueryNotFound` on a miss, and the client
/// sends it again with the query, which registers it). A document whose hash does not
/// match is refused. Where trusted documents are required, only manifest hashes run.
/// Returns the hash to register once the request has passed the other limits.
async fn resolve_persisted(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    request: &mut async_graphql::Request,
) -> Result<Option<String>, Response> {
    let hash = match request.extensions.get("persistedQuery") {
        None => None,
        Some(async_graphql::Value::Object(persisted)) => match persisted.get("sha256Hash") {
            Some(async_graphql::Value::String(hash))
                if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                Some(hash.to_ascii_lowercase())
            }
            _ => {
                return Err(request_error(
                    StatusCode::BAD_REQUEST,
                    media,
                    "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
                    "BAD_REQUEST",
                ));
            }
        },
        Some(_) => {
            return Err(request_error(
                StatusCode::BAD_REQUEST,
                media,
                "extensions.persistedQuery must be an object",
                "BAD_REQUEST",
            ));
        }
    };
    let api_key = matches!(credential(headers), Ok(Some(Credential::ApiKey(_))));
    let trusted_only = match state.config.trusted_documents_required {
        TrustedDocuments::Off => false,
        TrustedDocuments::ApiKeys => api_key,
        TrustedDocuments::Everyone => true,
    };
    let Some(hash) = hash else {
        if trusted_only {
            return Err(request_error(
                StatusCode::FORBIDDEN,
                media,
                "this caller may only run trusted documents: send extensions.persistedQuery.sha256Hash",
                "PERSISTED_QUERY_REQUIRED",
            ));
        }
        return Ok(None);
    };
    if let Some(trusted) = state.config.trusted_documents.get(&hash) {
        if request.query.is_empty() {
            request.query = trusted.clone();
        }
    } else if trusted_only {
        return Err(request_error(
            StatusCode::FORBIDDEN,
            media,
            "this hash is not a trusted document",
            "PERSISTED_QUERY_NOT_TRUSTED",
        ));
    } else if request.query.is_empty() {
        match state.app.persisted_document(&hash).await {
            Some(document) => request.query = document,
            None => {
                // The message is what Apollo clients look for before retrying with the query.
                return Err(request_error(
                    StatusCode::OK,
                    media,
                    "PersistedQueryNotFound",
                    "PERSISTED_QUERY_NOT_FOUND",
                ));
            }
        }
        return Ok(None);
    }
    if sha256_hex(&request.query) != hash {
        return Err(request_error(
            StatusCode::BAD_REQUEST,
            media,
            "provided sha256Hash does not match the query",
            "PERSISTED_QUERY_HASH_MISMATCH",
        ));
    }
    if state.config.trusted_documents.contains_key(&hash) {
        Ok(None)
    } else {
        Ok(Some(hash))
    }
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
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

/// `RateLimit-*` (and the older `X-RateLimit-*`) from the bucket closest to refusing.
fn add_rate_limit_headers(response: &mut Response, admitted: &Admitted) {
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

/// Root fields that get the strict per-address bucket.
const AUTHENTICATION_FIELDS: &[&str] = &[
    "logIn",
    "signUp",
    "requestPasswordReset",
    "resetPassword",
    "refreshSession",
];

/// Nesting beyond this is not counted further (any configured limit is far below it).
const DEPTH_COUNTED: usize = 256;

/// The root fields of the operations in a document, whether any is a mutation, and
/// the largest number of root fields in one operation and of aliases in the document.
struct RootFields {
    names: Vec<String>,
    mutation: bool,
    /// The operation that would run (by `operationName`) is a mutation.
    runs_mutation: bool,
    most_root_fields: usize,
    aliases: usize,
    /// The deepest field nesting of any operation, through fragments.
    depth: usize,
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

/// How deeply fields nest in a document's selection sets (`{ me { email } }` is 2;
/// introspection fields are not counted), following fragment spreads. Each fragment's
/// depth is worked out once and remembered, so a fragment spread many times (or a
/// chain of fragments each spreading the next twice) costs no more than one spread; a
/// fragment met again on its own path counts as nothing (cycles are the validator's to
/// report). Nesting past `DEPTH_COUNTED` is not followed further.
struct Depths<'d> {
    document: &'d async_graphql::parser::types::ExecutableDocument,
    fragments: std::collections::HashMap<&'d str, usize>,
    in_progress: std::collections::HashSet<&'d str>,
}

impl<'d> Depths<'d> {
    fn new(document: &'d async_graphql::parser::types::ExecutableDocument) -> Self {
        Self {
            document,
            fragments: std::collections::HashMap::new(),
            in_progress: std::collections::HashSet::new(),
        }
    }

    fn of(&mut self, set: &'d async_graphql::parser::types::SelectionSet, level: usize) -> usize {
        use async_graphql::parser::types::Selection;
        if level > DEPTH_COUNTED {
            return 0;
        }
        let mut deepest = 0;
        for item in &set.items {
            let depth = match &item.node {
                // Introspection is bounded by the schema; the engine's own limit covers it.
                Selection::Field(field) if field.node.name.node.starts_with("__") => 0,
                Selection::Field(field) => 1 + self.of(&field.node.selection_set.node, level + 1),
                Selection::InlineFragment(fragment) => self.of(&fragment.node.selection_set.node, level),
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str(), level),
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    fn fragment(&mut self, name: &'d str, level: usize) -> usize {
        if let Some(depth) = self.fragments.get(name) {
            return *depth;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        if !self.in_progress.insert(name) {
            return 0;
        }
        let depth = self.of(&fragment.node.selection_set.node, level);
        self.in_progress.remove(name);
        self.fragments.insert(name, depth);
        depth
    }
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

impl RootFields {
    fn of(request: &async_graphql::Request) -> Self {
        let mut fields = Self {
            names: Vec::new(),
            mutation: false,
            runs_mutation: false,
            most_root_fields: 0,
            aliases: 0,
            depth: 0,
        };
        let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
            return fields; // execution reports the syntax error
        };
        let selected = match (&document.operations, request.operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            (DocumentOperations::Multiple(_), None) => None,
        };
        fields.runs_mutation = selected.is_some_and(|op| op.node.ty == OperationType::Mutation);
        let mut depths = Depths::new(&document);
        for (_, operation) in document.operations.iter() {
            fields.mutation |= operation.node.ty == OperationType::Mutation;
            let mut roots = Vec::new();
            let mut visited = Vec::new();
            root_field_names(&document, &operation.node.selection_set.node, &mut visited, &mut roots);
            fields.most_root_fields = fields.most_root_fields.max(roots.len());
            fields.aliases += count_aliases(&operation.node.selection_set.node);
            fields.names.extend(roots);
            fields.depth = fields.depth.max(depths.of(&operation.node.selection_set.node, 0));
        }
        for fragment in document.fragments.values() {
            fields.aliases += count_aliases(&fragment.node.selection_set.node);
        }
        fields
    }

    /// Log-in, sign-up and reset requests get the strict per-address bucket.
    fn authentication(&self) -> bool {
        self.mutation && self.names.iter().any(|n| AUTHENTICATION_FIELDS.contains(&n.as_str()))
    }

    /// A bounded label: the first root field if the schema has it, else `unknown`.
    fn label(&self) -> &'static str {
        let root = if self.mutation { "Mutation" } else { "Query" };
        self.names
            .first()
            .and_then(|name| {
                crate::graphql::access::RULES
                    .iter()
                    .find(|(t, f, _)| *t == root && *f == name.as_str())
                    .map(|(_, f, _)| *f)
            })
            .unwrap_or("unknown")
    }
}

/// Who the headers say is calling: the credential checked, the requested tenant
/// checked against it, and the client's origin attached for the audit trail.
pub(crate) async fn caller_from(state: &AppState, headers: &HeaderMap, client: &ClientInfo) -> Caller {
    let caller = match credential(headers) {
        Ok(None) => Caller::Anonymous,
        Ok(Some(Credential::ApiKey(secret))) => match state.app.authenticate_api_key(secret).await {
            Ok(context) => Caller::Member(context),
            Err(error) => refused(error),
        },
        Ok(Some(Credential::AccessToken(token))) => match state.app.authenticate(token).await {
            Ok(context) => Caller::Member(context),
            Err(error) => refused(error),
        },
        Err(message) => Caller::Refused(tessera_application::AppError::Unauthenticated(message.into())),
    };
    let caller = match (caller, requested_tenant(headers, state.config.base_domain.as_deref())) {
        (Caller::Member(context), Some(selector)) => {
            match state.app.check_requested_tenant(&context, &selector).await {
                Ok(()) => Caller::Member(context),
                Err(error) => refused(error),
            }
        }
        (caller, _) => caller,
    };
    // The audit trail records where each change came from.
    match caller {
        Caller::Member(context) => Caller::Member(context.with_origin(client.clone())),
        other => other,
    }
}

fn refused(error: tessera_application::AppError) -> Caller {
    if let tessera_application::AppError::Internal(cause) = &error {
        tracing::error!(error = %cause, "authentication could not complete");
    }
    Caller::Refused(error)
}

/// A tenant named by the request: `X-Tenant-Id`, else `X-Tenant-Slug`, else the
/// subdomain of the configured base domain (`acme.example.com` → `acme`), else the
/// host itself, which names a tenant only if it is one's verified custom domain.
fn requested_tenant(headers: &HeaderMap, base_domain: Option<&str>) -> Option<TenantSelector> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    text("x-tenant-id")
        .map(|id| TenantSelector::Id(id.to_owned()))
        .or_else(|| text("x-tenant-slug").map(|slug| TenantSelector::Slug(slug.to_owned())))
        .or_else(|| {
            let host = text("host")?.to_ascii_lowercase();
            let name = match host.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => host.as_str(),
            };
            let name = name.trim_end_matches('.');
            if let Some(base) = base_domain.map(|b| b.trim_matches('.').to_ascii_lowercase()) {
                if name == base {
                    return None;
                }
                if let Some(under) = name.strip_suffix(base.as_str()).and_then(|r| r.strip_suffix('.')) {
                    // One label that could be a tenant's slug; `www`, `api` and the like name no tenant.
                    return (!under.contains('.') && Slug::parse_tenant(under).is_ok())
                        .then(|| TenantSelector::Slug(under.to_owned()));
                }
            }
            // Any other host may be a tenant's verified custom domain; the application decides.
            Some(TenantSelector::Host(name.to_owned()))
        })
}

/// What the caller presented.
enum Credential<'a> {
    AccessToken(&'a str),
    ApiKey(&'a str),
}

const API_KEY_PREFIX: &str = "tsk_";

/// An `X-Api-Key` header, or a bearer token (an API key when it starts with `tsk_`).
fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, &'static str> {
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| "the X-Api-Key header is not valid text")?
            .trim();
        if key.is_empty() {
            return Err("the X-Api-Key header is empty");
        }
        return Ok(Some(Credential::ApiKey(key)));
    }
    Ok(bearer_token(headers)?.map(|token| {
        if token.starts_with(API_KEY_PREFIX) {
            Credential::ApiKey(token)
        } else {
            Credential::AccessToken(token)
        }
    }))
}

/// `Ok(None)` without an Authorization header; an error for a malformed one.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not valid text")?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err("the Authorization header must be `Bearer <access token>`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected(pairs: &[(&'static str, &str)], base: Option<&str>) -> Option<String> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        requested_tenant(&headers, base).map(|selector| match selector {
            TenantSelector::Id(id) => format!("id:{id}"),
            TenantSelector::Slug(slug) => format!("slug:{slug}"),
            TenantSelector::Host(host) => format!("host:{host}"),
        })
    }

    #[test]
    fn the_tenant_comes_from_headers_first_then_from_the_subdomain() {
        let base = Some("example.com");
        assert_eq!(
            selected(&[("host", "acme.example.com")], base),
            Some("slug:acme".into())
        );
        assert_eq!(
            selected(&[("host", "ACME.example.com:8443")], base),
            Some("slug:acme".into())
        );
        assert_eq!(
            selected(&[("host", "example.com")], base),
            None,
            "the bare domain names no tenant"
        );
        assert_eq!(selected(&[("host", "a.b.example.com")], base), None, "one label only");
        assert_eq!(selected(&[("host", "www.example.com")], base), None, "reserved labels");
        assert_eq!(selected(&[("host", "api.example.com")], base), None, "reserved labels");
        assert_eq!(
            selected(&[("host", "acme.evil.com")], base),
            Some("host:acme.evil.com".into()),
            "another host may be a custom domain"
        );
        assert_eq!(
            selected(&[("host", "acmeexample.com:443")], base),
            Some("host:acmeexample.com".into())
        );
        assert_eq!(
            selected(&[("host", "acme.example.com")], None),
            Some("host:acme.example.com".into()),
            "no base domain, no subdomains"
        );
        assert_eq!(selected(&[], base), None);
        assert_eq!(
            selected(&[("host", "acme.example.com"), ("x-tenant-slug", "globex")], base),
            Some("slug:globex".into()),
            "a header wins over the subdomain"
        );
        assert_eq!(
            selected(&[("x-tenant-id", "42"), ("x-tenant-slug", "globex")], base),
            Some("id:42".into())
        );
    }
}
