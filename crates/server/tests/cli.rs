//! The command line as an operator meets it: each command's `--help` lists only the
//! settings it uses, and neither help nor an error shows a password.

use std::process::Command;

fn tessera(args: &[&str]) -> (String, bool) {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", "postgres://tessera:dbpass1x@127.0.0.1:1/tessera")
        .env("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")
        .env("REDIS_URL", "redis://:redispass2x@127.0.0.1:1")
        .env("JWT_SECRET", "jwtvalue3x-jwtvalue3x-jwtvalue3x-jwtvalue3x")
        .env("SMTP_URL", "smtps://mailer:smtppass4x@smtp.example.com")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.success())
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
        let output = command.output().expect("the binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (text, output.status.success())
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
