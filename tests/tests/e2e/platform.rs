//! Platform administration: granted only through the command line, never implied by a
//! tenant role; a suspended tenant is locked out at once while others keep working.

use serde_json::json;
use tessera_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(
    a_suspended_tenant_is_locked_out_while_another_keeps_working,
    platform_administrators_read_the_platform_chain_and_any_tenants,
);

async fn a_suspended_tenant_is_locked_out_while_another_keeps_working(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.sign_up("admin@platform.example", "platform-ops").await;
    let grace = app.sign_up("grace@globex.example", "globex").await;
    let ada = app.sign_up("ada@acme.example", "acme").await;
    let list = "query($s: String) { tenants(search: $s) { totalCount nodes { slug status } } }";

    // Owning a tenant does not make anyone a platform administrator.
    let refused = app.query(list, &admin.token).await;
    refused.assert_reason("NOT_PLATFORM_ADMIN");
    tessera_server::set_platform_admin(app.config(), "admin@platform.example", true)
        .await
        .expect("granted");

    let all = app.query(list, &admin.token).await;
    assert_eq!(all.assert_ok()["tenants"]["totalCount"], 3);
    let found = app.graphql(list, json!({ "s": "GLOB" }), Some(&admin.token)).await;
    assert_eq!(
        found.assert_ok()["tenants"]["nodes"],
        json!([{ "slug": "globex", "status": "ACTIVE" }])
    );

    // Grace has been seen (her access is cached); the suspension still applies at once.
    app.query("{ workspaces { totalCount } }", &grace.token)
        .await
        .assert_ok();
    let suspend = app
        .graphql(
            "mutation($id: ID!) { suspendTenant(id: $id) { status } }",
            json!({ "id": grace.tenant_id }),
            Some(&admin.token),
        )
        .await;
    assert_eq!(suspend.assert_ok()["suspendTenant"]["status"], "SUSPENDED");
    let locked = app.query("{ workspaces { totalCount } }", &grace.token).await;
    locked.assert_reason("TENANT_SUSPENDED");
    app.query("{ workspaces { totalCount } }", &ada.token).await.assert_ok();

    let reactivate = app
        .graphql(
            "mutation($id: ID!) { reactivateTenant(id: $id) { status } }",
            json!({ "id": grace.tenant_id }),
            Some(&admin.token),
        )
        .await;
    assert_eq!(reactivate.assert_ok()["reactivateTenant"]["status"], "ACTIVE");
    app.query("{ workspaces { totalCount } }", &grace.token)
        .await
        .assert_ok();

    tessera_server::set_platform_admin(app.config(), "admin@platform.example", false)
        .await
        .expect("revoked");
    let again = app.query(list, &admin.token).await;
    again.assert_reason("NOT_PLATFORM_ADMIN");
    app.stop().await;
}

async fn platform_administrators_read_the_platform_chain_and_any_tenants(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.sign_up("admin@platform.example", "platform-ops").await;
    let ada = app.sign_up("ada@acme.example", "acme").await;
    app.create_workspace(&ada, "Design", "design").await;
    // A person-level event: it belongs to no tenant, so it goes to the platform chain.
    app.graphql(
        "mutation { requestPasswordReset(input: { email: \"ada@acme.example\" }) }",
        json!({}),
        None,
    )
    .await
    .assert_ok();
    let query = "query($t: ID, $f: AuditEventFilterInput) { platformAuditEvents(tenantId: $t, first: 50, filter: $f) { totalCount nodes { action targetType } } }";

    // Owning a tenant, even with audit:read, does not open the platform's trail.
    let refused = app.query(query, &ada.token).await;
    refused.assert_reason("NOT_PLATFORM_ADMIN");
    tessera_server::set_platform_admin(app.config(), "admin@platform.example", true)
        .await
        .expect("granted");

    let platform = app.query(query, &admin.token).await;
    let platform = &platform.assert_ok()["platformAuditEvents"];
    let actions: Vec<&str> = platform["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["action"].as_str().expect("action"))
        .collect();
    assert!(actions.contains(&"user.password_reset_requested"), "{actions:?}");
    assert!(
        !actions.contains(&"workspace.created"),
        "tenant events stay in their chains: {actions:?}"
    );
    assert_eq!(platform["totalCount"], actions.len());

    let acme = app
        .graphql(
            query,
            json!({ "t": ada.tenant_id, "f": { "action": "workspace.created" } }),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        acme.assert_ok()["platformAuditEvents"],
        json!({ "totalCount": 1, "nodes": [{ "action": "workspace.created", "targetType": "workspace" }] })
    );
    let bad = app
        .graphql(query, json!({ "t": "not-an-id" }), Some(&admin.token))
        .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);
    app.stop().await;
}
