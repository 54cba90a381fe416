//! A graphql-transport-ws client for the live-subscription tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket to `/graphql/ws`.
pub struct LiveClient {
    socket: Socket,
}

/// How a socket ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code and reason.
    Closed(u16, String),
    /// The connection went away without a close frame.
    Dropped,
    /// Still open when the wait ran out.
    StillOpen,
}

impl LiveClient {
    /// Opens a socket (no `connection_init` yet), from `forwarded_for` when given (for a
    /// server that trusts 127.0.0.1 as its proxy).
    pub async fn open(addr: std::net::SocketAddr, forwarded_for: Option<&str>) -> Result<Self, String> {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        if let Some(client) = forwarded_for {
            request
                .headers_mut()
                .insert("x-forwarded-for", client.parse().map_err(|_| "header".to_owned())?);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { socket })
    }

    /// Opens a socket and completes `connection_init` with `init` as its payload.
    pub async fn connect(addr: std::net::SocketAddr, init: Value) -> Result<Self, String> {
        let mut client = Self::open(addr, None).await?;
        client.init(init).await?;
        Ok(client)
    }

    /// Sends `connection_init` and waits for the acknowledgement; the error says how
    /// the server answered instead (its close frame's reason, say).
    pub async fn init(&mut self, init: Value) -> Result<(), String> {
        self.send(json!({ "type": "connection_init", "payload": init })).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    return if message["type"] == "connection_ack" {
                        Ok(())
                    } else {
                        Err(format!("not acknowledged: {message}"))
                    };
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Err(format!(
                        "closed: {}",
                        frame.map_or_else(String::new, |f| format!("{} {}", u16::from(f.code), f.reason))
                    ));
                }
                other => return Err(format!("not acknowledged: {other:?}")),
            }
        }
    }

    pub async fn send(&mut self, message: Value) -> Result<(), String> {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Starts a subscription under `id`.
    pub async fn subscribe_as(&mut self, id: &str, query: &str) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await
            .expect("subscribed");
    }

    pub async fn subscribe(&mut self, query: &str) {
        self.subscribe_as("1", query).await;
    }

    /// Ends the subscription `id` from the client's side.
    pub async fn complete(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" }))
            .await
            .expect("completed");
    }

    /// The next JSON message, or `None` when nothing came in time or the socket closed.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// Waits up to `wait` for the socket to end, skipping any other message.
    pub async fn ending(&mut self, wait: Duration) -> Ending {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return Ending::StillOpen,
                Ok(None | Some(Err(_))) => return Ending::Dropped,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame.map_or(Ending::Dropped, |frame| {
                        Ending::Closed(u16::from(frame.code), frame.reason.to_string())
                    });
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Closes the socket from the client's side.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
