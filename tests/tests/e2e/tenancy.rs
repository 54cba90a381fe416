//! One person, several tenants: listing them, switching between them (seeing only the
//! chosen tenant's data), and creating another.

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, RoleChoice, TestApp, on_both_backends};

on_both_backends!(a_user_in_two_tenants_switches_and_sees_only_the_second_tenants_data);

async fn a_user_in_two_tenants_switches_and_sees_only_the_second_tenants_data(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let globex_owner = app.sign_up("owner@globex.example", "globex").await;
    app.create_workspace(&globex_owner, "Globex plans", "plans").await;
    // `join` signs Ada up (with a tenant of her own) and logs her into globex.
    let ada_home = app
        .join(&globex_owner, "ada@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let stranger = app.sign_up("stranger@initech.example", "initech").await;

    let mine = app
        .query(
            "{ myTenants { nodes { tenant { id slug } roleKey roleName } } }",
            &ada_home.token,
        )
        .await;
    let tenants = mine.assert_ok()["myTenants"]["nodes"]
        .as_array()
        .expect("tenants")
        .clone();
    let summary: Vec<(String, String)> = tenants
        .iter()
        .map(|t| {
            (
                t["tenant"]["slug"].as_str().unwrap_or_default().to_owned(),
                t["roleKey"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 2, "{summary:?}");
    assert!(summary.contains(&("globex".into(), "admin".into())), "{summary:?}");
    assert!(
        summary.iter().any(|(_, role)| role == "owner"),
        "she owns her own tenant: {summary:?}"
    );
    let home_slug = summary
        .iter()
        .find(|(_, role)| role == "owner")
        .map(|(slug, _)| slug.clone())
        .expect("home");

    // Switch into her own tenant and leave something there; then into globex.
    let home_id = tenants
        .iter()
        .find(|t| t["tenant"]["slug"] == home_slug.as_str())
        .expect("home")["tenant"]["id"]
        .clone();
    let switch = "mutation($t: ID!) { switchTenant(tenantId: $t) { accessToken tenant { slug } } }";
    let to_home = app
        .graphql(switch, json!({ "t": home_id }), Some(&ada_home.token))
        .await;
    assert_eq!(
        to_home.assert_ok()["switchTenant"]["tenant"]["slug"],
        home_slug.as_str()
    );
    let home_token = to_home.assert_ok()["switchTenant"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    app.query(
        "mutation { createWorkspace(input: { name: \"Ada private\", slug: \"private\" }) { id } }",
        &home_token,
    )
    .await
    .assert_ok();

    let to_globex = app
        .graphql(switch, json!({ "t": globex_owner.tenant_id }), Some(&home_token))
        .await;
    let globex_token = to_globex.assert_ok()["switchTenant"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let seen = app
        .query(
            "{ currentTenant { slug } workspaces { nodes { name } } }",
            &globex_token,
        )
        .await;
    let data = seen.assert_ok();
    assert_eq!(data["currentTenant"]["slug"], "globex");
    let names: Vec<&str> = data["workspaces"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["General", "Globex plans"], "globex's workspaces, none of hers");

    // Not a member: refused, and an unknown id answers the same.
    let foreign = app
        .graphql(switch, json!({ "t": stranger.tenant_id }), Some(&ada_home.token))
        .await;
    foreign.assert_reason("NOT_A_MEMBER");
    let unknown = app
        .graphql(
            switch,
            json!({ "t": uuid::Uuid::now_v7().to_string() }),
            Some(&ada_home.token),
        )
        .await;
    unknown.assert_reason("NOT_A_MEMBER");

    // A new tenant she owns; a taken slug is a conflict on `slug`.
    let create = "mutation($n: String!, $s: String) { createTenant(input: { name: $n, slug: $s }) { accessToken tenant { slug } } }";
    let created = app
        .graphql(
            create,
            json!({ "n": "Ada Labs", "s": "ada-labs" }),
            Some(&ada_home.token),
        )
        .await;
    let labs_token = created.assert_ok()["createTenant"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let roles = app
        .query("{ currentTenant { slug } roles { totalCount } }", &labs_token)
        .await;
    assert_eq!(roles.assert_ok()["currentTenant"]["slug"], "ada-labs");
    assert_eq!(roles.assert_ok()["roles"]["totalCount"], 4);
    let taken = app
        .graphql(
            create,
            json!({ "n": "Globex again", "s": "globex" }),
            Some(&ada_home.token),
        )
        .await;
    assert_eq!(taken.error_code(), Some("CONFLICT"), "{}", taken.body);
    assert!(taken.field_error("slug").is_some(), "{}", taken.body);
    let count = app
        .query("{ myTenants { totalCount nodes { tenant { slug } } } }", &labs_token)
        .await;
    assert_eq!(
        count.assert_ok()["myTenants"]["nodes"]
            .as_array()
            .expect("tenants")
            .len(),
        3
    );
    assert_eq!(count.body["data"]["myTenants"]["totalCount"], 3, "{}", count.body);
    app.stop().await;
}

on_both_backends!(a_tenant_header_must_agree_with_the_credential);

async fn a_tenant_header_must_agree_with_the_credential(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@acme.example", "acme").await;
    let grace = app.sign_up("grace@globex.example", "globex").await;
    let ask = |header: &'static str, value: String| {
        let request = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .bearer_auth(&ada.token)
            .header(header, value)
            .json(&json!({ "query": "{ currentTenant { slug } }" }));
        async move { TestApp::read(request.send().await.expect("answered")).await }
    };
    let own = ask("x-tenant-id", ada.tenant_id.clone()).await;
    assert_eq!(own.assert_ok()["currentTenant"]["slug"], "acme");
    let own_slug = ask("x-tenant-slug", "acme".into()).await;
    own_slug.assert_ok();

    let forged = ask("x-tenant-id", grace.tenant_id.clone()).await;
    forged.assert_reason("TENANT_MISMATCH");
    let forged_slug = ask("x-tenant-slug", "globex".into()).await;
    assert_eq!(forged_slug.error_code(), Some("FORBIDDEN"));
    let unknown = ask("x-tenant-slug", "no-such-tenant".into()).await;
    assert_eq!(unknown.error_code(), Some("NOT_FOUND"), "{}", unknown.body);
    let garbage = ask("x-tenant-id", "not-an-id".into()).await;
    assert_eq!(garbage.error_code(), Some("BAD_USER_INPUT"));
    app.stop().await;
}
