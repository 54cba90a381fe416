//! HTTP routes and the middleware every response passes through: request id,
//! security headers, body-size and time limits.

pub mod billing;
mod exports;
mod graphiql;
mod graphql;
mod health;
pub mod prometheus;
mod published_keys;
mod scim;
mod sso;
mod subscriptions;

pub use graphql::documents::Documents;
pub use graphql::{RequestRefusal, TrustedManifest, sha256_hex};
pub use health::DependencyCheck;
pub use sso::SsoHttp;
pub use subscriptions::{OpenConnections, SubscriptionSlots, WebSocketLimits};

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
use crate::graphql::access_plan::FieldTypes;
use crate::graphql::{SchemaLimits, build_schema, build_unguarded_schema, build_validated_schema};

/// Who may run only documents from the trusted manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustedDocuments {
    #[default]
    Off,
    ApiKeys,
    Everyone,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub max_body_bytes: usize,
    /// Operations one batched (array) request may hold; 0 refuses batches.
    pub max_batch_operations: usize,
    /// How long a relation's loader collects keys before it reads them.
    pub loader_delay: Duration,
    pub request_timeout: Duration,
    /// One INFO line per request (`ACCESS_LOG`).
    pub access_log: bool,
    pub schema: SchemaLimits,
    /// About how many bytes of parsed documents are kept for documents sent again (0:
    /// none).
    pub document_cache_bytes: u64,
    pub graphiql: bool,
    /// With `example.com`, a request to `acme.example.com` names the tenant `acme`.
    pub base_domain: Option<String>,
    /// Cookie mode: refresh tokens in an HttpOnly cookie, guarded by a CSRF token.
    pub session_cookies: bool,
    /// How long the session cookies live (the refresh token's lifetime), in seconds.
    pub session_cookie_max_age_seconds: i64,
    /// Proxies whose `X-Forwarded-For` names the client (rate limits, sessions).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_allowed_origins: Vec<String>,
    /// `Strict-Transport-Security: max-age=…` when set.
    pub hsts_max_age_seconds: Option<u64>,
    /// Requests whose headers take more bytes than this are answered 431.
    pub max_header_bytes: usize,
    /// Who may read `/metrics` on this listener.
    pub metrics: prometheus::MetricsAccess,
    /// Trusted documents by SHA-256 (hex), loaded at start and replaced on a reload.
    pub trusted_documents: Arc<TrustedManifest>,
    /// Who must send trusted documents only.
    pub trusted_documents_required: TrustedDocuments,
    /// Dependencies `/health/ready` reports next to the database.
    pub readiness_checks: Vec<Arc<dyn DependencyCheck>>,
    /// Bounds on `/graphql/ws`.
    pub websocket: WebSocketLimits,
    /// The billing provider's signed events (`/billing/stripe`).
    pub billing: billing::BillingWebhook,
    /// The token-verifying public keys as a JWK Set, served at `/.well-known/jwks.json`.
    pub published_keys: Arc<str>,
    /// Single sign-on's browser side.
    pub sso: SsoHttp,
    /// The server's public address (`PUBLIC_URL`), for the locations SCIM answers;
    /// else they are built from the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch_operations: 0,
            loader_delay: Duration::from_millis(1),
            request_timeout: Duration::from_secs(30),
            access_log: true,
            schema: SchemaLimits::default(),
            document_cache_bytes: 8 * 1024 * 1024,
            graphiql: true,
            base_domain: None,
            session_cookies: false,
            session_cookie_max_age_seconds: 30 * 24 * 60 * 60,
            trusted_proxies: Vec::new(),
            cors_allowed_origins: Vec::new(),
            hsts_max_age_seconds: None,
            max_header_bytes: 16 * 1024,
            metrics: prometheus::MetricsAccess::Open,
            trusted_documents: Arc::default(),
            trusted_documents_required: TrustedDocuments::Off,
            readiness_checks: Vec::new(),
            websocket: WebSocketLimits::default(),
            billing: billing::BillingWebhook::default(),
            published_keys: Arc::from(r#"{"keys":[]}"#),
            sso: SsoHttp::default(),
            public_url: None,
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
    let documents = Documents::new(FieldTypes::from_sdl(&schema.sdl()), config.document_cache_bytes);
    let state = AppState {
        unguarded: build_unguarded_schema(app.clone(), &config.schema),
        validated: build_validated_schema(app.clone(), &config.schema),
        app,
        schema,
        documents: Arc::new(documents),
        config: Arc::new(config.clone()),
        connections: Arc::default(),
    };

    let mut routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(subscriptions::upgrade))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(prometheus::render))
        .route("/.well-known/jwks.json", get(published_keys::render))
        .route("/sso/start", get(sso::start))
        .route("/sso/callback", get(sso::callback))
        .route("/billing/stripe", axum::routing::post(billing::stripe))
        .route("/exports/me", get(exports::personal))
        .route("/exports/{tenant}/{export}", get(exports::download))
        .merge(scim::routes());
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

    let hsts = config
        .hsts_max_age_seconds
        .and_then(|age| HeaderValue::from_str(&format!("max-age={age}; includeSubDomains")).ok());
    let routes = match hsts {
        Some(value) => routes.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            value,
        )),
        None => routes,
    }
    .layer(axum::middleware::from_fn_with_state(
        config.max_header_bytes,
        limit_header_bytes,
    ));

    routes.with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(AccessLog(config.access_log)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
            .layer(security_headers)
            .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
            .layer(cors(&config.cors_allowed_origins))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.request_timeout,
            )),
    )
}

/// The span of one request: what the logs of its work carry, and its OpenTelemetry
/// server span, the child of the caller's W3C `traceparent` when it sent one.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        otel.kind = "server",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        operation = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        actor = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// W3C trace context from request headers.
struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// One INFO line per request when on, inside its span (method, path, request id,
/// operation, tenant and actor come from there): the status and how long it took. The
/// status goes on the span (and its trace) either way.
#[derive(Clone, Copy)]
struct AccessLog(bool);

impl<B> tower_http::trace::OnResponse<B> for AccessLog {
    fn on_response(self, response: &axum::http::Response<B>, latency: Duration, span: &tracing::Span) {
        let status = response.status().as_u16();
        span.record("http.response.status_code", status);
        if self.0 {
            tracing::info!(status, duration_ms = latency.as_secs_f64() * 1000.0, "request served");
        }
    }
}

/// Requests with oversized headers are refused before anything else reads them.
async fn limit_header_bytes(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > limit {
        use axum::response::IntoResponse;
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers are too large",
        )
            .into_response();
    }
    next.run(request).await
}

/// CORS for the listed origins only (none: browsers keep to the same origin). Session
/// cookies may travel cross-origin only to these origins.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if allowed.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-tenant-id"),
            HeaderName::from_static("x-tenant-slug"),
            HeaderName::from_static("x-csrf-token"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            header::RETRY_AFTER,
        ])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}
