use clap::{Args, Command, Parser};

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// Parses flags alone, whatever this process's environment holds.
fn parse(flags: &[&str]) -> Result<Config, clap::Error> {
    let command = Config::augment_args(Command::new("tessera")).mut_args(|arg| arg.env(None::<&str>));
    let matches = command.try_get_matches_from(flags)?;
    Config::from_arg_matches(&matches)
}

#[test]
fn the_defaults_are_the_flags_defaults_and_they_are_valid() {
    let defaults = Config::defaults();
    assert!(defaults.auth.onboarding_gate);
    assert_eq!(defaults.http.bind_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(defaults.database.url.expose(), "sqlite://tessera.db?mode=rwc");
    assert_eq!(defaults.limits.rate_limit_principal_per_minute, 600);
    assert_eq!(defaults.webhooks.webhook_timeout_seconds, 10);
    assert!(defaults.validate().is_ok(), "{:?}", defaults.validate());
    let for_tests = Config::for_database("sqlite::memory:");
    assert_eq!(for_tests.http.bind_addr.port(), 0);
    assert!(for_tests.validate().is_ok());
}

#[test]
fn a_flag_sets_its_section() {
    let config = parse(&[
        "tessera",
        "--onboarding-gate",
        "false",
        "--redis-url",
        "redis://127.0.0.1:6379",
    ])
    .expect("parses");
    assert!(!config.auth.onboarding_gate);
    assert_eq!(
        config.redis.url.as_ref().map(ConnectionUrl::expose),
        Some("redis://127.0.0.1:6379")
    );
    // The derive in a parser of its own works the same way.
    assert!(Cli::try_parse_from(["tessera", "--webhook-workers", "0"]).is_ok());
}

#[test]
fn out_of_range_values_are_refused_with_their_variable_named() {
    type Break = fn(&mut Config);
    let cases: Vec<(&str, Break)> = vec![
        ("WEBHOOK_TIMEOUT_SECONDS", |c| c.webhooks.webhook_timeout_seconds = 0),
        ("OUTBOX_POLL_MS", |c| c.webhooks.outbox_poll_ms = 1),
        ("RATE_LIMIT_PRINCIPAL_PER_MINUTE", |c| {
            c.limits.rate_limit_principal_per_minute = 0
        }),
        ("MAX_BATCH_OPERATIONS", |c| c.limits.max_batch_operations = 101),
        ("LOADER_DELAY_MS", |c| c.limits.loader_delay_ms = 500),
        ("DOCUMENT_CACHE_BYTES", |c| {
            c.limits.document_cache_bytes = 5 * 1024 * 1024 * 1024
        }),
        ("WS_MAX_MESSAGE_BYTES", |c| c.limits.ws_max_message_bytes = 10),
        ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", |c| {
            c.database.acquire_timeout_seconds = 0
        }),
        ("REQUEST_TIMEOUT_SECONDS", |c| c.http.request_timeout_seconds = 3_600),
        ("ACCESS_TOKEN_TTL_SECONDS", |c| c.auth.access_token_ttl_seconds = 5),
        ("ACCESS_CACHE_TTL_SECONDS", |c| c.redis.access_cache_ttl_seconds = 0),
        ("EXPORT_LINK_TTL_SECONDS", |c| c.offboarding.export_link_ttl_seconds = 5),
        ("TENANT_DELETION_GRACE_DAYS", |c| {
            c.offboarding.tenant_deletion_grace_days = 400
        }),
        ("PURGE_BATCH_ROWS", |c| c.offboarding.purge_batch_rows = 1),
    ];
    for (variable, break_it) in cases {
        let mut config = Config::for_database("sqlite::memory:");
        break_it(&mut config);
        let message = config.validate().expect_err(variable).to_string();
        assert!(message.starts_with(&format!("{variable} is ")), "{message}");
        assert!(message.contains("must be between"), "{message}");
    }
}

#[test]
fn a_bad_proxy_database_or_redis_url_is_refused() {
    let mut config = Config::for_database("mysql://localhost/db");
    assert!(matches!(
        config.validate(),
        Err(ConfigError::DatabaseUrl("DATABASE_URL"))
    ));
    config = Config::for_database("sqlite::memory:");
    config.database.migration_url = Some("mysql://owner@localhost/db".into());
    assert!(matches!(
        config.validate(),
        Err(ConfigError::DatabaseUrl("DATABASE_MIGRATION_URL"))
    ));
    config = Config::for_database("sqlite::memory:");
    config.redis.url = Some("http://127.0.0.1:6379".into());
    assert!(matches!(config.validate(), Err(ConfigError::RedisUrl)));
    config = Config::for_database("sqlite::memory:");
    config.http.trusted_proxies = Some("10.0.0.1, proxy.internal".into());
    assert_eq!(
        config.validate().expect_err("a name").to_string(),
        "TRUSTED_PROXIES: `proxy.internal` is not an IP address or network"
    );
    config.http.trusted_proxies = Some("10.0.0.1, 10.42.0.0/16, fd00::/8".into());
    let proxies = config.http.trusted_proxy_addresses().expect("addresses and networks");
    let trusted = |ip: &str| {
        proxies
            .iter()
            .any(|net| net.contains(&ip.parse::<std::net::IpAddr>().expect("an IP")))
    };
    assert!(trusted("10.0.0.1") && trusted("10.42.7.9") && trusted("fd12::1"));
    assert!(!trusted("10.0.0.2") && !trusted("10.43.0.1"));
    config.http.trusted_proxies = Some("10.42.0.0/33".into());
    assert!(config.validate().is_err(), "a prefix longer than the address");
}

#[test]
fn production_refuses_a_missing_default_or_weak_secret() {
    let mut config = Config::for_database("sqlite::memory:");
    config.runtime.environment = Environment::Production;
    assert!(matches!(config.jwt_secret(), Err(ConfigError::MissingJwtSecret)));
    config.auth.jwt_secret = Some("   ".into());
    assert!(matches!(config.jwt_secret(), Err(ConfigError::MissingJwtSecret)));
    config.auth.jwt_secret = Some(DEV_JWT_SECRET.into());
    assert!(matches!(config.jwt_secret(), Err(ConfigError::DevelopmentJwtSecret)));
    config.auth.jwt_secret = Some("short".into());
    assert!(matches!(config.jwt_secret(), Err(ConfigError::WeakJwtSecret)));
    config.auth.jwt_secret = Some("x".repeat(32).into());
    assert_eq!(config.jwt_secret().ok(), Some("x".repeat(32)));
}

#[test]
fn development_falls_back_to_the_development_secret() {
    let config = Config::for_database("sqlite::memory:");
    assert_eq!(config.jwt_secret().ok().as_deref(), Some(DEV_JWT_SECRET));
    assert!(config.introspection_enabled());
}

#[test]
fn a_configuration_prints_no_secret_and_no_password() {
    let mut config = Config::for_database("postgres://tessera:db-password@db.internal/tessera");
    config.redis.url = Some("redis://:redis-password@127.0.0.1:6379".into());
    config.auth.jwt_secret = Some("jwt-secret-jwt-secret-jwt-secret-jwt".into());
    config.auth.jwt_previous_secrets = Some("old=previous-secret".into());
    config.http.metrics_token = Some("metrics-token".into());
    config.mail.smtp_url = Some("smtps://user:smtp-password@smtp.example.com".into());
    config.auth.secrets_key = Some("5ea15ea15ea1".repeat(5).into());
    config.auth.secrets_previous_keys = Some("01d5ea1".repeat(9).into());
    let printed = format!("{config:?}");
    for secret in [
        "db-password",
        "redis-password",
        "jwt-secret",
        "previous-secret",
        "metrics-token",
        "smtp-password",
        "5ea15ea15ea1",
        "01d5ea1",
    ] {
        assert!(!printed.contains(secret), "{secret} printed in {printed}");
    }
    assert!(printed.contains("db.internal"), "the rest still prints");
}

#[test]
fn eddsa_keys_load_from_files_and_sign_verifiable_tokens() {
    use tessera_application::ports::{AccessClaims, TokenIssuer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../infrastructure/src/auth/testdata");
    let mut config = Config::for_database("sqlite::memory:");
    config.auth.jwt_algorithm = JwtAlgorithm::Eddsa;
    config.auth.jwt_key_id = "b".into();
    config.auth.jwt_private_key_file = Some(format!("{dir}/ed25519-b.pem").into());
    config.auth.jwt_public_key_files = Some(format!("a={dir}/ed25519-a.pub.pem, b={dir}/ed25519-b.pub.pem"));
    let issuer =
        tessera_infrastructure::JwtTokenIssuer::new(config.jwt_keys().expect("keys load")).expect("valid keys");
    let now = chrono::Utc::now();
    let claims = AccessClaims {
        user_id: tessera_domain::UserId::from_uuid(uuid_now()),
        tenant_id: tessera_domain::TenantId::from_uuid(uuid_now()),
        session_id: tessera_domain::SessionId::from_uuid(uuid_now()),
        issued_at: now,
        expires_at: now + chrono::Duration::minutes(5),
        second_factor: false,
    };
    assert!(issuer.verify(&issuer.issue(&claims).expect("sign")).is_ok());

    config.auth.jwt_private_key_file = Some("/nonexistent/key.pem".into());
    assert!(matches!(config.jwt_keys(), Err(ConfigError::JwtKeyFile(..))));
    config.auth.jwt_private_key_file = None;
    assert!(matches!(config.jwt_keys(), Err(ConfigError::JwtPrivateKeyMissing)));
}

fn uuid_now() -> sea_orm::prelude::Uuid {
    sea_orm::prelude::Uuid::now_v7()
}

/// Every setting is documented for operators: in the README's table and in the
/// example environment file.
#[test]
fn every_setting_is_in_the_readme_and_the_example_environment() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let example = std::fs::read_to_string(root.join("deploy/tessera.env.example")).expect("the example");
    let command = Config::augment_args(Command::new("tessera"));
    let mut missing = Vec::new();
    for argument in command.get_arguments() {
        let Some(name) = argument.get_env().and_then(|name| name.to_str()) else {
            continue;
        };
        if !readme.contains(&format!("`{name}`")) {
            missing.push(format!("{name} (README)"));
        }
        if !example.contains(&format!("#{name}=")) && !example.contains(&format!("\n{name}=")) {
            missing.push(format!("{name} (deploy/tessera.env.example)"));
        }
    }
    assert!(missing.is_empty(), "undocumented settings: {missing:?}");
}

#[test]
fn a_short_export_link_secret_is_refused() {
    let mut config = Config::for_database("sqlite::memory:");
    config.offboarding.export_link_secret = Some("too-short".into());
    let message = config.validate().expect_err("a short key").to_string();
    assert!(message.starts_with("EXPORT_LINK_SECRET is 9 bytes long"), "{message}");
    config.offboarding.export_link_secret = Some("x".repeat(32).into());
    config.validate().expect("32 bytes are enough");
    assert_eq!(config.offboarding.link_key(), "x".repeat(32).into_bytes());
    config.offboarding.export_link_secret = None;
    assert_eq!(config.offboarding.link_key().len(), 32, "a random key per process");
}

#[test]
fn production_refuses_a_missing_default_or_malformed_secrets_key() {
    use super::DEV_SECRETS_KEY;
    let mut config = Config::for_database("sqlite::memory:");
    let (development, earlier) = config
        .auth
        .secrets_keys(Environment::Development)
        .expect("the built-in key");
    assert_eq!((development.len(), earlier.len()), (32, 0));
    config.runtime.environment = Environment::Production;
    config.auth.jwt_secret = Some("x".repeat(32).into());
    assert!(matches!(config.validate(), Err(ConfigError::MissingSecretsKey)));
    config.auth.secrets_key = Some(DEV_SECRETS_KEY.into());
    assert!(matches!(config.validate(), Err(ConfigError::DevelopmentSecretsKey)));
    for malformed in ["abc", &"g".repeat(64), &"a".repeat(63)] {
        config.auth.secrets_key = Some(malformed.to_owned().into());
        assert!(matches!(config.validate(), Err(ConfigError::SecretsKey)), "{malformed}");
    }
    config.auth.secrets_key = Some("0f".repeat(32).into());
    config.auth.secrets_previous_keys = Some(format!("{}, {}", "01".repeat(32), "02".repeat(32)).into());
    let (current, earlier) = config.auth.secrets_keys(Environment::Production).expect("valid keys");
    assert_eq!((current, earlier), ([0x0f; 32], vec![[1; 32], [2; 32]]));
    assert!(config.validate().is_ok(), "{:?}", config.validate());
    config.auth.secrets_previous_keys = Some("short".to_owned().into());
    assert!(matches!(config.validate(), Err(ConfigError::SecretsKey)));
    config.auth.secrets_previous_keys = None;
    config.auth.totp_issuer = "Acme: Cloud".into();
    assert!(matches!(config.validate(), Err(ConfigError::TotpIssuer)));
}
