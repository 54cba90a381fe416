//! Roles and permissions at the edge and in the use cases: a matrix of roles ×
//! operations, privilege-escalation attempts (refused, nothing changed), and
//! permission changes taking effect on the next request.

use serde_json::{Value, json};
use tessera_domain::{Permission, PermissionSet, SystemRole};
use tessera_tests::{Backend, Member, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    every_role_may_do_exactly_what_its_permissions_say,
    privilege_escalation_attempts_are_refused_and_change_nothing,
    the_last_owner_is_protected_and_ownership_can_be_transferred,
    roles_are_managed_and_a_changed_role_applies_on_the_next_request,
    a_kept_role_is_read_afresh_after_it_changes_on_any_replica,
    members_are_listed_filtered_and_paged,
    a_workspace_role_grants_inside_that_workspace_only,
);

/// One operation of the matrix: what it needs, and how to try it.
struct Operation {
    name: &'static str,
    needs: Option<Permission>,
    query: &'static str,
    /// The answer when refused: FORBIDDEN, or NOT_FOUND where the target is a
    /// workspace the caller does not belong to (it is invisible to them).
    refusal: &'static str,
}

#[rustfmt::skip]
const OPERATIONS: &[Operation] = &[
    Operation { name: "workspaces", needs: None, refusal: "FORBIDDEN", query: "{ workspaces { totalCount } }" },
    Operation { name: "roles", needs: None, refusal: "FORBIDDEN", query: "{ roles { totalCount nodes { name } } }" },
    Operation { name: "currentTenant", needs: None, refusal: "FORBIDDEN", query: "{ currentTenant { slug } }" },
    Operation { name: "permissions", needs: None, refusal: "FORBIDDEN", query: "{ permissions { name } }" },
    Operation {
        name: "members", needs: Some(Permission::MembersRead), refusal: "FORBIDDEN",
        query: "{ members { totalCount } }",
    },
    Operation {
        name: "member", needs: Some(Permission::MembersRead), refusal: "FORBIDDEN",
        query: "query($u: ID!) { member(userId: $u) { status } }",
    },
    Operation {
        name: "createWorkspace", needs: Some(Permission::WorkspacesCreate), refusal: "FORBIDDEN",
        query: "mutation($s: String!) { createWorkspace(input: { name: $s, slug: $s }) { id } }",
    },
    Operation {
        name: "renameWorkspace", needs: Some(Permission::WorkspacesManage), refusal: "NOT_FOUND",
        query: "mutation($w: ID!) { renameWorkspace(input: { id: $w, name: \"Renamed\" }) { id } }",
    },
    Operation {
        name: "deleteWorkspace", needs: Some(Permission::WorkspacesManage), refusal: "NOT_FOUND",
        query: "mutation($w: ID!) { deleteWorkspace(id: $w) }",
    },
    Operation {
        name: "createRole", needs: Some(Permission::RolesManage), refusal: "FORBIDDEN",
        query: "mutation($s: String!) { createRole(input: { name: $s, permissions: [] }) { id } }",
    },
    Operation {
        name: "updateRole", needs: Some(Permission::RolesManage), refusal: "FORBIDDEN",
        query: "mutation($r: ID!, $s: String!) { updateRole(input: { id: $r, name: $s }) { id } }",
    },
    Operation {
        name: "deleteRole", needs: Some(Permission::RolesManage), refusal: "FORBIDDEN",
        query: "mutation($r: ID!) { deleteRole(input: { id: $r }) }",
    },
    Operation {
        name: "invitations", needs: Some(Permission::MembersInvite), refusal: "FORBIDDEN",
        query: "{ invitations { totalCount } }",
    },
    Operation {
        name: "inviteMember", needs: Some(Permission::MembersInvite), refusal: "FORBIDDEN",
        query: "mutation($e: String!, $v: ID!) { inviteMember(input: { email: $e, roleId: $v }) { id } }",
    },
    Operation {
        name: "updateMemberRole", needs: Some(Permission::MembersManage), refusal: "FORBIDDEN",
        query: "mutation($t: ID!, $v: ID!) { updateMemberRole(input: { userId: $t, roleId: $v }) { status } }",
    },
    Operation {
        name: "removeMember", needs: Some(Permission::MembersManage), refusal: "FORBIDDEN",
        query: "mutation($t: ID!) { removeMember(userId: $t) }",
    },
];

async fn every_role_may_do_exactly_what_its_permissions_say(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let custom_permissions = [Permission::MembersRead, Permission::RolesManage];
    let custom = app
        .create_role(&owner, "Role editor", &["members:read", "roles:manage"])
        .await;
    let viewer_role = app.role_id(&owner.token, "viewer").await;

    let mut cases: Vec<(String, PermissionSet, Member)> = Vec::new();
    for system in SystemRole::ALL {
        let email = format!("{}@acme.example", system.key());
        let member = if system == SystemRole::Owner {
            owner.clone()
        } else {
            app.join(&owner, &email, RoleChoice::System(system)).await
        };
        cases.push((system.key().to_owned(), system.default_permissions(), member));
    }
    let editor = app.join(&owner, "editor@acme.example", RoleChoice::Id(custom)).await;
    cases.push(("custom".into(), custom_permissions.into_iter().collect(), editor));

    let mut counter = 0;
    for (role, permissions, member) in &cases {
        for operation in OPERATIONS {
            counter += 1;
            let target = app
                .create_workspace(&owner, "Target", &format!("target-{counter}"))
                .await;
            let target_role = app.create_role(&owner, &format!("Target {counter}"), &[]).await;
            let target_member = app
                .join(
                    &owner,
                    &format!("target{counter}@acme.example"),
                    RoleChoice::System(SystemRole::Viewer),
                )
                .await;
            let variables = json!({
                "s": format!("made-{counter}"), "w": target, "r": target_role, "u": owner.user_id,
                "t": target_member.user_id, "v": viewer_role, "e": format!("invitee{counter}@example.com"),
            });
            let response = app.graphql(operation.query, variables, Some(&member.token)).await;
            let allowed = operation.needs.is_none_or(|p| permissions.contains(p));
            if allowed {
                assert!(
                    response.body.get("errors").is_none(),
                    "{role} should be allowed {}: {}",
                    operation.name,
                    response.body
                );
            } else {
                assert_eq!(
                    response.error_code(),
                    Some(operation.refusal),
                    "{role} must be refused {}: {}",
                    operation.name,
                    response.body
                );
                let data = response.data();
                assert!(data.is_null() || data.as_object().is_some_and(|o| o.values().all(Value::is_null)));
            }
        }
    }
    // Refused writes left their targets alone: every refused rename/delete target still exists.
    let owner_view = app
        .query("{ workspaces(first: 100) { nodes { name } } }", &owner.token)
        .await;
    let renamed = owner_view.assert_ok()["workspaces"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|w| w["name"] == "Renamed")
        .count();
    let may_manage = cases
        .iter()
        .filter(|(_, p, _)| p.contains(Permission::WorkspacesManage))
        .count();
    assert_eq!(
        renamed, may_manage,
        "only holders of workspaces:manage renamed anything"
    );
    app.stop().await;
}

async fn privilege_escalation_attempts_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let editor_role = app
        .create_role(&owner, "Role editor", &["members:read", "roles:manage"])
        .await;
    let editor = app
        .join(&owner, "editor@acme.example", RoleChoice::Id(editor_role.clone()))
        .await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let viewer = app
        .join(&owner, "viewer@acme.example", RoleChoice::System(SystemRole::Viewer))
        .await;
    let owner_role = app.role_id(&owner.token, "owner").await;
    let stranger = app.sign_up("stranger@globex.example", "globex").await;
    let roles_before = app.db.count("roles").await;
    let grants_before = app.db.count("role_permissions").await;

    // A role editor cannot create a role with permissions they lack…
    let create = app
        .query(
            "mutation { createRole(input: { name: \"Sneaky\", permissions: [\"members:manage\"] }) { id } }",
            &editor.token,
        )
        .await;
    assert_eq!(create.error_code(), Some("FORBIDDEN"), "{}", create.body);
    create.assert_reason("PERMISSION_ESCALATION");
    // …nor widen their own role.
    let widen = app
        .graphql(
            "mutation($id: ID!) { updateRole(input: { id: $id, permissions: [\"members:read\", \"roles:manage\", \"billing:manage\"] }) { id } }",
            json!({ "id": editor_role }),
            Some(&editor.token),
        )
        .await;
    assert_eq!(widen.error_code(), Some("FORBIDDEN"), "{}", widen.body);

    // Nobody edits the owner role: an admin lacks its permissions, and even the owner cannot.
    let edit_owner = "mutation($id: ID!) { updateRole(input: { id: $id, name: \"Boss\" }) { id } }";
    let by_admin = app
        .graphql(edit_owner, json!({ "id": owner_role }), Some(&admin.token))
        .await;
    assert_eq!(by_admin.error_code(), Some("FORBIDDEN"));
    let by_owner = app
        .graphql(edit_owner, json!({ "id": owner_role }), Some(&owner.token))
        .await;
    by_owner.assert_reason("OWNER_ROLE_FIXED");

    // An admin cannot make anyone an owner, nor touch the owner.
    let promote = app
        .graphql(
            "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { status } }",
            json!({ "u": viewer.user_id, "r": owner_role }),
            Some(&admin.token),
        )
        .await;
    promote.assert_reason("PERMISSION_ESCALATION");
    let remove_owner = app
        .graphql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": owner.user_id }),
            Some(&admin.token),
        )
        .await;
    remove_owner.assert_reason("TARGET_OUTRANKS");

    // Another tenant's member, by id: not found here, untouched there.
    let remove_stranger = app
        .graphql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": stranger.user_id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        remove_stranger.error_code(),
        Some("NOT_FOUND"),
        "{}",
        remove_stranger.body
    );
    let still_there = app.query("{ me { email } }", &stranger.token).await;
    still_there.assert_ok();

    // Nothing changed: same roles, same grants, the viewer is still a viewer.
    assert_eq!(app.db.count("roles").await, roles_before);
    assert_eq!(app.db.count("role_permissions").await, grants_before);
    let viewer_now = app
        .graphql(
            "query($u: ID!) { member(userId: $u) { role { systemKey } status } }",
            json!({ "u": viewer.user_id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(viewer_now.assert_ok()["member"]["role"]["systemKey"], "viewer");
    app.stop().await;
}

async fn the_last_owner_is_protected_and_ownership_can_be_transferred(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let admin_role = app.role_id(&owner.token, "admin").await;

    let demote = app
        .graphql(
            "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { status } }",
            json!({ "u": owner.user_id, "r": admin_role }),
            Some(&owner.token),
        )
        .await;
    demote.assert_reason("LAST_OWNER");
    let leave = app.query("mutation { leaveTenant }", &owner.token).await;
    leave.assert_reason("LAST_OWNER");

    let by_admin = app
        .graphql(
            "mutation($u: ID!) { transferOwnership(userId: $u) { status } }",
            json!({ "u": owner.user_id }),
            Some(&admin.token),
        )
        .await;
    by_admin.assert_reason("NOT_OWNER");

    let transfer = app
        .graphql(
            "mutation($u: ID!) { transferOwnership(userId: $u) { role { systemKey } } }",
            json!({ "u": admin.user_id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(transfer.assert_ok()["transferOwnership"]["role"]["systemKey"], "owner");
    // The former owner is now an admin and may leave; the new owner may not.
    let left = app.query("mutation { leaveTenant }", &owner.token).await;
    assert_eq!(left.assert_ok()["leaveTenant"], true);
    let gone = app.query("{ me { email } }", &owner.token).await;
    assert_eq!(
        gone.error_code(),
        Some("UNAUTHENTICATED"),
        "a member who left loses access"
    );
    let new_owner_leaves = app.query("mutation { leaveTenant }", &admin.token).await;
    new_owner_leaves.assert_reason("LAST_OWNER");
    app.stop().await;
}

async fn roles_are_managed_and_a_changed_role_applies_on_the_next_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let member = app
        .join(&owner, "member@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let member_role = app.role_id(&owner.token, "member").await;
    let viewer_role = app.role_id(&owner.token, "viewer").await;
    let create_ws = "mutation($s: String!) { createWorkspace(input: { name: $s, slug: $s }) { id } }";

    app.graphql(create_ws, json!({ "s": "first" }), Some(&member.token))
        .await
        .assert_ok();
    let update = app
        .graphql(
            "mutation($id: ID!) { updateRole(input: { id: $id, permissions: [\"members:read\"] }) { permissions } }",
            json!({ "id": member_role }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(update.assert_ok()["updateRole"]["permissions"], json!(["members:read"]));
    let refused = app
        .graphql(create_ws, json!({ "s": "second" }), Some(&member.token))
        .await;
    assert_eq!(
        refused.error_code(),
        Some("FORBIDDEN"),
        "the same token, the new rights: {}",
        refused.body
    );

    // Bad input and conflicts on roles.
    let unknown = app
        .query(
            "mutation { createRole(input: { name: \"X\", permissions: [\"root:all\"] }) { id } }",
            &owner.token,
        )
        .await;
    assert_eq!(unknown.error_code(), Some("BAD_USER_INPUT"));
    assert!(
        unknown
            .field_error("permissions")
            .is_some_and(|m| m.contains("root:all"))
    );
    let duplicate = app
        .query(
            "mutation { createRole(input: { name: \"Viewer\", permissions: [] }) { id } }",
            &owner.token,
        )
        .await;
    assert_eq!(duplicate.error_code(), Some("CONFLICT"));
    assert!(duplicate.field_error("name").is_some());

    // A custom role held by someone cannot be deleted without a replacement.
    let auditors = app.create_role(&owner, "Auditors", &["members:read"]).await;
    let auditor = app
        .join(&owner, "auditor@acme.example", RoleChoice::Id(auditors.clone()))
        .await;
    let delete = "mutation($id: ID!, $r: ID) { deleteRole(input: { id: $id, replacementRoleId: $r }) }";
    let blocked = app
        .graphql(delete, json!({ "id": auditors, "r": null }), Some(&owner.token))
        .await;
    assert_eq!(blocked.error_code(), Some("CONFLICT"), "{}", blocked.body);
    assert!(blocked.field_error("replacementRoleId").is_some());
    let system = app
        .graphql(delete, json!({ "id": viewer_role, "r": null }), Some(&owner.token))
        .await;
    system.assert_reason("SYSTEM_ROLE");
    let moved = app
        .graphql(delete, json!({ "id": auditors, "r": viewer_role }), Some(&owner.token))
        .await;
    assert_eq!(moved.assert_ok()["deleteRole"], auditors.as_str());
    let auditor_now = app
        .graphql(
            "query($u: ID!) { member(userId: $u) { role { systemKey } } }",
            json!({ "u": auditor.user_id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(auditor_now.assert_ok()["member"]["role"]["systemKey"], "viewer");
    app.stop().await;
}

async fn members_are_listed_filtered_and_paged(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    for i in 0..4 {
        app.join(
            &owner,
            &format!("viewer{i}@acme.example"),
            RoleChoice::System(SystemRole::Viewer),
        )
        .await;
    }
    app.join(
        &owner,
        "Grace.Admin@acme.example",
        RoleChoice::System(SystemRole::Admin),
    )
    .await;
    let viewer_role = app.role_id(&owner.token, "viewer").await;
    let list = "query($first: Int, $after: String, $filter: MemberFilterInput) {
        members(first: $first, after: $after, filter: $filter) {
            totalCount edges { cursor node { user { email } role { systemKey } status } } pageInfo { hasNextPage endCursor }
        } }";

    let page1 = app.graphql(list, json!({ "first": 4 }), Some(&owner.token)).await;
    let data = page1.assert_ok();
    assert_eq!(data["members"]["totalCount"], 6);
    assert_eq!(data["members"]["edges"].as_array().expect("edges").len(), 4);
    assert_eq!(data["members"]["pageInfo"]["hasNextPage"], true);
    let after = data["members"]["pageInfo"]["endCursor"].clone();
    let page2 = app
        .graphql(list, json!({ "first": 4, "after": after }), Some(&owner.token))
        .await;
    let data2 = page2.assert_ok();
    assert_eq!(data2["members"]["edges"].as_array().expect("edges").len(), 2);
    assert_eq!(data2["members"]["pageInfo"]["hasNextPage"], false);

    let viewers = app
        .graphql(list, json!({ "filter": { "roleId": viewer_role } }), Some(&owner.token))
        .await;
    assert_eq!(viewers.assert_ok()["members"]["totalCount"], 4);
    let search = app
        .graphql(list, json!({ "filter": { "search": "GRACE" } }), Some(&owner.token))
        .await;
    let found = search.assert_ok()["members"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["node"]["user"]["email"], "grace.admin@acme.example");
    let wildcard = app
        .graphql(list, json!({ "filter": { "search": "%" } }), Some(&owner.token))
        .await;
    assert_eq!(
        wildcard.assert_ok()["members"]["totalCount"],
        0,
        "LIKE wildcards are matched literally"
    );
    let removed = app
        .graphql(list, json!({ "filter": { "status": "REMOVED" } }), Some(&owner.token))
        .await;
    assert_eq!(removed.assert_ok()["members"]["totalCount"], 0);
    app.stop().await;
}

async fn a_workspace_role_grants_inside_that_workspace_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let viewer = app
        .join(&owner, "viewer@acme.example", RoleChoice::System(SystemRole::Viewer))
        .await;
    let design = app.create_workspace(&owner, "Design", "design").await;
    let finance = app.create_workspace(&owner, "Finance", "finance").await;
    let admin_role = app.role_id(&owner.token, "admin").await;
    let owner_role = app.role_id(&owner.token, "owner").await;
    let list = "{ workspaces(first: 50) { totalCount nodes { name } } }";

    // A viewer sees no workspace until added to one.
    let before = app.query(list, &viewer.token).await;
    assert_eq!(before.assert_ok()["workspaces"]["totalCount"], 0);
    let add = "mutation($input: WorkspaceMemberInput!) { addWorkspaceMember(input: $input) { name members { totalCount nodes { user { email } role { systemKey } } } } }";
    let added = app
        .graphql(
            add,
            json!({ "input": { "workspaceId": design, "userId": viewer.user_id, "roleId": admin_role } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        added.assert_ok()["addWorkspaceMember"]["members"]["totalCount"],
        2,
        "the creator and the viewer"
    );
    let again = app
        .graphql(
            add,
            json!({ "input": { "workspaceId": design, "userId": viewer.user_id, "roleId": admin_role } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(again.error_code(), Some("CONFLICT"), "{}", again.body);

    let after = app.query(list, &viewer.token).await;
    assert_eq!(after.assert_ok()["workspaces"]["nodes"], json!([{ "name": "Design" }]));

    // The workspace admin role lets the viewer rename Design, and nothing else.
    let rename = "mutation($w: ID!) { renameWorkspace(input: { id: $w, name: \"Renamed\" }) { name } }";
    let renamed = app.graphql(rename, json!({ "w": design }), Some(&viewer.token)).await;
    assert_eq!(renamed.assert_ok()["renameWorkspace"]["name"], "Renamed");
    let other = app.graphql(rename, json!({ "w": finance }), Some(&viewer.token)).await;
    assert_eq!(
        other.error_code(),
        Some("NOT_FOUND"),
        "Finance is invisible to them: {}",
        other.body
    );
    let create = app
        .query(
            "mutation { createWorkspace(input: { name: \"Mine\", slug: \"mine\" }) { id } }",
            &viewer.token,
        )
        .await;
    assert_eq!(
        create.error_code(),
        Some("FORBIDDEN"),
        "creating is a tenant-level right"
    );

    // Inside Design they still cannot hand out more than they hold.
    let stranger = app
        .join(&owner, "other@acme.example", RoleChoice::System(SystemRole::Viewer))
        .await;
    let escalate = app
        .graphql(
            add,
            json!({ "input": { "workspaceId": design, "userId": stranger.user_id, "roleId": owner_role } }),
            Some(&viewer.token),
        )
        .await;
    escalate.assert_reason("PERMISSION_ESCALATION");

    // Someone from another tenant cannot be added.
    let outsider = app.sign_up("outsider@globex.example", "globex").await;
    let foreign = app
        .graphql(
            add,
            json!({ "input": { "workspaceId": design, "userId": outsider.user_id, "roleId": admin_role } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(foreign.error_code(), Some("NOT_FOUND"), "{}", foreign.body);

    // Anyone may leave a workspace; then it is invisible again.
    let leave = app
        .graphql(
            "mutation($w: ID!, $u: ID!) { removeWorkspaceMember(input: { workspaceId: $w, userId: $u }) }",
            json!({ "w": design, "u": viewer.user_id }),
            Some(&viewer.token),
        )
        .await;
    leave.assert_ok();
    let gone = app.query(list, &viewer.token).await;
    assert_eq!(gone.assert_ok()["workspaces"]["totalCount"], 0);
    app.stop().await;
}

/// The role of the member with this email in a members page.
fn role_in_page(page: &Value, email: &str) -> Value {
    page["members"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["user"]["email"] == email)
        .map(|node| node["role"].clone())
        .unwrap_or_else(|| panic!("{email} is not in {page}"))
}

/// A request to the replica when there is one, else to the first server.
async fn at(
    app: &TestApp,
    replica: Option<&tessera_server::RunningServer>,
    query: &str,
    variables: Value,
    token: &str,
) -> tessera_tests::GqlResponse {
    match replica {
        Some(replica) => app.graphql_at(replica, query, variables, token).await,
        None => app.graphql(query, variables, Some(token)).await,
    }
}

/// Once read, a tenant's roles are kept with its cached access (a members page with
/// roles costs its one statement); a role changed or deleted on one replica shows
/// afresh on the next request to any replica. (SQLite's file is not shared by two
/// servers that both write, the outbox workers included: there one server does all.)
async fn a_kept_role_is_read_afresh_after_it_changes_on_any_replica(backend: Backend) {
    let Some(app) = TestApp::spawn_with_redis(backend).await else {
        return;
    };
    let second = match backend {
        Backend::Postgres => Some(app.replica().await),
        Backend::Sqlite => None,
    };
    let replica = second.as_ref();
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let editors = app.create_role(&owner, "Editors", &["members:read"]).await;
    let editor = app
        .join(&owner, "editor@acme.example", RoleChoice::Id(editors.clone()))
        .await;
    let page = "{ members(first: 10) { nodes { user { email } role { id name permissions } } } }";
    for _ in 0..2 {
        app.query(page, &owner.token).await.assert_ok();
        at(&app, replica, page, json!({}), &owner.token).await.assert_ok();
        at(&app, replica, "{ myRole { name } }", json!({}), &editor.token)
            .await
            .assert_ok();
    }
    let before = app.statements();
    let kept = app.query(page, &owner.token).await;
    assert_eq!(
        app.statements() - before,
        1,
        "the page joined to its users; its roles as kept: {}",
        kept.body
    );
    assert_eq!(
        role_in_page(kept.assert_ok(), "editor@acme.example")["permissions"],
        json!(["members:read"])
    );

    let rename = "mutation($id: ID!) { updateRole(input: { id: $id, name: \"Writers\", permissions: [\"members:read\", \"workspaces:create\"] }) { id } }";
    at(&app, replica, rename, json!({ "id": editors }), &owner.token)
        .await
        .assert_ok();
    let changed = app.query(page, &owner.token).await;
    let role = role_in_page(changed.assert_ok(), "editor@acme.example");
    assert_eq!(role["name"], "Writers", "{}", changed.body);
    assert_eq!(role["permissions"], json!(["members:read", "workspaces:create"]));
    let mine = at(
        &app,
        replica,
        "{ myRole { name permissions } }",
        json!({}),
        &editor.token,
    )
    .await;
    assert_eq!(mine.assert_ok()["myRole"]["name"], "Writers", "{}", mine.body);

    // Deleted on the first server: the replica shows its holder's replacement role.
    at(&app, replica, page, json!({}), &owner.token).await.assert_ok();
    let viewer = app.role_id(&owner.token, "viewer").await;
    let delete = "mutation($id: ID!, $r: ID) { deleteRole(input: { id: $id, replacementRoleId: $r }) }";
    app.graphql(delete, json!({ "id": editors, "r": viewer }), Some(&owner.token))
        .await
        .assert_ok();
    let moved = at(&app, replica, page, json!({}), &owner.token).await;
    let role = role_in_page(moved.assert_ok(), "editor@acme.example");
    assert_eq!(role["id"], viewer.as_str(), "{}", moved.body);
    assert_eq!(role["name"], "Viewer");
    app.stop().await;
}
