//! Single sign-on against a real OpenID Connect provider (the `oidc-provider` npm
//! package, started by the test): the full authorization code flow through the
//! provider's login form, just-in-time provisioning, linking an existing user by the
//! verified email, and the refusals that create nothing — a callback in another
//! browser, a replayed callback, a wrong state, an unverified email, a token from
//! another issuer — and a key rotation at the provider picked up at once.

use serde_json::{Value, json};
use tessera_application::ports::OidcClientRef;
use tessera_infrastructure::HttpOidcClient;
use tessera_tests::oidc::{Provider, raw_id_token, sign_in};
use tessera_tests::{Backend, Member, TestApp, on_both_backends};

on_both_backends!(people_sign_in_through_the_tenants_provider_and_bad_callbacks_create_nothing,);

const CLIENT_ID: &str = "tessera-test";
const CLIENT_SECRET: &str = "a client secret of the test provider";
const COMPLETE: &str = "mutation($c: String!) { completeSsoSignIn(input: { code: $c }) { accessToken user { id email emailVerified } tenant { slug } } }";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

async fn configure(
    app: &TestApp,
    caller: &Member,
    role: &str,
    issuer: &str,
    secret: Option<&str>,
) -> tessera_tests::GqlResponse {
    app.graphql(
        "mutation($i: ConfigureSsoConnectionInput!) { configureSsoConnection(input: $i) { issuer clientId provisionedRoleId domains callbackUrl startPath } }",
        json!({ "i": { "issuer": issuer, "clientId": CLIENT_ID, "clientSecret": secret, "provisionedRoleId": role, "domains": ["acme-sso.net"] } }),
        Some(&caller.token),
    )
    .await
}

/// The callback's answer as JSON.
fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().expect("a body")).expect("a JSON body")
}

async fn people_sign_in_through_the_tenants_provider_and_bad_callbacks_create_nothing(backend: Backend) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(CLIENT_ID, CLIENT_SECRET, &format!("{base}/sso/callback"));
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.http.bind_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        config.http.public_url = Some(base.clone());
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme-sso.net", "acme").await;
    let start = format!("{base}/sso/start?tenant=acme");

    // Without a connection there is nothing to start.
    let none = app.client.get(&start).send().await.expect("start");
    assert_eq!(none.status(), 404);

    // Configuring: validation per field, the secret never shown back.
    let bad = app
        .graphql(
            "mutation($i: ConfigureSsoConnectionInput!) { configureSsoConnection(input: $i) { issuer } }",
            json!({ "i": { "issuer": "ftp://idp", "clientId": "", "provisionedRoleId": "nope", "domains": ["acme-sso.net"] } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);
    for field in ["issuer", "clientId", "clientSecret", "provisionedRoleId", "domains"] {
        assert!(bad.field_error(field).is_some(), "{field}: {}", bad.body);
    }
    // Until the tenant proved it controls acme-sso.net, its provider cannot speak for it.
    let engineer = app.create_role(&owner, "Engineer", &["members:read"]).await;
    let unproven = configure(&app, &owner, &engineer, &provider.issuer, Some(CLIENT_SECRET)).await;
    assert!(unproven.field_error("domains").is_some(), "{}", unproven.body);
    app.verified_domain(&owner, "acme-sso.net").await;
    let configured = configure(&app, &owner, &engineer, &provider.issuer, Some(CLIENT_SECRET)).await;
    let connection = &configured.assert_ok()["configureSsoConnection"];
    assert_eq!(connection["callbackUrl"], format!("{base}/sso/callback"));
    assert_eq!(connection["startPath"], "/sso/start?tenant=acme");
    assert!(!configured.body.to_string().contains(CLIENT_SECRET));

    // First sign-in: the person is provisioned just in time with the connection's role.
    let logged_in_before = app.audit_count("session.logged_in").await;
    let answer = sign_in(&format!("{start}&state=app-state-1"), "newcomer@acme-sso.net", false).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(
        body(&answer)["state"],
        "app-state-1",
        "the app's state comes back with the code"
    );
    let code = body(&answer)["ssoCode"].as_str().expect("a hand-over code").to_owned();
    let signed_in = app.graphql(COMPLETE, json!({ "c": code }), None).await;
    let data = &signed_in.assert_ok()["completeSsoSignIn"];
    assert_eq!(data["user"]["email"], "newcomer@acme-sso.net");
    assert_eq!(data["user"]["emailVerified"], true);
    assert_eq!(data["tenant"]["slug"], "acme");
    let token = data["accessToken"].as_str().expect("token");
    let me = app.query("{ me { membership { role { name } } } }", token).await;
    assert_eq!(
        me.assert_ok()["me"]["membership"]["role"]["name"],
        "Engineer",
        "{}",
        me.body
    );
    let again = app.graphql(COMPLETE, json!({ "c": code }), None).await;
    assert_eq!(
        again.error_code(),
        Some("UNAUTHENTICATED"),
        "a hand-over code works once"
    );
    assert_eq!(app.audit_count("session.logged_in").await, logged_in_before + 1);
    assert_eq!(app.audit_count("sso.signed_in").await, 1);
    assert_eq!(app.audit_count("member.provisioned").await, 1);

    // An existing user (of another tenant) whose address is verified is linked.
    let elsewhere = app.sign_up("known@acme-sso.net", "elsewhere").await;
    app.graphql(
        "mutation { requestEmailVerification }",
        json!({}),
        Some(&elsewhere.token),
    )
    .await
    .assert_ok();
    let mailed = app
        .mailed_token("known@acme-sso.net", "ev_")
        .expect("verification mail");
    app.graphql(
        "mutation($t: String!) { verifyEmail(input: { token: $t }) }",
        json!({ "t": mailed }),
        None,
    )
    .await
    .assert_ok();
    let answer = sign_in(&start, "known@acme-sso.net", false).await;
    let code = body(&answer)["ssoCode"].as_str().expect("code").to_owned();
    let linked = app.graphql(COMPLETE, json!({ "c": code }), None).await;
    assert_eq!(
        linked.assert_ok()["completeSsoSignIn"]["user"]["id"].as_str(),
        Some(elsewhere.user_id.as_str())
    );

    // An account nobody proved the address of is taken back by the domain's provider:
    // whoever made it loses its password and sessions.
    let squatter = app.sign_up("squatted@acme-sso.net", "squat").await;
    let answer = sign_in(&start, "squatted@acme-sso.net", false).await;
    let code = body(&answer)["ssoCode"].as_str().expect("code").to_owned();
    let reclaimed = app.graphql(COMPLETE, json!({ "c": code }), None).await;
    assert_eq!(
        reclaimed.assert_ok()["completeSsoSignIn"]["user"]["id"].as_str(),
        Some(squatter.user_id.as_str())
    );
    let old_session = app.query("{ me { email } }", &squatter.token).await;
    assert_eq!(
        old_session.error_code(),
        Some("UNAUTHENTICATED"),
        "{}",
        old_session.body
    );
    let password = app
        .graphql(
            "mutation { logIn(input: { email: \"squatted@acme-sso.net\", password: \"a long enough password\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(password.error_code(), Some("UNAUTHENTICATED"), "{}", password.body);
    assert_eq!(app.audit_count("user.reclaimed_by_sso").await, 1);

    let users_before = app.db.count("users").await;
    let memberships_before = app.db.count("memberships").await;

    // An address outside the connection's domains, even one the provider verified.
    let outside = sign_in(&start, "eve@elsewhere.example", false).await;
    assert_eq!(outside["status"], 401, "{outside}");

    // The callback taken to another browser (no binding cookie), then a wrong state.
    let stopped = sign_in(&start, "mallory@acme-sso.net", true).await;
    let callback = stopped["callback"].as_str().expect("callback").to_owned();
    let cookie = stopped["cookie"].as_str().expect("cookie").to_owned();
    let other_browser = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(other_browser.status(), 401);
    // What the browser that started it sends.
    let in_browser = |url: String| app.client.get(url).header("cookie", &cookie).send();
    let wrong_state = in_browser(callback.replace("state=", "state=x"))
        .await
        .expect("callback");
    assert_eq!(wrong_state.status(), 401);
    // The real browser still completes it once; the same callback again is refused.
    let first = in_browser(callback.clone()).await.expect("callback");
    assert_eq!(first.status(), 200);
    let replayed = in_browser(callback.clone()).await.expect("callback");
    assert_eq!(replayed.status(), 401, "a replayed callback");
    assert_eq!(
        app.db.count("users").await,
        users_before + 1,
        "only mallory's completed sign-in created a user"
    );
    assert_eq!(app.db.count("memberships").await, memberships_before + 1);
    assert!(app.audit_count("sso.sign_in_failed").await >= 4);

    // The provider rotates its signing key: the next sign-in verifies with the new key.
    provider.rotate_keys().await;
    let rotated = sign_in(&start, "newcomer@acme-sso.net", false).await;
    assert_eq!(rotated["status"], 200, "{rotated}");

    // Requiring single sign-on: the domain's passwords are refused (the same answer
    // with or without an account), its owners excepted; a sign-in may start from the
    // person's address.
    let require = app
        .graphql(
            "mutation($i: ConfigureSsoConnectionInput!) { configureSsoConnection(input: $i) { required } }",
            json!({ "i": { "issuer": provider.issuer, "clientId": CLIENT_ID, "provisionedRoleId": engineer, "domains": ["acme-sso.net"], "required": true } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(require.assert_ok()["configureSsoConnection"]["required"], true);
    let log_in =
        "mutation($e: String!) { logIn(input: { email: $e, password: \"a long enough password\" }) { accessToken } }";
    for email in ["known@acme-sso.net", "nobody-here@acme-sso.net"] {
        let refused = app.graphql(log_in, json!({ "e": email }), None).await;
        refused.assert_reason("SSO_REQUIRED");
        assert_eq!(
            refused.body["errors"][0]["extensions"]["ssoStartUrl"],
            format!("{base}/sso/start?tenant=acme"),
            "{}",
            refused.body
        );
    }
    app.graphql(log_in, json!({ "e": "owner@acme-sso.net" }), None)
        .await
        .assert_ok();
    let by_email = sign_in(
        &format!("{base}/sso/start?email=newcomer@acme-sso.net"),
        "newcomer@acme-sso.net",
        false,
    )
    .await;
    assert_eq!(by_email["status"], 200, "{by_email}");
    let elsewhere_start = app
        .client
        .get(format!("{base}/sso/start?email=someone@other-sso.net"))
        .send()
        .await
        .expect("start");
    assert_eq!(elsewhere_start.status(), 404);
    let ambiguous = app.client.get(format!("{base}/sso/start")).send().await.expect("start");
    assert_eq!(ambiguous.status(), 400);
    let bad_state = app
        .client
        .get(format!("{start}&state=no%20spaces"))
        .send()
        .await
        .expect("start");
    assert_eq!(bad_state.status(), 400);

    // A token another issuer signed is refused, even for the same client id.
    let other = Provider::start(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:9/cb");
    let (foreign, nonce) = raw_id_token(
        &other.issuer,
        CLIENT_ID,
        CLIENT_SECRET,
        "http://127.0.0.1:9/cb",
        "newcomer@acme-sso.net",
    )
    .await;
    let client = HttpOidcClient::new(std::time::Duration::from_secs(5), true).expect("client");
    let ours = OidcClientRef {
        issuer: &provider.issuer,
        client_id: CLIENT_ID,
        redirect_uri: "http://127.0.0.1:9/cb",
    };
    assert!(
        client.verify_id_token(ours, &foreign, &nonce).await.is_err(),
        "another issuer's token"
    );
    let theirs = OidcClientRef {
        issuer: &other.issuer,
        ..ours
    };
    let identity = client
        .verify_id_token(theirs, &foreign, &nonce)
        .await
        .expect("its own issuer verifies it");
    assert_eq!(identity.email.as_deref(), Some("newcomer@acme-sso.net"));
    assert!(
        client.verify_id_token(theirs, &foreign, "another nonce").await.is_err(),
        "another sign-in's nonce"
    );

    // Only an owner configures; the connection can be removed.
    let member = app
        .join(
            &owner,
            "bob@bob-home.net",
            tessera_tests::RoleChoice::System(tessera_domain::SystemRole::Member),
        )
        .await;
    let refused = configure(&app, &member, &engineer, &provider.issuer, Some(CLIENT_SECRET)).await;
    refused.assert_reason("NOT_OWNER");
    // The role people are provisioned with stays while the connection names it.
    let delete_role = "mutation($id: ID!, $to: ID) { deleteRole(input: { id: $id, replacementRoleId: $to }) }";
    let member_role = app.role_id(&owner.token, "member").await;
    let in_use = app
        .graphql(
            delete_role,
            json!({ "id": engineer, "to": member_role }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(in_use.error_code(), Some("CONFLICT"), "{}", in_use.body);
    let deleted = app
        .graphql("mutation { deleteSsoConnection }", json!({}), Some(&owner.token))
        .await;
    assert_eq!(deleted.assert_ok()["deleteSsoConnection"], true);
    let gone = app.client.get(&start).send().await.expect("start");
    assert_eq!(gone.status(), 404);
}
