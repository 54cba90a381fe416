//! Single sign-on's browser side. `GET /sso/start?tenant=<slug>` sends the browser to
//! the tenant's identity provider, with a cookie that binds the sign-in to this
//! browser; `GET /sso/callback` is where the provider sends it back. A good callback
//! answers a one-time code (at `SSO_RETURN_URL#sso_code=…&state=…`, or as JSON) that the app
//! exchanges with `completeSsoSignIn` for the usual token pair: tokens never travel in
//! a URL.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;
use tessera_application::AppError;
use tessera_application::sso::SsoStartBy;

use super::graphql::client::client_of;
use crate::AppState;

/// The cookie that ties a sign-in to the browser that started it.
const COOKIE: &str = "tessera_sso";

/// Browser-side settings of single sign-on.
#[derive(Debug, Clone, Default)]
pub struct SsoHttp {
    /// Where the callback sends the browser with `?sso_code=`; JSON when unset.
    pub return_url: Option<String>,
    /// The binding cookie is `Secure` (the public URL is https).
    pub secure_cookie: bool,
}

#[derive(Deserialize)]
pub struct StartQuery {
    tenant: Option<String>,
    email: Option<String>,
    /// The app's own value, handed back with the code.
    state: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = (status, axum::Json(json!({ "error": code, "message": message }))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refused(error: AppError) -> Response {
    match error {
        AppError::Validation(fields) => {
            let message = fields
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; ");
            refuse(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message)
        }
        AppError::NotFound(_) => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "single sign-on is not available for this tenant",
        ),
        AppError::Unauthenticated(message) => refuse(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", &message),
        AppError::Forbidden { message, .. } => refuse(StatusCode::FORBIDDEN, "FORBIDDEN", &message),
        AppError::RateLimited { retry_after_seconds } => {
            let mut response = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many sign-ins from here; wait a little",
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        AppError::OverPlan(_) => refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "single sign-on is not in this tenant's plan",
        ),
        other => {
            tracing::error!(error = %other, "single sign-on failed");
            refuse(
                StatusCode::BAD_GATEWAY,
                "INTERNAL_SERVER_ERROR",
                "single sign-on failed; try again later",
            )
        }
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| Cookie::split_parse(value).flatten())
        .find(|cookie| cookie.name() == COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

/// The binding cookie: `HttpOnly`, `SameSite=Lax`, scoped to `/sso`, for `max_age`
/// seconds (0 clears it).
fn binding_cookie(value: String, max_age: i64, secure: bool) -> String {
    Cookie::build((COOKIE, value))
        .path("/sso")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

/// `GET /sso/start?tenant=<slug>`.
pub async fn start(State(state): State<AppState>, Query(query): Query<StartQuery>, request: Request) -> Response {
    let tenant = query.tenant.filter(|t| !t.trim().is_empty());
    let email = query.email.filter(|e| !e.trim().is_empty());
    let by = match (&tenant, &email) {
        (Some(tenant), None) => SsoStartBy::Tenant(tenant),
        (None, Some(email)) => SsoStartBy::Email(email),
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "name the tenant (tenant=<slug>) or the person's address (email=<address>), one of them",
            );
        }
    };
    let client = client_of(&request, &state.config.trusted_proxies);
    match state.app.start_sso(by, query.state.as_deref(), &client).await {
        Ok(started) => {
            let cookie = binding_cookie(started.browser_secret, 600, state.config.sso.secure_cookie);
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            match (
                HeaderValue::from_str(&started.authorization_url),
                HeaderValue::from_str(&cookie),
            ) {
                (Ok(location), Ok(cookie)) => {
                    headers.insert(header::LOCATION, location);
                    headers.insert(header::SET_COOKIE, cookie);
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    response
                }
                _ => refuse(
                    StatusCode::BAD_GATEWAY,
                    "INTERNAL_SERVER_ERROR",
                    "the provider's address is not usable",
                ),
            }
        }
        Err(error) => refused(error),
    }
}

/// `GET /sso/callback?state=…&code=…` (or `?error=…` from the provider).
pub async fn callback(State(state): State<AppState>, Query(query): Query<CallbackQuery>, request: Request) -> Response {
    if let Some(error) = query.error {
        // Only the provider's error code, and only if it looks like one (its free text
        // is not repeated to the browser).
        let code = if error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            error
        } else {
            "error".to_owned()
        };
        return refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            &format!("the identity provider refused the sign-in ({code})"),
        );
    }
    let (Some(sign_in), Some(code)) = (query.state, query.code) else {
        return refuse(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", "state and code are required");
    };
    let client = client_of(&request, &state.config.trusted_proxies);
    let browser = cookie_value(request.headers());
    match state.app.finish_sso(&sign_in, &code, browser.as_deref(), &client).await {
        Ok(handover) => {
            // The binding cookie has done its work.
            let clear = binding_cookie(String::new(), 0, state.config.sso.secure_cookie);
            // In the fragment: browsers never send it to a server (no logs, no Referer).
            let mut fragment = format!("sso_code={}", handover.code);
            if let Some(app_state) = &handover.app_state {
                fragment.push_str("&state=");
                fragment.push_str(app_state);
            }
            let mut response = match &state.config.sso.return_url {
                Some(url) => match HeaderValue::from_str(&format!("{url}#{fragment}")) {
                    Ok(location) => {
                        let mut response = StatusCode::SEE_OTHER.into_response();
                        response.headers_mut().insert(header::LOCATION, location);
                        response
                    }
                    Err(_) => {
                        return refuse(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "INTERNAL_SERVER_ERROR",
                            "SSO_RETURN_URL is not usable",
                        );
                    }
                },
                None => axum::Json(json!({
                    "ssoCode": handover.code,
                    "state": handover.app_state,
                    "next": "completeSsoSignIn",
                }))
                .into_response(),
            };
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(clear) = HeaderValue::from_str(&clear) {
                headers.insert(header::SET_COOKIE, clear);
            }
            response
        }
        Err(error) => refused(error),
    }
}
