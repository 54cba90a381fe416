//! Offboarding: an owner exports the tenant (an archive that matches the database and
//! verifies offline), schedules its deletion (members locked out, owners may cancel or
//! export), and after the grace period every row of the tenant is purged, in every
//! table the catalogue lists, while other tenants keep every row.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_infrastructure::offboarding::verify::verify_export_from;
use tessera_tests::{Backend, Member, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    an_owner_exports_the_tenant_and_the_archive_matches_the_database,
    only_the_owner_exports_even_while_the_tenant_is_suspended,
    a_pending_deletion_locks_members_out_and_the_owner_may_cancel_or_export,
    after_the_grace_period_every_row_of_the_tenant_is_purged_and_no_other,
    a_purge_killed_midway_completes_after_a_restart,
);

const EXPORTS: &str = "{ tenantExports { id status progress tablesDone tablesTotal rowsWritten bytes sha256 \
     finishedAt expiresAt downloadLink { url expiresAt } } }";

/// The tables that hold tenant data, read from the catalogue here (not from the code
/// under test): every table with a `tenant_id` column.
async fn tenant_tables(owner: &DatabaseConnection) -> Vec<String> {
    let backend = owner.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name"
        }
        _ => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name"
        }
    };
    let rows = owner
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("read the catalogue");
    rows.iter().map(|r| r.try_get("", "name").expect("a name")).collect()
}

/// How many rows of `tenant` each tenant table holds, read as the owner.
async fn rows_per_table(app: &TestApp, tenant: &str) -> BTreeMap<String, i64> {
    let owner = app.db.owner().await;
    let backend = owner.get_database_backend();
    let id = uuid::Uuid::parse_str(tenant).expect("a tenant id");
    let mut counts = BTreeMap::new();
    for table in tenant_tables(&owner).await {
        let filter = match backend {
            sea_orm::DbBackend::Postgres => format!("tenant_id = '{id}'"),
            _ => format!("tenant_id = X'{}'", id.simple()),
        };
        let row = owner
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT count(*) AS n FROM {table} WHERE {filter}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        counts.insert(table, row.try_get::<i64>("", "n").expect("a count"));
    }
    owner.close().await.ok();
    counts
}

/// The owner's exports, until the newest has finished (or a deadline passes).
async fn finished_export(app: &TestApp, owner: &Member) -> Value {
    for _ in 0..300 {
        let exports = app.query(EXPORTS, &owner.token).await.assert_ok()["tenantExports"].clone();
        let newest = exports[0].clone();
        if newest["status"] == "COMPLETED" || newest["status"] == "FAILED" {
            return newest;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the export did not finish in 30 s");
}

/// A tenant with something in most of its tables.
async fn busy_tenant(app: &TestApp, email: &str, slug: &str) -> (Member, Member, String) {
    let owner = app.sign_up(email, slug).await;
    app.create_workspace(&owner, "Design", "design").await;
    let admin = app
        .join(
            &owner,
            &format!("admin@{slug}.example"),
            RoleChoice::System(SystemRole::Admin),
        )
        .await;
    let (_, secret) = app.create_api_key(&owner, "CI", &["members:read"]).await;
    app.graphql(
        "mutation { createWebhookEndpoint(input: { url: \"https://hooks.example.com/t\", events: [\"role.deleted\"] }) { endpoint { id } } }",
        json!({}),
        Some(&owner.token),
    )
    .await;
    (owner, admin, secret)
}

async fn an_owner_exports_the_tenant_and_the_archive_matches_the_database(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (owner, _, _) = busy_tenant(&app, "owner@acme.example", "acme").await;
    let (other, _, _) = busy_tenant(&app, "owner@globex.example", "globex").await;

    let requested = app
        .graphql(
            "mutation { requestTenantExport { id status } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    assert_eq!(requested.assert_ok()["requestTenantExport"]["status"], "QUEUED");
    let again = app
        .graphql("mutation { requestTenantExport { id } }", json!({}), Some(&owner.token))
        .await;
    let export = finished_export(&app, &owner).await;
    assert_eq!(export["status"], "COMPLETED", "{export}");
    assert_eq!(export["progress"], 1.0);
    assert!(
        [
            &requested.data()["requestTenantExport"]["id"],
            &again.data()["requestTenantExport"]["id"]
        ]
        .iter()
        .any(|id| **id == export["id"]),
        "a second request while the first is queued answers that one"
    );

    // Downloaded through its signed link, the archive holds up offline and matches the
    // database table by table; nothing of the other tenant is in it.
    let url = export["downloadLink"]["url"].as_str().expect("a link");
    let response = app.get(url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let archive = response.bytes().await.expect("the archive").to_vec();
    assert_eq!(archive.len() as u64, export["bytes"].as_u64().expect("bytes"));
    use sha2::Digest as _;
    assert_eq!(
        format!("{:x}", sha2::Sha256::digest(&archive)),
        export["sha256"].as_str().expect("sha256")
    );
    let check = verify_export_from(archive.as_slice()).expect("a readable archive");
    assert!(check.is_intact(), "{:?}", check.problems);
    assert_eq!(check.tenant_id, owner.tenant_id);
    assert!(check.audit_events > 3, "the audit trail is in it");
    let text = unpacked_text(&archive);
    // The offline check would notice: an audit event edited, or a file changed.
    let edited = repacked(&text, "tables/audit_events.ndjson", |t| {
        t.replacen("user.signed_up", "user.signed_in", 1)
    });
    let check = verify_export_from(edited.as_slice()).expect("readable");
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("altered after it was written")),
        "{:?}",
        check.problems
    );
    assert!(
        check.problems.iter().any(|p| p.contains("does not match its SHA-256")),
        "{:?}",
        check.problems
    );
    let dropped = repacked(&text, "tables/workspaces.ndjson", |t| {
        t.lines().skip(1).map(|l| format!("{l}\n")).collect()
    });
    let check = verify_export_from(dropped.as_slice()).expect("readable");
    assert!(
        check.problems.iter().any(|p| p.contains("rows; the manifest says")),
        "{:?}",
        check.problems
    );
    let manifest: Value = serde_json::from_str(&text["manifest.json"]).expect("a manifest");
    let in_database = rows_per_table(&app, &owner.tenant_id).await;
    let listed: BTreeMap<String, i64> = manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                t["table"].as_str().expect("table").to_owned(),
                t["rows"].as_i64().expect("rows"),
            )
        })
        .collect();
    // The export's own row and its download event come after the snapshot.
    let mut expected = in_database.clone();
    expected.insert("tenant_exports".into(), listed["tenant_exports"]);
    expected.insert("audit_events".into(), listed["audit_events"]);
    assert_eq!(listed, expected, "every tenant table, with its rows");
    assert!(listed["audit_events"] < in_database["audit_events"]);
    assert!(listed["roles"] >= 4 && listed["webhook_endpoints"] == 1 && listed["api_keys"] == 1);
    let keys = &text["tables/api_keys.ndjson"];
    assert!(!keys.contains("secret_digest"), "credentials stay out: {keys}");
    let endpoints = manifest["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == "webhook_endpoints")
        .expect("webhook endpoints");
    assert_eq!(endpoints["redacted_columns"], json!(["secret", "previous_secret"]));
    for (name, content) in &text {
        assert!(
            !content.contains(&other.tenant_id),
            "{name} holds the other tenant's rows"
        );
    }
    assert_eq!(app.audit_count("tenant.export_downloaded").await, 1);
    assert_eq!(app.audit_count("tenant.export_completed").await, 1);

    // A link changed in any part, or signed for someone else, opens nothing.
    let forged = url.replace("expires=", "expires=9");
    let refused = app.get(&forged).await;
    assert_eq!(refused.status(), 403);
    let foreign = url.replace(&owner.user_id, &other.user_id);
    let refused = app.get(&foreign).await;
    assert_eq!(refused.status(), 403);
    let other_exports = app.query(EXPORTS, &other.token).await;
    assert_eq!(
        other_exports.assert_ok()["tenantExports"],
        json!([]),
        "exports are per tenant"
    );

    // The operator's command writes the same kind of archive.
    let file = std::env::temp_dir().join(format!("tessera-cli-export-{}.tar.gz", uuid::Uuid::new_v4().simple()));
    let written = tessera_server::export_tenant(&app.application(), "acme", &file)
        .await
        .expect("the command exports");
    let check = tessera_infrastructure::offboarding::verify_export(&file).expect("readable");
    assert!(check.is_intact(), "{:?}", check.problems);
    assert_eq!(check.rows, written.rows_written);
    let _ = std::fs::remove_file(file);
}

/// The files packed again as a `.tar.gz`, one of them changed by `edit`.
fn repacked(files: &BTreeMap<String, String>, name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (file, text) in files {
        let text = if file == name { edit(text) } else { text.clone() };
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, file, text.as_bytes()).expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// Every file of a `.tar.gz`, as text.
fn unpacked_text(archive: &[u8]) -> BTreeMap<String, String> {
    use std::io::Read as _;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut files = BTreeMap::new();
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().expect("a path").to_string_lossy().into_owned();
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("text");
        files.insert(name, text);
    }
    files
}

async fn only_the_owner_exports_even_while_the_tenant_is_suspended(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (owner, admin, secret) = busy_tenant(&app, "owner@acme.example", "acme").await;
    let request = "mutation { requestTenantExport { id status } }";
    app.graphql(request, json!({}), Some(&admin.token))
        .await
        .assert_reason("NOT_OWNER");
    let by_key = app.graphql_with_key(&secret, request, json!({})).await;
    by_key.assert_reason("API_KEY_NOT_ALLOWED");
    app.query(EXPORTS, &admin.token).await.assert_reason("NOT_OWNER");

    let ops = app.platform_operator().await;
    app.graphql(
        "mutation($id: ID!) { suspendTenant(id: $id, reason: BILLING) { status } }",
        json!({ "id": owner.tenant_id }),
        Some(&ops.token),
    )
    .await
    .assert_ok();
    app.graphql(request, json!({}), Some(&admin.token))
        .await
        .assert_reason("TENANT_SUSPENDED");
    let queued = app.graphql(request, json!({}), Some(&owner.token)).await;
    assert_eq!(queued.assert_ok()["requestTenantExport"]["status"], "QUEUED");
    assert_eq!(finished_export(&app, &owner).await["status"], "COMPLETED");
    app.graphql(
        "mutation { createWorkspace(input: { name: \"No\", slug: \"no\" }) { id } }",
        json!({}),
        Some(&owner.token),
    )
    .await
    .assert_reason("TENANT_SUSPENDED");
}

const DELETE: &str = "mutation($slug: String!, $password: String) { requestTenantDeletion(confirmSlug: $slug, \
     password: $password) { status deletionScheduledFor } }";

async fn a_pending_deletion_locks_members_out_and_the_owner_may_cancel_or_export(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (owner, admin, secret) = busy_tenant(&app, "owner@acme.example", "acme").await;
    app.graphql(
        DELETE,
        json!({ "slug": "acme", "password": PASSWORD }),
        Some(&admin.token),
    )
    .await
    .assert_reason("NOT_OWNER");
    let wrong_slug = app
        .graphql(
            DELETE,
            json!({ "slug": "acme-ltd", "password": PASSWORD }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(wrong_slug.error_code(), Some("BAD_USER_INPUT"), "{}", wrong_slug.body);
    assert!(wrong_slug.field_error("confirmSlug").is_some(), "{}", wrong_slug.body);
    app.graphql(
        DELETE,
        json!({ "slug": "acme", "password": "not the password" }),
        Some(&owner.token),
    )
    .await
    .assert_reason("REAUTHENTICATION_FAILED");

    let scheduled = app
        .graphql(
            DELETE,
            json!({ "slug": "acme", "password": PASSWORD }),
            Some(&owner.token),
        )
        .await;
    let tenant = &scheduled.assert_ok()["requestTenantDeletion"];
    assert_eq!(tenant["status"], "PENDING_DELETION");
    let due: chrono::DateTime<chrono::Utc> = tenant["deletionScheduledFor"]
        .as_str()
        .expect("due")
        .parse()
        .expect("a time");
    let days = (due - chrono::Utc::now()).num_hours();
    assert!(
        (29 * 24..=30 * 24).contains(&days),
        "the default grace period is 30 days: {days} h"
    );

    // Members are out at once; the key too; the owner reads, exports and cancels.
    app.query("{ workspaces { totalCount } }", &admin.token)
        .await
        .assert_reason("TENANT_PENDING_DELETION");
    let by_key = app
        .graphql_with_key(&secret, "{ members { totalCount } }", json!({}))
        .await;
    by_key.assert_reason("TENANT_PENDING_DELETION");
    app.query("{ currentTenant { status } }", &owner.token)
        .await
        .assert_ok();
    app.graphql(
        "mutation { createWorkspace(input: { name: \"No\", slug: \"no\" }) { id } }",
        json!({}),
        Some(&owner.token),
    )
    .await
    .assert_reason("TENANT_PENDING_DELETION");
    app.graphql("mutation { requestTenantExport { id } }", json!({}), Some(&owner.token))
        .await
        .assert_ok();
    let cancelled = app
        .graphql(
            "mutation { cancelTenantDeletion { status deletionScheduledFor } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        cancelled.assert_ok()["cancelTenantDeletion"],
        json!({ "status": "ACTIVE", "deletionScheduledFor": null })
    );
    app.query("{ workspaces { totalCount } }", &admin.token)
        .await
        .assert_ok();

    // A platform administrator schedules and cancels too; the platform chain says so.
    let ops = app.platform_operator().await;
    let by_admin = app
        .graphql(
            "mutation($id: ID!) { scheduleTenantDeletion(tenantId: $id) { status } }",
            json!({ "id": owner.tenant_id }),
            Some(&ops.token),
        )
        .await;
    assert_eq!(
        by_admin.assert_ok()["scheduleTenantDeletion"]["status"],
        "PENDING_DELETION"
    );
    app.graphql(
        "mutation($id: ID!) { scheduleTenantDeletion(tenantId: $id) { status } }",
        json!({ "id": owner.tenant_id }),
        Some(&owner.token),
    )
    .await
    .assert_reason("NOT_PLATFORM_ADMIN");
    let restored = app
        .graphql(
            "mutation($id: ID!) { cancelScheduledTenantDeletion(tenantId: $id) { status } }",
            json!({ "id": owner.tenant_id }),
            Some(&ops.token),
        )
        .await;
    assert_eq!(
        restored.assert_ok()["cancelScheduledTenantDeletion"]["status"],
        "ACTIVE"
    );
    let platform: Vec<String> = app
        .db
        .audit_trail()
        .await
        .into_iter()
        .filter(|(chain, _, _)| chain.is_nil())
        .map(|(_, _, action)| action)
        .collect();
    let offboarding: Vec<&str> = platform
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("tenant.deletion"))
        .collect();
    assert_eq!(
        offboarding,
        [
            "tenant.deletion_requested",
            "tenant.deletion_cancelled",
            "tenant.deletion_requested",
            "tenant.deletion_cancelled"
        ]
    );
}

async fn after_the_grace_period_every_row_of_the_tenant_is_purged_and_no_other(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.offboarding.tenant_deletion_grace_days = 0;
    })
    .await
    else {
        return;
    };
    let (owner, admin, secret) = busy_tenant(&app, "owner@acme.example", "acme").await;
    let (other, _, _) = busy_tenant(&app, "owner@globex.example", "globex").await;
    // A tenant table added later, listed nowhere in Tessera's code, is purged too.
    add_tenant_table(&app, &[&owner.tenant_id, &other.tenant_id]).await;
    // An export's archive goes with the tenant.
    app.graphql("mutation { requestTenantExport { id } }", json!({}), Some(&owner.token))
        .await
        .assert_ok();
    finished_export(&app, &owner).await;
    let others_before = rows_per_table(&app, &other.tenant_id).await;
    assert!(
        rows_per_table(&app, &owner.tenant_id)
            .await
            .values()
            .filter(|n| **n > 0)
            .count()
            >= 8
    );

    app.graphql(
        DELETE,
        json!({ "slug": "acme", "password": PASSWORD }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let purged = wait_for_purge(&app, &owner.tenant_id).await;
    assert!(purged, "the tenant was purged");

    let left = rows_per_table(&app, &owner.tenant_id).await;
    assert!(left.values().all(|n| *n == 0), "rows left behind: {left:?}");
    assert_eq!(left.get("notes"), Some(&0), "the table added later is covered");
    assert_eq!(others_before.get("notes"), Some(&2));
    let mut others_after = rows_per_table(&app, &other.tenant_id).await;
    // Globex's own activity meanwhile is none: its counts are exactly as they were.
    others_after.retain(|table, _| others_before.contains_key(table));
    assert_eq!(others_after, others_before, "no other tenant's row was touched");
    assert_eq!(
        count_where(&app, "audit_chain_heads", "chain", &owner.tenant_id).await,
        0,
        "its audit chain is gone too"
    );
    assert_eq!(
        count_where(&app, "sessions", "current_tenant_id", &owner.tenant_id).await,
        0
    );
    let exports_dir = app.config().offboarding.export_dir.join(&owner.tenant_id);
    assert!(!exports_dir.exists(), "its archives are removed");

    // Its tokens and keys stop working; the other tenant goes on; the chains verify.
    for token in [&owner.token, &admin.token] {
        let answer = app.query("{ workspaces { totalCount } }", token).await;
        assert_eq!(answer.error_code(), Some("UNAUTHENTICATED"), "{}", answer.body);
    }
    let by_key = app
        .graphql_with_key(&secret, "{ members { totalCount } }", json!({}))
        .await;
    assert_eq!(by_key.error_code(), Some("UNAUTHENTICATED"));
    app.query("{ workspaces { totalCount } }", &other.token)
        .await
        .assert_ok();
    let platform: Vec<String> = app
        .db
        .audit_trail()
        .await
        .into_iter()
        .filter(|(chain, _, _)| chain.is_nil())
        .map(|(_, _, action)| action)
        .collect();
    for action in ["tenant.deletion_requested", "tenant.purge_started", "tenant.purged"] {
        assert!(platform.iter().any(|a| a == action), "{action} in {platform:?}");
    }
    for report in tessera_server::verify_audit(&app.config().database, None)
        .await
        .expect("verify")
    {
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}

/// Creates `notes`, a tenant table as a later migration would (on Postgres with row
/// level security and the application role's grants), with two rows per tenant given.
async fn add_tenant_table(app: &TestApp, tenants: &[&str]) {
    let (ddl, id) = match app.db.backend {
        Backend::Postgres => (
            format!(
                "CREATE TABLE notes (tenant_id uuid NOT NULL REFERENCES tenants (id), id uuid NOT NULL, \
                 body text NOT NULL, PRIMARY KEY (tenant_id, id));\n{}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO tessera_app;\n\
                 ALTER TABLE notes ENABLE ROW LEVEL SECURITY;\n\
                 ALTER TABLE notes FORCE ROW LEVEL SECURITY;\n\
                 CREATE POLICY tenant_isolation ON notes USING \
                 (tenant_id = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);"
            ),
            "gen_random_uuid()",
        ),
        Backend::Sqlite => (
            "CREATE TABLE notes (tenant_id BLOB NOT NULL REFERENCES tenants (id), id BLOB NOT NULL, \
             body TEXT NOT NULL, PRIMARY KEY (tenant_id, id));"
                .to_owned(),
            "randomblob(16)",
        ),
    };
    for statement in ddl.split(";\n") {
        app.db.execute_as_owner(statement.trim_end_matches(';')).await;
    }
    for tenant in tenants {
        let tenant = uuid::Uuid::parse_str(tenant).expect("an id");
        let tenant = match app.db.backend {
            Backend::Postgres => format!("'{tenant}'"),
            Backend::Sqlite => format!("X'{}'", tenant.simple()),
        };
        app.db
            .execute_as_owner(&format!(
                "INSERT INTO notes (tenant_id, id, body) VALUES ({tenant}, {id}, 'one'), ({tenant}, {id}, 'two')"
            ))
            .await;
    }
}

/// Waits until the tenant's row is gone (true) or 30 s pass (false).
async fn wait_for_purge(app: &TestApp, tenant: &str) -> bool {
    for _ in 0..300 {
        if count_where(app, "tenants", "id", tenant).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn count_where(app: &TestApp, table: &str, column: &str, id: &str) -> i64 {
    let id = uuid::Uuid::parse_str(id).expect("an id");
    let filter = match app.db.backend {
        Backend::Postgres => format!("{column} = '{id}'"),
        Backend::Sqlite => format!("{column} = X'{}'", id.simple()),
    };
    count_rows(app, &format!("SELECT count(*) AS n FROM {table} WHERE {filter}")).await
}

async fn count_rows(app: &TestApp, sql: &str) -> i64 {
    let owner = app.db.owner().await;
    let backend = owner.get_database_backend();
    let row = owner
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("count")
        .expect("a row");
    owner.close().await.ok();
    row.try_get("", "n").expect("a count")
}

async fn a_purge_killed_midway_completes_after_a_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn_configured(backend, |config, _| {
        config.offboarding.tenant_deletion_grace_days = 0;
        config.offboarding.purge_batch_rows = 10;
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let other = app.sign_up("owner@globex.example", "globex").await;
    // Many rows, so that the purge (10 rows a batch) is still going when it is killed.
    let id = uuid::Uuid::parse_str(&owner.tenant_id).expect("id");
    let insert = match backend {
        Backend::Postgres => format!(
            "INSERT INTO workspaces (tenant_id, id, slug, name, created_at, updated_at) \
             SELECT '{id}', gen_random_uuid(), 'w' || n, 'W ' || n, now(), now() FROM generate_series(1, 20000) AS n"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO workspaces (tenant_id, id, slug, name, created_at, updated_at) \
             SELECT X'{}', randomblob(16), 'w' || i, 'W ' || i, '2026-12-06 00:00:00+00:00', '2026-12-06 00:00:00+00:00' FROM n",
            id.simple()
        ),
    };
    app.db.execute_as_owner(&insert).await;
    let others_before = rows_per_table(&app, &other.tenant_id).await;
    app.graphql(
        DELETE,
        json!({ "slug": "acme", "password": PASSWORD }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let mut seen = 20_000;
    for _ in 0..2_000 {
        seen = count_where(&app, "workspaces", "tenant_id", &owner.tenant_id).await;
        if seen < 19_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.kill();
    // A statement already sent may still finish; nothing starts after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = count_where(&app, "workspaces", "tenant_id", &owner.tenant_id).await;
    assert!(seen < 20_000 && left > 0, "killed midway: {left} of 20000 left");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count_where(&app, "workspaces", "tenant_id", &owner.tenant_id).await,
        left,
        "nothing runs while it is down"
    );
    app.restart().await;
    assert!(
        wait_for_purge(&app, &owner.tenant_id).await,
        "the purge completes after the restart"
    );
    let after = rows_per_table(&app, &owner.tenant_id).await;
    assert!(after.values().all(|n| *n == 0), "{after:?}");
    assert_eq!(rows_per_table(&app, &other.tenant_id).await, others_before);
}
