//! Sessions: refresh-token rotation, theft detection by replay, logging out here or
//! everywhere; ended sessions stop their access tokens on the next request.

use serde_json::{Value, json};
use tessera_tests::{Backend, PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    refresh_rotates_and_a_replayed_token_ends_the_whole_session,
    logging_out_ends_access_at_once_here_or_everywhere,
    email_verification_and_password_reset_work_once_and_a_reset_ends_every_session,
    a_refresh_records_where_the_session_is_used_now,
);

const REFRESH: &str = "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken refreshToken tenant { slug } } }";
const LOG_IN: &str =
    "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken refreshToken } }";

fn pair(response: &tessera_tests::GqlResponse, field: &str) -> (String, String) {
    let data = response.assert_ok();
    (
        data[field]["accessToken"].as_str().expect("access token").to_owned(),
        data[field]["refreshToken"].as_str().expect("refresh token").to_owned(),
    )
}

async fn refresh_rotates_and_a_replayed_token_ends_the_whole_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;
    let login = app
        .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), None)
        .await;
    let (_, first_refresh) = pair(&login, "logIn");

    let second = app.graphql(REFRESH, json!({ "t": first_refresh }), None).await;
    assert_eq!(second.assert_ok()["refreshSession"]["tenant"]["slug"], "acme");
    let (_, second_refresh) = pair(&second, "refreshSession");
    let third = app.graphql(REFRESH, json!({ "t": second_refresh }), None).await;
    let (third_access, third_refresh) = pair(&third, "refreshSession");
    assert_ne!(second_refresh, third_refresh);
    app.query("{ me { email } }", &third_access).await.assert_ok();

    // The first token again: someone holds a copy. The whole session ends…
    let replay = app.graphql(REFRESH, json!({ "t": first_refresh }), None).await;
    assert_eq!(replay.error_code(), Some("UNAUTHENTICATED"), "{}", replay.body);
    // …so the newest tokens of that session die too, at once.
    let access = app.query("{ me { email } }", &third_access).await;
    assert_eq!(access.error_code(), Some("UNAUTHENTICATED"), "{}", access.body);
    let refresh = app.graphql(REFRESH, json!({ "t": third_refresh }), None).await;
    assert_eq!(refresh.error_code(), Some("UNAUTHENTICATED"));

    let junk = app.graphql(REFRESH, json!({ "t": "rt_not-a-token" }), None).await;
    assert_eq!(junk.error_code(), Some("UNAUTHENTICATED"));
    // Without cookie mode, the token is required.
    let missing = app
        .graphql("mutation { refreshSession { accessToken } }", json!({}), None)
        .await;
    assert_eq!(missing.error_code(), Some("BAD_USER_INPUT"), "{}", missing.body);
    assert!(missing.field_error("refreshToken").is_some(), "{}", missing.body);
    app.stop().await;
}

async fn logging_out_ends_access_at_once_here_or_everywhere(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let laptop = app
        .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), None)
        .await;
    let (laptop_access, _) = pair(&laptop, "logIn");
    let phone = app
        .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), None)
        .await;
    let (phone_access, phone_refresh) = pair(&phone, "logIn");

    let list = app
        .query("{ sessions { totalCount nodes { id current } } }", &laptop_access)
        .await;
    let data = list.assert_ok();
    assert_eq!(data["sessions"]["totalCount"], 3, "sign-up, laptop and phone");
    let current: Vec<&Value> = data["sessions"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);

    // Logging out on the laptop ends the laptop only.
    app.query("mutation { logOut }", &laptop_access).await.assert_ok();
    let dead = app.query("{ me { email } }", &laptop_access).await;
    assert_eq!(dead.error_code(), Some("UNAUTHENTICATED"));
    app.query("{ me { email } }", &phone_access).await.assert_ok();

    // Another person's session cannot be ended by id.
    let grace = app.sign_up("grace@example.com", "globex").await;
    let phone_id = {
        let list = app.query("{ sessions { nodes { id current } } }", &phone_access).await;
        list.assert_ok()["sessions"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["current"] == true)
            .expect("current")["id"]
            .clone()
    };
    let foreign = app
        .graphql(
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": phone_id }),
            Some(&grace.token),
        )
        .await;
    assert_eq!(foreign.error_code(), Some("NOT_FOUND"));
    app.query("{ me { email } }", &phone_access).await.assert_ok();

    // Everywhere: the sign-up session and the phone end too.
    let everywhere = app.query("mutation { logOutEverywhere }", &ada.token).await;
    assert_eq!(everywhere.assert_ok()["logOutEverywhere"], 2);
    for token in [&ada.token, &phone_access] {
        let response = app.query("{ me { email } }", token).await;
        assert_eq!(response.error_code(), Some("UNAUTHENTICATED"));
    }
    let refresh = app.graphql(REFRESH, json!({ "t": phone_refresh }), None).await;
    assert_eq!(refresh.error_code(), Some("UNAUTHENTICATED"));
    app.stop().await;
}

async fn email_verification_and_password_reset_work_once_and_a_reset_ends_every_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let verified = "{ me { emailVerified } }";
    assert_eq!(
        app.query(verified, &ada.token).await.assert_ok()["me"]["emailVerified"],
        false
    );

    app.query("mutation { requestEmailVerification }", &ada.token)
        .await
        .assert_ok();
    let token = app.mailed_token("ada@example.com", "ev_").expect("a verification mail");
    let verify = "mutation($t: String!) { verifyEmail(input: { token: $t }) }";
    app.graphql(verify, json!({ "t": token }), None).await.assert_ok();
    assert_eq!(
        app.query(verified, &ada.token).await.assert_ok()["me"]["emailVerified"],
        true
    );
    let again = app.graphql(verify, json!({ "t": token }), None).await;
    assert_eq!(again.error_code(), Some("BAD_USER_INPUT"), "single use: {}", again.body);

    // A reset request answers the same for an unknown address, and mails nothing there.
    let request = "mutation($e: String!) { requestPasswordReset(input: { email: $e }) }";
    let unknown = app.graphql(request, json!({ "e": "nobody@example.com" }), None).await;
    let known = app.graphql(request, json!({ "e": "ada@example.com" }), None).await;
    assert_eq!(unknown.body, known.body);
    assert!(app.mailed_token("nobody@example.com", "pr_").is_none());
    let reset_token = app.mailed_token("ada@example.com", "pr_").expect("a reset mail");

    let reset = "mutation($t: String!, $p: String!) { resetPassword(input: { token: $t, newPassword: $p }) }";
    let weak = app
        .graphql(reset, json!({ "t": reset_token, "p": "short" }), None)
        .await;
    assert!(weak.field_error("newPassword").is_some(), "{}", weak.body);
    app.graphql(reset, json!({ "t": reset_token, "p": "a brand new passphrase" }), None)
        .await
        .assert_ok();
    let reused = app
        .graphql(reset, json!({ "t": reset_token, "p": "yet another passphrase" }), None)
        .await;
    assert_eq!(reused.error_code(), Some("BAD_USER_INPUT"));

    // Every session ended; the old password is gone, the new one works.
    let old_access = app.query("{ me { email } }", &ada.token).await;
    assert_eq!(old_access.error_code(), Some("UNAUTHENTICATED"));
    let old_password = app
        .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), None)
        .await;
    assert_eq!(old_password.error_code(), Some("UNAUTHENTICATED"));
    app.graphql(
        LOG_IN,
        json!({ "e": "ada@example.com", "p": "a brand new passphrase" }),
        None,
    )
    .await
    .assert_ok();
    app.stop().await;
}

async fn a_refresh_records_where_the_session_is_used_now(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;
    let post = |query: &'static str, variables: Value, agent: &'static str, token: Option<String>| {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .header("user-agent", agent)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { TestApp::read(request.send().await.expect("answered")).await }
    };
    let login = post(
        LOG_IN,
        json!({ "e": "ada@example.com", "p": PASSWORD }),
        "laptop/1",
        None,
    )
    .await;
    let (access, refresh) = pair(&login, "logIn");
    const MINE: &str = "{ sessions { nodes { current userAgent ip lastUsedAt } } }";
    let before = post(MINE, json!({}), "laptop/1", Some(access)).await;
    let current = |response: &tessera_tests::GqlResponse| {
        response.assert_ok()["sessions"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|s| s["current"] == true)
            .cloned()
            .expect("the current session is listed")
    };
    let before = current(&before);
    assert_eq!(before["userAgent"], "laptop/1");
    assert_eq!(before["ip"], "127.0.0.1");
    assert!(before["lastUsedAt"].is_null());

    let refreshed = post(REFRESH, json!({ "t": refresh }), "laptop/2 (updated)", None).await;
    let (access, _) = pair(&refreshed, "refreshSession");
    let after = current(&post(MINE, json!({}), "anything", Some(access)).await);
    assert_eq!(
        after["userAgent"], "laptop/2 (updated)",
        "the refresh recorded the new client"
    );
    assert!(after["lastUsedAt"].is_string());
    app.stop().await;
}
