//! Introspection by its own rules: the full introspection query a GraphiQL or a code
//! generator sends (its `ofType` chains nest far deeper than `MAX_QUERY_DEPTH`) runs,
//! one that repeats the schema inside itself is refused, and the engine applies the
//! same depth rules to what arrives over WebSocket. Where introspection is not open to
//! everyone (production), anonymous callers and members without `schema:read` are
//! refused it, and owners, admins and keys holding it keep it.

use reqwest::StatusCode;
use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::live::LiveClient;
use tessera_tests::{Backend, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    production_introspection_is_for_members_holding_schema_read,
    existing_owner_and_admin_roles_hold_schema_read_after_the_migration,
);

/// What an introspecting tool asks: every type with its fields, arguments, input
/// fields, interfaces, possible types and enum values, each type reference unwrapped
/// nine levels deep.
fn full_introspection() -> String {
    let type_ref = format!(
        "kind name {}",
        (0..9).fold(String::new(), |inner, _| format!("ofType {{ kind name {inner} }}"))
    );
    format!(
        "query Introspection {{ __schema {{ description queryType {{ name }} mutationType {{ name }} \
         subscriptionType {{ name }} types {{ ...Full }} directives {{ name description locations isRepeatable \
         args(includeDeprecated: true) {{ ...Input }} }} }} }} \
         fragment Full on __Type {{ kind name description specifiedByURL \
         fields(includeDeprecated: true) {{ name description args(includeDeprecated: true) {{ ...Input }} \
         type {{ ...Ref }} isDeprecated deprecationReason }} inputFields(includeDeprecated: true) {{ ...Input }} \
         interfaces {{ ...Ref }} enumValues(includeDeprecated: true) {{ name description isDeprecated \
         deprecationReason }} possibleTypes {{ ...Ref }} }} \
         fragment Input on __InputValue {{ name description type {{ ...Ref }} defaultValue isDeprecated \
         deprecationReason }} \
         fragment Ref on __Type {{ {type_ref} }}"
    )
}

#[tokio::test]
async fn the_full_introspection_query_runs_and_repeating_the_schema_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let full = app.graphql(&full_introspection(), json!({}), None).await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.body);
    let schema = &full.assert_ok()["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    let types = schema["types"].as_array().expect("types");
    assert!(
        types.iter().any(|t| t["name"] == "Tenant") && types.len() > 50,
        "{} types",
        types.len()
    );

    // Two levels of `fields` are allowed, the third repeats the schema once more.
    let two = "{ __schema { types { fields { type { fields { name } } } } } }";
    app.graphql(two, json!({}), None).await.assert_ok();
    let three = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let refused = app.graphql(three, json!({}), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.error_code(), Some("QUERY_TOO_DEEP"));
    // Also when the repetition hides behind fragments.
    let hidden = "{ __schema { types { ...A } } } fragment A on __Type { fields { type { ...B } } } \
                  fragment B on __Type { fields { type { ...C } } } fragment C on __Type { fields { name } }";
    let hidden = app.graphql(hidden, json!({}), None).await;
    assert_eq!(hidden.error_code(), Some("QUERY_TOO_DEEP"), "{}", hidden.body);

    // The schema's own fields still count against MAX_QUERY_DEPTH (12)…
    let deep = format!("{{ me {} }}", "{ a ".repeat(12) + &"}".repeat(12));
    let deep = app.graphql(&deep, json!({}), None).await;
    assert_eq!(deep.error_code(), Some("QUERY_TOO_DEEP"), "{}", deep.body);

    // …and over WebSocket the engine applies the same rules before it validates.
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let addr = app.addr().expect("running");
    let mut live = LiveClient::connect(addr, json!({ "Authorization": format!("Bearer {}", owner.token) }))
        .await
        .expect("connected");
    let deep_subscription = format!(
        "subscription {{ tenantEvents {} }}",
        "{ a ".repeat(12) + &"}".repeat(12)
    );
    live.subscribe(&deep_subscription).await;
    let answer = live
        .next_message(std::time::Duration::from_secs(5))
        .await
        .expect("an answer");
    // The engine answers a document it refuses as a result carrying only errors.
    assert!(answer["payload"]["data"].is_null(), "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP",
        "{answer}"
    );
    app.stop().await;
}

async fn production_introspection_is_for_members_holding_schema_read(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.http.introspection = Some(false)).await
    else {
        return;
    };
    const SCHEMA: &str = "{ __schema { queryType { name } } }";
    let anonymous = app.graphql(SCHEMA, json!({}), None).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN, "{}", anonymous.body);
    assert_eq!(anonymous.error_code(), Some("INTROSPECTION_NOT_ALLOWED"));
    assert!(anonymous.body.get("data").is_none(), "{}", anonymous.body);
    let by_type = app
        .graphql("{ __type(name: \"Tenant\") { name } }", json!({}), None)
        .await;
    assert_eq!(by_type.error_code(), Some("INTROSPECTION_NOT_ALLOWED"));
    // `__typename` is not introspection.
    app.graphql("{ __typename }", json!({}), None).await.assert_ok();

    let owner = app.sign_up("owner@acme.example", "acme").await;
    let as_owner = app.graphql(SCHEMA, json!({}), Some(&owner.token)).await;
    assert_eq!(as_owner.assert_ok()["__schema"]["queryType"]["name"], "Query");
    let full = app.graphql(&full_introspection(), json!({}), Some(&owner.token)).await;
    full.assert_ok();

    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    app.graphql(SCHEMA, json!({}), Some(&admin.token)).await.assert_ok();
    let member = app
        .join(&owner, "member@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let as_member = app.graphql(SCHEMA, json!({}), Some(&member.token)).await;
    assert_eq!(
        as_member.error_code(),
        Some("INTROSPECTION_NOT_ALLOWED"),
        "{}",
        as_member.body
    );
    // The member reads its own data as before.
    app.graphql("{ me { email } }", json!({}), Some(&member.token))
        .await
        .assert_ok();

    // A custom role, or an API key, holding `schema:read` introspects.
    let docs_role = app.create_role(&owner, "Docs reader", &["schema:read"]).await;
    let reader = app.join(&owner, "reader@acme.example", RoleChoice::Id(docs_role)).await;
    app.graphql(SCHEMA, json!({}), Some(&reader.token)).await.assert_ok();
    let (_, key) = app.create_api_key(&owner, "codegen", &["schema:read"]).await;
    let with_key = app.graphql_with_key(&key, SCHEMA, json!({})).await;
    assert_eq!(with_key.assert_ok()["__schema"]["queryType"]["name"], "Query");
    let (_, plain_key) = app.create_api_key(&owner, "plain", &["members:read"]).await;
    let refused = app.graphql_with_key(&plain_key, SCHEMA, json!({})).await;
    assert_eq!(
        refused.error_code(),
        Some("INTROSPECTION_NOT_ALLOWED"),
        "{}",
        refused.body
    );
    app.stop().await;
}

/// Roles seeded before `schema:read` existed get it from the migration: the permission
/// is taken away as if the roles predated it, the migration is run again, and the owner
/// and admin roles hold it while the member role does not.
async fn existing_owner_and_admin_roles_hold_schema_read_after_the_migration(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    app.db
        .execute_as_owner("DELETE FROM role_permissions WHERE permission = 'schema:read'")
        .await;
    app.db
        .execute_as_owner("DELETE FROM seaql_migrations WHERE version = 'm20261206_000020_schema_read'")
        .await;
    app.db.migrate().await;
    let roles = app
        .graphql(
            "{ roles(first: 10) { nodes { systemKey permissions } } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    let roles = roles.assert_ok()["roles"]["nodes"].as_array().expect("roles").clone();
    let holds = |key: &str| {
        roles
            .iter()
            .find(|role| role["systemKey"] == key)
            .and_then(|role| role["permissions"].as_array())
            .is_some_and(|permissions| permissions.iter().any(|p| p == "schema:read"))
    };
    assert!(holds("owner") && holds("admin"), "{roles:?}");
    assert!(!holds("member") && !holds("viewer"), "{roles:?}");
    app.stop().await;
}
