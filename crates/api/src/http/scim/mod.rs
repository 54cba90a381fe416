//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: a tenant's directory provisions its
//! people and groups with a bearer token an owner created (`createScimToken`). Each
//! request is the tenant's directory acting in that tenant only; errors use SCIM's
//! error schema; bodies are `application/scim+json` (plain JSON is accepted).

mod discovery;
mod filter;
mod groups;
mod lists;
mod patch;
mod users;

pub use lists::{ListQuery, list_response, project, window};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tessera_application::AppError;
use tessera_application::scim::ScimCaller;
use tessera_domain::Refusal;

use super::graphql::client::client_of;
use crate::AppState;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const CONTENT_TYPE: &str = "application/scim+json";
/// The most resources one list answers (`count` above it is cut to it).
pub const MAX_RESULTS: u64 = 200;
/// Groups answered per page when their members come with them.
pub const MAX_GROUPS_WITH_MEMBERS: u64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/Users/{id}",
            get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::read)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/scim/v2/.search", axum::routing::post(discovery::search))
        .route("/scim/v2/Users/.search", axum::routing::post(discovery::search_users))
        .route("/scim/v2/Groups/.search", axum::routing::post(discovery::search_groups))
        .route("/scim/v2", axum::routing::any(discovery::unknown))
        .route("/scim/v2/{*rest}", axum::routing::any(discovery::unknown))
}

/// A SCIM answer: the body as `application/scim+json`.
pub fn answer(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A refusal in SCIM's terms (RFC 7644 §3.12): its status, `scimType` and detail,
/// answered with SCIM's error schema (and `WWW-Authenticate` or `Retry-After` where
/// they belong).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
    retry_after_seconds: Option<u64>,
}

/// A SCIM error.
pub fn error(status: StatusCode, scim_type: Option<&'static str>, detail: &str) -> ScimError {
    ScimError {
        status,
        scim_type,
        detail: detail.to_owned(),
        retry_after_seconds: None,
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = answer(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(value) = self
            .retry_after_seconds
            .and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The one table from application errors to SCIM's statuses and types.
impl From<AppError> for ScimError {
    fn from(failure: AppError) -> Self {
        match failure {
            AppError::Unauthenticated(message) => error(StatusCode::UNAUTHORIZED, None, &message),
            AppError::Forbidden { message, .. } => error(StatusCode::FORBIDDEN, None, &message),
            AppError::OverPlan(Refusal::FeatureNotInPlan(feature)) => error(
                StatusCode::FORBIDDEN,
                None,
                &format!("`{feature}` is not in this tenant's plan"),
            ),
            AppError::OverPlan(Refusal::QuotaExceeded { quota, limit, used }) => error(
                StatusCode::FORBIDDEN,
                None,
                &format!("the tenant's plan allows {limit} {quota} and it holds {used}: change the plan first"),
            ),
            AppError::NotFound(what) => error(StatusCode::NOT_FOUND, None, &format!("no such {what}")),
            AppError::Validation(fields) => {
                let detail = fields
                    .iter()
                    .map(|(field, message)| format!("{field}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                error(StatusCode::BAD_REQUEST, Some("invalidValue"), &detail)
            }
            AppError::Conflict { field, message } if field == "version" => {
                error(StatusCode::PRECONDITION_FAILED, None, &message)
            }
            AppError::Conflict { field, message }
                if ["userName", "displayName", "emails"].contains(&field.as_str()) =>
            {
                error(StatusCode::CONFLICT, Some("uniqueness"), &format!("{field}: {message}"))
            }
            // Another request changed what this one was based on: send it again.
            AppError::Conflict { message, .. } => error(StatusCode::CONFLICT, None, &message),
            AppError::RateLimited { retry_after_seconds } => ScimError {
                retry_after_seconds: Some(retry_after_seconds),
                ..error(StatusCode::TOO_MANY_REQUESTS, None, "too many requests; wait a little")
            },
            other => {
                tracing::error!(error = %other, "a SCIM request failed");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "the request failed; try again later",
                )
            }
        }
    }
}

/// A write based on a version the resource no longer has (`If-Match`).
fn stale() -> ScimError {
    error(
        StatusCode::PRECONDITION_FAILED,
        None,
        "the resource changed since that version was read",
    )
}

/// What a SCIM handler answers.
pub type Answer = Result<Response, ScimError>;

/// The directory behind the request's bearer token.
/// (What it needs is read from the request first: the request is not held across the
/// authentication.)
pub fn caller(
    state: &AppState,
    request: &Request,
) -> impl std::future::Future<Output = Result<ScimCaller, ScimError>> + Send + 'static {
    let secret = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let origin = client_of(request, &state.config.trusted_proxies);
    let app = state.app.clone();
    async move {
        let secret = secret.ok_or_else(|| {
            ScimError::from(AppError::Unauthenticated(
                "send the directory's SCIM token as a bearer token".into(),
            ))
        })?;
        Ok(app.authenticate_scim(&secret, origin).await?)
    }
}

/// The request's JSON object body (SCIM's media type or plain JSON).
pub async fn body_of(state: &AppState, request: Request) -> Result<Map<String, Value>, ScimError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_owned();
    if !media.is_empty() && media != CONTENT_TYPE && media != "application/json" {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send application/scim+json (or application/json)",
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(request.into_body(), state.config.max_body_bytes)
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, None, "the body is too large"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "the body must be a JSON object",
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            &format!("the body is not JSON: {e}"),
        )),
    }
}

/// Where the resources are: `PUBLIC_URL/scim/v2`, else from the request's `Host`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(url) => format!("{url}/scim/v2"),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
                .unwrap_or("localhost");
            format!("http://{host}/scim/v2")
        }
    }
}

/// `If-Match: W/"3"` → 3 (a version this server gave out); `*` or none → none.
pub fn expected_version(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(raw) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(None);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| {
            error(
                StatusCode::PRECONDITION_FAILED,
                None,
                "If-Match names no version of this resource",
            )
        })
}

/// `W/"<version>"`
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A created or changed resource, with its `ETag` (and `Location` when created).
pub fn resource(status: StatusCode, body: &Value, version: i64) -> Response {
    let mut response = answer(status, body);
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Some(location) = body["meta"]["location"].as_str()
        && let Ok(value) = HeaderValue::from_str(location)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// PATCH on a resource: reads it, applies the operations to its representation and
/// saves the result like a PUT on the version read. When another request changed it
/// meanwhile the patch is applied again to the new version (a few times), unless the
/// client named a version with `If-Match`.
pub async fn patched<V, Read, Saved>(
    expected: Option<i64>,
    body: &Map<String, Value>,
    read: impl Fn() -> Read,
    shown: impl Fn(&V) -> (Value, i64),
    save: impl Fn(&Map<String, Value>, i64) -> Result<Saved, ScimError>,
) -> Answer
where
    Read: std::future::Future<Output = Result<V, AppError>>,
    Saved: std::future::Future<Output = Result<V, AppError>>,
{
    for _ in 0..3 {
        let current = read().await?;
        let (representation, version) = shown(&current);
        if expected.is_some_and(|v| v != version) {
            return Err(stale());
        }
        let Value::Object(mut doc) = representation else {
            return Err(error(StatusCode::INTERNAL_SERVER_ERROR, None, "the request failed"));
        };
        apply_patch(&mut doc, body)?;
        match save(&doc, version)?.await {
            Ok(saved) => {
                let (representation, version) = shown(&saved);
                return Ok(resource(StatusCode::OK, &representation, version));
            }
            Err(AppError::Conflict { field, .. }) if field == "version" && expected.is_none() => continue,
            Err(failure) => return Err(failure.into()),
        }
    }
    Err(error(
        StatusCode::CONFLICT,
        None,
        "the resource kept changing; send the patch again",
    ))
}

/// Applies a PatchOp request to a representation.
fn apply_patch(doc: &mut Map<String, Value>, body: &Map<String, Value>) -> Result<(), ScimError> {
    let bad = |detail: &str| error(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail);
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
    if !schemas_ok {
        return Err(bad(&format!("a PATCH body names the schema {PATCH_SCHEMA}")));
    }
    let operations = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("a PATCH body carries its changes in Operations"))?;
    if operations.is_empty() || operations.len() > patch::MAX_OPERATIONS {
        return Err(bad(&format!("send 1 to {} operations", patch::MAX_OPERATIONS)));
    }
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("each operation has an op"))?;
        let path = match operation.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(path.as_str()),
            Some(_) => return Err(bad("an operation's path is text")),
        };
        patch::apply(doc, op, path, operation.get("value"))
            .map_err(|e| error(StatusCode::BAD_REQUEST, Some(e.scim_type), &e.detail))?;
    }
    Ok(())
}

/// A filter of a list request, answered for the attributes one resource type knows.
pub fn parse_filter(raw: Option<&str>) -> Result<Option<filter::Equality>, ScimError> {
    match raw.map(str::trim).filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(raw) => filter::parse(raw)
            .map(Some)
            .map_err(|e| error(StatusCode::BAD_REQUEST, Some("invalidFilter"), &e)),
    }
}

/// A boolean SCIM sends as JSON or, from some clients, as text.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The value of `attribute` in `object`, its name compared without regard to case.
pub fn attr<'a>(object: &'a Map<String, Value>, attribute: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
        .map(|(_, v)| v)
}
