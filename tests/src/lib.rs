//! Test harness: a fresh database per test (a new SQLite file, or a new Postgres
//! database when `TEST_DATABASE_URL` is set), the real server on a random port, and a
//! small GraphQL client. A Postgres test without `TEST_DATABASE_URL` is skipped loudly,
//! and fails when `CI=true`.

pub mod live;
pub mod node;
pub mod oidc;

use std::path::PathBuf;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tessera_infrastructure::{DatabaseSettings, SeaStore};
use tessera_server::{BuildOptions, Config, RunningServer};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Where a repository contract runs: the real store on either database, or the
/// application's in-memory fakes (which unit tests use, so they must keep the same
/// contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
    Fakes,
}

/// A store for one contract test, and the database behind it (none for the fakes).
pub struct ContractStore {
    pub store: std::sync::Arc<dyn tessera_application::ports::Store>,
    _db: Option<TestDatabase>,
}

impl ContractStore {
    /// A fresh, migrated store of that kind, connected as the application role; `None`
    /// when that database is not available here.
    pub async fn open(kind: StoreKind, max_connections: u32) -> Option<Self> {
        let backend = match kind {
            StoreKind::Fakes => {
                return Some(Self {
                    store: std::sync::Arc::new(tessera_application::testing::FakeStore::default()),
                    _db: None,
                });
            }
            StoreKind::Sqlite => Backend::Sqlite,
            StoreKind::Postgres => Backend::Postgres,
        };
        let db = TestDatabase::create(backend).await?;
        db.migrate().await;
        let store = db.app_store(max_connections).await;
        Some(Self {
            store: std::sync::Arc::new(store),
            _db: Some(db),
        })
    }
}

/// Generates one test per store (SQLite, Postgres, the in-memory fakes) from an
/// `async fn(StoreKind)`.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::StoreKind::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::StoreKind::Postgres).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn fakes() {
                    super::$name($crate::StoreKind::Fakes).await
                }
            }
        )*
    };
}

/// The Postgres server to create test databases on, or `None` (announced) when absent.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("TEST_DATABASE_URL is not set, and CI=true forbids skipping the Postgres tests");
            }
            eprintln!(
                "\n!!! SKIPPED: a Postgres test, because TEST_DATABASE_URL is not set. \
                 Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run the Postgres suite. !!!\n"
            );
            None
        }
    }
}

fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

/// The Redis server for tests, or `None` (announced) when absent.
pub fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("TEST_REDIS_URL is not set, and CI=true forbids skipping the Redis tests");
            }
            eprintln!("\n!!! SKIPPED: a Redis test, because TEST_REDIS_URL is not set. !!!\n");
            None
        }
    }
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub backend: Backend,
    /// The owner's URL: migrations and test assertions that must see every row.
    pub owner_url: String,
    sqlite_dir: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// `None` only when the backend is Postgres and `TEST_DATABASE_URL` is not set.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("tessera-test-{}", Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("create a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display());
                Some(Self {
                    backend,
                    owner_url: url,
                    sqlite_dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("tessera_t_{}", Uuid::new_v4().simple());
                let connection = Database::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
                connection
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a test database");
                connection.close().await.ok();
                Some(Self {
                    backend,
                    owner_url: with_database_name(&admin, &name),
                    sqlite_dir: None,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    /// A connection as the owner (Postgres: the superuser from `TEST_DATABASE_URL`,
    /// which bypasses RLS): for arranging data and checking what really is stored.
    pub async fn owner(&self) -> DatabaseConnection {
        let db = Database::connect(&self.owner_url).await.expect("connect as owner");
        if self.backend == Backend::Sqlite {
            db.execute_unprepared("PRAGMA foreign_keys = ON")
                .await
                .expect("enable foreign keys");
        }
        db
    }

    pub async fn migrate(&self) {
        let mut config = Config::for_database(self.owner_url.clone());
        config.database.migrate_on_start = true;
        tessera_server::migrate_up(&config.database)
            .await
            .expect("migrations apply");
    }

    /// The store as the server uses it: on Postgres switched to the application role.
    pub async fn app_store(&self, max_connections: u32) -> SeaStore {
        SeaStore::connect(&DatabaseSettings {
            url: self.owner_url.clone(),
            max_connections,
            postgres_role: Some(tessera_migration::APP_ROLE.to_owned()),
            acquire_timeout: tessera_infrastructure::DatabaseSettings::DEFAULT_ACQUIRE_TIMEOUT,
        })
        .await
        .expect("connect the application store")
    }

    /// The sums of `columns` (comma-separated) over the rows of `table` that match
    /// `filter`, read as the owner (every tenant).
    pub async fn sum(&self, table: &str, columns: &str, filter: &str) -> Vec<i64> {
        let owner = self.owner().await;
        let backend = owner.get_database_backend();
        let names: Vec<&str> = columns.split(',').map(str::trim).collect();
        let sums: Vec<String> = names
            .iter()
            .map(|column| format!("CAST(coalesce(sum({column}), 0) AS bigint) AS {column}"))
            .collect();
        let row = owner
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT {} FROM {table} WHERE {filter}", sums.join(", ")),
            ))
            .await
            .expect("sum rows")
            .expect("one row");
        let values = names
            .iter()
            .map(|column| row.try_get::<i64>("", column).expect("a sum"))
            .collect();
        owner.close().await.ok();
        values
    }

    /// Counts rows as the owner (sees every tenant).
    pub async fn count(&self, table: &str) -> i64 {
        let owner = self.owner().await;
        let backend = owner.get_database_backend();
        let row = owner
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count rows")
            .expect("one row");
        let n: i64 = row.try_get("", "n").expect("a count");
        owner.close().await.ok();
        n
    }

    /// Every audit event as `(chain, sequence, action)`, read as the owner (all chains;
    /// the platform chain is the nil id).
    pub async fn audit_trail(&self) -> Vec<(Uuid, i64, String)> {
        let owner = self.owner().await;
        let backend = owner.get_database_backend();
        let rows = owner
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT tenant_id, sequence, action FROM audit_events ORDER BY occurred_at, tenant_id, sequence",
            ))
            .await
            .expect("read the audit trail");
        owner.close().await.ok();
        rows.iter()
            .map(|row| {
                (
                    row.try_get("", "tenant_id").expect("chain"),
                    row.try_get("", "sequence").expect("sequence"),
                    row.try_get("", "action").expect("action"),
                )
            })
            .collect()
    }

    /// Drops a Postgres test database right away, cutting its open connections.
    pub async fn drop_now(&self) {
        if let Some((admin, name)) = &self.postgres {
            let connection = Database::connect(admin).await.expect("connect to TEST_DATABASE_URL");
            connection
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop the test database");
            connection.close().await.ok();
        }
    }

    pub async fn execute_as_owner(&self, sql: &str) {
        let owner = self.owner().await;
        owner.execute_unprepared(sql).await.expect("owner statement");
        owner.close().await.ok();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = self.sqlite_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs outside async context: use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async move {
                        if let Ok(connection) = Database::connect(&admin).await {
                            let _ = connection
                                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .await;
                            connection.close().await.ok();
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// The server running against a fresh database, plus an HTTP client.
pub struct TestApp {
    pub db: TestDatabase,
    pub base_url: String,
    pub client: reqwest::Client,
    /// Every mail the server sent.
    pub mailer: tessera_infrastructure::MemoryMailer,
    config: Config,
    domain_verifier: Option<std::sync::Arc<dyn tessera_application::ports::DomainVerifier>>,
    plans: Option<tessera_domain::PlanCatalogue>,
    server: Option<RunningServer>,
}

/// One HTTP answer from `/graphql`.
#[derive(Debug)]
pub struct GqlResponse {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl GqlResponse {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// The first error's `extensions.code`, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
    pub fn field_error(&self, field: &str) -> Option<&str> {
        self.body["errors"][0]["extensions"]["fields"][field].as_str()
    }
    /// Asserts the first error's `extensions.reason`, showing the whole answer if not.
    #[track_caller]
    pub fn assert_reason(&self, reason: &str) {
        assert_eq!(self.body["errors"][0]["extensions"]["reason"], reason, "{}", self.body);
    }
    pub fn assert_ok(&self) -> &Value {
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.body);
        assert_eq!(self.status, StatusCode::OK);
        &self.body["data"]
    }
}

/// The built-in plans with every plan's tenant-wide requests per minute set to
/// `per_minute`, new tenants starting on `default`.
/// An HTTP client that asks for `application/graphql-response+json`, as current GraphQL
/// clients do (a client that names no type is answered `application/json`, whose request
/// errors are `200`); a request that sets its own `Accept` overrides it.
pub fn modern_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/graphql-response+json, application/json;q=0.9"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

pub fn test_plans(default: &str, per_minute: u64) -> tessera_domain::PlanCatalogue {
    use tessera_domain::{Allowance, Limit, PlanCatalogue, PlanKey};
    let mut plans = PlanCatalogue::built_in().plans().to_vec();
    for plan in &mut plans {
        plan.limits
            .insert(Limit::RequestsPerMinute, Allowance::AtMost(per_minute));
    }
    PlanCatalogue::new(plans, PlanKey::parse(default).expect("a plan key")).expect("a valid catalogue")
}

/// A signed-up user with their tenant and access token.
#[derive(Debug, Clone)]
pub struct Member {
    pub token: String,
    pub user_id: String,
    pub tenant_id: String,
    pub tenant_slug: String,
    pub email: String,
}

pub const PASSWORD: &str = "a long enough password";

/// Which role [`TestApp::join`] gives the newcomer.
#[derive(Debug, Clone)]
pub enum RoleChoice {
    System(tessera_domain::SystemRole),
    Id(String),
}

impl TestApp {
    /// `None` when the backend is not available (announced; fails under `CI=true`).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_configured(backend, |_, _| {}).await
    }

    /// Like [`TestApp::spawn`], after `configure` has changed the configuration and
    /// build options (the mailer stays the memory mailer).
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut Config, &mut BuildOptions),
    ) -> Option<Self> {
        let db = TestDatabase::create(backend).await?;
        Some(Self::start(db, None, configure).await)
    }

    /// Like [`TestApp::spawn`], with the access cache in Redis (`TEST_REDIS_URL`).
    pub async fn spawn_with_redis(backend: Backend) -> Option<Self> {
        let redis = redis_url()?;
        let db = TestDatabase::create(backend).await?;
        Some(Self::start(db, Some(redis), |_, _| {}).await)
    }

    async fn start(
        db: TestDatabase,
        redis_url: Option<String>,
        configure: impl FnOnce(&mut Config, &mut BuildOptions),
    ) -> Self {
        let mut config = Config::for_database(db.owner_url.clone());
        config.redis.url = redis_url.map(Into::into);
        // Tests of other capabilities start from signed-up users and do not walk through
        // onboarding; the onboarding tests turn the gate (on by default) back on.
        config.auth.onboarding_gate = false;
        // Every test client shares 127.0.0.1: per-address limits would trip across
        // unrelated tests. The rate-limit tests set small quotas themselves.
        config.limits.rate_limit_authentication_per_minute = 100_000;
        config.limits.rate_limit_anonymous_per_minute = 100_000;
        config.limits.rate_limit_principal_per_minute = 100_000;
        // Each test keeps its export archives apart, and offboarding work is picked up fast.
        config.offboarding.export_dir =
            std::env::temp_dir().join(format!("tessera-exports-{}", Uuid::new_v4().simple()));
        config.offboarding.offboarding_poll_ms = 100;
        let mailer = tessera_infrastructure::MemoryMailer::default();
        // Tests of other capabilities are not about plans: their tenants start on a
        // plan that lets them create what they need. The plan tests pick their own.
        let mut options = BuildOptions {
            fast_password_hashing: true,
            plans: Some(test_plans("enterprise", 100_000)),
            ..BuildOptions::default()
        };
        configure(&mut config, &mut options);
        options.mailer = Some(std::sync::Arc::new(mailer.clone()));
        let server = tessera_server::spawn(&config, &options)
            .await
            .expect("the server starts");
        let base_url = format!("http://{}", server.addr);
        Self {
            db,
            base_url,
            client: modern_client(),
            mailer,
            config,
            domain_verifier: options.domain_verifier,
            plans: options.plans,
            server: Some(server),
        }
    }

    /// SQL statements the server has run so far (transaction-local settings excluded).
    pub fn statements(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, |server| server.store.statements_executed())
    }

    /// Transactions the server's requests have begun so far.
    pub fn transactions(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, |server| server.store.transactions_begun())
    }

    /// Flushes the running server's usage counts to the daily rollups now.
    pub async fn flush_usage(&self) -> usize {
        let server = self.server.as_ref().expect("a running server");
        server.app.flush_usage().await.expect("the usage flush")
    }

    /// The configuration the server was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Another server process-alike on the same database (and Redis, if any): a replica.
    pub async fn replica(&self) -> RunningServer {
        self.replica_configured(|_| {}).await
    }

    /// A GraphQL request to a replica.
    pub async fn graphql_at(&self, replica: &RunningServer, query: &str, variables: Value, token: &str) -> GqlResponse {
        let response = self
            .client
            .post(format!("http://{}/graphql", replica.addr))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the replica answers");
        Self::read(response).await
    }

    /// The invitation token in the last mail sent to `email`.
    pub fn invitation_token_for(&self, email: &str) -> Option<String> {
        self.mailed_token(email, "inv_")
    }

    /// The first word starting with `prefix` (`ev_`, `pr_`, `inv_`) in the last mail to `to`
    /// that has one.
    pub fn mailed_token(&self, to: &str, prefix: &str) -> Option<String> {
        self.mailer
            .sent()
            .into_iter()
            .rev()
            .filter(|(recipient, _, _)| recipient == to)
            .find_map(|(_, _, text)| {
                text.split_whitespace()
                    .find(|w| w.starts_with(prefix))
                    .map(str::to_owned)
            })
    }

    /// A plain GET of a path on the server (e.g. `/health/ready`).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("the request is answered")
    }

    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> GqlResponse {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the request is answered");
        Self::read(response).await
    }

    /// Runs a document without variables as the holder of `token`.
    /// A GraphQL request made with an API key (`x-api-key`).
    pub async fn graphql_with_key(&self, key: &str, query: &str, variables: Value) -> GqlResponse {
        let response = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .header("x-api-key", key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the server answers");
        Self::read(response).await
    }

    /// A platform administrator: signs up `ops@platform.example` (tenant
    /// `platform-ops`) and grants the flag, as `tessera admin grant` does.
    pub async fn platform_operator(&self) -> Member {
        let ops = self.sign_up("ops@platform.example", "platform-ops").await;
        tessera_server::set_platform_admin(self.config(), &ops.email, true)
            .await
            .expect("granted");
        ops
    }

    pub async fn query(&self, query: &str, token: &str) -> GqlResponse {
        self.graphql(query, json!({}), Some(token)).await
    }

    pub async fn read(response: reqwest::Response) -> GqlResponse {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        GqlResponse {
            status,
            content_type,
            body,
        }
    }

    /// Signs up a new user with a new tenant.
    pub async fn sign_up(&self, email: &str, tenant_slug: &str) -> Member {
        let response = self
            .graphql(
                "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken user { id email } tenant { id slug } } }",
                json!({ "input": {
                    "email": email, "password": PASSWORD, "displayName": "Test User",
                    "tenantName": format!("Tenant {tenant_slug}"), "tenantSlug": tenant_slug,
                }}),
                None,
            )
            .await;
        let data = response.assert_ok();
        Member {
            token: data["signUp"]["accessToken"].as_str().expect("token").to_owned(),
            user_id: data["signUp"]["user"]["id"].as_str().expect("user id").to_owned(),
            tenant_id: data["signUp"]["tenant"]["id"].as_str().expect("tenant id").to_owned(),
            tenant_slug: data["signUp"]["tenant"]["slug"].as_str().expect("slug").to_owned(),
            email: data["signUp"]["user"]["email"].as_str().expect("email").to_owned(),
        }
    }

    pub async fn create_workspace(&self, member: &Member, name: &str, slug: &str) -> String {
        let response = self
            .graphql(
                "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { id } }",
                json!({ "input": { "name": name, "slug": slug } }),
                Some(&member.token),
            )
            .await;
        response.assert_ok()["createWorkspace"]["id"]
            .as_str()
            .expect("workspace id")
            .to_owned()
    }

    /// Records `domain` as a verified custom domain of `member`'s tenant (written through
    /// the repository ports, as a passed HTTP check would).
    pub async fn verified_domain(&self, member: &Member, domain: &str) {
        use tessera_application::TenantScope;
        use tessera_application::ports::Store;
        use tessera_domain::{CustomDomain, DomainName, TenantId};

        let store = self.db.app_store(1).await;
        let tenant = TenantId::parse(&member.tenant_id).expect("tenant id");
        let scope = TenantScope::for_tests(tenant);
        let domain = DomainName::parse(domain).expect("a domain");
        let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        let tx = store.begin().await.expect("begin");
        tx.enter_tenant(&scope).await.expect("enter");
        let record = CustomDomain {
            tenant_id: tenant,
            domain: domain.clone(),
            verification_token: format!("test-{}", Uuid::new_v4().simple()),
            created_at: now,
            verified_at: None,
        };
        tx.custom_domains().insert(&scope, &record).await.expect("domain");
        tx.custom_domains()
            .mark_verified(&scope, &domain, now)
            .await
            .expect("verified");
        tx.commit().await.expect("commit");
    }

    /// Makes a new user an active member of `owner`'s tenant with the given role (written
    /// through the repository ports, as an accepted invitation would), and logs them in there.
    pub async fn join(&self, owner: &Member, email: &str, role: RoleChoice) -> Member {
        use tessera_application::TenantScope;
        use tessera_application::ports::Store;
        use tessera_domain::{MembershipId, MembershipStatus, RoleId, TenantId, UserId};

        let newcomer = self
            .sign_up(email, &format!("home-{}", &Uuid::new_v4().simple().to_string()[..8]))
            .await;
        let store = self.db.app_store(1).await;
        let tenant = TenantId::parse(&owner.tenant_id).expect("tenant id");
        let scope = TenantScope::for_tests(tenant);
        let role_id = match role {
            RoleChoice::System(system) => {
                // Read apart from the write: on SQLite a transaction that reads and then
                // writes fails if the server's workers wrote in between.
                let read = store.begin().await.expect("begin");
                read.enter_tenant(&scope).await.expect("enter");
                read.roles()
                    .find_system(&scope, system)
                    .await
                    .expect("query")
                    .expect("role")
                    .id
            }
            RoleChoice::Id(raw) => RoleId::parse(&raw).expect("role id"),
        };
        let tx = store.begin().await.expect("begin");
        tx.enter_tenant(&scope).await.expect("enter");
        // Microseconds, as the server's clock keeps them (cursors compare these values).
        let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        tx.memberships()
            .insert(
                &scope,
                &tessera_domain::Membership {
                    id: MembershipId::from_uuid(Uuid::now_v7()),
                    tenant_id: tenant,
                    user_id: UserId::parse(&newcomer.user_id).expect("user id"),
                    role_id,
                    status: MembershipStatus::Active,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await
            .expect("insert membership");
        tx.commit().await.expect("commit");
        let response = self
            .graphql(
                "mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }",
                json!({ "input": { "email": email, "password": PASSWORD, "tenantSlug": owner.tenant_slug } }),
                None,
            )
            .await;
        let token = response.assert_ok()["logIn"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        Member {
            token,
            tenant_id: owner.tenant_id.clone(),
            tenant_slug: owner.tenant_slug.clone(),
            ..newcomer
        }
    }

    /// Creates a role of the owner's tenant with these permissions; its id.
    pub async fn create_role(&self, owner: &Member, name: &str, permissions: &[&str]) -> String {
        let response = self
            .graphql(
                "mutation($input: CreateRoleInput!) { createRole(input: $input) { id permissions } }",
                json!({ "input": { "name": name, "permissions": permissions } }),
                Some(&owner.token),
            )
            .await;
        response.assert_ok()["createRole"]["id"]
            .as_str()
            .expect("role id")
            .to_owned()
    }

    /// Changes a membership of `owner`'s tenant through the repository port, past every
    /// use case (so nothing that a use case does alongside, such as revoking keys, runs).
    pub async fn change_membership_directly(
        &self,
        owner: &Member,
        user_id: &str,
        change: impl FnOnce(&mut tessera_domain::Membership),
    ) {
        use tessera_application::TenantScope;
        use tessera_application::ports::Store;
        use tessera_domain::{TenantId, UserId};

        let store = self.db.app_store(1).await;
        let scope = TenantScope::for_tests(TenantId::parse(&owner.tenant_id).expect("tenant id"));
        // Read apart from the write: on SQLite a transaction that reads and then writes
        // fails ("database is locked") if the server's workers wrote in between; the
        // update still only lands on the row as it was read.
        let read = store.begin().await.expect("begin");
        read.enter_tenant(&scope).await.expect("enter");
        let before = read
            .memberships()
            .find_by_user(&scope, UserId::parse(user_id).expect("user id"))
            .await
            .expect("query")
            .expect("a membership");
        drop(read);
        let mut after = before.clone();
        change(&mut after);
        let tx = store.begin().await.expect("begin");
        tx.enter_tenant(&scope).await.expect("enter");
        tx.memberships().update(&scope, &before, &after).await.expect("update");
        tx.commit().await.expect("commit");
    }

    /// Creates an API key as `member`; its id and its secret.
    pub async fn create_api_key(&self, member: &Member, name: &str, permissions: &[&str]) -> (String, String) {
        let response = self
            .graphql(
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }",
                json!({ "input": { "name": name, "permissions": permissions } }),
                Some(&member.token),
            )
            .await;
        let data = response.assert_ok();
        (
            data["createApiKey"]["apiKey"]["id"]
                .as_str()
                .expect("key id")
                .to_owned(),
            data["createApiKey"]["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Revokes the key `key_id` as `member`.
    pub async fn revoke_api_key(&self, member: &Member, key_id: &str) {
        self.graphql(
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": key_id }),
            Some(&member.token),
        )
        .await
        .assert_ok();
    }

    /// How many audit events of `action` the whole database holds (read as the owner).
    pub async fn audit_count(&self, action: &str) -> usize {
        self.db
            .audit_trail()
            .await
            .iter()
            .filter(|(_, _, recorded)| recorded == action)
            .count()
    }

    /// The id of the caller's tenant's role with this system key (`owner`, `viewer`, …)
    /// or name.
    pub async fn role_id(&self, token: &str, key: &str) -> String {
        let roles = self
            .graphql(
                "{ roles(first: 100) { nodes { id systemKey name } } }",
                json!({}),
                Some(token),
            )
            .await;
        roles.assert_ok()["roles"]["nodes"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["systemKey"] == key || r["name"] == key)
            .and_then(|r| r["id"].as_str())
            .unwrap_or_else(|| panic!("no role {key}"))
            .to_owned()
    }

    /// The build options a second server on the same database gets.
    fn build_options(&self) -> BuildOptions {
        BuildOptions {
            fast_password_hashing: true,
            mailer: Some(std::sync::Arc::new(self.mailer.clone())),
            domain_verifier: self.domain_verifier.clone(),
            plans: self.plans.clone(),
        }
    }

    /// Another server on the same database with a changed configuration.
    pub async fn replica_configured(&self, configure: impl FnOnce(&mut Config)) -> RunningServer {
        let mut config = self.config.clone();
        configure(&mut config);
        tessera_server::spawn(&config, &self.build_options())
            .await
            .expect("the replica starts")
    }

    /// Ends the server at once, mid-request and mid-delivery, like a crash.
    pub fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
    }

    /// Starts the server again on the same database (after [`TestApp::kill`]).
    pub async fn restart(&mut self) {
        let server = tessera_server::spawn(&self.config, &self.build_options())
            .await
            .expect("the server starts again");
        self.base_url = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    /// Where the running server serves `/metrics` apart from the API, if it does.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().and_then(|server| server.metrics_addr)
    }

    /// The running server's application (for what an operator's command does).
    pub fn application(&self) -> std::sync::Arc<tessera_application::Application> {
        self.server.as_ref().expect("the server runs").app.clone()
    }

    /// The address of the running server.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().map(|server| server.addr)
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

/// A stand-in for a customer's web server: answers every request with the text in the
/// returned cell (404 while it is empty), for custom-domain verification.
pub async fn domain_server() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<String>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let served = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let text = served.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let body = text.lock().expect("lock").clone();
            let status = if body.is_empty() { "404 Not Found" } else { "200 OK" };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (addr, served)
}
