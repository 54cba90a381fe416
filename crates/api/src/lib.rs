//! The HTTP and GraphQL edge of Tessera: axum routes, the async-graphql schema, error
//! mapping and request authentication. Resolvers are thin: they read arguments, take
//! the request context and call one application use case. This crate never names a
//! storage adapter; it receives the [`Application`] with its ports already wired.

mod error_reference;
mod event_reference;
pub mod graphql;
pub mod http;

pub use error_reference::{BEGIN_MARKER as ERRORS_BEGIN, END_MARKER as ERRORS_END, error_reference};
pub use event_reference::{BEGIN_MARKER as EVENTS_BEGIN, END_MARKER as EVENTS_END, event_reference};

pub use graphql::{TesseraSchema, build_schema, schema_sdl};
pub use http::{ApiConfig, router};

use std::sync::Arc;

use tessera_application::Application;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<Application>,
    /// The schema with the access table's per-field hook: subscriptions, and every
    /// operation that reaches a field its caller may not resolve.
    pub schema: TesseraSchema,
    /// The same schema without the per-field hook, for operations whose every field
    /// was found allowed before they ran (see [`graphql::access_plan`]).
    pub unguarded: TesseraSchema,
    /// `unguarded` without the validation rules (complexity still measured), for
    /// documents already validated in full (see `http::graphql::documents`).
    pub validated: TesseraSchema,
    /// Parsed and measured documents, by their text.
    pub documents: Arc<http::Documents>,
    pub config: Arc<ApiConfig>,
    /// Open WebSocket connections by principal and tenant (this process).
    pub connections: Arc<http::OpenConnections>,
}
