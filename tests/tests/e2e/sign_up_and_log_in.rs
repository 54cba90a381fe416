//! Sign-up is all or nothing and refuses bad input field by field; log-in never says
//! which of email and password was wrong.

use serde_json::{Value, json};
use tessera_tests::{Backend, PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    bad_sign_up_input_is_refused_field_by_field_and_nothing_is_written,
    duplicate_email_and_slug_are_conflicts,
    a_failing_late_step_leaves_nothing_half_written,
    log_in_checks_credentials_and_chooses_the_tenant,
    bad_workspace_input_is_refused,
    repeated_failed_log_ins_are_throttled_per_account,
);

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";

fn input(email: &str, password: &str, name: &str, tenant: &str, slug: Option<&str>) -> Value {
    json!({ "input": { "email": email, "password": password, "displayName": name, "tenantName": tenant, "tenantSlug": slug } })
}

async fn bad_sign_up_input_is_refused_field_by_field_and_nothing_is_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let long = "x".repeat(101);
    let cases: &[(Value, &str)] = &[
        (input("not-an-email", PASSWORD, "Ada", "Acme", None), "email"),
        (input("ada@example.com", "short", "Ada", "Acme", None), "password"),
        (input("ada@example.com", PASSWORD, "", "Acme", None), "displayName"),
        (input("ada@example.com", PASSWORD, &long, "Acme", None), "displayName"),
        (input("ada@example.com", PASSWORD, "Ada", &long, None), "tenantName"),
        (
            input("ada@example.com", PASSWORD, "Ada", "Acme", Some("Not A Slug")),
            "tenantSlug",
        ),
        (
            input("ada@example.com", PASSWORD, "Ada", "Acme", Some("admin")),
            "tenantSlug",
        ),
    ];
    for (variables, field) in cases {
        let response = app.graphql(SIGN_UP, variables.clone(), None).await;
        assert_eq!(
            response.error_code(),
            Some("BAD_USER_INPUT"),
            "{field}: {}",
            response.body
        );
        assert!(
            response.field_error(field).is_some(),
            "expected a message for {field}: {}",
            response.body
        );
    }
    for table in ["users", "tenants", "roles", "memberships", "workspaces", "sessions"] {
        assert_eq!(app.db.count(table).await, 0, "{table} must stay empty");
    }
    app.stop().await;
}

async fn duplicate_email_and_slug_are_conflicts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;

    let same_email = app
        .graphql(SIGN_UP, input("ADA@Example.com", PASSWORD, "Ada", "Other", None), None)
        .await;
    assert_eq!(same_email.error_code(), Some("CONFLICT"), "{}", same_email.body);
    assert!(same_email.field_error("email").is_some());

    let same_slug = app
        .graphql(
            SIGN_UP,
            input("grace@example.com", PASSWORD, "Grace", "Acme", Some("acme")),
            None,
        )
        .await;
    assert_eq!(same_slug.error_code(), Some("CONFLICT"), "{}", same_slug.body);
    assert!(same_slug.field_error("tenantSlug").is_some());

    // A derived slug that is taken gets a suffix instead of failing.
    let derived = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { tenant { slug } } }",
            input("grace@example.com", PASSWORD, "Grace", "Acme", None),
            None,
        )
        .await;
    let slug = derived.assert_ok()["signUp"]["tenant"]["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    assert!(slug.starts_with("acme-") && slug.len() == "acme-".len() + 6, "{slug}");

    assert_eq!(app.db.count("users").await, 2);
    assert_eq!(app.db.count("tenants").await, 2);
    app.stop().await;
}

async fn a_failing_late_step_leaves_nothing_half_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Make the last tenant-table insert of sign-up fail inside the database.
    match backend {
        Backend::Sqlite => {
            app.db
                .execute_as_owner(
                    "CREATE TRIGGER fail_late BEFORE INSERT ON workspace_members \
                     BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                )
                .await
        }
        Backend::Postgres => {
            app.db
                .execute_as_owner(
                    "CREATE FUNCTION fail_late() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                )
                .await;
            app.db
                .execute_as_owner(
                    "CREATE TRIGGER fail_late BEFORE INSERT ON workspace_members \
                     FOR EACH ROW EXECUTE FUNCTION fail_late()",
                )
                .await;
        }
    }
    let response = app
        .graphql(SIGN_UP, input("ada@example.com", PASSWORD, "Ada", "Acme", None), None)
        .await;
    assert_eq!(
        response.error_code(),
        Some("INTERNAL_SERVER_ERROR"),
        "{}",
        response.body
    );
    assert!(
        !response.body.to_string().contains("injected"),
        "internals leaked: {}",
        response.body
    );
    for table in [
        "users",
        "tenants",
        "roles",
        "role_permissions",
        "memberships",
        "workspaces",
        "sessions",
    ] {
        assert_eq!(app.db.count(table).await, 0, "{table} was half-written");
    }
    app.stop().await;
}

async fn log_in_checks_credentials_and_chooses_the_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;
    const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken user { email } tenant { slug } } }";

    let ok = app
        .graphql(
            LOG_IN,
            json!({ "input": { "email": " ADA@example.com ", "password": PASSWORD } }),
            None,
        )
        .await;
    let data = ok.assert_ok();
    assert_eq!(data["logIn"]["tenant"]["slug"], "acme");
    assert!(
        data["logIn"]["refreshToken"]
            .as_str()
            .is_some_and(|t| t.starts_with("rt_"))
    );
    let token = data["logIn"]["accessToken"].as_str().expect("token");
    let me = app.query("{ me { email } }", token).await;
    assert_eq!(me.assert_ok()["me"]["email"], "ada@example.com");

    let wrong_password = app
        .graphql(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": "wrong password!" } }),
            None,
        )
        .await;
    let unknown_email = app
        .graphql(
            LOG_IN,
            json!({ "input": { "email": "nobody@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(wrong_password.error_code(), Some("UNAUTHENTICATED"));
    assert_eq!(unknown_email.error_code(), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong_password.body["errors"][0]["message"], unknown_email.body["errors"][0]["message"],
        "the answer must not reveal which part was wrong"
    );

    let other = app.sign_up("grace@example.com", "globex").await;
    let not_member = app
        .graphql(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD, "tenantSlug": other.tenant_slug } }),
            None,
        )
        .await;
    assert_eq!(not_member.error_code(), Some("FORBIDDEN"), "{}", not_member.body);
    assert_eq!(
        app.db.count("sessions").await,
        3,
        "two sign-ups and one successful log-in"
    );
    app.stop().await;
}

async fn bad_workspace_input_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    const CREATE: &str = "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { id } }";
    let cases = [
        (json!({ "name": "", "slug": "ok-slug" }), "name"),
        (json!({ "name": "x".repeat(101), "slug": "ok-slug" }), "name"),
        (json!({ "name": "Fine", "slug": "No Spaces" }), "slug"),
        (json!({ "name": "Fine", "slug": "ab" }), "slug"),
    ];
    for (input, field) in cases {
        let response = app.graphql(CREATE, json!({ "input": input }), Some(&ada.token)).await;
        assert_eq!(response.error_code(), Some("BAD_USER_INPUT"), "{}", response.body);
        assert!(response.field_error(field).is_some(), "{}", response.body);
    }
    let duplicate = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "Again", "slug": "general" } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(duplicate.error_code(), Some("CONFLICT"));
    assert_eq!(
        duplicate.field_error("slug"),
        Some("a workspace with this slug already exists")
    );

    for bad_id in ["", "42", "not-a-uuid"] {
        let response = app
            .graphql(
                "mutation($id: ID!) { deleteWorkspace(id: $id) }",
                json!({ "id": bad_id }),
                Some(&ada.token),
            )
            .await;
        assert_eq!(response.error_code(), Some("BAD_USER_INPUT"), "{}", response.body);
        assert!(response.field_error("id").is_some());
    }
    let page = app.query("{ workspaces(first: 101) { totalCount } }", &ada.token).await;
    assert_eq!(page.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(page.field_error("first"), Some("must be at most 100"));
    assert_eq!(app.db.count("workspaces").await, 1, "only the default workspace exists");
    app.stop().await;
}

async fn repeated_failed_log_ins_are_throttled_per_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await;
    app.sign_up("grace@example.com", "globex").await;
    const LOG_IN: &str =
        "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }";
    for _ in 0..5 {
        let wrong = app
            .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": "wrong password!" }), None)
            .await;
        assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"));
    }
    let throttled = app
        .graphql(LOG_IN, json!({ "e": "ada@example.com", "p": PASSWORD }), None)
        .await;
    assert_eq!(throttled.error_code(), Some("RATE_LIMITED"), "{}", throttled.body);
    assert!(
        throttled.body["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 900)
    );
    // Another account is not affected.
    let grace = app
        .graphql(LOG_IN, json!({ "e": "grace@example.com", "p": PASSWORD }), None)
        .await;
    grace.assert_ok();
    app.stop().await;
}
