//! The demo seed, and what happens to tokens when a tenant or membership changes.

use serde_json::json;
use tessera_tests::{Backend, TestApp, TestDatabase, on_both_backends};

on_both_backends!(
    a_suspended_tenant_is_forbidden_with_a_reason,
    a_removed_member_loses_access_on_the_next_request,
);

async fn a_suspended_tenant_is_forbidden_with_a_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    app.db.execute_as_owner("UPDATE tenants SET status = 'suspended'").await;
    let response = app
        .graphql("{ workspaces { totalCount } }", json!({}), Some(&ada.token))
        .await;
    assert_eq!(response.error_code(), Some("FORBIDDEN"), "{}", response.body);
    assert_eq!(response.body["errors"][0]["extensions"]["reason"], "TENANT_SUSPENDED");
    app.stop().await;
}

async fn a_removed_member_loses_access_on_the_next_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let before = app.graphql("{ me { email } }", json!({}), Some(&ada.token)).await;
    before.assert_ok();
    app.db
        .execute_as_owner("UPDATE memberships SET status = 'removed'")
        .await;
    let after = app.graphql("{ me { email } }", json!({}), Some(&ada.token)).await;
    assert_eq!(after.error_code(), Some("UNAUTHENTICATED"), "{}", after.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_fills_an_empty_database_once() {
    let db = TestDatabase::create(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let config = tessera_server::Config::for_database(db.owner_url.clone());
    let options = tessera_server::BuildOptions {
        fast_password_hashing: true,
        mailer: None,
    };
    let (app, _) = tessera_server::build_application(&config, &options)
        .await
        .expect("wired");
    let seeded = tessera_server::seed::seed_demo(&app).await.expect("seeded");
    assert_eq!(seeded.tenant_slug, "demo");
    let ctx = app
        .authenticate(&seeded.access_token)
        .await
        .expect("the printed token works");
    assert_eq!(app.count_workspaces(&ctx).await.expect("count"), 3);
    assert!(
        tessera_server::seed::seed_demo(&app).await.is_err(),
        "a second seed is refused"
    );
    assert_eq!(db.count("users").await, 1);
}
