//! GraphQL subscriptions over WebSocket (`/graphql/ws`, graphql-transport-ws and the
//! older graphql-ws subprotocol). The client authenticates in `connection_init`: its
//! payload may carry `Authorization` (`Bearer <token or API key>`), `X-Api-Key` and
//! `X-Tenant-Id`/`X-Tenant-Slug`, checked exactly as the same HTTP headers are. A
//! connection that fails to authenticate is closed. Before each event the credential
//! is checked again (an ended session, a changed role or an expired token ends the
//! stream with the reason), and only subscriptions run here.

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::graphql_endpoint::{caller_from, client_of};
use crate::AppState;
use crate::graphql::{Caller, CloneForCaller, LiveCredential, to_graphql_error};
use tessera_application::identity::ClientInfo;

/// Headers a `connection_init` payload may set, by lower-case name.
const INIT_HEADERS: &[&str] = &["authorization", "x-api-key", "x-tenant-id", "x-tenant-slug"];

fn headers_with_init(upgrade: &HeaderMap, payload: &serde_json::Value) -> HeaderMap {
    let mut headers = upgrade.clone();
    if let Some(fields) = payload.as_object() {
        for (key, value) in fields {
            let name = key.to_ascii_lowercase();
            if let (true, Some(text)) = (INIT_HEADERS.contains(&name.as_str()), value.as_str())
                && let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(text))
            {
                headers.insert(name, value);
            }
        }
    }
    headers
}

/// The same credential, checked again: a revoked session, a removed member or a
/// changed role applies to a connection already open (from its next event on).
fn recheck(state: AppState, headers: HeaderMap, client: ClientInfo) -> LiveCredential {
    LiveCredential(std::sync::Arc::new(move || {
        let (state, headers, client) = (state.clone(), headers.clone(), client.clone());
        Box::pin(async move {
            match caller_from(&state, &headers, &client).await {
                Caller::Member(context) => Ok(context),
                Caller::Refused(error) => Err(error),
                Caller::Anonymous => Err(tessera_application::AppError::Unauthenticated(
                    "the connection has no credential".into(),
                )),
            }
        })
    }))
}

pub async fn upgrade(State(state): State<AppState>, protocol: GraphQLProtocol, request: Request) -> Response {
    let client = client_of(&request, &state.config.trusted_proxies);
    let upgrade_headers = request.headers().clone();
    let (mut parts, _) = request.into_parts();
    let socket =
        match <WebSocketUpgrade as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state)
            .await
        {
            Ok(socket) => socket,
            Err(rejection) => return rejection.into_response(),
        };
    let schema = state.schema.clone();
    socket
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let headers = headers_with_init(&upgrade_headers, &payload);
                    match caller_from(&state, &headers, &client).await {
                        Caller::Member(context) => {
                            let mut data = Data::default();
                            data.insert(Caller::Member(context));
                            data.insert(recheck(state, headers, client));
                            Ok(data)
                        }
                        Caller::Refused(error) => Err(to_graphql_error(&error.clone_for_caller())),
                        Caller::Anonymous => Err(async_graphql::Error::new(
                            "connection_init must carry Authorization: Bearer <access token or API key>",
                        )),
                    }
                })
                .serve()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_payload_sets_only_the_credential_and_tenant_headers() {
        let payload = serde_json::json!({
            "Authorization": "Bearer abc",
            "x-tenant-id": "t-1",
            "host": "evil.example.com",
            "count": 3,
        });
        let headers = headers_with_init(&HeaderMap::new(), &payload);
        assert_eq!(
            headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some("Bearer abc")
        );
        assert_eq!(headers.get("x-tenant-id").and_then(|v| v.to_str().ok()), Some("t-1"));
        assert!(headers.get("host").is_none());
        assert_eq!(headers.len(), 2);
    }
}
