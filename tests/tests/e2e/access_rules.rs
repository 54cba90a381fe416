//! Every field of the live schema has an access rule, and rules name only real fields:
//! an unguarded field cannot land.

use std::collections::BTreeSet;

use serde_json::json;
use tessera_api::graphql::access::{Access, rule_for, rules};
use tessera_tests::{Backend, TestApp};

#[tokio::test]
async fn every_field_of_the_live_schema_declares_its_access() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let response = app
        .graphql(
            "{ __schema { queryType { name } mutationType { name } types { name kind fields { name } } } }",
            json!({}),
            None,
        )
        .await;
    let schema = &response.assert_ok()["__schema"];
    let mut missing = Vec::new();
    let mut live = BTreeSet::new();
    for ty in schema["types"].as_array().expect("types") {
        let name = ty["name"].as_str().expect("type name");
        if ty["kind"] != "OBJECT" || name.starts_with("__") {
            continue;
        }
        for field in ty["fields"].as_array().expect("fields") {
            let field = field["name"].as_str().expect("field name");
            live.insert((name.to_owned(), field.to_owned()));
            if rule_for(name, field).is_none() {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(missing.is_empty(), "fields without an access rule: {missing:?}");

    // Root fields never inherit: they are where decisions are made.
    for root in ["Query", "Mutation"] {
        for (ty, field) in live.iter().filter(|(ty, _)| ty == root) {
            assert_ne!(
                rule_for(ty, field),
                Some(Access::Inherited),
                "{ty}.{field} must decide, not inherit"
            );
        }
    }
    // No stale rules: every rule names a live type and, unless `*`, a live field.
    let live_types: BTreeSet<&str> = live.iter().map(|(ty, _)| ty.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (ty, field, _) in rules() {
        assert!(live_types.contains(ty), "rule for unknown type {ty}");
        assert!(
            field == "*" || live.contains(&(ty.to_string(), field.to_string())),
            "rule for unknown field {ty}.{field}"
        );
        assert!(seen.insert((ty, field)), "two rules for {ty}.{field}");
    }
    // Types that expose people, credentials or addresses list every field: a field
    // added to one of them needs a rule of its own, never a wildcard's.
    for sensitive in [
        "User",
        "AuthPayload",
        "CreatedApiKey",
        "WebhookEndpointWithSecret",
        "Session",
        "AuditEvent",
        "Invitation",
        "Member",
    ] {
        assert!(
            !rules().any(|(ty, field, _)| ty == sensitive && field == "*"),
            "{sensitive} must list its fields, not use `*`"
        );
        for (_, field) in live.iter().filter(|(ty, _)| ty == sensitive) {
            assert!(
                rules().any(|(ty, f, _)| ty == sensitive && f == field),
                "{sensitive}.{field} has no rule of its own"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn guarded_root_fields_refuse_anonymous_callers_before_any_resolver_runs() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let anonymous = app
        .graphql("{ workspaces { totalCount } currentTenant { id } }", json!({}), None)
        .await;
    let errors = anonymous.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{}", anonymous.body);
    assert!(errors.iter().all(|e| e["extensions"]["code"] == "UNAUTHENTICATED"));

    let public = app
        .graphql("{ permissions { name group description } }", json!({}), None)
        .await;
    let names: Vec<&str> = public.assert_ok()["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"members:invite") && names.contains(&"workspaces:manage"),
        "{names:?}"
    );
    app.stop().await;
}
