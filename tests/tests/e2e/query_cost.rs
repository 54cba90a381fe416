//! What a request may cost: hostile documents are refused before any database work,
//! list fields weigh their page size, and a page costs the same number of SQL
//! statements for 5 rows as for 100 (counted by the store, on both backends).

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, RoleChoice, TestApp, on_both_backends};

on_both_backends!(a_page_costs_the_same_statements_for_5_rows_as_for_100);
on_both_backends!(a_batched_relation_is_refused_per_row_and_an_api_key_is_not_its_creator);
on_both_backends!(a_pages_relations_are_loaded_ahead_whatever_the_loader_delay);
on_both_backends!(a_mutation_shows_what_its_writes_left_not_what_it_read_before);

/// Statements the server runs for one request.
async fn statements_for(app: &TestApp, query: &str, token: &str) -> u64 {
    let before = app.statements();
    app.query(query, token).await.assert_ok();
    app.statements() - before
}

/// Transactions the server begins for one request.
async fn transactions_for(app: &TestApp, query: &str, token: &str) -> u64 {
    let before = app.transactions();
    app.query(query, token).await.assert_ok();
    app.transactions() - before
}

async fn a_page_costs_the_same_statements_for_5_rows_as_for_100(backend: Backend) {
    // Loaders batch what one resolution pass asks for within their delay. An unoptimised
    // test build on a busy machine takes longer than the default millisecond to walk a
    // page, so the counts here would depend on timing; the benchmark measures the
    // release build at the default.
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.limits.loader_delay_ms = 50).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    let mut people = Vec::new();
    for n in 0..12 {
        people.push(
            app.join(
                &owner,
                &format!("member{n}@example.com"),
                RoleChoice::System(SystemRole::Member),
            )
            .await,
        );
    }
    // Warm the access cache, as every request after the first finds it.
    app.query("{ me { email } }", &owner.token).await.assert_ok();

    let me = statements_for(&app, "{ me { email displayName } }", &owner.token).await;
    assert!(me <= 3, "me: {me} statements");
    // The benchmark's Q1: my user, my tenant, my role and its permissions.
    let q1 = "{ me { id email displayName } currentTenant { id name plan { key } } myRole { name permissions } }";
    let mine = app.graphql(q1, json!({}), Some(&owner.token)).await;
    assert_eq!(mine.assert_ok()["myRole"]["name"], "Owner");
    assert!(
        mine.assert_ok()["myRole"]["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("billing:manage"))),
        "{}",
        mine.body
    );
    assert_eq!(
        transactions_for(&app, q1, &owner.token).await,
        0,
        "Q1 reads its user and tenant without a transaction, and its role as kept since the first"
    );
    let q1 = statements_for(&app, q1, &owner.token).await;
    assert!(q1 <= 2, "Q1: {q1} statements");

    let members = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ totalCount nodes {{ user {{ email displayName }} role {{ name permissions }} }} }} }}"
        )
    };
    // The first page reads its roles; the tenant's cached access keeps them for the next.
    let first = statements_for(&app, &members(5), &owner.token).await;
    let five = statements_for(&app, &members(5), &owner.token).await;
    assert_eq!(first, five + 1, "the roles are read once");
    let hundred = statements_for(&app, &members(100), &owner.token).await;
    assert_eq!(five, hundred, "5 rows and 13 rows cost the same");
    assert!(hundred <= 5, "members page with count: {hundred} statements");
    // The benchmark's Q2 (no count): the page joined to its users; its roles with their
    // permissions as the tenant's cached access keeps them since the first read.
    let q2 = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ nodes {{ user {{ email displayName }} role {{ name permissions }} }} }} }}"
        )
    };
    let five = statements_for(&app, &q2(5), &owner.token).await;
    let hundred = statements_for(&app, &q2(100), &owner.token).await;
    assert_eq!(five, hundred);
    assert_eq!(hundred, 1, "Q2: {hundred} statements");

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
    assert!(five <= 2, "workspaces with members: {five} statements");
    // The page, then the members of its workspaces joined to their users.
    let transactions = transactions_for(&app, &workspaces(5), &owner.token).await;
    assert_eq!(transactions, 2, "workspaces with members and users");
    // Each workspace's member count is batched too.
    let counted =
        |size: u32| format!("{{ workspaces(first: {size}) {{ nodes {{ members(first: 1) {{ totalCount }} }} }} }}");
    let two = statements_for(&app, &counted(2), &owner.token).await;
    let five = statements_for(&app, &counted(5), &owner.token).await;
    assert_eq!(two, five, "member counts of 2 and 5 workspaces cost the same");

    // And the batched pages are right: each workspace lists its own members, and a
    // page smaller than the membership says there is more.
    let research = app.create_workspace(&owner, "Research", "research").await;
    let listed = app
        .query("{ workspaces(first: 10) { nodes { slug members(first: 1) { pageInfo { hasNextPage } nodes { user { email } } } } } }", &owner.token)
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

    // Every relation resolves through the request's loaders only when asked for: a page
    // that names no relation is one statement, whatever its size.
    let bare = |size: u32| format!("{{ members(first: {size}) {{ nodes {{ status joinedAt }} }} }}");
    assert_eq!(statements_for(&app, &bare(5), &owner.token).await, 1);
    assert_eq!(statements_for(&app, &bare(100), &owner.token).await, 1);

    // Member → workspaces and user → membership, batched across the page: the same
    // statements for 5 members as for 13.
    let member_role = app.role_id(&owner.token, "member").await;
    for member in people.iter().take(3) {
        app.graphql(
            "mutation($i: WorkspaceMemberInput!) { addWorkspaceMember(input: $i) { id } }",
            json!({ "i": { "workspaceId": research, "userId": member.user_id, "roleId": member_role } }),
            Some(&owner.token),
        )
        .await
        .assert_ok();
    }
    let relations = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ nodes {{ user {{ email membership {{ status role {{ name }} }} }} \
             workspaces(first: 3) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ workspace {{ slug }} role {{ name }} }} }} }} }} }}"
        )
    };
    // The workspace changes above dropped the cached access: warm it again.
    app.graphql(&relations(5), json!({}), Some(&owner.token))
        .await
        .assert_ok();
    let five = statements_for(&app, &relations(5), &owner.token).await;
    let all = statements_for(&app, &relations(100), &owner.token).await;
    // The page, users, their memberships, first workspaces, workspace counts and
    // workspaces: one each. Roles are asked for at two depths (a membership's role, a
    // workspace role), so they take one statement or two, as the passes meet.
    assert!(five <= 8 && all <= 8, "5 rows: {five}, 13 rows: {all} statements");
    let listed = app.graphql(&relations(100), json!({}), Some(&owner.token)).await;
    let nodes = listed.assert_ok()["members"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 13);
    for node in &nodes {
        let email = node["user"]["email"].as_str().expect("email");
        assert_eq!(node["user"]["membership"]["status"], "ACTIVE", "{node}");
        let workspaces = &node["workspaces"];
        let slugs: Vec<&str> = workspaces["nodes"]
            .as_array()
            .expect("workspaces")
            .iter()
            .map(|w| w["workspace"]["slug"].as_str().expect("slug"))
            .collect();
        if email == "owner@example.com" {
            // The creator is in the 6 workspaces (the tenant's first, `general`, too).
            assert_eq!(slugs, ["general", "team-0", "team-1"], "{node}");
            assert_eq!(workspaces["totalCount"], 6, "{node}");
            assert_eq!(workspaces["pageInfo"]["hasNextPage"], true, "{node}");
        } else if ["member0@example.com", "member1@example.com", "member2@example.com"].contains(&email) {
            assert_eq!(slugs, ["research"], "{node}");
            assert_eq!(node["workspaces"]["nodes"][0]["role"]["name"], "Member", "{node}");
        } else {
            assert!(slugs.is_empty(), "{node}");
            assert_eq!(workspaces["totalCount"], 0, "{node}");
        }
    }

    // A member without `workspaces:manage` sees only the workspaces they share with
    // the person they look at.
    let shared = app
        .graphql(
            "query($u: ID!) { member(userId: $u) { workspaces { totalCount nodes { workspace { slug } } } } }",
            json!({ "u": owner.user_id }),
            Some(&people[0].token),
        )
        .await;
    let shared = &shared.assert_ok()["member"]["workspaces"];
    assert_eq!(shared["totalCount"], 1, "{shared}");
    assert_eq!(shared["nodes"][0]["workspace"]["slug"], "research", "{shared}");
    app.stop().await;
}

async fn a_pages_relations_are_loaded_ahead_whatever_the_loader_delay(backend: Backend) {
    // The default delay of 1 ms, in a debug build: rows alone would split their keys
    // into several batches; the page loads its users and roles ahead of them.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    for n in 0..40 {
        app.join(
            &owner,
            &format!("member{n}@example.com"),
            RoleChoice::System(SystemRole::Member),
        )
        .await;
    }
    let q2 = |size: u32| {
        format!(
            "{{ members(first: {size}) {{ nodes {{ user {{ email displayName }} role {{ name permissions }} }} }} }}"
        )
    };
    app.graphql(&q2(5), json!({}), Some(&owner.token)).await.assert_ok();
    for size in [5, 100] {
        let listed = app.graphql(&q2(size), json!({}), Some(&owner.token)).await;
        let nodes = listed.assert_ok()["members"]["nodes"]
            .as_array()
            .expect("nodes")
            .clone();
        assert_eq!(nodes.len(), size.min(41) as usize);
        assert!(
            nodes
                .iter()
                .all(|n| n["user"]["email"].is_string() && n["role"]["name"].is_string())
        );
        // The page joined to its users; its roles as kept since the first page.
        assert_eq!(statements_for(&app, &q2(size), &owner.token).await, 1, "page of {size}");
    }
    // The same through edges, with a membership read back for each row.
    let edges = "{ members(first: 100) { edges { node { user { email membership { status } } role { name } } } } }";
    assert_eq!(statements_for(&app, edges, &owner.token).await, 2);
    app.stop().await;
}

async fn a_mutation_shows_what_its_writes_left_not_what_it_read_before(backend: Backend) {
    // Mutations run one after another; a role read for the first must not be shown,
    // as it was, by the third after the second renamed it.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    let editors = app.create_role(&owner, "Editors", &["members:read"]).await;
    let ada = app
        .join(&owner, "ada@example.com", RoleChoice::System(SystemRole::Member))
        .await;
    let grace = app
        .join(&owner, "grace@example.com", RoleChoice::System(SystemRole::Member))
        .await;
    let done = app
        .graphql(
            "mutation($a: ID!, $b: ID!, $r: ID!) {
               first: updateMemberRole(input: { userId: $a, roleId: $r }) { role { name } }
               rename: updateRole(input: { id: $r, name: \"Reviewers\" }) { name }
               second: updateMemberRole(input: { userId: $b, roleId: $r }) { role { name } }
             }",
            json!({ "a": ada.user_id, "b": grace.user_id, "r": editors }),
            Some(&owner.token),
        )
        .await;
    let done = done.assert_ok();
    assert_eq!(done["first"]["role"]["name"], "Editors", "{done}");
    assert_eq!(done["rename"]["name"], "Reviewers", "{done}");
    assert_eq!(done["second"]["role"]["name"], "Reviewers", "{done}");
    app.stop().await;
}

async fn a_batched_relation_is_refused_per_row_and_an_api_key_is_not_its_creator(backend: Backend) {
    // A long delay puts every membership of the page into one batch, which is what this
    // test is about: one row's refusal must not fail the others'.
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.limits.loader_delay_ms = 50).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    let builder_role = app
        .create_role(&owner, "Builder", &["workspaces:create", "api_keys:manage"])
        .await;
    let builder = app
        .join(&owner, "builder@example.com", RoleChoice::Id(builder_role.clone()))
        .await;
    let colleague = app
        .join(&owner, "colleague@example.com", RoleChoice::System(SystemRole::Member))
        .await;
    let team = app.create_workspace(&builder, "Team", "team").await;
    app.graphql(
        "mutation($i: WorkspaceMemberInput!) { addWorkspaceMember(input: $i) { id } }",
        json!({ "i": { "workspaceId": team, "userId": colleague.user_id, "roleId": builder_role } }),
        Some(&owner.token),
    )
    .await
    .assert_ok();

    // Without `members:read` the builder reads their own membership, and the
    // colleague's is refused on that row alone.
    let query = "query($w: ID!) { workspace(id: $w) { members(first: 10) { nodes { user { email membership { status } } } } } }";
    let seen = app.graphql(query, json!({ "w": team }), Some(&builder.token)).await;
    let nodes = seen.body["data"]["workspace"]["members"]["nodes"]
        .as_array()
        .expect("the page itself is readable")
        .clone();
    assert_eq!(nodes.len(), 2, "{}", seen.body);
    for node in &nodes {
        if node["user"]["email"] == "builder@example.com" {
            assert_eq!(node["user"]["membership"]["status"], "ACTIVE", "{}", seen.body);
        } else {
            assert!(node["user"]["membership"].is_null(), "{}", seen.body);
        }
    }
    let errors = seen.body["errors"].as_array().expect("one refusal").clone();
    assert_eq!(errors.len(), 1, "{}", seen.body);
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{}", seen.body);
    assert_eq!(
        errors[0]["path"].as_array().and_then(|p| p.last()),
        Some(&json!("membership"))
    );

    // An API key acts with its own permissions, not as the person who made it: it
    // holds none of its creator's workspace roles, so their workspace is not its to see.
    let (_, secret) = app.create_api_key(&builder, "CI", &["workspaces:create"]).await;
    let as_key = app.graphql(query, json!({ "w": team }), Some(&secret)).await;
    assert!(as_key.assert_ok()["workspace"].is_null(), "{}", as_key.body);
    // A key that reaches the workspace through `workspaces:manage` still needs
    // `members:read` to read any membership, its creator's included.
    let (_, secret) = app.create_api_key(&owner, "Ops", &["workspaces:manage"]).await;
    let as_key = app.graphql(query, json!({ "w": team }), Some(&secret)).await;
    let errors = as_key.body["errors"].as_array().expect("refusals").clone();
    assert_eq!(errors.len(), 2, "both rows refused: {}", as_key.body);
    assert!(
        errors.iter().all(|e| e["extensions"]["code"] == "FORBIDDEN"),
        "{}",
        as_key.body
    );

    // The user of a token pair just issued is not this request's caller: no membership.
    let issued = app
        .query(
            "mutation { createTenant(input: { name: \"Beta\" }) { user { email membership { status } } } }",
            &owner.token,
        )
        .await;
    let user = &issued.assert_ok()["createTenant"]["user"];
    assert_eq!(user["email"], "owner@example.com");
    assert!(user["membership"].is_null(), "{}", issued.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_before_any_database_work() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let owner = app.sign_up("owner@example.com", "acme").await;
    app.query("{ me { email } }", &owner.token).await.assert_ok();

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
        let response = app.query(query, &owner.token).await;
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
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), app.query(&doubling, &owner.token))
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
