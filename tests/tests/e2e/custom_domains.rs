//! Custom domains: a tenant claims a host name, proves control by serving a token at a
//! well-known path (fetched over real HTTP), and then a request to that host names the
//! tenant: the tenant's own members pass, anyone else's credential is refused.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_infrastructure::HttpDomainVerifier;
use tessera_tests::{Backend, GqlResponse, Member, TestApp, domain_server, on_both_backends};

on_both_backends!(a_verified_custom_domain_names_its_tenant_and_refuses_other_credentials);

const ADD: &str = "mutation($d: String!) { addCustomDomain(input: { domain: $d }) { domain verified verificationToken verificationUrl } }";
const VERIFY: &str =
    "mutation($d: String!) { verifyCustomDomain(input: { domain: $d }) { domain verified verifiedAt } }";
const REMOVE: &str = "mutation($d: String!) { removeCustomDomain(input: { domain: $d }) }";

/// A web server standing in for every custom domain: serves whatever text it holds.
async fn at_host(app: &TestApp, host: &str, member: &Member) -> GqlResponse {
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("host", host)
        .bearer_auth(&member.token)
        .json(&json!({ "query": "{ currentTenant { slug } }" }))
        .send()
        .await
        .expect("answered");
    TestApp::read(response).await
}

async fn a_verified_custom_domain_names_its_tenant_and_refuses_other_credentials(backend: Backend) {
    let (addr, served) = domain_server().await;
    let Some(app) = TestApp::spawn_configured(backend, |config, options| {
        config.http.base_domain = Some("tessera.example.net".into());
        options.domain_verifier = Some(Arc::new(HttpDomainVerifier::resolving_every_domain_to(
            addr,
            Duration::from_secs(5),
        )));
    })
    .await
    else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let bob = app.sign_up("bob@example.com", "globex").await;

    // Malformed, private or platform names are refused per field.
    for bad in [
        "acme",
        "10.0.0.1",
        "app.localhost",
        "acme.tessera.example.net",
        "a_b.com",
    ] {
        let refused = app.graphql(ADD, json!({ "d": bad }), Some(&ada.token)).await;
        assert_eq!(refused.error_code(), Some("BAD_USER_INPUT"), "{bad}: {}", refused.body);
        assert!(refused.field_error("domain").is_some(), "{bad}: {}", refused.body);
    }

    let claim = app.graphql(ADD, json!({ "d": "App.Acme.com" }), Some(&ada.token)).await;
    let claim = claim.assert_ok()["addCustomDomain"].clone();
    assert_eq!(claim["domain"], "app.acme.com");
    assert_eq!(claim["verified"], false);
    assert_eq!(
        claim["verificationUrl"],
        "http://app.acme.com/.well-known/tessera-domain-verification"
    );
    let token = claim["verificationToken"].as_str().expect("token").to_owned();
    let again = app.graphql(ADD, json!({ "d": "app.acme.com" }), Some(&ada.token)).await;
    assert_eq!(again.error_code(), Some("CONFLICT"), "{}", again.body);

    // Unverified, the host names nobody: Bob passes.
    at_host(&app, "app.acme.com", &bob).await.assert_ok();

    // Nothing served yet: verification fails and says why.
    let early = app
        .graphql(VERIFY, json!({ "d": "app.acme.com" }), Some(&ada.token))
        .await;
    assert_eq!(early.error_code(), Some("BAD_USER_INPUT"), "{}", early.body);
    assert!(
        early.field_error("domain").is_some_and(|m| m.contains("HTTP 404")),
        "{}",
        early.body
    );
    *served.lock().expect("lock") = "someone else's token".into();
    let wrong = app
        .graphql(VERIFY, json!({ "d": "app.acme.com" }), Some(&ada.token))
        .await;
    assert_eq!(wrong.error_code(), Some("BAD_USER_INPUT"), "{}", wrong.body);

    *served.lock().expect("lock") = format!("{token}\n");
    let verified = app
        .graphql(VERIFY, json!({ "d": "app.acme.com" }), Some(&ada.token))
        .await;
    assert_eq!(verified.assert_ok()["verifyCustomDomain"]["verified"], true);

    // Now the host names Acme: Ada passes, Bob's credential is refused.
    let own = at_host(&app, "app.acme.com:443", &ada).await;
    assert_eq!(own.assert_ok()["currentTenant"]["slug"], "acme");
    let foreign = at_host(&app, "app.acme.com", &bob).await;
    assert_eq!(foreign.error_code(), Some("FORBIDDEN"), "{}", foreign.body);
    foreign.assert_reason("TENANT_MISMATCH");
    at_host(&app, "unknown.example.org", &bob).await.assert_ok();

    // Globex may claim the name, but cannot take it over once Acme holds it verified,
    // even when the domain serves Globex's token.
    let rival = app.graphql(ADD, json!({ "d": "app.acme.com" }), Some(&bob.token)).await;
    let rival_token = rival.assert_ok()["addCustomDomain"]["verificationToken"]
        .as_str()
        .expect("token")
        .to_owned();
    *served.lock().expect("lock") = rival_token;
    let takeover = app
        .graphql(VERIFY, json!({ "d": "app.acme.com" }), Some(&bob.token))
        .await;
    assert_eq!(takeover.error_code(), Some("CONFLICT"), "{}", takeover.body);

    // Each tenant sees its own claims only.
    let listed = app.query("{ customDomains { domain verified } }", &ada.token).await;
    assert_eq!(
        listed.assert_ok()["customDomains"],
        json!([{ "domain": "app.acme.com", "verified": true }])
    );
    let listed = app.query("{ customDomains { domain verified } }", &bob.token).await;
    assert_eq!(
        listed.assert_ok()["customDomains"],
        json!([{ "domain": "app.acme.com", "verified": false }])
    );

    // Removed, the host names nobody again; removing twice is NOT_FOUND.
    let removed = app
        .graphql(REMOVE, json!({ "d": "app.acme.com" }), Some(&ada.token))
        .await;
    assert_eq!(removed.assert_ok()["removeCustomDomain"], Value::Bool(true));
    at_host(&app, "app.acme.com", &bob).await.assert_ok();
    let twice = app
        .graphql(REMOVE, json!({ "d": "app.acme.com" }), Some(&ada.token))
        .await;
    assert_eq!(twice.error_code(), Some("NOT_FOUND"), "{}", twice.body);
    app.stop().await;
}
