//! API keys: shown once, stored as digests, confined to their tenant and their
//! permissions, refused once revoked or expired.

use serde_json::{Value, json};
use tessera_tests::{Backend, GqlResponse, RoleChoice, TestApp, on_both_backends};

on_both_backends!(an_api_key_acts_in_its_tenant_within_its_permissions_until_revoked);
on_both_backends!(a_verified_key_is_answered_from_the_cache_until_revoked_on_any_replica);

const CREATE: &str =
    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id name permissions } } }";

async fn with_key(app: &TestApp, secret: &str, query: &str, variables: Value, header: bool) -> GqlResponse {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .json(&json!({ "query": query, "variables": variables }));
    request = if header {
        request.header("x-api-key", secret)
    } else {
        request.bearer_auth(secret)
    };
    TestApp::read(request.send().await.expect("answered")).await
}

async fn an_api_key_acts_in_its_tenant_within_its_permissions_until_revoked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let other = app.sign_up("owner@globex.example", "globex").await;
    let globex_workspace = app.create_workspace(&other, "Globex secret", "secret").await;

    let created = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "CI", "permissions": ["members:read", "workspaces:create"] } }),
            Some(&owner.token),
        )
        .await;
    let data = created.assert_ok();
    let secret = data["createApiKey"]["secret"].as_str().expect("secret").to_owned();
    let key_id = data["createApiKey"]["apiKey"]["id"].clone();
    assert!(secret.starts_with("tsk_"));
    let listed = app
        .query("{ apiKeys { totalCount nodes { id name lastUsedAt } } }", &owner.token)
        .await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown once only"
    );
    assert_eq!(listed.assert_ok()["apiKeys"]["totalCount"], 1);

    // It works as a bearer token and as X-Api-Key, in its own tenant.
    let members = with_key(
        &app,
        &secret,
        "{ currentTenant { slug } members { totalCount } }",
        json!({}),
        false,
    )
    .await;
    assert_eq!(members.assert_ok()["currentTenant"]["slug"], "acme");
    let created_ws = with_key(
        &app,
        &secret,
        "mutation { createWorkspace(input: { name: \"From CI\", slug: \"from-ci\" }) { id } }",
        json!({}),
        true,
    )
    .await;
    created_ws.assert_ok();

    // Within its permissions only, and never outside its tenant.
    let create_role = with_key(
        &app,
        &secret,
        "mutation { createRole(input: { name: \"X\", permissions: [] }) { id } }",
        json!({}),
        true,
    )
    .await;
    assert_eq!(create_role.error_code(), Some("FORBIDDEN"));
    let foreign = with_key(
        &app,
        &secret,
        "mutation($id: ID!) { deleteWorkspace(id: $id) }",
        json!({ "id": globex_workspace }),
        false,
    )
    .await;
    assert_eq!(foreign.error_code(), Some("NOT_FOUND"), "{}", foreign.body);
    for personal in [
        "mutation { leaveTenant }",
        "{ myTenants { nodes { tenant { slug } } } }",
        "mutation { logOutEverywhere }",
    ] {
        let response = with_key(&app, &secret, personal, json!({}), false).await;
        assert_eq!(
            response.body["errors"][0]["extensions"]["reason"], "API_KEY_NOT_ALLOWED",
            "{personal}: {}",
            response.body
        );
    }
    let mint = with_key(
        &app,
        &secret,
        CREATE,
        json!({ "input": { "name": "Child", "permissions": [] } }),
        false,
    )
    .await;
    assert_eq!(mint.error_code(), Some("FORBIDDEN"), "a key cannot mint keys");

    // Nobody gives a key more than they hold.
    let keeper_role = {
        let response = app
            .graphql("mutation { createRole(input: { name: \"Key keeper\", permissions: [\"api_keys:manage\", \"members:read\"] }) { id } }", json!({}), Some(&owner.token))
            .await;
        response.assert_ok()["createRole"]["id"]
            .as_str()
            .expect("role")
            .to_owned()
    };
    let keeper = app
        .join(&owner, "keeper@acme.example", RoleChoice::Id(keeper_role))
        .await;
    let escalate = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "Too much", "permissions": ["roles:manage"] } }),
            Some(&keeper.token),
        )
        .await;
    escalate.assert_reason("PERMISSION_ESCALATION");
    let past = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "Old", "permissions": [], "expiresAt": "2020-01-01T00:00:00Z" } }),
            Some(&owner.token),
        )
        .await;
    assert!(past.field_error("expiresAt").is_some(), "{}", past.body);

    // Tampered, revoked and expired keys are refused.
    let mut tampered = secret.clone();
    tampered.pop();
    tampered.push(if secret.ends_with('A') { 'B' } else { 'A' });
    let response = with_key(&app, &tampered, "{ currentTenant { slug } }", json!({}), false).await;
    assert_eq!(response.error_code(), Some("UNAUTHENTICATED"));
    let used = app.query("{ apiKeys { nodes { lastUsedAt } } }", &owner.token).await;
    assert!(
        used.assert_ok()["apiKeys"]["nodes"][0]["lastUsedAt"].is_string(),
        "use is recorded"
    );

    app.revoke_api_key(&owner, key_id.as_str().expect("key id")).await;
    let revoked = with_key(&app, &secret, "{ currentTenant { slug } }", json!({}), false).await;
    assert_eq!(revoked.error_code(), Some("UNAUTHENTICATED"));

    let second = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "Short-lived", "permissions": [] } }),
            Some(&owner.token),
        )
        .await;
    let second_secret = second.assert_ok()["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    // Expired in the database before its first use (a key already verified is answered
    // from the cache, which checks the expiry it read; an edit behind the server's back
    // reaches it with the next invalidation or after the cache TTL).
    app.db
        .execute_as_owner("UPDATE api_keys SET expires_at = created_at WHERE revoked_at IS NULL")
        .await;
    let expired = with_key(&app, &second_secret, "{ currentTenant { slug } }", json!({}), false).await;
    assert_eq!(expired.error_code(), Some("UNAUTHENTICATED"));
    app.stop().await;
}

async fn a_verified_key_is_answered_from_the_cache_until_revoked_on_any_replica(backend: Backend) {
    let Some(app) = TestApp::spawn_with_redis(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let created = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "Partner", "permissions": ["members:read"] } }),
            Some(&owner.token),
        )
        .await;
    let data = created.assert_ok();
    let secret = data["createApiKey"]["secret"].as_str().expect("secret").to_owned();
    let key_id = data["createApiKey"]["apiKey"]["id"].clone();

    // The first use reads the key and its tenant (and records the use); the next ones
    // cost no statement at all.
    let before = app.statements();
    with_key(&app, &secret, "{ __typename }", json!({}), false)
        .await
        .assert_ok();
    let cold = app.statements() - before;
    let before = app.statements();
    for _ in 0..3 {
        with_key(&app, &secret, "{ __typename }", json!({}), true)
            .await
            .assert_ok();
    }
    let warm = app.statements() - before;
    assert!(
        cold >= 2,
        "the first use reads the key and the tenant: {cold} statements"
    );
    assert_eq!(warm, 0, "a verified key is answered from the cache");

    // A wrong secret for the same key id is still refused: the cache compares digests.
    let mut tampered = secret.clone();
    tampered.pop();
    tampered.push(if secret.ends_with('A') { 'B' } else { 'A' });
    let refused = with_key(&app, &tampered, "{ currentTenant { slug } }", json!({}), false).await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"));

    // A replica that has cached the key too stops honouring it on its next request
    // after the key is revoked on the first.
    let replica = app.replica().await;
    app.graphql_at(&replica, "{ __typename }", json!({}), &secret)
        .await
        .assert_ok();
    app.graphql_at(&replica, "{ __typename }", json!({}), &secret)
        .await
        .assert_ok();
    app.revoke_api_key(&owner, key_id.as_str().expect("key id")).await;
    // (`__typename` needs no caller; a field of the tenant does.)
    let on_replica = app
        .graphql_at(&replica, "{ currentTenant { slug } }", json!({}), &secret)
        .await;
    assert_eq!(on_replica.error_code(), Some("UNAUTHENTICATED"), "{}", on_replica.body);
    let here = with_key(&app, &secret, "{ currentTenant { slug } }", json!({}), false).await;
    assert_eq!(here.error_code(), Some("UNAUTHENTICATED"));
    replica.stop().await;
    app.stop().await;
}
