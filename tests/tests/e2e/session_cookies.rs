//! Cookie mode for a browser app: the refresh token only ever travels in an HttpOnly
//! cookie, and using that cookie takes the double-submit CSRF token.

use serde_json::{Value, json};
use tessera_tests::{Backend, GqlResponse, PASSWORD, TestApp, on_both_backends};

on_both_backends!(cookie_mode_keeps_the_refresh_token_in_an_http_only_cookie_guarded_against_csrf);

const LOG_IN: &str =
    "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken refreshToken } }";
const REFRESH: &str = "mutation { refreshSession { accessToken refreshToken } }";

/// The answer, and its `Set-Cookie` headers as `name -> full header`.
async fn post(
    app: &TestApp,
    query: &str,
    variables: Value,
    headers: &[(&str, String)],
) -> (GqlResponse, Vec<(String, String)>) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("answered");
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let text = v.to_str().expect("text").to_owned();
            (text.split('=').next().expect("a name").to_owned(), text)
        })
        .collect();
    (TestApp::read(response).await, cookies)
}

/// The value of a cookie in a `Set-Cookie` header.
fn value(set_cookie: &[(String, String)], name: &str) -> String {
    let (_, header) = set_cookie
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} is set: {set_cookie:?}"));
    header[name.len() + 1..].split(';').next().expect("a value").to_owned()
}

async fn cookie_mode_keeps_the_refresh_token_in_an_http_only_cookie_guarded_against_csrf(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.auth.session_cookies = true).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;
    let (login, set) = post(&app, LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), &[]).await;
    let data = login.assert_ok();
    assert!(data["logIn"]["accessToken"].is_string());
    assert!(
        data["logIn"]["refreshToken"].is_null(),
        "the body never shows the refresh token"
    );
    let refresh_header = &set
        .iter()
        .find(|(n, _)| n == "tessera_refresh")
        .expect("refresh cookie")
        .1;
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/graphql", "Max-Age=2592000"] {
        assert!(
            refresh_header.contains(attribute),
            "{attribute} missing: {refresh_header}"
        );
    }
    let csrf_header = &set.iter().find(|(n, _)| n == "tessera_csrf").expect("CSRF cookie").1;
    assert!(
        !csrf_header.contains("HttpOnly"),
        "the app must be able to read the CSRF token"
    );
    let refresh = value(&set, "tessera_refresh");
    let csrf = value(&set, "tessera_csrf");
    let cookie = format!("tessera_refresh={refresh}; tessera_csrf={csrf}");

    // The cookie alone (what a forged cross-site request carries) is refused.
    for headers in [
        vec![("cookie", cookie.clone())],
        vec![("cookie", cookie.clone()), ("x-csrf-token", "guess".to_owned())],
        vec![
            ("cookie", format!("tessera_refresh={refresh}")),
            ("x-csrf-token", csrf.clone()),
        ],
    ] {
        let (refused, set) = post(&app, REFRESH, json!({}), &headers).await;
        assert_eq!(refused.error_code(), Some("FORBIDDEN"), "{}", refused.body);
        refused.assert_reason("CSRF");
        assert!(set.is_empty(), "a refused refresh sets no cookie");
    }

    // With the CSRF token echoed, the refresh rotates both cookies.
    let (refreshed, set) = post(
        &app,
        REFRESH,
        json!({}),
        &[("cookie", cookie.clone()), ("x-csrf-token", csrf.clone())],
    )
    .await;
    let data = refreshed.assert_ok();
    assert!(data["refreshSession"]["refreshToken"].is_null());
    let access = data["refreshSession"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    let next_refresh = value(&set, "tessera_refresh");
    let next_csrf = value(&set, "tessera_csrf");
    assert_ne!(next_refresh, refresh);
    assert_ne!(next_csrf, csrf);

    // Replaying the old cookie ends the session, as with a replayed body token.
    let (replay, _) = post(&app, REFRESH, json!({}), &[("cookie", cookie), ("x-csrf-token", csrf)]).await;
    assert_eq!(replay.error_code(), Some("UNAUTHENTICATED"), "{}", replay.body);
    let (me, _) = post(
        &app,
        "{ me { email } }",
        json!({}),
        &[("authorization", format!("Bearer {access}"))],
    )
    .await;
    assert_eq!(me.error_code(), Some("UNAUTHENTICATED"), "{}", me.body);

    // Logging out makes the browser forget both cookies.
    let (login, set) = post(&app, LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), &[]).await;
    let access = login.assert_ok()["logIn"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_eq!(set.len(), 2);
    let (out, set) = post(
        &app,
        "mutation { logOut }",
        json!({}),
        &[("authorization", format!("Bearer {access}"))],
    )
    .await;
    out.assert_ok();
    for name in ["tessera_refresh", "tessera_csrf"] {
        let header = &set.iter().find(|(n, _)| n == name).expect("cleared").1;
        assert!(header.contains("Max-Age=0"), "{header}");
    }
    app.stop().await;
}
