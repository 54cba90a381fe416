//! `GET` and `POST /graphql`, following the GraphQL-over-HTTP specification, as a
//! pipeline of stages, one module each:
//!
//! negotiate → decode → address → persisted → document limits → caller → admission →
//! run → respond
//!
//! The order is the security model. Everything before `caller` works on the request
//! alone or on what this process already knows: a client that accepts no GraphQL media
//! type, a body that is too large or not JSON, an address whose budget is spent, a
//! malformed persisted query, and a document over the shape limits (size, aliases, root
//! fields, depth) are all refused before any credential is looked up and before any
//! database work. (The persisted stage may read a document from the store it is kept
//! in, never from the database.) `caller` is the first stage that may read the database
//! (a cache miss of the access cache or an API key). `admission` then spends the rate
//! limits; only a request that passes them runs, and only a document the engine
//! validates is ever registered as persisted.

mod admission;
mod caller;
pub(crate) mod client;
mod decode;
mod document_limits;
pub(crate) mod documents;
mod negotiate;
mod persisted;
mod refusal;
mod respond;
mod run;

pub(crate) use caller::identify;
pub(crate) use client::client_of;
pub(crate) use negotiate::MediaType;
pub use persisted::{TrustedManifest, sha256_hex};
pub(crate) use refusal::Refused;
pub use refusal::RequestRefusal;

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tessera_application::identity::ClientInfo;

use crate::AppState;
use decode::Decoded;
use document_limits::Method;

pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let Some(media) = negotiate::negotiate(request.headers()) else {
        return refusal::not_acceptable();
    };
    let client = client::client_of(&request, &state.config.trusted_proxies);
    match decode::query_string(request.uri().query().unwrap_or_default()) {
        Ok(query) => execute(&state, media, request.headers(), client, query, Method::Get).await,
        Err(refused) => refused.answer(media, "unknown"),
    }
}

pub async fn post(State(state): State<AppState>, request: Request) -> Response {
    let Some(media) = negotiate::negotiate(request.headers()) else {
        return refusal::not_acceptable();
    };
    if !negotiate::is_json_body(request.headers()) {
        return Refused::new(
            RequestRefusal::NotJsonMediaType,
            "the request body must be application/json",
        )
        .answer(media, "unknown");
    }
    let headers = request.headers().clone();
    let client = client::client_of(&request, &state.config.trusted_proxies);
    let decoded = decode::body(
        request.into_body(),
        state.config.max_body_bytes,
        state.config.max_batch_operations,
    )
    .await;
    match decoded {
        Ok(Decoded::One(query)) => execute(&state, media, &headers, client, *query, Method::Post).await,
        Ok(Decoded::Batch(operations)) => execute_batch(&state, media, &headers, client, operations).await,
        Err(refused) => refused.answer(media, "unknown"),
    }
}

/// One operation through every stage after decoding.
async fn execute(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    client: ClientInfo,
    mut request: async_graphql::Request,
    method: Method,
) -> Response {
    let started = Instant::now();
    let ip = client.ip.clone();
    if let Err(refused) =
        admission::address_first(&state.app, ip.as_deref(), caller::presents_access_token(headers)).await
    {
        return refused.answer(media, "unknown");
    }
    let app = state.app.clone();
    let stored = |hash: String| async move { app.persisted_document(&hash).await };
    let trusted_documents = state.config.trusted_documents.current();
    let register = match persisted::resolve(
        &trusted_documents,
        state.config.trusted_documents_required,
        headers,
        &mut request,
        stored,
    )
    .await
    {
        Ok(register) => register,
        Err(refused) => return refused.answer(media, "unknown"),
    };
    let shape = match document_limits::check(&state.config.schema, &state.documents, &mut request, method) {
        Ok(shape) => shape,
        Err(refused) => return refused.answer(media, "unknown"),
    };
    let trusted = persisted::is_trusted(&trusted_documents, &request);
    // Buckets are spent with the credential's lookup only for a request admitted right
    // after it: not one that logs in, nor one a stage before admission may still refuse
    // (an introspection; for a key, an untrusted document or spent monthly calls, which
    // the application checks with the kept key).
    let ahead = (!shape.authentication() && !shape.introspects()).then_some(caller::SpendAhead {
        runs_trusted_document: trusted,
    });
    let caller = caller::identify(state, headers, &client, ahead).await;
    caller::record(&caller, shape.label());
    if let Err(refused) = admission::introspection(&caller, state.config.schema.introspection, &shape) {
        return refused.answer(media, shape.label());
    }
    if let Err(refused) = admission::documents_for_plan(&caller, trusted) {
        return refused.answer(media, shape.label());
    }
    let caller = match admission::monthly_calls(&state.app, caller) {
        Ok(caller) => caller,
        Err(refused) => return refused.answer(media, shape.label()),
    };
    let tenant = match &caller {
        crate::graphql::Caller::Member(context) => Some(context.tenant_id()),
        _ => None,
    };
    let admitting = run::for_tenant(
        tracing::debug_span!("rate limits", tenant.id = tracing::field::Empty),
        tenant,
    );
    let admitted =
        match tracing::Instrument::instrument(admission::admit(&state.app, &caller, ip.as_deref(), &shape), admitting)
            .await
        {
            Ok(admitted) => admitted,
            Err(refused) => return refused.answer(media, shape.label()),
        };
    let ran = run::run(state, headers, request, caller, client, &shape, register).await;
    respond::answer(media, ran, &admitted, shape.label(), started)
}

/// A batch: each operation runs on its own, one after the other, through every stage
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
        let response = match decode::operation(operation) {
            Ok(request) => execute(state, media, headers, client.clone(), request, Method::Post).await,
            Err(refused) => refused.answer(media, "unknown"),
        };
        let (parts, body) = response.into_parts();
        let answer = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| refusal::internal_answer("the operation's answer was not JSON")),
            Err(_) => refusal::internal_answer("the operation's answer broke off"),
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
    let mut http = negotiate::respond(StatusCode::OK, media, &Value::Array(answers));
    http.headers_mut().extend(carried);
    http
}
