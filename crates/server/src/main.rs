//! The `tessera` binary.

use clap::{Parser, Subcommand};
use tessera_migration::{Migrator, MigratorTrait};
use tessera_server::config::{
    Config, DatabaseSection, LogFormat, RedisSection, RuntimeSection, TrustedDocumentsSection,
};
use tessera_server::{BuildOptions, build_application, connect_for_migrations, seed};

/// mimalloc instead of the system's allocator: a request allocates and frees many small
/// objects (the parsed document, the answer's values, its JSON), where glibc's malloc
/// spent about a fifth of the server's CPU under load (BENCHMARKS.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Without a command, `tessera` serves: the settings below are `serve`'s. Each command
/// takes only the settings it uses (`tessera migrate --help` lists the database's).
#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a multi-tenant SaaS core behind one GraphQL API",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve {
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Apply, roll back or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        runtime: RuntimeSection,
        #[command(flatten)]
        database: DatabaseSection,
    },
    /// Fill an empty development database with demo data.
    Seed {
        /// Create the demo tenant and print how to log in.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is this output.
    Schema,
    /// Print the error reference (Markdown); the README's error tables are this output.
    Errors,
    /// Print the event catalogue (Markdown); the README's event table is this output.
    Events,
    /// Manage the trusted-documents manifest (`TRUSTED_DOCUMENTS_FILE`).
    Persisted {
        #[command(subcommand)]
        action: PersistedAction,
        #[command(flatten)]
        documents: TrustedDocumentsSection,
    },
    /// Check the audit trail's hash chains.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
        #[command(flatten)]
        runtime: RuntimeSection,
        #[command(flatten)]
        database: DatabaseSection,
    },
    /// Export a tenant's data, or check an export archive offline.
    Tenant {
        #[command(subcommand)]
        action: tessera_server::tenant_cli::TenantAction,
    },
    /// Check the configuration: prints every setting (secrets hidden) and where it came
    /// from, then checks the settings and the connections (database, Redis).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Grant or revoke platform administration (cross-tenant operations).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
        #[command(flatten)]
        runtime: RuntimeSection,
        #[command(flatten)]
        database: DatabaseSection,
        /// Granting or revoking drops cached access on every replica.
        #[command(flatten)]
        redis: RedisSection,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// The settings `serve` would run with, and whether they and their connections work.
    Check {
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Subcommand)]
enum PersistedAction {
    /// Add the GraphQL document in this file; prints its hash.
    Add { file: std::path::PathBuf },
    /// Add every document of a manifest: GraphQL Code Generator's
    /// `persisted-documents.json` (client preset), Tessera's own, or an Apollo persisted
    /// query manifest. Ids must be SHA-256; one bad document imports nothing. Running
    /// servers pick the new manifest up (TRUSTED_DOCUMENTS_RELOAD_SECONDS, or SIGHUP).
    Import { file: std::path::PathBuf },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Retention: append events older than the retention period to a JSON-lines file,
    /// then delete them (each chain stays verifiable from its first kept event).
    Archive {
        /// Keep this many days of events (default: `AUDIT_RETENTION_DAYS`).
        #[arg(long)]
        older_than_days: Option<u32>,
        /// The archive file (appended to; created if missing).
        #[arg(long, default_value = "audit-archive.jsonl")]
        out: std::path::PathBuf,
    },
    /// Recompute every chain (or one tenant's); exits 1 if an event was edited or removed.
    Verify {
        /// Only this tenant's chain.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Make the user with this email a platform administrator.
    Grant { email: String },
    /// Take platform administration away from the user with this email.
    Revoke { email: String },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back migrations (default: the last one).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve {
        config: Box::new(cli.config),
    });
    let provider = init_tracing(match &command {
        Command::Serve { config } | Command::Seed { config, .. } => Some(&config.runtime),
        Command::Migrate { runtime, .. } | Command::Audit { runtime, .. } | Command::Admin { runtime, .. } => {
            Some(runtime)
        }
        Command::Tenant { action } => action.runtime(),
        Command::Schema | Command::Errors | Command::Events | Command::Persisted { .. } | Command::Config { .. } => {
            None
        }
    });
    let result = run(command).await;
    tessera_server::telemetry::shutdown(provider);
    result
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => tessera_server::serve(&config).await,
        Command::Schema => {
            print!("{}", tessera_api::schema_sdl());
            Ok(())
        }
        Command::Errors => {
            print!("{}", tessera_api::error_reference());
            Ok(())
        }
        Command::Events => {
            print!("{}", tessera_api::event_reference());
            Ok(())
        }
        Command::Migrate { action, database, .. } => migrate(&database, action).await,
        Command::Config {
            action: ConfigAction::Check { config },
        } => check_config(&config).await,
        Command::Persisted {
            action: PersistedAction::Add { file },
            documents,
        } => {
            let document = std::fs::read_to_string(&file)?;
            let hash = tessera_server::trusted::add(&documents.file, &document)?;
            println!("{hash}  added to {}", documents.file.display());
            Ok(())
        }
        Command::Persisted {
            action: PersistedAction::Import { file },
            documents,
        } => {
            let imported = tessera_server::trusted::import(&documents.file, &file)?;
            println!(
                "{} documents added to {} ({} already there)",
                imported.added,
                documents.file.display(),
                imported.already_present
            );
            Ok(())
        }
        Command::Audit { action, database, .. } => audit(&database, action).await,
        Command::Admin {
            action,
            runtime,
            database,
            redis,
        } => {
            let (email, grant) = match action {
                AdminAction::Grant { email } => (email, true),
                AdminAction::Revoke { email } => (email, false),
            };
            let config = Config {
                runtime,
                database,
                redis,
                ..Config::defaults()
            };
            tessera_server::set_platform_admin(&config, &email, grant).await?;
            println!(
                "{email} {} a platform administrator",
                if grant { "is now" } else { "is no longer" }
            );
            Ok(())
        }
        Command::Tenant { action } => tessera_server::tenant_cli::run(action).await,
        Command::Seed { demo, config } => {
            if !demo {
                anyhow::bail!("nothing to seed: pass --demo");
            }
            if config.is_production() {
                anyhow::bail!("the demo seed is for development mode only");
            }
            let (app, _) = build_application(&config, &BuildOptions::default()).await?;
            let seeded = seed::seed_demo(&app).await?;
            println!("Demo tenant `{}` created.\n", seeded.tenant_slug);
            println!("Log in:    email {}  password {}", seeded.email, seeded.password);
            println!(
                "Then run `cargo run` and open http://{}/graphiql",
                config.http.bind_addr
            );
            println!("Add this header in GraphiQL's Headers tab:\n");
            println!("  {{\"Authorization\": \"Bearer {}\"}}\n", seeded.access_token);
            println!("and paste this first query:\n");
            println!(
                "  query {{ me {{ email displayName }} currentTenant {{ name slug }} workspaces(first: 10) {{ totalCount nodes {{ id name slug }} }} }}"
            );
            Ok(())
        }
    }
}

async fn audit(database: &DatabaseSection, action: AuditAction) -> anyhow::Result<()> {
    match action {
        AuditAction::Archive { older_than_days, out } => {
            let days = older_than_days.unwrap_or(database.audit_retention_days);
            let report = tessera_server::archive_audit(database, days, &out).await?;
            println!(
                "{} events older than {days} days from {} chains appended to {} and deleted",
                report.archived,
                report.chains,
                out.display()
            );
            Ok(())
        }
        AuditAction::Verify { tenant } => {
            let reports = tessera_server::verify_audit(database, tenant.as_deref()).await?;
            let mut broken = 0;
            for report in &reports {
                let chain = report
                    .tenant_id
                    .map_or_else(|| "platform".to_owned(), |t| format!("tenant {t}"));
                if report.problems.is_empty() {
                    println!("{chain}: {} events, intact", report.events);
                } else {
                    broken += 1;
                    println!("{chain}: {} events, BROKEN", report.events);
                    for problem in &report.problems {
                        println!("  - {problem}");
                    }
                }
            }
            println!("{} chains checked, {broken} broken", reports.len());
            if broken > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn migrate(database: &DatabaseSection, action: MigrateAction) -> anyhow::Result<()> {
    let db = connect_for_migrations(database).await?;
    match action {
        MigrateAction::Up => {
            Migrator::up(&db, None).await?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(&db, Some(steps)).await?;
            println!("rolled back {steps} migration(s)");
        }
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<45} {}", migration.name(), migration.status());
            }
        }
    }
    Ok(())
}

/// Logs as `runtime` says; commands without one log in the development format.
/// Logs on standard error (`RUST_LOG`, `LOG_FORMAT`), and OpenTelemetry traces when the
/// `OTEL_*` variables ask for them (Tessera's own spans, DEBUG and up: the operation's,
/// the rate limits' and the Redis calls' spans are DEBUG, so INFO logs never pay for them).
fn init_tracing(runtime: Option<&RuntimeSection>) -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match runtime.map_or(LogFormat::Pretty, RuntimeSection::log_format) {
        LogFormat::Json => logs.json().boxed(),
        LogFormat::Pretty => logs.boxed(),
    };
    let (provider, failed) = match tessera_server::telemetry::tracer_provider() {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let traces = provider.as_ref().map(|provider| {
        tessera_server::telemetry::layer(provider)
            .with_filter(tracing_subscriber::filter::Targets::new().with_target("tessera", tracing::Level::DEBUG))
    });
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .init();
    if let Some(error) = failed {
        tracing::error!(error = %format!("{error:#}"), "traces are not exported");
    }
    provider
}

/// `tessera config check`: the settings as resolved (read again from the command line
/// and the environment, to say where each came from), then the checks.
async fn check_config(config: &Config) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use tessera_server::config_check;
    let command = Cli::command();
    let matches = command.clone().get_matches();
    let resolved = command
        .find_subcommand("config")
        .and_then(|config| config.find_subcommand("check"))
        .zip(
            matches
                .subcommand_matches("config")
                .and_then(|config| config.subcommand_matches("check")),
        );
    if let Some((check, matched)) = resolved {
        for setting in config_check::effective(check, matched) {
            println!("{}={}  ({})", setting.name, setting.value, setting.source);
        }
        println!();
    }
    let (lines, ok) = config_check::check(config).await;
    for line in lines {
        println!("{line}");
    }
    if !ok {
        anyhow::bail!("the configuration has problems (above)");
    }
    Ok(())
}
