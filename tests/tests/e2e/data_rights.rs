//! A person's own data: they download everything Tessera holds about them, and they
//! delete their account (refused while they alone own a tenant); afterwards nothing
//! names them, their credentials stop working, and every audit chain still verifies.

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::{Backend, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    a_person_downloads_everything_about_them_and_nothing_else,
    deleting_an_account_erases_the_person_and_the_chains_still_verify,
);

async fn a_person_downloads_everything_about_them_and_nothing_else(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let acme = app.sign_up("owner@acme.example", "acme").await;
    app.create_workspace(&acme, "Owner's", "owners").await;
    let bob = app
        .join(&acme, "bob@people.example", RoleChoice::System(SystemRole::Admin))
        .await;
    app.create_workspace(&bob, "Bob's", "bobs").await;

    let answer = app
        .graphql(
            "mutation { exportMyData { url expiresAt } }",
            json!({}),
            Some(&bob.token),
        )
        .await;
    let url = answer.assert_ok()["exportMyData"]["url"]
        .as_str()
        .expect("a link")
        .to_owned();
    let response = app.get(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.expect("text");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let of = |kind: &str| lines.iter().filter(|l| l["kind"] == kind).cloned().collect::<Vec<_>>();
    let profile = of("profile");
    assert_eq!(profile.len(), 1);
    assert_eq!(profile[0]["email"], "bob@people.example");
    let memberships = of("membership");
    assert_eq!(memberships.len(), 2, "Bob's own tenant and acme: {memberships:?}");
    let in_acme = memberships.iter().find(|m| m["tenant_slug"] == "acme").expect("acme");
    assert_eq!(in_acme["role"], "Admin");
    assert!(!of("session").is_empty());
    let events = of("audit_event");
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"workspace.created"), "{actions:?}");
    assert!(actions.contains(&"user.signed_up"), "{actions:?}");
    // Only Bob's own: the owner created a workspace too, and invited Bob.
    assert_eq!(
        actions.iter().filter(|a| **a == "workspace.created").count(),
        1,
        "{actions:?}"
    );
    assert!(!actions.contains(&"invitation.created"), "{actions:?}");
    assert!(!text.contains("owner@acme.example"), "nothing about anyone else");

    let forged = url.replace("expires=", "expires=1");
    let refused = app.get(&forged).await;
    assert_eq!(refused.status(), 403);
    let someone_else = url.replace(&bob.user_id, &acme.user_id);
    let refused = app.get(&someone_else).await;
    assert_eq!(refused.status(), 403);
    let platform = app.db.audit_trail().await;
    assert!(
        platform
            .iter()
            .any(|(chain, _, action)| chain.is_nil() && action == "user.data_exported")
    );
}

const DELETE_ME: &str = "mutation($p: String!) { deleteMyAccount(password: $p) }";

async fn deleting_an_account_erases_the_person_and_the_chains_still_verify(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.sign_up("alice@acme.example", "acme").await;
    let bob = app
        .join(&alice, "bob@people.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let (_, bob_key) = app.create_api_key(&bob, "Bob's script", &["members:read"]).await;
    app.create_workspace(&bob, "Bob's", "bobs").await;

    let refused = app
        .graphql(DELETE_ME, json!({ "p": PASSWORD }), Some(&alice.token))
        .await;
    refused.assert_reason("SOLE_OWNER");
    assert_eq!(refused.body["errors"][0]["extensions"]["tenants"], json!(["acme"]));
    app.graphql(DELETE_ME, json!({ "p": "not my password" }), Some(&bob.token))
        .await
        .assert_reason("REAUTHENTICATION_FAILED");
    // Bob also owns the tenant he signed up with: he schedules its deletion first.
    let refused = app.graphql(DELETE_ME, json!({ "p": PASSWORD }), Some(&bob.token)).await;
    refused.assert_reason("SOLE_OWNER");
    let home = refused.body["errors"][0]["extensions"]["tenants"][0]
        .as_str()
        .expect("his tenant")
        .to_owned();
    let mine = app
        .query("{ myTenants(first: 10) { nodes { tenant { id slug } } } }", &bob.token)
        .await;
    let home_id = mine.assert_ok()["myTenants"]["nodes"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|n| n["tenant"]["slug"] == home.as_str())
        .expect("his tenant")["tenant"]["id"]
        .clone();
    let switched = app
        .graphql(
            "mutation($id: ID!) { switchTenant(tenantId: $id) { accessToken } }",
            json!({ "id": home_id }),
            Some(&bob.token),
        )
        .await;
    let home_token = switched.assert_ok()["switchTenant"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    app.graphql(
        "mutation($s: String!, $p: String!) { requestTenantDeletion(confirmSlug: $s, password: $p) { status } }",
        json!({ "s": home, "p": PASSWORD }),
        Some(&home_token),
    )
    .await
    .assert_ok();
    let link = app
        .graphql("mutation { exportMyData { url } }", json!({}), Some(&bob.token))
        .await;
    let link = link.assert_ok()["exportMyData"]["url"]
        .as_str()
        .expect("a link")
        .to_owned();
    let deleted = app.graphql(DELETE_ME, json!({ "p": PASSWORD }), Some(&bob.token)).await;
    assert_eq!(deleted.assert_ok()["deleteMyAccount"], true);
    assert_eq!(
        app.get(&link).await.status(),
        403,
        "a deleted account's data link opens nothing"
    );

    // Bob's token, key and password are gone; so is Bob from the tenant.
    let answer = app.query("{ me { email } }", &bob.token).await;
    assert_eq!(answer.error_code(), Some("UNAUTHENTICATED"), "{}", answer.body);
    let by_key = app
        .graphql_with_key(&bob_key, "{ members { totalCount } }", json!({}))
        .await;
    assert_eq!(by_key.error_code(), Some("UNAUTHENTICATED"));
    let log_in = app
        .graphql(
            "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }",
            json!({ "e": "bob@people.example", "p": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(log_in.error_code(), Some("UNAUTHENTICATED"), "{}", log_in.body);
    let members = app
        .query(
            "{ members(first: 10) { nodes { status user { email displayName } } } }",
            &alice.token,
        )
        .await;
    let id = uuid::Uuid::parse_str(&bob.user_id).expect("id");
    let listed: Vec<Value> = members.assert_ok()["members"]["nodes"]
        .as_array()
        .expect("members")
        .clone();
    assert_eq!(
        listed,
        [
            json!({ "status": "ACTIVE", "user": { "email": "alice@acme.example", "displayName": "Test User" } }),
            json!({ "status": "REMOVED", "user": {
                "email": format!("deleted-{}@deleted.invalid", id.simple()), "displayName": "Deleted user" } }),
        ]
    );

    // The row stays (audit events name its id) but says nothing about Bob.
    let filter = match backend {
        Backend::Postgres => format!("id = '{id}'"),
        Backend::Sqlite => format!("id = X'{}'", id.simple()),
    };
    let owner = app.db.owner().await;
    use sea_orm::ConnectionTrait as _;
    let row = owner
        .query_one_raw(sea_orm::Statement::from_string(
            owner.get_database_backend(),
            format!("SELECT email, display_name, password_hash FROM users WHERE {filter}"),
        ))
        .await
        .expect("read")
        .expect("the row stays");
    let email: String = row.try_get("", "email").expect("email");
    assert_eq!(email, format!("deleted-{}@deleted.invalid", id.simple()));
    assert_eq!(row.try_get::<String>("", "display_name").expect("name"), "Deleted user");
    assert_eq!(row.try_get::<String>("", "password_hash").expect("hash"), "");
    owner.close().await.ok();
    for report in tessera_server::verify_audit(&app.config().database, None)
        .await
        .expect("verify")
    {
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
    assert_eq!(
        app.audit_count("member.account_deleted").await,
        2,
        "in acme and in his own tenant"
    );

    // Once her tenant is being deleted, Alice may go too.
    app.graphql(
        "mutation { requestTenantDeletion(confirmSlug: \"acme\", password: \"a long enough password\") { status } }",
        json!({}),
        Some(&alice.token),
    )
    .await
    .assert_ok();
    let gone = app
        .graphql(DELETE_ME, json!({ "p": PASSWORD }), Some(&alice.token))
        .await;
    assert_eq!(gone.assert_ok()["deleteMyAccount"], true);
}
