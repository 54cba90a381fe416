//! HTTP routes and the middleware every response passes through: request id,
//! security headers, body-size and time limits.

mod graphiql;
mod graphql_endpoint;
mod health;
pub mod prometheus;

pub use health::DependencyCheck;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::get;
use tessera_application::Application;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::graphql::{SchemaLimits, build_schema};

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub schema: SchemaLimits,
    pub graphiql: bool,
    /// With `example.com`, a request to `acme.example.com` names the tenant `acme`.
    pub base_domain: Option<String>,
    /// Cookie mode: refresh tokens in an HttpOnly cookie, guarded by a CSRF token.
    pub session_cookies: bool,
    /// How long the session cookies live (the refresh token's lifetime), in seconds.
    pub session_cookie_max_age_seconds: i64,
    /// When set, `/metrics` wants `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Dependencies `/health/ready` reports next to the database.
    pub readiness_checks: Vec<Arc<dyn DependencyCheck>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            schema: SchemaLimits::default(),
            graphiql: true,
            base_domain: None,
            session_cookies: false,
            session_cookie_max_age_seconds: 30 * 24 * 60 * 60,
            metrics_token: None,
            readiness_checks: Vec::new(),
        }
    }
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// GraphiQL's bundle injects a `<style>` element for its dialogs, hence
/// `'unsafe-inline'` for styles only; scripts are same-origin files.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

pub fn router(app: Arc<Application>, config: ApiConfig) -> Router {
    prometheus::handle();
    let schema = build_schema(app.clone(), &config.schema);
    let state = AppState {
        app,
        schema,
        config: Arc::new(config.clone()),
    };

    let mut routes = Router::new()
        .route("/graphql", get(graphql_endpoint::get).post(graphql_endpoint::post))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(prometheus::render));
    if config.graphiql {
        routes = routes
            .route("/graphiql", get(graphiql::page))
            .route("/graphiql/assets/{file}", get(graphiql::asset));
    }

    let security_headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ));

    routes.with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
            .layer(security_headers)
            .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.request_timeout,
            )),
    )
}
