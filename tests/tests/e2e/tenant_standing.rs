//! A tenant's standing: past due is read-only, suspended lets only its owners in (to
//! see status and billing), and reactivation restores everything.

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, Member, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    a_past_due_tenant_reads_but_refuses_changes_until_reactivated,
    a_suspended_tenant_lets_only_its_owners_in_to_see_status_and_billing,
);

const CREATE_WORKSPACE: &str = "mutation($s: String!) { createWorkspace(input: { name: $s, slug: $s }) { id } }";

async fn set_status(app: &TestApp, ops: &Member, mutation: &str, tenant: &str) -> serde_json::Value {
    let query = format!("mutation($id: ID!) {{ {mutation} {{ status }} }}");
    app.graphql(&query, json!({ "id": tenant }), Some(&ops.token))
        .await
        .assert_ok()
        .clone()
}

/// Logs in to tenant `acme`.
async fn log_in(app: &TestApp, email: &str) -> tessera_tests::GqlResponse {
    app.graphql(
        "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p, tenantSlug: \"acme\" }) \
         { accessToken } }",
        json!({ "e": email, "p": PASSWORD }),
        None,
    )
    .await
}

async fn a_past_due_tenant_reads_but_refuses_changes_until_reactivated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (_, secret) = app
        .create_api_key(&owner, "CI", &["workspaces:create", "members:read"])
        .await;
    let ops = app.platform_operator().await;
    // Seen once, so the owner's access is cached: the change still applies at once.
    app.query("{ workspaces { totalCount } }", &owner.token)
        .await
        .assert_ok();

    let marked = set_status(&app, &ops, "markTenantPastDue(id: $id)", &owner.tenant_id).await;
    assert_eq!(marked["markTenantPastDue"]["status"], "PAST_DUE");

    for member in [&owner, &admin] {
        let read = app.query("{ workspaces { totalCount } }", &member.token).await;
        assert_eq!(read.assert_ok()["workspaces"]["totalCount"], 1);
        let write = app
            .graphql(CREATE_WORKSPACE, json!({ "s": "blocked" }), Some(&member.token))
            .await;
        write.assert_reason("TENANT_READ_ONLY");
    }
    let with_key = |query: &'static str| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let response = app
                .client
                .post(format!("{}/graphql", app.base_url))
                .header("x-api-key", secret)
                .json(&json!({ "query": query, "variables": { "s": "by-key" } }))
                .send()
                .await
                .expect("answered");
            TestApp::read(response).await
        }
    };
    with_key("{ members(first: 5) { totalCount } }").await.assert_ok();
    with_key(CREATE_WORKSPACE).await.assert_reason("TENANT_READ_ONLY");

    let status = app
        .query("{ currentTenant { status statusReason } }", &owner.token)
        .await;
    assert_eq!(
        status.assert_ok()["currentTenant"],
        json!({ "status": "PAST_DUE", "statusReason": "BILLING" })
    );
    // Signing in and out still works.
    let again = log_in(&app, "admin@acme.example").await;
    let token = again.assert_ok()["logIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    app.query("mutation { logOut }", &token).await.assert_ok();

    set_status(&app, &ops, "reactivateTenant(id: $id)", &owner.tenant_id).await;
    app.graphql(CREATE_WORKSPACE, json!({ "s": "after" }), Some(&owner.token))
        .await
        .assert_ok();
    let status = app
        .query("{ currentTenant { status statusReason } }", &owner.token)
        .await;
    assert_eq!(
        status.assert_ok()["currentTenant"],
        json!({ "status": "ACTIVE", "statusReason": null })
    );
    assert_eq!(app.audit_count("tenant.past_due").await, 1);
    app.stop().await;
}

async fn a_suspended_tenant_lets_only_its_owners_in_to_see_status_and_billing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let ops = app.platform_operator().await;
    let suspended = app
        .graphql(
            "mutation($id: ID!) { suspendTenant(id: $id, reason: BILLING) { status } }",
            json!({ "id": owner.tenant_id }),
            Some(&ops.token),
        )
        .await;
    assert_eq!(suspended.assert_ok()["suspendTenant"]["status"], "SUSPENDED");

    // The owner signs in and sees the tenant's status, plan and usage...
    let signed_in = log_in(&app, "owner@acme.example").await;
    let token = signed_in.assert_ok()["logIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let status = app
        .query(
            "{ currentTenant { status statusReason plan { key } usage { seats { used } } } me { email } }",
            &token,
        )
        .await;
    let tenant = &status.assert_ok()["currentTenant"];
    assert_eq!(tenant["status"], "SUSPENDED");
    assert_eq!(tenant["statusReason"], "BILLING");
    assert_eq!(tenant["usage"]["seats"]["used"], 2);
    // ...and nothing else.
    app.query("{ members(first: 5) { totalCount } }", &token)
        .await
        .assert_reason("TENANT_SUSPENDED");
    app.graphql(CREATE_WORKSPACE, json!({ "s": "blocked" }), Some(&token))
        .await
        .assert_reason("TENANT_SUSPENDED");
    app.query("mutation { logOut }", &token).await.assert_ok();

    // Other members are kept out entirely.
    log_in(&app, "admin@acme.example")
        .await
        .assert_reason("TENANT_SUSPENDED");
    app.query("{ me { email } }", &admin.token)
        .await
        .assert_reason("TENANT_SUSPENDED");

    set_status(&app, &ops, "reactivateTenant(id: $id)", &owner.tenant_id).await;
    app.query("{ members(first: 5) { totalCount } }", &admin.token)
        .await
        .assert_ok();
    log_in(&app, "admin@acme.example").await.assert_ok();
    app.stop().await;
}
