//! Cookie mode for a browser app (optional per deployment): the refresh token lives
//! in an `HttpOnly`, `Secure`, `SameSite=Lax` cookie scoped to `/graphql`, so script
//! never sees it; a second, readable cookie carries a CSRF token that the app must
//! echo in the `X-CSRF-Token` header whenever it relies on the refresh cookie
//! (double submit). Access tokens still travel in the `Authorization` header, which a
//! browser never attaches on its own, so only the cookie-based refresh needs the check.

use async_graphql::Context;
use axum::http::{HeaderMap, header};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;
use tessera_application::AppError;
use tessera_application::identity::AuthSession;

use super::identity::AuthPayload;
use tessera_application::ForbiddenReason;

pub const REFRESH_COOKIE: &str = "tessera_refresh";
pub const CSRF_COOKIE: &str = "tessera_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const REFRESH_PATH: &str = "/graphql";

/// Per request: whether cookie mode is on, and what the browser sent.
#[derive(Debug, Clone, Default)]
pub struct CookieSession {
    pub enabled: bool,
    /// Lifetime of the cookies, in seconds (the refresh token's).
    pub max_age_seconds: i64,
    refresh: Option<String>,
    csrf_cookie: Option<String>,
    csrf_header: Option<String>,
}

impl CookieSession {
    pub fn from_headers(enabled: bool, max_age_seconds: i64, headers: &HeaderMap) -> Self {
        let mut session = Self {
            enabled,
            max_age_seconds,
            ..Self::default()
        };
        if !enabled {
            return session;
        }
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(value).flatten() {
                match cookie.name() {
                    REFRESH_COOKIE => session.refresh = Some(cookie.value().to_owned()),
                    CSRF_COOKIE => session.csrf_cookie = Some(cookie.value().to_owned()),
                    _ => {}
                }
            }
        }
        session.csrf_header = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        session
    }

    /// The refresh token from the cookie, once the CSRF header matches the CSRF cookie.
    pub(crate) fn refresh_token(&self) -> Result<&str, AppError> {
        if !self.enabled {
            return Err(AppError::validation(
                "refreshToken",
                "is required (this deployment does not use session cookies)",
            ));
        }
        let Some(refresh) = self.refresh.as_deref().filter(|r| !r.is_empty()) else {
            return Err(AppError::Unauthenticated(
                "no refresh cookie was sent; log in again".into(),
            ));
        };
        let matches = match (&self.csrf_cookie, &self.csrf_header) {
            (Some(cookie), Some(header)) if !cookie.is_empty() => {
                bool::from(cookie.as_bytes().ct_eq(header.as_bytes()))
            }
            _ => false,
        };
        if !matches {
            return Err(AppError::Forbidden {
                reason: ForbiddenReason::Csrf,
                message: format!("send the {CSRF_COOKIE} cookie's value in the X-CSRF-Token header"),
            });
        }
        Ok(refresh)
    }
}

fn cookie_mode(ctx: &Context<'_>) -> Option<CookieSession> {
    ctx.data_opt::<CookieSession>().filter(|c| c.enabled).cloned()
}

/// The payload for a fresh token pair. In cookie mode the refresh token goes into its
/// cookie (with a new CSRF token) and is left out of the body.
pub(crate) fn issue(ctx: &Context<'_>, session: AuthSession) -> AuthPayload {
    let mut payload = AuthPayload::from(session);
    if let Some(cookies) = cookie_mode(ctx)
        && let Some(refresh) = payload.refresh_token.take()
    {
        let csrf = uuid::Uuid::new_v4().simple().to_string();
        set(
            ctx,
            REFRESH_COOKIE,
            refresh,
            true,
            REFRESH_PATH,
            cookies.max_age_seconds,
        );
        set(ctx, CSRF_COOKIE, csrf, false, "/", cookies.max_age_seconds);
    }
    payload
}

/// Logging out: the browser forgets both cookies.
pub(crate) fn clear(ctx: &Context<'_>) {
    if cookie_mode(ctx).is_some() {
        set(ctx, REFRESH_COOKIE, String::new(), true, REFRESH_PATH, 0);
        set(ctx, CSRF_COOKIE, String::new(), false, "/", 0);
    }
}

fn set(ctx: &Context<'_>, name: &'static str, value: String, http_only: bool, path: &'static str, max_age: i64) {
    let cookie = Cookie::build((name, value))
        .http_only(http_only)
        .secure(true)
        .same_site(SameSite::Lax)
        .path(path)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    ctx.append_http_header(header::SET_COOKIE, cookie.to_string());
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn sent(cookie: &str, csrf: Option<&str>) -> CookieSession {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).expect("valid"));
        if let Some(csrf) = csrf {
            headers.insert(CSRF_HEADER, HeaderValue::from_str(csrf).expect("valid"));
        }
        CookieSession::from_headers(true, 60, &headers)
    }

    #[test]
    fn the_refresh_cookie_counts_only_with_the_matching_csrf_header() {
        let both = "theme=dark; tessera_refresh=rt_abc; tessera_csrf=c123";
        assert_eq!(sent(both, Some("c123")).refresh_token().ok(), Some("rt_abc"));
        for (cookie, header) in [
            (both, None),
            (both, Some("c124")),
            (both, Some("")),
            ("tessera_refresh=rt_abc", Some("c123")),
            ("tessera_refresh=rt_abc; tessera_csrf=", Some("")),
        ] {
            let refused = sent(cookie, header).refresh_token().expect_err("refused");
            assert!(
                matches!(
                    refused,
                    AppError::Forbidden {
                        reason: ForbiddenReason::Csrf,
                        ..
                    }
                ),
                "{cookie} {header:?}"
            );
        }
        let missing = sent("tessera_csrf=c123", Some("c123"))
            .refresh_token()
            .expect_err("refused");
        assert!(matches!(missing, AppError::Unauthenticated(_)));
    }

    #[test]
    fn without_cookie_mode_cookies_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("tessera_refresh=rt_abc; tessera_csrf=c"),
        );
        headers.insert(CSRF_HEADER, HeaderValue::from_static("c"));
        let off = CookieSession::from_headers(false, 60, &headers);
        assert!(matches!(off.refresh_token(), Err(AppError::Validation(_))));
    }
}
