//! Stage 7, running: the engine parses and validates the document (complexity, depth,
//! the access table) and resolves it with the caller, its cookies, its origin and a
//! loader per request. After it: a member's request is metered, a denial is noted in the audit trail, and a persisted
//! document is registered only if the engine accepted it.

use axum::http::HeaderMap;
use tessera_application::identity::ClientInfo;
use tessera_application::persisted::Registrant;
use tessera_application::usage::Metered;

use super::documents::Shape;
use crate::AppState;
use crate::graphql::cookies::CookieSession;
use crate::graphql::{Caller, ClientOrigin, ErrorCode};

/// The OpenTelemetry baggage entry naming the tenant an operation acts for (read by the
/// adapters' spans).
pub const TENANT_BAGGAGE: &str = "tenant.id";

/// `span` (which declares a `tenant.id` field), under the current span, acting for
/// `tenant`: the field is recorded, and the tenant goes into the baggage of the span's
/// OpenTelemetry context, so the spans of the SQL statements and Redis calls made
/// inside it carry the tenant too.
///
/// These spans are at DEBUG: logs at INFO skip them, and they cost nothing unless traces
/// are exported (whose layer takes Tessera's DEBUG spans).
pub fn for_tenant(span: tracing::Span, tenant: Option<tessera_domain::TenantId>) -> tracing::Span {
    if span.is_disabled() {
        return span;
    }
    if let Some(tenant) = tenant {
        use opentelemetry::baggage::BaggageExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.record("tenant.id", tracing::field::display(tenant));
        let parent = tracing::Span::current()
            .context()
            .with_baggage([opentelemetry::KeyValue::new(TENANT_BAGGAGE, tenant.to_string())]);
        let _ = span.set_parent(parent);
    }
    span
}

/// What the engine answered, and whether it was a request error (no `data`: the
/// document did not parse or validate).
pub struct Ran {
    pub response: async_graphql::Response,
    pub is_request_error: bool,
}

pub async fn run(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    caller: Caller,
    client: ClientInfo,
    shape: &Shape,
    register: Option<String>,
) -> Ran {
    let to_register = register.map(|hash| (hash, request.query.clone()));
    let client_ip = client.ip.clone();
    let cookies = CookieSession::from_headers(
        state.config.session_cookies,
        state.config.session_cookie_max_age_seconds,
        headers,
    );
    let mut request = request.data(ClientOrigin(client)).data(cookies);
    if !super::admission::may_introspect(&caller, state.config.schema.introspection) {
        // Refused already when the document asks for it; closed here all the same.
        request = request.disable_introspection();
    }
    let member = match &caller {
        Caller::Member(context) => Some(context.clone()),
        _ => None,
    };
    if let Some(context) = &member {
        // A mutation's loaders remember nothing: what it read before a write is not
        // what it shows after it.
        request = request.data(crate::graphql::loaders::for_request(
            state.app.clone(),
            context.clone(),
            state.config.loader_delay,
            !shape.runs_mutation,
        ));
    }
    let unguarded = may_run_unguarded(shape, &caller, &state.config.schema);
    let span = tracing::debug_span!(
        "graphql.operation",
        otel.name = shape.label(),
        graphql.operation.name = shape.label(),
        graphql.operation.type = if shape.runs_mutation { "mutation" } else { "query" },
        tessera.fields_checked_before = unguarded,
        tenant.id = tracing::field::Empty,
    );
    let span = for_tenant(span, member.as_ref().map(|context| context.tenant_id()));
    let schema = match (unguarded, shape.validated()) {
        (true, true) => &state.validated,
        (true, false) => &state.unguarded,
        (false, _) => &state.schema,
    };
    let response = tracing::Instrument::instrument(schema.execute(request.data(caller)), span).await;
    if response.data != async_graphql::Value::Null {
        shape.ran();
    }
    if let Some(context) = &member {
        let failed = !response.errors.is_empty();
        state.app.meter(context, Metered::Ran { failed });
    }
    if let Some(context) = &member
        && denied(&response)
    {
        state.app.note_access_denied(context, shape.label()).await;
    }
    let is_request_error = is_request_error(&response);
    if let Some((hash, document)) = to_register.filter(|_| !is_request_error) {
        let registrant = match &member {
            Some(context) => Some(Registrant::Tenant(context.tenant_id())),
            None => client_ip.as_deref().map(Registrant::Address),
        };
        if let Some(registrant) = registrant {
            state.app.remember_document(&hash, &document, registrant).await;
        }
    }
    Ran {
        response,
        is_request_error,
    }
}

/// The operation may run on the schema without the per-field hook: every field it can
/// resolve was found and its rule lets the caller resolve it, and nothing else the
/// guarded schema's extensions check could refuse it (a plan's tighter depth or
/// complexity limit). Anything unknown takes the guarded path.
fn may_run_unguarded(shape: &Shape, caller: &Caller, limits: &crate::graphql::SchemaLimits) -> bool {
    let Some(fields) = shape.fields() else {
        return false;
    };
    if let Caller::Member(context) = caller {
        let plan = context.limits();
        let amount = |measured: usize| u64::try_from(measured).unwrap_or(u64::MAX);
        // The server's complexity limit applies on both paths; the plan's only on the
        // guarded one, so it must be no tighter than the server's.
        if !plan.max_query_depth.allows(amount(shape.depth().fields))
            || !plan.max_query_complexity.allows(amount(limits.max_complexity))
        {
            return false;
        }
    }
    fields.all_allowed(Some(caller))
}

/// Some field was refused `FORBIDDEN`.
fn denied(response: &async_graphql::Response) -> bool {
    let forbidden = async_graphql::Value::from(ErrorCode::Forbidden.code());
    response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == forbidden)
    })
}

/// No `data` at all, and errors that belong to no field: the document could not be
/// parsed or validated.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

#[cfg(test)]
mod tests {
    use async_graphql::{ErrorExtensionValues, PathSegment, ServerError};
    use tessera_application::RequestContext;
    use tessera_domain::{Allowance, Permission, RequestLimits, RoleId, TenantId, UserId};
    use uuid::Uuid;

    use super::*;

    fn error(code: Option<&str>, field: bool) -> ServerError {
        let mut error = ServerError::new("refused", None);
        if let Some(code) = code {
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", code);
            error.extensions = Some(extensions);
        }
        if field {
            error.path = vec![PathSegment::Field("members".into())];
        }
        error
    }

    fn shape(query: &str) -> Shape {
        let types = crate::graphql::access_plan::FieldTypes::from_sdl(&crate::graphql::schema_sdl());
        super::super::documents::Documents::new(types, 0).shape(&mut async_graphql::Request::new(query))
    }

    fn member(permissions: &[Permission], limits: RequestLimits) -> Caller {
        Caller::Member(
            RequestContext::for_tests(
                UserId::from_uuid(Uuid::now_v7()),
                TenantId::from_uuid(Uuid::now_v7()),
                RoleId::from_uuid(Uuid::now_v7()),
                permissions.iter().copied().collect(),
            )
            .limited_for_tests(limits),
        )
    }

    /// Only an operation whose every field is allowed, and that no tighter plan limit
    /// could refuse, skips the per-field hook.
    #[test]
    fn only_an_operation_allowed_in_full_runs_without_the_per_field_hook() {
        let limits = crate::graphql::SchemaLimits::default();
        let page = shape("{ members(first: 5) { nodes { user { email } role { name } } } }");
        let reader = member(&[Permission::MembersRead], RequestLimits::UNBOUNDED);
        assert!(may_run_unguarded(&page, &reader, &limits));
        assert!(!may_run_unguarded(
            &page,
            &member(&[], RequestLimits::UNBOUNDED),
            &limits
        ));
        assert!(!may_run_unguarded(&page, &Caller::Anonymous, &limits));
        let refused = Caller::Refused(tessera_application::AppError::Unauthenticated("expired".into()));
        assert!(!may_run_unguarded(&page, &refused, &limits));
        assert!(may_run_unguarded(
            &shape("{ plans { key } }"),
            &Caller::Anonymous,
            &limits
        ));

        // A plan that bounds depth or complexity more tightly than the server.
        let shallow = RequestLimits {
            max_query_depth: Allowance::AtMost(3),
            ..RequestLimits::UNBOUNDED
        };
        assert!(!may_run_unguarded(
            &page,
            &member(&[Permission::MembersRead], shallow),
            &limits
        ));
        let deep_enough = RequestLimits {
            max_query_depth: Allowance::AtMost(4),
            max_query_complexity: Allowance::AtMost(limits.max_complexity as u64),
            ..RequestLimits::UNBOUNDED
        };
        assert!(may_run_unguarded(
            &page,
            &member(&[Permission::MembersRead], deep_enough),
            &limits
        ));
        let simpler = RequestLimits {
            max_query_complexity: Allowance::AtMost(limits.max_complexity as u64 - 1),
            ..RequestLimits::UNBOUNDED
        };
        assert!(!may_run_unguarded(
            &page,
            &member(&[Permission::MembersRead], simpler),
            &limits
        ));

        // Unknown fields, and documents that do not parse or name no operation.
        assert!(!may_run_unguarded(&shape("{ me { notAField } }"), &reader, &limits));
        assert!(!may_run_unguarded(&shape("{ me "), &reader, &limits));
        assert!(!may_run_unguarded(
            &shape("query A { me { email } } query B { me { email } }"),
            &reader,
            &limits
        ));
    }

    #[test]
    fn a_denial_is_a_forbidden_code_and_a_request_error_has_no_data_and_no_field() {
        let denied_field = async_graphql::Response::from_errors(vec![error(Some("FORBIDDEN"), true)]);
        assert!(denied(&denied_field));
        assert!(
            !is_request_error(&denied_field),
            "a field's error is not a request error"
        );
        let syntax = async_graphql::Response::from_errors(vec![error(None, false)]);
        assert!(!denied(&syntax));
        assert!(is_request_error(&syntax));
        let fine = async_graphql::Response::new(async_graphql::Value::from(1));
        assert!(!denied(&fine) && !is_request_error(&fine));
    }
}
