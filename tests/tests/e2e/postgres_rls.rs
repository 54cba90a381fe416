//! Lock 3 on its own: row level security stops queries that forgot the tenant filter,
//! the setting never survives its transaction on a pooled connection, and the live
//! catalogue proves every tenant table is protected and keyed by tenant.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use tessera_application::TenantScope;
use tessera_application::ports::Transaction;
use tessera_domain::TenantId;
use tessera_infrastructure::SeaTransaction;
use tessera_tests::{Backend, TestApp, TestDatabase};

async fn tenant_ids_in(txn: &SeaTransaction, table: &str) -> Vec<String> {
    txn.connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT tenant_id::text AS t FROM {table}"),
        ))
        .await
        .expect("query runs")
        .iter()
        .map(|row| row.try_get::<String>("", "t").expect("tenant id"))
        .collect()
}

/// A transaction of the application role, entered into `tenant`.
async fn inside(store: &tessera_infrastructure::SeaStore, tenant: TenantId) -> SeaTransaction {
    let txn = store.begin_transaction().await.expect("begin");
    txn.enter_tenant(&TenantScope::for_tests(tenant))
        .await
        .expect("enter tenant");
    txn
}

/// The lines of the plan Postgres makes for `sql` inside `txn` (as its role and tenant).
async fn plan_of(txn: &SeaTransaction, sql: String) -> Vec<String> {
    txn.connection()
        .query_all_raw(Statement::from_string(DbBackend::Postgres, format!("EXPLAIN {sql}")))
        .await
        .expect("explain")
        .iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN").expect("plan line"))
        .collect()
}

/// Two tenants with data, signed up through the real server.
async fn two_tenants() -> Option<(TestApp, TenantId, TenantId)> {
    let app = TestApp::spawn(Backend::Postgres).await?;
    let a = app.sign_up("alice@a.example", "tenant-a").await;
    let b = app.sign_up("bob@b.example", "tenant-b").await;
    app.create_workspace(&b, "B only", "b-only").await;
    Some((
        app,
        TenantId::parse(&a.tenant_id).expect("id"),
        TenantId::parse(&b.tenant_id).expect("id"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfiltered_query_inside_tenant_a_returns_no_rows_of_tenant_b() {
    let Some((app, a, b)) = two_tenants().await else {
        return;
    };
    let store = app.db.app_store(2).await;
    let txn = inside(&store, a).await;
    for table in tessera_migration::TENANT_TABLES {
        let seen: BTreeSet<String> = tenant_ids_in(&txn, table).await.into_iter().collect();
        assert!(
            !seen.contains(&b.to_string()),
            "{table}: tenant B's rows leaked into A's transaction"
        );
        assert!(seen.iter().all(|t| *t == a.to_string()), "{table}: {seen:?}");
    }
    assert!(
        !tenant_ids_in(&txn, "workspaces").await.is_empty(),
        "A sees its own rows"
    );

    // Writing a row for B from inside A's transaction is refused by the policy.
    let insert = txn
        .connection()
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "INSERT INTO workspaces (tenant_id, id, slug, name, created_at, updated_at) \
                 VALUES ('{b}', gen_random_uuid(), 'sneaky', 'Sneaky', now(), now())"
            ),
        ))
        .await;
    assert!(insert.is_err(), "RLS WITH CHECK must refuse a row of another tenant");
    drop(txn);
    // And the owner sees that B still has exactly its own rows.
    assert_eq!(app.db.count("workspaces").await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_setting_means_no_rows_and_a_reused_connection_does_not_leak() {
    let Some((app, a, b)) = two_tenants().await else {
        return;
    };
    // One connection, so every transaction below reuses the same pooled connection.
    let store = app.db.app_store(1).await;

    let first = inside(&store, a).await;
    let seen_by_a = tenant_ids_in(&first, "workspaces").await;
    assert!(!seen_by_a.is_empty() && seen_by_a.iter().all(|t| *t == a.to_string()));
    Box::new(first).commit().await.expect("commit");

    let second = inside(&store, b).await;
    let seen_by_b = tenant_ids_in(&second, "workspaces").await;
    assert!(
        !seen_by_b.is_empty() && seen_by_b.iter().all(|t| *t == b.to_string()),
        "{seen_by_b:?}"
    );
    Box::new(second).commit().await.expect("commit");

    // The setting died with its transaction: it now reads '' on this connection,
    // which the policy turns into NULL, which matches nothing.
    let third = store.begin_transaction().await.expect("begin");
    for table in tessera_migration::TENANT_TABLES {
        assert!(
            tenant_ids_in(&third, table).await.is_empty(),
            "{table}: rows visible without a tenant"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_counts_are_kept_by_the_database_and_the_runtime_role_cannot_write_them() {
    let Some((app, _, b)) = two_tenants().await else {
        return;
    };
    let store = app.db.app_store(1).await;
    for statement in [
        "UPDATE tenant_counts SET held = 0".to_owned(),
        format!("INSERT INTO tenant_counts (tenant_id, resource, held) VALUES ('{b}', 'extra', 1)"),
    ] {
        let txn = inside(&store, b).await;
        let refused = txn
            .connection()
            .execute_raw(Statement::from_string(DbBackend::Postgres, statement.clone()))
            .await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("permission denied")),
            "{statement}: {refused:?}"
        );
    }
    // The trigger still counts what the runtime role creates.
    let workspaces = || async {
        let counted = app.db.sum("tenant_counts", "held", "resource = 'workspaces'").await[0];
        (counted, app.db.count("workspaces").await)
    };
    let (counted, rows) = workspaces().await;
    assert_eq!(counted, rows);
    let owner = app.sign_up("carol@c.example", "tenant-c").await;
    app.create_workspace(&owner, "C one", "c-one").await;
    let (counted_after, rows_after) = workspaces().await;
    assert!(rows_after > rows, "a workspace was made");
    assert_eq!(counted_after, rows_after, "and counted by the trigger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_role_cannot_bypass_rls_and_a_superuser_is_refused() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    db.migrate().await;
    let app_store = db.app_store(1).await;
    assert_eq!(app_store.verify_runtime_role().await, Ok(()));
    let superuser = tessera_infrastructure::SeaStore::connect(&tessera_infrastructure::DatabaseSettings {
        url: db.owner_url.clone(),
        max_connections: 1,
        postgres_role: None,
        acquire_timeout: tessera_infrastructure::DatabaseSettings::DEFAULT_ACQUIRE_TIMEOUT,
    })
    .await
    .expect("connect");
    assert!(
        superuser.verify_runtime_role().await.is_err(),
        "a superuser must be refused at start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_table_in_the_catalogue_has_forced_rls_a_policy_and_tenant_leading_keys() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    db.migrate().await;
    let owner = db.owner().await;
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            r#"
            SELECT c.relname::text AS table_name,
                   c.relrowsecurity AS rls,
                   c.relforcerowsecurity AS forced,
                   EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname
                           AND p.qual LIKE '%app.tenant_id%') AS has_policy,
                   COALESCE((SELECT a.attname::text FROM pg_index i JOIN pg_attribute a
                               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                             WHERE i.indrelid = c.oid AND i.indisprimary), '') AS pk_first,
                   EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                           WHERE i.indrelid = c.oid AND a.attname = 'tenant_id') AS tenant_index
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname = 'public'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
            ORDER BY 1
            "#,
        ))
        .await
        .expect("catalogue query");
    let mut tables = Vec::new();
    let mut problems = Vec::new();
    for row in &rows {
        let table: String = row.try_get("", "table_name").expect("name");
        let check = |column: &str| row.try_get::<bool>("", column).expect("flag");
        if !check("rls") {
            problems.push(format!("{table}: row level security not enabled"));
        }
        if !check("forced") {
            problems.push(format!("{table}: row level security not forced"));
        }
        if !check("has_policy") {
            problems.push(format!("{table}: no policy on app.tenant_id"));
        }
        let pk_first: String = row.try_get("", "pk_first").expect("pk");
        if pk_first != "tenant_id" {
            problems.push(format!("{table}: primary key starts with `{pk_first}`, not tenant_id"));
        }
        if !check("tenant_index") {
            problems.push(format!("{table}: no index leading with tenant_id"));
        }
        tables.push(table);
    }
    assert!(
        problems.is_empty(),
        "tenant tables that are not locked down: {problems:#?}"
    );
    let mut expected: Vec<String> = tessera_migration::TENANT_TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tables, expected, "the catalogue and TENANT_TABLES disagree");

    // Tenant-to-tenant foreign keys always include tenant_id.
    let fks = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            r#"
            SELECT con.conname::text AS name, src.relname::text AS src, dst.relname::text AS dst,
                   (SELECT array_agg(a.attname::text) FROM unnest(con.conkey) k JOIN pg_attribute a
                      ON a.attrelid = con.conrelid AND a.attnum = k)::text AS cols
            FROM pg_constraint con
            JOIN pg_class src ON src.oid = con.conrelid
            JOIN pg_class dst ON dst.oid = con.confrelid
            WHERE con.contype = 'f'
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attname = 'tenant_id')
            "#,
        ))
        .await
        .expect("foreign keys");
    assert!(!fks.is_empty());
    for fk in fks {
        let cols: String = fk.try_get("", "cols").expect("cols");
        let name: String = fk.try_get("", "name").expect("name");
        assert!(
            cols.contains("tenant_id"),
            "foreign key {name} into a tenant table lacks tenant_id: {cols}"
        );
    }
    owner.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_setting_is_evaluated_once_per_statement() {
    let Some((app, a, _)) = two_tenants().await else {
        return;
    };
    let store = app.db.app_store(1).await;
    let txn = inside(&store, a).await;
    let plan = plan_of(
        &txn,
        format!("SELECT * FROM workspaces WHERE tenant_id = '{a}' ORDER BY created_at, id LIMIT 21"),
    )
    .await;
    assert!(
        plan.iter().any(|line| line.contains("InitPlan")),
        "expected an InitPlan for the setting: {plan:#?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_unhealthy_when_the_database_is_gone() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    app.db.drop_now().await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["database"]["status"], "unhealthy");
    let query = app.graphql("{ me { email } }", json!({}), None).await;
    assert_eq!(
        query.error_code(),
        Some("UNAUTHENTICATED"),
        "anonymous requests still get a clean answer"
    );
    app.stop().await;
}

/// A production-like Postgres: the schema owner is an ordinary role (no superuser, no
/// BYPASSRLS, no CREATEROLE), so row level security binds it too. Migrations, the
/// workers that find due tenants, `audit verify` and `audit archive` all work through
/// the owner's own policies and functions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_schema_owner_runs_migrations_workers_and_audit_commands() {
    let Some(admin_url) = tessera_tests::postgres_admin_url() else {
        return;
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (owner, database) = (
        format!("tessera_owner_{}", &suffix[..12]),
        format!("tessera_o_{suffix}"),
    );
    let admin = sea_orm::Database::connect(&admin_url).await.expect("connect as admin");
    for statement in [
        format!("CREATE ROLE {owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"),
        format!("CREATE DATABASE {database} OWNER {owner}"),
        // The runtime role exists once per cluster; the owner must be able to switch to it.
        format!(
            "DO $$ BEGIN CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
            tessera_migration::APP_ROLE
        ),
        format!("GRANT {} TO {owner}", tessera_migration::APP_ROLE),
    ] {
        admin.execute_unprepared(&statement).await.expect("arrange the roles");
    }
    let mut url = reqwest::Url::parse(&admin_url).expect("a URL");
    url.set_username(&owner).expect("a user name");
    url.set_path(&format!("/{database}"));
    let owner_url = url.to_string();

    let Some(app) = TestApp::spawn_configured(Backend::Postgres, |config, _| {
        config.database.url = owner_url.clone().into();
        config.webhooks.outbox_poll_ms = 25;
    })
    .await
    else {
        return;
    };
    let ada = app.sign_up("ada@owner.example", "owner-test").await;
    let workspace = app.create_workspace(&ada, "Design", "design").await;

    // The outbox worker finds the tenant through the owner's function, as the runtime role.
    let created = app
        .query("mutation { createWebhookEndpoint(input: { url: \"http://127.0.0.1:9/in\", events: [\"workspace.renamed\"] }) { endpoint { id } } }", &ada.token)
        .await;
    let endpoint = created.assert_ok()["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.graphql(
        "mutation($id: ID!) { renameWorkspace(input: { id: $id, name: \"Design 2\" }) { id } }",
        json!({ "id": workspace }),
        Some(&ada.token),
    )
    .await
    .assert_ok();
    let mut made = false;
    for _ in 0..100 {
        let list = app
            .graphql(
                "query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount } }",
                json!({ "id": endpoint }),
                Some(&ada.token),
            )
            .await;
        if list.assert_ok()["webhookDeliveries"]["totalCount"] == 1 {
            made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(made, "the outbox worker made the delivery");

    // The audit commands run as the owner, through its own policies.
    let mut config = app.config().clone();
    config.database.url = owner_url.clone().into();
    let reports = tessera_server::verify_audit(&config.database, None)
        .await
        .expect("verify");
    assert!(reports.iter().any(|r| r.events >= 3), "{reports:?}");
    assert!(reports.iter().all(|r| r.problems.is_empty()), "{reports:?}");
    let archive = std::env::temp_dir().join(format!("tessera-owner-{suffix}.jsonl"));
    let report = tessera_server::archive_audit(&config.database, 0, &archive)
        .await
        .expect("archive");
    assert!(report.archived >= 3, "{report:?}");
    let reports = tessera_server::verify_audit(&config.database, None)
        .await
        .expect("verify");
    assert!(reports.iter().all(|r| r.problems.is_empty()), "{reports:?}");
    let _ = std::fs::remove_file(&archive);

    // Migrations that fill in what existing tenants hold see every tenant's rows (the
    // owner enters each tenant in turn), a verified domain included (its policy lets
    // anyone read it, and the count of it is written inside its own tenant).
    let owner_db = sea_orm::Database::connect(&owner_url)
        .await
        .expect("connect as the owner");
    owner_db
        .execute_unprepared(&format!(
            "DO $$ BEGIN PERFORM set_config('app.tenant_id', '{tenant}', true); \
             INSERT INTO tenant_domains (tenant_id, domain, verification_token, created_at, verified_at) \
             VALUES ('{tenant}', 'owner-test.example', 'token', now(), now()); END $$",
            tenant = ada.tenant_id
        ))
        .await
        .expect("a verified domain");
    use tessera_migration::MigratorTrait as _;
    tessera_migration::Migrator::down(&owner_db, Some(2))
        .await
        .expect("the last two migrations roll back as the owner");
    tessera_migration::Migrator::up(&owner_db, None)
        .await
        .expect("and apply again over existing tenants");
    owner_db.close().await.ok();
    let held = app
        .query(
            "{ currentTenant { usage { workspaces { used } customDomains { used } } } roles(first: 10) { nodes { systemKey permissions } } }",
            &ada.token,
        )
        .await;
    let held = held.assert_ok();
    assert_eq!(held["currentTenant"]["usage"]["workspaces"]["used"], 2, "{held}");
    assert_eq!(held["currentTenant"]["usage"]["customDomains"]["used"], 1, "{held}");
    let owner_role = held["roles"]["nodes"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|role| role["systemKey"] == "owner")
        .expect("the owner role");
    assert!(
        owner_role["permissions"]
            .as_array()
            .is_some_and(|permissions| permissions.iter().any(|p| p == "schema:read")),
        "{owner_role}"
    );

    app.stop().await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await
        .expect("drop");
    admin
        .execute_unprepared(&format!("DROP OWNED BY {owner}; DROP ROLE IF EXISTS {owner}"))
        .await
        .expect("drop the role");
}

/// A members page under row level security walks the tenant's `(tenant_id,
/// created_at, id)` index in order and stops after the page, instead of reading every
/// membership of the tenant through a bitmap and sorting them: the two policies that
/// let a membership be seen are joined with OR, and without migration 26 the planner
/// expected almost none of the tenant's rows to pass them. The table is told it holds
/// a thousand tenants (as a real one would), so that the estimate is a real one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_page_walks_its_tenants_index_in_order() {
    let Some((app, a, _)) = two_tenants().await else {
        return;
    };
    let owner = app.db.owner().await;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO users (id, email, display_name, password_hash, email_verified_at, is_platform_admin, \
                                created_at, updated_at) \
             SELECT gen_random_uuid(), 'member' || n || '@a.example', 'Member ' || n, 'x', now(), false, now(), now() \
             FROM generate_series(1, 300) AS n; \
             INSERT INTO memberships (tenant_id, id, user_id, role_id, status, created_at, updated_at) \
             SELECT '{a}', gen_random_uuid(), u.id, \
                    (SELECT id FROM roles WHERE tenant_id = '{a}' AND system_key = 'member'), 'active', \
                    now() - make_interval(secs => row_number() OVER ()), now() \
             FROM users u WHERE u.email LIKE 'member%@a.example'; \
             ALTER TABLE memberships ALTER COLUMN tenant_id SET (n_distinct = 1000); \
             ANALYZE memberships;"
        ))
        .await
        .expect("seed a tenant of 300 members");
    let store = app.db.app_store(1).await;
    let txn = inside(&store, a).await;
    let plan = plan_of(
        &txn,
        format!(
            "SELECT p.*, u.email, u.display_name \
             FROM (SELECT * FROM memberships WHERE tenant_id = '{a}' ORDER BY created_at, id LIMIT 51) AS p \
             INNER JOIN users u ON u.id = p.user_id ORDER BY p.created_at, p.id"
        ),
    )
    .await;
    assert!(
        plan.iter()
            .any(|line| line.contains("Index Scan using ix_memberships_tenant_created on memberships"))
            && !plan.iter().any(|line| line.contains("Bitmap")),
        "expected the tenant's index walked in order: {plan:#?}"
    );
    app.stop().await;
}
