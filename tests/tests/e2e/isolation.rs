//! Promise 1: nothing run as tenant A reads, changes or deletes tenant B's rows.
//! B's ids answer as if they did not exist.

use serde_json::json;
use tessera_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(
    tenant_a_never_sees_or_touches_tenant_b_workspaces,
    a_token_for_a_tenant_the_user_does_not_belong_to_is_refused,
);

async fn tenant_a_never_sees_or_touches_tenant_b_workspaces(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let a = app.sign_up("alice@a.example", "tenant-a").await;
    let b = app.sign_up("bob@b.example", "tenant-b").await;
    let b_workspace = app.create_workspace(&b, "B secret plans", "plans").await;
    app.create_workspace(&a, "A roadmap", "roadmap").await;

    // Listing: only A's own (its default workspace and the one it created).
    let list = app
        .query("{ workspaces(first: 100) { totalCount nodes { id name } } }", &a.token)
        .await;
    let data = list.assert_ok();
    let names: Vec<&str> = data["workspaces"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["General", "A roadmap"]);
    assert_eq!(data["workspaces"]["totalCount"], 2);

    // Reading B's workspace by id: null, as if it did not exist.
    let read = app
        .graphql(
            "query($id: ID!) { workspace(id: $id) { id name } }",
            json!({ "id": b_workspace }),
            Some(&a.token),
        )
        .await;
    assert_eq!(read.assert_ok()["workspace"], serde_json::Value::Null);

    // Renaming and deleting B's workspace: NOT_FOUND, and B's row is untouched.
    let rename = app
        .graphql(
            "mutation($input: RenameWorkspaceInput!) { renameWorkspace(input: $input) { id } }",
            json!({ "input": { "id": b_workspace, "name": "pwned" } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(rename.error_code(), Some("NOT_FOUND"), "{}", rename.body);
    let delete = app
        .graphql(
            "mutation($id: ID!) { deleteWorkspace(id: $id) }",
            json!({ "id": b_workspace }),
            Some(&a.token),
        )
        .await;
    assert_eq!(delete.error_code(), Some("NOT_FOUND"), "{}", delete.body);

    let as_b = app
        .graphql(
            "query($id: ID!) { workspace(id: $id) { name } }",
            json!({ "id": b_workspace }),
            Some(&b.token),
        )
        .await;
    assert_eq!(as_b.assert_ok()["workspace"]["name"], "B secret plans");
    assert_eq!(app.db.count("workspaces").await, 4, "nothing was deleted");

    // The same slug in another tenant is fine: uniqueness is per tenant.
    app.create_workspace(&a, "A plans", "plans").await;

    // me / currentTenant answer with A's own identity.
    let me = app.query("{ me { email } currentTenant { id slug } }", &a.token).await;
    let data = me.assert_ok();
    assert_eq!(data["me"]["email"], "alice@a.example");
    assert_eq!(data["currentTenant"]["id"], a.tenant_id.as_str());
    app.stop().await;
}

async fn a_token_for_a_tenant_the_user_does_not_belong_to_is_refused(backend: Backend) {
    use tessera_application::ports::{AccessClaims, TokenIssuer};
    use tessera_domain::{SessionId, TenantId, UserId};
    use tessera_infrastructure::{JwtConfig, JwtTokenIssuer};

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let a = app.sign_up("alice@a.example", "tenant-a").await;
    let b = app.sign_up("bob@b.example", "tenant-b").await;
    // A correctly signed token (the development key) naming A's user in B's tenant.
    let issuer = JwtTokenIssuer::new(JwtConfig::hs256(
        tessera_server::config::DEV_JWT_SECRET.as_bytes().to_vec(),
        "tessera",
        "tessera-api",
    ))
    .expect("valid key");
    let now = chrono_now();
    let forged = issuer
        .issue(&AccessClaims {
            user_id: UserId::parse(&a.user_id).expect("user id"),
            tenant_id: TenantId::parse(&b.tenant_id).expect("tenant id"),
            session_id: SessionId::from_uuid(uuid::Uuid::now_v7()),
            issued_at: now,
            expires_at: now + tessera_application::AuthSettings::default().access_token_ttl,
            second_factor: false,
        })
        .expect("sign");
    let response = app.query("{ workspaces { nodes { name } } }", &forged).await;
    assert_eq!(response.error_code(), Some("UNAUTHENTICATED"), "{}", response.body);
    assert_eq!(response.data()["workspaces"], serde_json::Value::Null);
    app.stop().await;
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
