//! The demo seed, and what happens to tokens when a tenant or membership changes.

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, RoleChoice, TestApp, TestDatabase, on_both_backends};

on_both_backends!(
    a_suspended_tenant_is_forbidden_with_a_reason,
    a_removed_member_loses_access_on_the_next_request,
    with_redis_a_role_change_on_one_replica_applies_on_the_other,
    with_redis_failed_log_ins_are_counted_across_replicas,
);

async fn a_suspended_tenant_is_forbidden_with_a_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    app.db.execute_as_owner("UPDATE tenants SET status = 'suspended'").await;
    let response = app.query("{ workspaces { totalCount } }", &ada.token).await;
    assert_eq!(response.error_code(), Some("FORBIDDEN"), "{}", response.body);
    response.assert_reason("TENANT_SUSPENDED");
    app.stop().await;
}

async fn a_removed_member_loses_access_on_the_next_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let ada = app
        .join(&owner, "ada@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let before = app.query("{ me { email } }", &ada.token).await;
    before.assert_ok();
    let removed = app
        .graphql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": ada.user_id }),
            Some(&owner.token),
        )
        .await;
    removed.assert_ok();
    let after = app.query("{ me { email } }", &ada.token).await;
    assert_eq!(after.error_code(), Some("UNAUTHENTICATED"), "{}", after.body);
    app.stop().await;
}

async fn with_redis_a_role_change_on_one_replica_applies_on_the_other(backend: Backend) {
    let Some(app) = TestApp::spawn_with_redis(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let ada = app
        .join(&owner, "ada@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let replica = app.replica().await;
    let create = "mutation($s: String!) { createWorkspace(input: { name: $s, slug: $s }) { id } }";

    // Ada works on the replica: her access is now cached in Redis.
    app.graphql_at(&replica, create, json!({ "s": "first" }), &ada.token)
        .await
        .assert_ok();
    app.graphql_at(&replica, "{ me { email } }", json!({}), &ada.token)
        .await
        .assert_ok();

    // The owner narrows the member role on the first instance…
    let roles = app.query("{ roles { nodes { id systemKey } } }", &owner.token).await;
    let member_role = roles.assert_ok()["roles"]["nodes"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["systemKey"] == "member")
        .and_then(|r| r["id"].as_str())
        .expect("member role")
        .to_owned();
    app.graphql(
        "mutation($id: ID!) { updateRole(input: { id: $id, permissions: [\"members:read\"] }) { id } }",
        json!({ "id": member_role }),
        Some(&owner.token),
    )
    .await
    .assert_ok();

    // …and Ada's very next request on the replica carries the new rights.
    let refused = app
        .graphql_at(&replica, create, json!({ "s": "second" }), &ada.token)
        .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"), "{}", refused.body);
    replica.stop().await;
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
        ..tessera_server::BuildOptions::default()
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

async fn with_redis_failed_log_ins_are_counted_across_replicas(backend: Backend) {
    let Some(app) = TestApp::spawn_with_redis(backend).await else {
        return;
    };
    // A unique address per run: the counters live in the shared Redis.
    let email = format!("ada-{}@acme.example", uuid::Uuid::new_v4().simple());
    app.sign_up(
        &email,
        &format!("acme-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
    )
    .await;
    let replica = app.replica().await;
    let log_in = "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }";
    for _ in 0..5 {
        let wrong = app
            .graphql(log_in, json!({ "e": email, "p": "wrong password!" }), None)
            .await;
        assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"));
    }
    let response = app
        .client
        .post(format!("http://{}/graphql", replica.addr))
        .json(&json!({ "query": log_in, "variables": { "e": email, "p": tessera_tests::PASSWORD } }))
        .send()
        .await
        .expect("the replica answers");
    let throttled = TestApp::read(response).await;
    assert_eq!(throttled.error_code(), Some("RATE_LIMITED"), "{}", throttled.body);
    replica.stop().await;
    app.stop().await;
}
