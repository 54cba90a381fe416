//! An API key is a machine principal: it acts with exactly the permissions written on
//! it, inherits none of its creator's workspace roles, and never outlives or outranks
//! its creator's membership. A revoked key presented again and again is recorded at
//! most once a minute.

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, GqlResponse, Member, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    an_api_key_holds_none_of_its_creators_workspace_roles,
    a_key_is_revoked_with_its_creator_and_cut_down_with_their_role,
    a_key_whose_creator_is_gone_behind_the_use_cases_back_is_refused,
    a_revoked_key_presented_fifty_times_is_recorded_once,
    a_revoked_key_is_recorded_once_a_minute_across_replicas,
);

const RENAME: &str = "mutation($id: ID!) { renameWorkspace(input: { id: $id, name: \"Taken over\" }) { name } }";
const WORKSPACES: &str =
    "{ workspaces(first: 10) { totalCount nodes { id name members(first: 10) { nodes { user { email } } } } } }";

async fn as_key(app: &TestApp, secret: &str, query: &str, variables: serde_json::Value) -> GqlResponse {
    app.graphql(query, variables, Some(secret)).await
}

/// The names of the tenant's workspaces, read by its owner.
async fn workspace_names(app: &TestApp, owner: &Member) -> Vec<String> {
    let listed = app
        .query("{ workspaces(first: 10) { nodes { name } } }", &owner.token)
        .await;
    listed.assert_ok()["workspaces"]["nodes"]
        .as_array()
        .expect("workspaces")
        .iter()
        .map(|w| w["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn an_api_key_holds_none_of_its_creators_workspace_roles(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let keeper_role = app.create_role(&owner, "Key keeper", &["api_keys:manage"]).await;
    let keeper = app
        .join(&owner, "keeper@acme.example", RoleChoice::Id(keeper_role))
        .await;
    // The keeper runs one workspace through a workspace role that may manage it.
    let lead_role = app
        .create_role(&owner, "Workspace lead", &["workspaces:manage", "members:read"])
        .await;
    let workspace = app.create_workspace(&owner, "Design", "design").await;
    app.graphql(
        "mutation($i: WorkspaceMemberInput!) { addWorkspaceMember(input: $i) { id } }",
        json!({ "i": { "workspaceId": workspace, "userId": keeper.user_id, "roleId": lead_role } }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let mine = app.query(WORKSPACES, &keeper.token).await;
    assert_eq!(mine.assert_ok()["workspaces"]["totalCount"], 1, "the person sees it");

    // A key the keeper made with no permissions sees no workspace and renames nothing.
    let (_, bare) = app.create_api_key(&keeper, "Bare", &[]).await;
    let listed = as_key(&app, &bare, WORKSPACES, json!({})).await;
    let listed = listed.assert_ok();
    assert_eq!(listed["workspaces"]["totalCount"], 0, "{listed}");
    assert!(!listed.to_string().contains("owner@acme.example"), "{listed}");
    let one = as_key(
        &app,
        &bare,
        "query($id: ID!) { workspace(id: $id) { name } }",
        json!({ "id": workspace }),
    )
    .await;
    assert!(one.assert_ok()["workspace"].is_null(), "{}", one.body);
    let renamed = as_key(&app, &bare, RENAME, json!({ "id": workspace })).await;
    assert_eq!(renamed.error_code(), Some("NOT_FOUND"), "{}", renamed.body);
    let members = as_key(
        &app,
        &bare,
        "query($u: ID!) { member(userId: $u) { workspaces(first: 5) { totalCount } } }",
        json!({ "u": keeper.user_id }),
    )
    .await;
    assert_eq!(members.error_code(), Some("FORBIDDEN"), "{}", members.body);
    assert_eq!(
        workspace_names(&app, &owner).await,
        vec!["General", "Design"],
        "nothing was renamed"
    );

    // A key reaches workspaces through `workspaces:*` written on it, and only then.
    let (_, manager) = app.create_api_key(&owner, "Ops", &["workspaces:manage"]).await;
    let listed = as_key(&app, &manager, "{ workspaces(first: 10) { totalCount } }", json!({})).await;
    assert_eq!(
        listed.assert_ok()["workspaces"]["totalCount"],
        2,
        "every workspace of the tenant"
    );
    let renamed = as_key(&app, &manager, RENAME, json!({ "id": workspace })).await;
    assert_eq!(renamed.assert_ok()["renameWorkspace"]["name"], "Taken over");
    app.stop().await;
}

/// The key's permissions as `apiKeys` lists them, and whether it is revoked.
async fn key_state(app: &TestApp, owner: &Member, key_id: &str) -> (Vec<String>, bool) {
    let listed = app
        .query(
            "{ apiKeys(first: 50) { nodes { id permissions revokedAt } } }",
            &owner.token,
        )
        .await;
    let key = listed.assert_ok()["apiKeys"]["nodes"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == key_id)
        .cloned()
        .expect("the key is listed");
    let permissions = key["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("name").to_owned())
        .collect();
    (permissions, key["revokedAt"].is_string())
}

async fn a_key_is_revoked_with_its_creator_and_cut_down_with_their_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let viewer_role = app.role_id(&owner.token, "viewer").await;
    let invite = |email: &'static str| json!({ "input": { "email": email, "roleId": viewer_role } });
    const INVITE: &str = "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }";

    // Removed: an admin's key stops working and cannot invite its creator back.
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (removed_key, removed_secret) = app
        .create_api_key(&admin, "Sync", &["members:invite", "members:read"])
        .await;
    as_key(&app, &removed_secret, INVITE, invite("first@acme.example"))
        .await
        .assert_ok();
    app.graphql(
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": admin.user_id }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let back = as_key(&app, &removed_secret, INVITE, invite("admin@acme.example")).await;
    assert_eq!(back.error_code(), Some("UNAUTHENTICATED"), "{}", back.body);
    assert!(key_state(&app, &owner, &removed_key).await.1, "revoked in the database");
    assert!(
        app.mailed_token("admin@acme.example", "inv_").is_none(),
        "no invitation went out"
    );

    // Left: a member who leaves takes their key along.
    let leaver = app
        .join(&owner, "leaver@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (left_key, left_secret) = app.create_api_key(&leaver, "Leaver", &["members:read"]).await;
    app.query("mutation { leaveTenant }", &leaver.token).await.assert_ok();
    let refused = as_key(&app, &left_secret, MEMBERS, json!({})).await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"), "{}", refused.body);
    assert!(key_state(&app, &owner, &left_key).await.1);

    // Demoted: an admin made a member keeps a key with what members hold, no more.
    let demoted = app
        .join(&owner, "demoted@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (cut_key, cut_secret) = app
        .create_api_key(&demoted, "Reports", &["members:invite", "members:read", "audit:read"])
        .await;
    let member_role = app.role_id(&owner.token, "member").await;
    app.graphql(
        "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { role { id } } }",
        json!({ "u": demoted.user_id, "r": member_role }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    assert_eq!(
        key_state(&app, &owner, &cut_key).await,
        (vec!["members:read".to_owned()], false)
    );
    let invited = as_key(&app, &cut_secret, INVITE, invite("second@acme.example")).await;
    assert_eq!(invited.error_code(), Some("FORBIDDEN"), "{}", invited.body);
    let read = as_key(&app, &cut_secret, MEMBERS, json!({})).await;
    read.assert_ok();

    // A role edited down takes its holders' keys down with it.
    let ops_role = app.create_role(&owner, "Ops", &["members:read", "audit:read"]).await;
    let operator = app
        .join(&owner, "ops@acme.example", RoleChoice::Id(ops_role.clone()))
        .await;
    // (a key needs `api_keys:manage` to be made: the owner lends it, then edits the role)
    let (audit_key, audit_secret) = {
        let with_keys = app
            .create_role(
                &owner,
                "Ops with keys",
                &["members:read", "audit:read", "api_keys:manage"],
            )
            .await;
        app.graphql(
            "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { role { id } } }",
            json!({ "u": operator.user_id, "r": with_keys }),
            Some(&owner.token),
        )
        .await
        .assert_ok();
        let made = app
            .create_api_key(&operator, "Audit export", &["audit:read", "members:read"])
            .await;
        app.graphql(
            "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { role { id } } }",
            json!({ "u": operator.user_id, "r": ops_role }),
            Some(&owner.token),
        )
        .await
        .assert_ok();
        made
    };
    as_key(
        &app,
        &audit_secret,
        "{ auditEvents(first: 1) { totalCount } }",
        json!({}),
    )
    .await
    .assert_ok();
    app.graphql(
        "mutation($id: ID!) { updateRole(input: { id: $id, permissions: [\"members:read\"] }) { id } }",
        json!({ "id": ops_role }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    assert_eq!(
        key_state(&app, &owner, &audit_key).await,
        (vec!["members:read".to_owned()], false)
    );
    let audit = as_key(
        &app,
        &audit_secret,
        "{ auditEvents(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(audit.error_code(), Some("FORBIDDEN"), "{}", audit.body);

    // Each key changed is in the audit trail, by the person whose change caused it.
    assert_eq!(app.audit_count("api_key.revoked").await, 2);
    assert_eq!(app.audit_count("api_key.permissions_reduced").await, 2);
    let reasons = app
        .query("{ auditEvents(last: 50, filter: { targetType: \"api_key\" }) { nodes { action actorId changes { field after } } } }", &owner.token)
        .await;
    let text = reasons.assert_ok().to_string();
    for reason in ["creator_removed", "creator_left", "creator_role_changed"] {
        assert!(text.contains(reason), "{reason} in {text}");
    }
    app.stop().await;
}

async fn a_key_whose_creator_is_gone_behind_the_use_cases_back_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (_, secret) = app.create_api_key(&admin, "Sync", &["members:read"]).await;
    let demoted = app
        .join(&owner, "demoted@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (_, cut) = app.create_api_key(&demoted, "Audit", &["audit:read"]).await;
    // Changed in the database directly, so no use case revoked or cut the keys: the
    // authentication path still holds each key to what its creator holds now.
    let viewer_role = app.role_id(&owner.token, "viewer").await;
    let viewer_role = tessera_domain::RoleId::parse(&viewer_role).expect("role id");
    let now = chrono::Utc::now();
    app.change_membership_directly(&owner, &admin.user_id, |m| m.remove(now))
        .await;
    app.change_membership_directly(&owner, &demoted.user_id, |m| m.change_role(viewer_role, now))
        .await;
    let refused = as_key(&app, &secret, MEMBERS, json!({})).await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"), "{}", refused.body);
    let outranked = as_key(&app, &cut, "{ auditEvents(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(outranked.error_code(), Some("FORBIDDEN"), "{}", outranked.body);
    app.stop().await;
}

/// The secret of a key its tenant's owner has revoked.
async fn revoked_key(app: &TestApp) -> String {
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let (key_id, secret) = app.create_api_key(&owner, "Old", &["members:read"]).await;
    app.revoke_api_key(&owner, &key_id).await;
    secret
}

const MEMBERS: &str = "{ members(first: 1) { totalCount } }";

async fn a_revoked_key_presented_fifty_times_is_recorded_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let secret = revoked_key(&app).await;
    // The outbox hands the revocation over and drops the tenant's cached access once
    // more; counting starts after that second drop, or it would land mid-count.
    let owner = app.db.owner().await;
    for _ in 0..100 {
        use sea_orm::ConnectionTrait as _;
        let pending: i64 = owner
            .query_one_raw(sea_orm::Statement::from_string(
                owner.get_database_backend(),
                "SELECT count(*) AS n FROM outbox_events WHERE delivered_at IS NULL",
            ))
            .await
            .expect("count")
            .expect("a row")
            .try_get("", "n")
            .expect("a count");
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    owner.close().await.ok();
    // The drop follows the hand-over's commit: give it a moment to land.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let first = as_key(&app, &secret, MEMBERS, json!({})).await;
    assert_eq!(first.error_code(), Some("UNAUTHENTICATED"));
    let before = app.statements();
    for _ in 0..49 {
        let again = as_key(&app, &secret, MEMBERS, json!({})).await;
        assert_eq!(again.error_code(), Some("UNAUTHENTICATED"));
    }
    assert_eq!(
        app.audit_count("api_key.used_after_revocation").await,
        1,
        "at most one event per key per minute"
    );
    let statements = app.statements() - before;
    assert_eq!(
        statements, 0,
        "a revoked key is refused from the cache: {statements} statements"
    );
    app.stop().await;
}

async fn a_revoked_key_is_recorded_once_a_minute_across_replicas(backend: Backend) {
    let Some(app) = TestApp::spawn_with_redis(backend).await else {
        return;
    };
    let secret = revoked_key(&app).await;
    let replica = app.replica().await;
    for _ in 0..25 {
        let here = as_key(&app, &secret, MEMBERS, json!({})).await;
        assert_eq!(here.error_code(), Some("UNAUTHENTICATED"));
        let there = app.graphql_at(&replica, MEMBERS, json!({}), &secret).await;
        assert_eq!(there.error_code(), Some("UNAUTHENTICATED"));
    }
    assert_eq!(app.audit_count("api_key.used_after_revocation").await, 1);
    replica.stop().await;
    app.stop().await;
}
