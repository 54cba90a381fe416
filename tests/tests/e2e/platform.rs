//! Platform administration: granted only through the command line, never implied by a
//! tenant role; a suspended tenant is locked out at once while others keep working.

use serde_json::json;
use tessera_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(a_suspended_tenant_is_locked_out_while_another_keeps_working);

async fn a_suspended_tenant_is_locked_out_while_another_keeps_working(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.sign_up("admin@platform.example", "platform-ops").await;
    let grace = app.sign_up("grace@globex.example", "globex").await;
    let ada = app.sign_up("ada@acme.example", "acme").await;
    let list = "query($s: String) { tenants(search: $s) { totalCount nodes { slug status } } }";

    // Owning a tenant does not make anyone a platform administrator.
    let refused = app.graphql(list, json!({}), Some(&admin.token)).await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["reason"], "NOT_PLATFORM_ADMIN",
        "{}",
        refused.body
    );
    tessera_server::set_platform_admin(app.config(), "admin@platform.example", true)
        .await
        .expect("granted");

    let all = app.graphql(list, json!({}), Some(&admin.token)).await;
    assert_eq!(all.assert_ok()["tenants"]["totalCount"], 3);
    let found = app.graphql(list, json!({ "s": "GLOB" }), Some(&admin.token)).await;
    assert_eq!(
        found.assert_ok()["tenants"]["nodes"],
        json!([{ "slug": "globex", "status": "ACTIVE" }])
    );

    // Grace has been seen (her access is cached); the suspension still applies at once.
    app.graphql("{ workspaces { totalCount } }", json!({}), Some(&grace.token))
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
    let locked = app
        .graphql("{ workspaces { totalCount } }", json!({}), Some(&grace.token))
        .await;
    assert_eq!(
        locked.body["errors"][0]["extensions"]["reason"], "TENANT_SUSPENDED",
        "{}",
        locked.body
    );
    app.graphql("{ workspaces { totalCount } }", json!({}), Some(&ada.token))
        .await
        .assert_ok();

    let reactivate = app
        .graphql(
            "mutation($id: ID!) { reactivateTenant(id: $id) { status } }",
            json!({ "id": grace.tenant_id }),
            Some(&admin.token),
        )
        .await;
    assert_eq!(reactivate.assert_ok()["reactivateTenant"]["status"], "ACTIVE");
    app.graphql("{ workspaces { totalCount } }", json!({}), Some(&grace.token))
        .await
        .assert_ok();

    tessera_server::set_platform_admin(app.config(), "admin@platform.example", false)
        .await
        .expect("revoked");
    let again = app.graphql(list, json!({}), Some(&admin.token)).await;
    assert_eq!(again.body["errors"][0]["extensions"]["reason"], "NOT_PLATFORM_ADMIN");
    app.stop().await;
}
