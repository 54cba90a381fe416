//! What a request may cost: hostile documents are refused before any database work,
//! list fields weigh their page size, and a page costs the same number of SQL
//! statements for 5 rows as for 100 (counted by the store, on both backends).

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, RoleChoice, TestApp, on_both_backends};

on_both_backends!(a_page_costs_the_same_statements_for_5_rows_as_for_100);

/// Statements the server runs for one request.
async fn statements_for(app: &TestApp, query: &str, token: &str) -> u64 {
    let before = app.statements();
    app.graphql(query, json!({}), Some(token)).await.assert_ok();
    app.statements() - before
}

async fn a_page_costs_the_same_statements_for_5_rows_as_for_100(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    for n in 0..12 {
        app.join(
            &owner,
            &format!("member{n}@example.com"),
            RoleChoice::System(SystemRole::Member),
        )
        .await;
    }
    // Warm the access cache, as every request after the first finds it.
    app.graphql("{ me { email } }", json!({}), Some(&owner.token))
        .await
        .assert_ok();

    let me = statements_for(&app, "{ me { email displayName } }", &owner.token).await;
    assert!(me <= 3, "me: {me} statements");
    // The benchmark's Q1: my user, my tenant, my role and its permissions.
    let q1 = "{ me { id email displayName } currentTenant { id name plan } myRole { name permissions } }";
    let mine = app.graphql(q1, json!({}), Some(&owner.token)).await;
    assert_eq!(mine.assert_ok()["myRole"]["name"], "Owner");
    assert!(
        mine.assert_ok()["myRole"]["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("billing:manage"))),
        "{}",
        mine.body
    );
    let q1 = statements_for(&app, q1, &owner.token).await;
    assert!(q1 <= 3, "Q1: {q1} statements");

    let members = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ totalCount nodes {{ user {{ email displayName }} role {{ name permissions }} }} }} }}"
        )
    };
    let five = statements_for(&app, &members(5), &owner.token).await;
    let hundred = statements_for(&app, &members(100), &owner.token).await;
    assert_eq!(five, hundred, "5 rows and 13 rows cost the same");
    assert!(hundred <= 5, "members page with count: {hundred} statements");
    // The benchmark's Q2 (no count): the page, its users, its roles with their permissions.
    let q2 = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ nodes {{ user {{ email displayName }} role {{ name permissions }} }} }} }}"
        )
    };
    let five = statements_for(&app, &q2(5), &owner.token).await;
    let hundred = statements_for(&app, &q2(100), &owner.token).await;
    assert_eq!(five, hundred);
    assert!(hundred <= 4, "Q2: {hundred} statements");

    // Workspaces, each with its first members and their users.
    for n in 0..4 {
        app.create_workspace(&owner, &format!("Team {n}"), &format!("team-{n}"))
            .await;
    }
    let workspaces = |size: u32| {
        format!(
            "{{ workspaces(first: {size}) {{ nodes {{ name members(first: 20) {{ nodes {{ user {{ email }} }} }} }} }} }}"
        )
    };
    let two = statements_for(&app, &workspaces(2), &owner.token).await;
    let five = statements_for(&app, &workspaces(5), &owner.token).await;
    assert_eq!(two, five, "2 and 5 workspaces with their members cost the same");
    assert!(five <= 5, "workspaces with members: {five} statements");

    // And the batched pages are right: each workspace lists its own members, and a
    // page smaller than the membership says there is more.
    let research = app.create_workspace(&owner, "Research", "research").await;
    let _ = research;
    let listed = app
        .graphql(
            "{ workspaces(first: 10) { nodes { slug members(first: 1) { pageInfo { hasNextPage } nodes { user { email } } } } } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    for workspace in listed.assert_ok()["workspaces"]["nodes"].as_array().expect("nodes") {
        let members = workspace["members"]["nodes"].as_array().expect("members");
        assert_eq!(members.len(), 1, "{workspace}");
        assert_eq!(
            members[0]["user"]["email"], "owner@example.com",
            "the creator is the first member"
        );
        assert_eq!(workspace["members"]["pageInfo"]["hasNextPage"], false, "{workspace}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_before_any_database_work() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let owner = app.sign_up("owner@example.com", "acme").await;
    app.graphql("{ me { email } }", json!({}), Some(&owner.token))
        .await
        .assert_ok();

    let deep = format!("{{ {}__typename{} }}", "me { ".repeat(50), " }".repeat(50));
    // 5 fragments of 10 levels each, spread inside one another.
    let deep_fragments = format!(
        "{{ ...F0 }} {}",
        (0..5)
            .map(|i| {
                let inner = if i < 4 {
                    format!("...F{}", i + 1)
                } else {
                    "__typename".into()
                };
                format!(
                    "fragment F{i} on Query {{ {}{inner}{} }}",
                    "me { ".repeat(10),
                    " }".repeat(10)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Aliases of `me`: had they run, the statement counter would show it.
    let alias_list = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: me {{ email }}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let aliases = alias_list(31);
    let many_aliases = alias_list(10_000);
    let hidden_roots = format!(
        "{{ ...Many }} fragment Many on Query {{ ... on Query {{ {} }} }}",
        (0..11)
            .map(|i| format!("f{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let roots = format!(
        "{{ {} }}",
        (0..11)
            .map(|i| format!("r{i}: me {{ email }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let huge = format!("{{ me {{ email }} }} # {}", "x".repeat(100 * 1024));
    let costly =
        "{ workspaces(first: 100) { nodes { members(first: 100) { nodes { user { email displayName } } } } } }";
    for (what, query, code) in [
        ("depth 50", deep.as_str(), "QUERY_TOO_DEEP"),
        ("depth 50 behind fragments", deep_fragments.as_str(), "QUERY_TOO_DEEP"),
        ("31 aliases", aliases.as_str(), "TOO_MANY_ALIASES"),
        (
            "10,000 aliases (over 32 KiB, refused for its size first)",
            many_aliases.as_str(),
            "DOCUMENT_TOO_LARGE",
        ),
        ("11 root fields", roots.as_str(), "TOO_MANY_ROOT_FIELDS"),
        (
            "11 root fields behind fragments",
            hidden_roots.as_str(),
            "TOO_MANY_ROOT_FIELDS",
        ),
        ("a 100 KiB document", huge.as_str(), "DOCUMENT_TOO_LARGE"),
        ("pages of pages", costly, "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let before = app.statements();
        let response = app.graphql(query, json!({}), Some(&owner.token)).await;
        assert_eq!(response.status, 400, "{what}: {}", response.body);
        assert_eq!(response.error_code(), Some(code), "{what}: {}", response.body);
        assert!(response.body.get("data").is_none(), "{what}: nothing ran");
        assert_eq!(app.statements(), before, "{what} reached the database");
    }
    // Fragments each spreading the next one twice: 2^40 paths in 2 KB. Each fragment is
    // measured once, so the answer comes at once (walking every path would never end).
    let doubling = format!(
        "{{ me {{ ...A0 }} }} {} fragment A40 on User {{ email }}",
        (0..40)
            .map(|i| format!("fragment A{i} on User {{ ...A{n} ...A{n} }}", n = i + 1))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        app.graphql(&doubling, json!({}), Some(&owner.token)),
    )
    .await
    .expect("a doubling fragment chain is answered, not walked path by path");
    assert!(answered.status == 200 || answered.status == 400, "{}", answered.body);
    // (Bodies over 1 MiB, e.g. a 5 MB document, are cut off by the body limit: see http_protocol.)
    // A batch (an array of operations) is refused outright.
    let batch: Vec<_> = (0..1_000).map(|_| json!({ "query": "{ __typename }" })).collect();
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .json(&batch)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 400);
    app.stop().await;
}
