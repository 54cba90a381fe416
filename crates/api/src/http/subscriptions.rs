//! GraphQL subscriptions over WebSocket (`/graphql/ws`, graphql-transport-ws and the
//! older graphql-ws subprotocol). The client authenticates in `connection_init`: its
//! payload may carry `Authorization` (`Bearer <token or API key>`), `X-Api-Key` and
//! `X-Tenant-Id`/`X-Tenant-Slug`, checked exactly as the same HTTP headers are. A
//! connection that fails to authenticate is closed. Before each event the credential
//! is checked again (an ended session, a changed role or an expired token ends the
//! stream with the reason), and only subscriptions run here.
//!
//! Every socket is bounded, in this order: an address whose budget is spent is refused
//! before the upgrade, and each upgrade spends from that budget; messages and frames
//! are capped in size; a socket that has not completed `connection_init` within the
//! initialisation timeout is closed (4408); `connection_init` itself is admitted like
//! a request (the person's or key's buckets, or the address's when it fails); an
//! authenticated socket takes a slot of its principal and of its tenant (both capped
//! per process) for as long as it stays open; and each connection runs a bounded
//! number of subscriptions at once.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tessera_application::identity::ClientInfo;
use tessera_application::rate_limits::Admission;
use tessera_application::{AppError, RequestContext};

use super::graphql::{MediaType, Refused, client_of, identify as caller_from};
use crate::AppState;
use crate::graphql::{Caller, CloneForCaller, LiveCredential, to_graphql_error};
use tessera_application::ForbiddenReason;

/// Headers a `connection_init` payload may set, by lower-case name.
const INIT_HEADERS: &[&str] = &["authorization", "x-api-key", "x-tenant-id", "x-tenant-slug"];

/// graphql-transport-ws: no `connection_init` in time.
const INIT_TIMEOUT_CLOSE: u16 = 4408;

/// What one process allows on `/graphql/ws`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketLimits {
    /// A socket must complete `connection_init` within this, or it is closed.
    pub init_timeout: Duration,
    /// The largest message (and frame) a client may send.
    pub max_message_bytes: usize,
    /// Open authenticated connections of one person or API key.
    pub max_connections_per_principal: usize,
    /// Open authenticated connections of one tenant.
    pub max_connections_per_tenant: usize,
    /// Subscriptions one connection runs at once.
    pub max_subscriptions_per_connection: usize,
}

impl Default for WebSocketLimits {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(5),
            max_message_bytes: 16 * 1024,
            max_connections_per_principal: 8,
            max_connections_per_tenant: 200,
            max_subscriptions_per_connection: 16,
        }
    }
}

/// Open authenticated connections, counted by principal and by tenant, in this process.
#[derive(Debug, Default)]
pub struct OpenConnections {
    counts: Mutex<HashMap<String, usize>>,
}

impl OpenConnections {
    /// A slot under each `(key, limit)`, or the key whose limit is reached (then
    /// nothing is taken).
    fn acquire(self: &Arc<Self>, wanted: &[(String, usize)]) -> Result<ConnectionSlot, String> {
        let Ok(mut counts) = self.counts.lock() else {
            return Err("connections".into());
        };
        if let Some((key, _)) = wanted
            .iter()
            .find(|(key, limit)| counts.get(key).copied().unwrap_or(0) >= *limit)
        {
            return Err(key.clone());
        }
        for (key, _) in wanted {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(ConnectionSlot {
            keys: wanted.iter().map(|(key, _)| key.clone()).collect(),
            registry: self.clone(),
        })
    }

    /// Connections open under `key` now.
    pub fn open(&self, key: &str) -> usize {
        self.counts
            .lock()
            .map_or(0, |counts| counts.get(key).copied().unwrap_or(0))
    }
}

/// Held in the connection's data: given back when the connection ends.
struct ConnectionSlot {
    keys: Vec<String>,
    registry: Arc<OpenConnections>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.registry.counts.lock() {
            for key in &self.keys {
                if let Some(count) = counts.get_mut(key) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(key);
                    }
                }
            }
        }
    }
}

/// The subscriptions a connection runs, bounded; in the connection's data.
#[derive(Clone)]
pub struct SubscriptionSlots {
    running: Arc<AtomicUsize>,
    max: usize,
}

/// One running subscription; given back when its stream ends.
pub struct SubscriptionSlot(Arc<AtomicUsize>);

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SubscriptionSlots {
    pub fn take(&self) -> Result<SubscriptionSlot, AppError> {
        let taken = self
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.max).then_some(running + 1)
            });
        match taken {
            Ok(_) => Ok(SubscriptionSlot(self.running.clone())),
            Err(_) => Err(AppError::Forbidden {
                reason: ForbiddenReason::TooManySubscriptions,
                message: format!(
                    "a connection runs at most {} subscriptions at once; complete one first",
                    self.max
                ),
            }),
        }
    }
}

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
    LiveCredential(Arc::new(move || {
        let (state, headers, client) = (state.clone(), headers.clone(), client.clone());
        Box::pin(async move {
            match caller_from(&state, &headers, &client, None).await {
                Caller::Member(context) => Ok(context),
                Caller::Refused(error) => Err(error),
                Caller::Anonymous => Err(AppError::Unauthenticated("the connection has no credential".into())),
            }
        })
    }))
}

/// The subprotocol the client offered that we speak, if any.
fn offered_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|offered| WebSocketProtocols::from_str(offered.trim()).ok())
}

pub async fn upgrade(State(state): State<AppState>, request: Request) -> Response {
    let client = client_of(&request, &state.config.trusted_proxies);
    let Some(protocol) = offered_protocol(request.headers()) else {
        return (StatusCode::BAD_REQUEST, "offer the graphql-transport-ws subprotocol").into_response();
    };
    // Opening a socket is a request without a credential yet: an address whose budget
    // is spent is refused, and every upgrade spends from it.
    let ip = client.ip.as_deref();
    if let Some(refused) = state.app.refuse_spent_address(ip).await {
        return Refused::rate_limited(refused).answer(MediaType::LegacyJson, "unknown");
    }
    let admitted = state
        .app
        .admit(Admission {
            member: None,
            client_ip: ip,
            authentication: false,
        })
        .await;
    if !admitted.allowed() {
        return Refused::rate_limited(admitted).answer(MediaType::LegacyJson, "unknown");
    }
    let upgrade_headers = request.headers().clone();
    let (mut parts, _) = request.into_parts();
    let socket =
        match <WebSocketUpgrade as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state)
            .await
        {
            Ok(socket) => socket,
            Err(rejection) => return rejection.into_response(),
        };
    let limits = state.config.websocket.clone();
    socket
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, protocol, upgrade_headers, client))
}

/// Runs one connection: the GraphQL WebSocket protocol, closed with 4408 if it is not
/// initialised in time.
async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    upgrade: HeaderMap,
    client: ClientInfo,
) {
    let limits = state.config.websocket.clone();
    let initialised = Arc::new(AtomicBool::new(false));
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| futures_util::future::ready(message.is_ok()))
        .filter_map(|message| {
            futures_util::future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let on_init = {
        let (state, initialised) = (state.clone(), initialised.clone());
        move |payload: serde_json::Value| async move {
            let data = connection_init(&state, &upgrade, &client, &payload).await?;
            initialised.store(true, Ordering::Release);
            Ok(data)
        }
    };
    let connection =
        async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol).on_connection_init(on_init);
    futures_util::pin_mut!(connection);
    let deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            message = connection.next() => {
                let Some(message) = message else { break };
                let message = match message {
                    WsMessage::Text(text) => Message::Text(text.into()),
                    WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            () = &mut deadline, if !initialised.load(Ordering::Acquire) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: INIT_TIMEOUT_CLOSE,
                        reason: "Connection initialisation timeout".into(),
                    })))
                    .await;
                break;
            }
        }
    }
}

/// `connection_init`: the credential is checked like HTTP headers and admitted like a
/// request; an authenticated connection then takes its principal's and tenant's slots.
async fn connection_init(
    state: &AppState,
    upgrade: &HeaderMap,
    client: &ClientInfo,
    payload: &serde_json::Value,
) -> async_graphql::Result<Data> {
    let headers = headers_with_init(upgrade, payload);
    let context = match caller_from(state, &headers, client, None).await {
        Caller::Member(context) => context,
        refused => {
            // A failed or missing credential spends the address's budget, as over HTTP.
            state
                .app
                .admit(Admission {
                    member: None,
                    client_ip: client.ip.as_deref(),
                    authentication: false,
                })
                .await;
            return Err(match refused {
                Caller::Refused(error) => to_graphql_error(&error.clone_for_caller()),
                _ => async_graphql::Error::new(
                    "connection_init must carry Authorization: Bearer <access token or API key>",
                ),
            });
        }
    };
    let admitted = state
        .app
        .admit(Admission {
            member: Some(&context),
            client_ip: client.ip.as_deref(),
            authentication: false,
        })
        .await;
    if !admitted.allowed() {
        let retry_after_seconds = admitted
            .tightest
            .and_then(|(_, decision)| decision.retry_after)
            .map_or(1, |wait| wait.as_secs().max(1));
        return Err(to_graphql_error(&AppError::RateLimited { retry_after_seconds }));
    }
    let slot = take_connection_slot(state, &context).map_err(|error| to_graphql_error(&error))?;
    let limits = &state.config.websocket;
    let mut data = Data::default();
    data.insert(slot);
    data.insert(SubscriptionSlots {
        running: Arc::new(AtomicUsize::new(0)),
        max: limits.max_subscriptions_per_connection,
    });
    data.insert(Caller::Member(context));
    data.insert(recheck(state.clone(), headers, client.clone()));
    Ok(data)
}

fn take_connection_slot(state: &AppState, context: &RequestContext) -> Result<ConnectionSlot, AppError> {
    let limits = &state.config.websocket;
    let principal = match context.actor() {
        tessera_application::Actor::User(user) => format!("user:{user}"),
        tessera_application::Actor::ApiKey(key) => format!("key:{key}"),
    };
    let tenant = format!("tenant:{}", context.tenant_id());
    state
        .connections
        .acquire(&[
            (principal.clone(), limits.max_connections_per_principal),
            (tenant, limits.max_connections_per_tenant),
        ])
        .map_err(|full| AppError::Forbidden {
            reason: ForbiddenReason::TooManyConnections,
            message: if full == principal {
                format!(
                    "at most {} open connections per person or API key; close one first",
                    limits.max_connections_per_principal
                )
            } else {
                format!(
                    "at most {} open connections per tenant; close one first",
                    limits.max_connections_per_tenant
                )
            },
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

    #[test]
    fn connection_slots_are_capped_per_key_and_given_back_when_dropped() {
        let registry = Arc::new(OpenConnections::default());
        let wanted = |user: &str| [(format!("user:{user}"), 2), ("tenant:t".to_owned(), 3)];
        let first = registry.acquire(&wanted("a")).expect("first");
        let second = registry.acquire(&wanted("a")).expect("second");
        assert_eq!(registry.acquire(&wanted("a")).err().as_deref(), Some("user:a"));
        let third = registry.acquire(&wanted("b")).expect("another person");
        assert_eq!(registry.acquire(&wanted("c")).err().as_deref(), Some("tenant:t"));
        assert_eq!(registry.open("user:c"), 0, "a refusal takes nothing");
        drop(first);
        assert_eq!(registry.open("user:a"), 1);
        assert!(registry.acquire(&wanted("a")).is_ok(), "a slot came back");
        drop((second, third));
        assert_eq!(registry.open("tenant:t"), 0, "every slot is given back");
    }

    #[test]
    fn a_connection_runs_a_bounded_number_of_subscriptions() {
        let slots = SubscriptionSlots {
            running: Arc::new(AtomicUsize::new(0)),
            max: 2,
        };
        let one = slots.take().expect("one");
        let _two = slots.take().expect("two");
        assert!(matches!(
            slots.take(),
            Err(AppError::Forbidden {
                reason: ForbiddenReason::TooManySubscriptions,
                ..
            })
        ));
        drop(one);
        assert!(slots.take().is_ok(), "ending one frees its slot");
    }
}
