//! Directory provisioning (SCIM 2.0) over real HTTP: owners create the directory's
//! token; the directory provisions people (new accounts, and members linked by
//! address), groups mapped to roles, deactivation that removes the membership, ends
//! the person's sessions in the tenant and revokes their API keys in one go; another
//! tenant's token sees none of it. Then the `scim2-tester` compliance checker from PyPI
//! runs every one of its checks against the server.

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::{Backend, Member, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    a_directory_provisions_maps_and_deprovisions_within_its_tenant,
    the_scim_compliance_checker_passes,
);

const CREATE_TOKEN: &str = "mutation($n: String!) { createScimToken(name: $n) { secret token { id name } } }";

async fn scim_token(app: &TestApp, owner: &Member) -> String {
    let created = app
        .graphql(CREATE_TOKEN, json!({ "n": "directory" }), Some(&owner.token))
        .await;
    created.assert_ok()["createScimToken"]["secret"]
        .as_str()
        .expect("a secret")
        .to_owned()
}

/// One SCIM request: status and JSON body (null when empty).
async fn scim(app: &TestApp, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/scim/v2{path}", app.base_url);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = app.client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    if status != 204 {
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(content_type, "application/scim+json", "{path}");
    }
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    (status, body)
}

fn user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": { "givenName": "Grace", "familyName": "Hopper" },
        "emails": [{ "value": email, "type": "work", "primary": true }],
        "active": true,
    })
}

fn deactivate() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "active", "value": false }],
    })
}

fn assert_scim_error(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], expected.to_string(), "{body}");
}

async fn a_directory_provisions_maps_and_deprovisions_within_its_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme-scim.net", "acme").await;
    app.verified_domain(&owner, "acme-scim.net").await;
    let admin = app
        .join(&owner, "admin@acme-scim.net", RoleChoice::System(SystemRole::Admin))
        .await;
    let (_, key) = app.create_api_key(&admin, "admin's key", &["members:read"]).await;
    let role_of = |name: &'static str| {
        let app = &app;
        let owner = &owner;
        async move {
            let members = app
                .query(
                    "{ members(first: 50) { edges { node { user { email } role { name } status } } } }",
                    &owner.token,
                )
                .await;
            members.assert_ok()["members"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .find(|e| e["node"]["user"]["email"] == name)
                .map(|e| (e["node"]["role"]["name"].clone(), e["node"]["status"].clone()))
        }
    };

    // Only owners hold the directory's tokens.
    let refused = app.graphql(CREATE_TOKEN, json!({ "n": "x" }), Some(&admin.token)).await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"), "{}", refused.body);
    let token = scim_token(&app, &owner).await;
    let listed = app.query("{ scimTokens { name revokedAt } }", &owner.token).await;
    assert_eq!(listed.assert_ok()["scimTokens"][0]["name"], "directory");

    // No token, a made-up token, a GraphQL token: refused in SCIM's words.
    let (status, body) = scim(&app, "", "GET", "/Users", None).await;
    assert_scim_error(status, &body, 401);
    let (status, body) = scim(&app, "tscim_0_0_x", "GET", "/Users", None).await;
    assert_scim_error(status, &body, 401);
    let (status, body) = scim(&app, &owner.token, "GET", "/Users", None).await;
    assert_scim_error(status, &body, 401);

    // A new person: an account without a password and an active membership.
    let (status, grace) = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(user("grace", "grace@acme-scim.net")),
    )
    .await;
    assert_eq!(status, 201, "{grace}");
    let grace_id = grace["id"].as_str().expect("an id").to_owned();
    assert_eq!(grace["userName"], "grace");
    assert_eq!(grace["name"]["familyName"], "Hopper");
    assert_eq!(grace["meta"]["resourceType"], "User");
    assert!(
        grace["meta"]["location"]
            .as_str()
            .expect("location")
            .ends_with(&format!("/scim/v2/Users/{grace_id}"))
    );
    let (status, body) = scim(&app, &token, "POST", "/Users", Some(user("GRACE", "g2@acme-scim.net"))).await;
    assert_scim_error(status, &body, 409);
    assert_eq!(body["scimType"], "uniqueness");
    // Bad input: a clear error, nothing created.
    let (status, body) = scim(&app, &token, "POST", "/Users", Some(json!({"userName": 5}))).await;
    assert_scim_error(status, &body, 400);
    assert_eq!(body["scimType"], "invalidValue");
    let (status, body) = scim(&app, &token, "POST", "/Users", Some(json!({"userName": "no-address"}))).await;
    assert_scim_error(status, &body, 400);
    // Outside the tenant's verified domains the directory neither pulls an existing
    // account in nor creates one: the record is kept pending, and answered the same
    // either way (no way to learn whether an account exists).
    app.sign_up("someone@elsewhere-scim.net", "elsewhere").await;
    let accounts = app.db.count("users").await;
    for (name, address) in [
        ("someone", "someone@elsewhere-scim.net"),
        ("newbie", "newbie@elsewhere-scim.net"),
    ] {
        let (status, pending) = scim(&app, &token, "POST", "/Users", Some(user(name, address))).await;
        assert_eq!(status, 201, "{pending}");
        assert!(role_of(address).await.is_none(), "{address} is no member");
    }
    assert_eq!(app.db.count("users").await, accounts, "no account created");
    // An account in a verified domain that nobody proved the address of is taken back
    // by the directory: its password and sessions end before it is linked.
    let squatter = app.sign_up("squatter@acme-scim.net", "squat").await;
    let (status, taken) = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(user("squatter", "squatter@acme-scim.net")),
    )
    .await;
    assert_eq!(status, 201, "{taken}");
    let ended = app.query("{ me { id } }", &squatter.token).await;
    assert_eq!(ended.error_code(), Some("UNAUTHENTICATED"), "{}", ended.body);
    let log_in = app
        .graphql(
            "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }",
            json!({ "e": "squatter@acme-scim.net", "p": tessera_tests::PASSWORD }),
            None,
        )
        .await;
    assert!(
        log_in.error_code().is_some(),
        "the old password is gone: {}",
        log_in.body
    );
    assert_eq!(role_of("squatter@acme-scim.net").await.expect("linked").1, "ACTIVE");

    // A member already in the tenant is linked by address.
    let (status, linked) = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(user("admin", "admin@acme-scim.net")),
    )
    .await;
    assert_eq!(status, 201, "{linked}");
    let admin_scim_id = linked["id"].as_str().expect("id").to_owned();
    let (status, found) = scim(&app, &token, "GET", "/Users?filter=userName%20eq%20%22ADMIN%22", None).await;
    assert_eq!(status, 200);
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], admin_scim_id.as_str());
    let (_, page) = scim(&app, &token, "GET", "/Users?startIndex=2&count=1", None).await;
    assert_eq!(
        (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(5), Some(1)),
        "{page}"
    );
    let (status, searched) = scim(
        &app,
        &token,
        "POST",
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "externalId eq \"ext-grace\"",
            "attributes": ["userName"],
        })),
    )
    .await;
    assert_eq!(status, 200, "{searched}");
    assert_eq!(searched["totalResults"], 1, "{searched}");
    assert_eq!(searched["Resources"][0]["userName"], "grace");
    assert!(
        searched["Resources"][0].get("name").is_none(),
        "only what was asked: {searched}"
    );
    let (status, body) = scim(&app, &token, "GET", "/Users?startIndex=two", None).await;
    assert_scim_error(status, &body, 400);
    let (status, body) = scim(&app, &token, "GET", "/Users?filter=title%20co%20%22x%22", None).await;
    assert_scim_error(status, &body, 400);
    assert_eq!(body["scimType"], "invalidFilter");

    // A group mapped to a role gives its members that role; the mapping is the owner's.
    let engineer = app.create_role(&owner, "Engineer", &["members:read"]).await;
    let (status, group) = scim(
        &app,
        &token,
        "POST",
        "/Groups",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{ "value": admin_scim_id }],
        })),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().expect("id").to_owned();
    let map = "mutation($g: ID!, $r: ID) { mapScimGroup(groupId: $g, roleId: $r) { roleId } }";
    let by_admin = app
        .graphql(map, json!({ "g": group_id, "r": engineer }), Some(&admin.token))
        .await;
    assert_eq!(by_admin.error_code(), Some("FORBIDDEN"), "{}", by_admin.body);
    let owner_role = app.role_id(&owner.token, "owner").await;
    let to_owner = app
        .graphql(map, json!({ "g": group_id, "r": owner_role }), Some(&owner.token))
        .await;
    assert_eq!(to_owner.error_code(), Some("FORBIDDEN"), "{}", to_owner.body);
    let mapped = app
        .graphql(map, json!({ "g": group_id, "r": engineer }), Some(&owner.token))
        .await;
    assert_eq!(mapped.assert_ok()["mapScimGroup"]["roleId"], engineer.as_str());
    assert_eq!(role_of("admin@acme-scim.net").await.expect("listed").0, "Engineer");
    // A role a group is mapped to cannot be deleted from under it.
    let delete_role = app
        .graphql(
            "mutation($i: DeleteRoleInput!) { deleteRole(input: $i) }",
            json!({ "i": { "id": engineer } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(delete_role.error_code(), Some("CONFLICT"), "{}", delete_role.body);
    let (_, read_user) = scim(&app, &token, "GET", &format!("/Users/{admin_scim_id}"), None).await;
    assert_eq!(read_user["groups"][0]["display"], "Engineering", "{read_user}");
    // Leaving the group (a PATCH removing the member) takes the role back to member.
    let (status, patched) = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Groups/{group_id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "remove", "path": format!("members[value eq \"{admin_scim_id}\"]") }],
        })),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert!(patched.get("members").is_none(), "{patched}");
    assert_eq!(role_of("admin@acme-scim.net").await.expect("listed").0, "Member");
    let (status, _) = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Groups/{group_id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "add", "path": "members", "value": [{ "value": admin_scim_id }] }],
        })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(role_of("admin@acme-scim.net").await.expect("listed").0, "Engineer");

    // Deprovisioning: the person's session in the tenant ends and the API key they made
    // is revoked, with the membership, at once.
    let before_key = app
        .graphql_with_key(&key, "{ members(first: 1) { totalCount } }", json!({}))
        .await;
    before_key.assert_ok();
    let (status, off) = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{admin_scim_id}"),
        Some(deactivate()),
    )
    .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["active"], false);
    let session = app.query("{ me { id } }", &admin.token).await;
    assert_eq!(session.error_code(), Some("UNAUTHENTICATED"), "{}", session.body);
    let with_key = app
        .graphql_with_key(&key, "{ members(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(with_key.error_code(), Some("UNAUTHENTICATED"), "{}", with_key.body);
    assert_eq!(role_of("admin@acme-scim.net").await.expect("listed").1, "REMOVED");
    assert_eq!(app.audit_count("member.removed").await, 1);
    // Back on: the membership returns with the role its groups give.
    let reactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": true } }],
    });
    let (status, on) = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{admin_scim_id}"),
        Some(reactivate),
    )
    .await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(
        role_of("admin@acme-scim.net").await.expect("listed"),
        (json!("Engineer"), json!("ACTIVE"))
    );

    // The last owner stays, whatever the directory says.
    let (status, owner_scim) = scim(
        &app,
        &token,
        "POST",
        "/Users",
        Some(user("owner", "owner@acme-scim.net")),
    )
    .await;
    assert_eq!(status, 201, "{owner_scim}");
    let owner_scim_id = owner_scim["id"].as_str().expect("id");
    let (status, body) = scim(
        &app,
        &token,
        "PATCH",
        &format!("/Users/{owner_scim_id}"),
        Some(deactivate()),
    )
    .await;
    assert_scim_error(status, &body, 403);
    app.query("{ me { id } }", &owner.token).await.assert_ok();

    // Another tenant's directory sees none of this tenant's people or groups.
    let other_owner = app.sign_up("owner@other-scim.net", "other").await;
    let other = scim_token(&app, &other_owner).await;
    let (_, theirs) = scim(&app, &other, "GET", "/Users", None).await;
    assert_eq!(theirs["totalResults"], 0, "{theirs}");
    for (method, path) in [
        ("GET", format!("/Users/{grace_id}")),
        ("PUT", format!("/Users/{grace_id}")),
        ("PATCH", format!("/Users/{grace_id}")),
        ("DELETE", format!("/Users/{grace_id}")),
        ("GET", format!("/Groups/{group_id}")),
        ("DELETE", format!("/Groups/{group_id}")),
    ] {
        let body = match method {
            "PUT" => Some(user("grace", "grace@acme-scim.net")),
            "PATCH" => Some(deactivate()),
            _ => None,
        };
        let (status, answer) = scim(&app, &other, method, &path, body).await;
        assert_scim_error(status, &answer, 404);
    }
    let (status, members_of_group) = scim(
        &app,
        &other,
        "POST",
        "/Groups",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Stolen",
            "members": [{ "value": grace_id }],
        })),
    )
    .await;
    assert_scim_error(status, &members_of_group, 400);
    let (status, still) = scim(&app, &token, "GET", &format!("/Users/{grace_id}"), None).await;
    assert_eq!((status, still["active"].clone()), (200, json!(true)));

    // Deleting: the record goes (404 after) and so does the membership.
    let (status, _) = scim(&app, &token, "DELETE", &format!("/Users/{grace_id}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = scim(&app, &token, "GET", &format!("/Users/{grace_id}"), None).await;
    assert_scim_error(status, &body, 404);
    assert_eq!(role_of("grace@acme-scim.net").await.expect("listed").1, "REMOVED");

    // A revoked token is refused at once.
    let tokens = app.query("{ scimTokens { id } }", &owner.token).await;
    let token_id = tokens.assert_ok()["scimTokens"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.graphql(
        "mutation($id: ID!) { revokeScimToken(id: $id) { revokedAt } }",
        json!({ "id": token_id }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let (status, body) = scim(&app, &token, "GET", "/Users", None).await;
    assert_scim_error(status, &body, 401);

    // A token never outlives its creator's ownership.
    let second = scim_token(&app, &owner).await;
    let (status, _) = scim(&app, &second, "GET", "/Users", None).await;
    assert_eq!(status, 200);
    let co_owner = app
        .join(&owner, "co-owner@acme-scim.net", RoleChoice::System(SystemRole::Owner))
        .await;
    let member_role = app.role_id(&owner.token, "member").await;
    app.graphql(
        "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { status } }",
        json!({ "u": owner.user_id, "r": member_role }),
        Some(&co_owner.token),
    )
    .await
    .assert_ok();
    let (status, body) = scim(&app, &second, "GET", "/Users", None).await;
    assert_scim_error(status, &body, 401);
}

/// `scim2-tester` (PyPI, pinned in tests/ecosystem/requirements.txt) runs all its checks
/// — discovery, create, read, list, attribute selection, search, replace, PATCH
/// add/replace/remove, delete — and every one must succeed (a skipped one fails too).
async fn the_scim_compliance_checker_passes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@checked-scim.net", "checked").await;
    let token = scim_token(&app, &owner).await;
    let base = format!("{}/scim/v2", app.base_url);
    let output =
        tokio::task::spawn_blocking(move || tessera_tests::node::run_python("scim-check.py", &[&base, &token]))
            .await
            .expect("the checker ran");
    let summary = output.lines().find(|l| l.starts_with("summary:")).expect("a summary");
    assert!(!summary.contains("ERROR") && !summary.contains("SKIPPED"), "{output}");
    println!("{summary}");
}
