//! OpenTelemetry spans the adapters make: one per SQL statement (from the store's
//! statement callback, with the statement's real start and end), one per Redis call,
//! and the W3C `traceparent` of outgoing webhook deliveries. Each carries the tenant's
//! id when the work acts for one. Nothing is made until the server turns exporting on
//! ([`enable`]), so without a collector a statement costs one atomic load more.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{KeyValue, global};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// The name spans are recorded under.
pub const TRACER: &str = "tessera";

/// Turns the adapters' spans on (the server does once it exports traces).
pub fn enable() {
    EXPORTING.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The tenant the current operation acts for: the request pipeline puts it in the
/// baggage of the operation span's context as `tenant.id`, and child spans inherit it.
fn current_tenant() -> Option<String> {
    use opentelemetry::baggage::BaggageExt as _;
    tracing::Span::current()
        .context()
        .baggage()
        .get("tenant.id")
        .map(|tenant| tenant.as_str().to_owned())
}

fn tenant_attribute() -> Option<KeyValue> {
    current_tenant().map(|tenant| KeyValue::new("tenant.id", tenant))
}

/// A client span for one SQL statement that ran from `start` to now, under the
/// current span. The text has placeholders, never the values.
pub fn sql_statement(system: &'static str, sql: &str, start: SystemTime, failed: bool) {
    let operation = sql.split_whitespace().next().unwrap_or("SQL").to_ascii_uppercase();
    let tracer = global::tracer(TRACER);
    let parent = tracing::Span::current().context();
    let mut attributes = vec![
        KeyValue::new("db.system.name", system),
        KeyValue::new("db.operation.name", operation.clone()),
        KeyValue::new("db.query.text", sql.chars().take(2_000).collect::<String>()),
    ];
    attributes.extend(tenant_attribute());
    let mut span = tracer
        .span_builder(operation)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    if failed {
        span.set_status(Status::error("the statement failed"));
    }
    span.end();
}

/// The span of one Redis call (`operation`: what it is for, `GET access`, …). A
/// disabled span (no exporter) costs next to nothing.
pub fn redis_call(operation: &'static str) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = tracing::debug_span!(
        "redis",
        otel.name = operation,
        otel.kind = "client",
        db.system.name = "redis",
        db.operation.name = operation,
        tenant.id = tracing::field::Empty,
    );
    if let Some(tenant) = current_tenant() {
        span.record("tenant.id", tenant);
    }
    span
}

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`).
pub fn trace_headers() -> Vec<(String, String)> {
    struct Headers(Vec<(String, String)>);
    impl opentelemetry::propagation::Injector for Headers {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_owned(), value));
        }
    }
    let mut headers = Headers(Vec::new());
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut headers));
    headers.0
}
