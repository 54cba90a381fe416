//! The command line as an operator meets it: each command's `--help` lists only the
//! settings it uses, and neither help nor an error shows a password.

use std::process::Command;

mod support;

use support::output_of;

fn tessera(args: &[&str]) -> (String, bool) {
    output_of(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", "postgres://tessera:dbpass1x@127.0.0.1:1/tessera")
            .env("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")
            .env("REDIS_URL", "redis://:redispass2x@127.0.0.1:1")
            .env("JWT_SECRET", "jwtvalue3x-jwtvalue3x-jwtvalue3x-jwtvalue3x")
            .env("SMTP_URL", "smtps://mailer:smtppass4x@smtp.example.com"),
    )
}

fn assert_no_secret(text: &str) {
    for secret in ["dbpass1x", "redispass2x", "jwtvalue3x", "smtppass4x"] {
        assert!(!text.contains(secret), "{secret} shown in:\n{text}");
    }
}

#[test]
fn help_lists_every_setting_and_no_secret() {
    let (help, ok) = tessera(&["--help"]);
    assert!(ok);
    assert!(help.contains("--database-url") && help.contains("[env: DATABASE_URL"));
    assert!(help.contains("--webhook-timeout-seconds") && help.contains("--jwt-secret"));
    assert_no_secret(&help);
    let (serve, _) = tessera(&["serve", "--help"]);
    assert!(serve.contains("--jwt-secret"));
    assert_no_secret(&serve);
}

#[test]
fn each_command_shows_only_the_settings_it_uses() {
    let (migrate, ok) = tessera(&["migrate", "--help"]);
    assert!(ok);
    assert!(migrate.contains("--database-url") && migrate.contains("--env"));
    for unused in [
        "--jwt-secret",
        "--redis-url",
        "--bind-addr",
        "--webhook-workers",
        "--smtp-url",
    ] {
        assert!(!migrate.contains(unused), "migrate --help lists {unused}");
    }
    assert_no_secret(&migrate);

    let (persisted, _) = tessera(&["persisted", "--help"]);
    assert!(persisted.contains("--trusted-documents-file"));
    assert!(!persisted.contains("--database-url"));

    let (schema, _) = tessera(&["schema", "--help"]);
    assert!(!schema.contains("--database-url") && !schema.contains("--env"));

    let (admin, _) = tessera(&["admin", "--help"]);
    assert!(admin.contains("--database-url") && admin.contains("--redis-url"));
    assert!(!admin.contains("--jwt-secret"));
}

#[test]
fn an_out_of_range_setting_stops_the_server_naming_its_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .env_clear()
        .env("DATABASE_URL", "sqlite::memory:")
        .env("WEBHOOK_TIMEOUT_SECONDS", "0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WEBHOOK_TIMEOUT_SECONDS is 0; it must be between 1 and 300"),
        "{stderr}"
    );
}

#[test]
fn a_failed_database_connection_does_not_print_its_password() {
    let (text, ok) = tessera(&["migrate", "status"]);
    assert!(!ok, "nothing listens on port 1");
    assert!(text.contains("***"), "the URL is shown masked: {text}");
    assert_no_secret(&text);
}

#[test]
fn flags_before_a_command_are_refused() {
    let (text, ok) = tessera(&["--bind-addr", "127.0.0.1:9", "migrate", "status"]);
    assert!(!ok, "{text}");
}

#[test]
fn config_check_prints_the_settings_without_secrets_and_fails_on_an_unreachable_dependency() {
    let run = |redis: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        command
            .args(["config", "check"])
            .env_clear()
            .env("DATABASE_URL", "sqlite::memory:")
            .env("JWT_SECRET", "jwtvalue3x-jwtvalue3x-jwtvalue3x-jwtvalue3x")
            .env("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1");
        if let Some(redis) = redis {
            command.env("REDIS_URL", redis);
        }
        output_of(&mut command)
    };
    let (report, ok) = run(None);
    assert!(ok, "{report}");
    assert!(report.contains("JWT_SECRET=(hidden)  (environment)"), "{report}");
    assert!(report.contains("MAX_QUERY_DEPTH=12  (default)"), "{report}");
    assert!(report.contains("settings: valid"), "{report}");
    assert!(report.contains("database: reachable"), "{report}");
    assert!(report.contains("redis: not configured"), "{report}");
    assert_no_secret(&report);

    let (report, ok) = run(Some("redis://:redispass2x@127.0.0.1:1"));
    assert!(!ok, "an unreachable Redis fails the check:\n{report}");
    assert!(report.contains("redis (REDIS_URL):"), "{report}");
    assert_no_secret(&report);
}

#[test]
fn tenant_commands_show_change_the_plan_suspend_and_reactivate() {
    let dir = std::env::temp_dir().join(format!("tessera-tenant-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database = format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display());
    let run = |args: &[&str]| {
        output_of(
            Command::new(env!("CARGO_BIN_EXE_tessera"))
                .args(args)
                .env_clear()
                .env("DATABASE_URL", &database)
                .env("LOG_FORMAT", "json")
                .env("RUST_LOG", "error"),
        )
    };
    let (seeded, ok) = run(&["seed", "--demo"]);
    assert!(ok, "{seeded}");
    let events = |report: &str| -> u64 {
        let line = report
            .lines()
            .find(|line| line.contains(" events, "))
            .expect("a chain line");
        line.split_whitespace()
            .find_map(|word| word.parse().ok())
            .expect("a count")
    };
    let (before, ok) = run(&["audit", "verify"]);
    assert!(ok, "{before}");

    let (shown, ok) = run(&["tenant", "show", "demo"]);
    assert!(ok, "{shown}");
    assert!(shown.contains("status   active"), "{shown}");
    assert!(shown.contains("plan     free (Free)"), "{shown}");
    assert!(shown.contains("workspaces             3 of 3"), "{shown}");

    let (changed, ok) = run(&["tenant", "set-plan", "demo", "team"]);
    assert!(ok && changed.contains("is on plan `team`"), "{changed}");
    let (refused, ok) = run(&["tenant", "set-plan", "demo", "gold"]);
    assert!(
        !ok && refused.contains("plan: `gold` is not a plan of the catalogue"),
        "{refused}"
    );

    let (suspended, ok) = run(&["tenant", "suspend", "demo", "--reason", "billing", "--past-due"]);
    assert!(ok && suspended.contains("is past_due (billing)"), "{suspended}");
    let (shown, _) = run(&["tenant", "show", "demo"]);
    assert!(shown.contains("status   past_due (billing)"), "{shown}");
    assert!(shown.contains("plan     team (Team)"), "{shown}");
    assert!(shown.contains("workspaces             3 of 25"), "{shown}");
    let (refused, ok) = run(&["tenant", "suspend", "demo", "--reason", "boredom"]);
    assert!(!ok && refused.contains("not billing, abuse or requested"), "{refused}");

    let (reactivated, ok) = run(&["tenant", "reactivate", "demo"]);
    assert!(ok && reactivated.contains("is active"), "{reactivated}");
    let (missing, ok) = run(&["tenant", "show", "nobody"]);
    assert!(!ok && missing.contains("tenant not found"), "{missing}");

    // The three changes (plan, past due, active) are in the tenant's audit trail, whose
    // chain still holds; the refused ones left nothing.
    let (after, ok) = run(&["audit", "verify"]);
    assert!(ok, "{after}");
    assert_eq!(events(&after), events(&before) + 3, "{before}\n{after}");
    let _ = std::fs::remove_dir_all(&dir);
}
