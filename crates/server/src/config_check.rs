//! `tessera config check`: every setting as the server would take it, where each came
//! from, with secrets (and the passwords inside connection URLs) hidden; then the
//! configuration's own checks and the connections it needs: the database (and how many
//! migrations are pending) and Redis when one is configured. Problems are listed and
//! make the command fail; nothing is changed anywhere.

use clap::ArgMatches;
use clap::parser::ValueSource;
use tessera_migration::{Migrator, MigratorTrait};

use crate::Config;

/// What a setting came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
    pub source: &'static str,
}

/// The settings (by their variable) of `command`, as `matches` resolved them.
pub fn effective(command: &clap::Command, matches: &ArgMatches) -> Vec<Setting> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_string_lossy().into_owned();
            let id = arg.get_id().as_str();
            let values: Vec<String> = matches
                .get_raw(id)
                .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let source = match matches.value_source(id) {
                Some(ValueSource::EnvVariable) => "environment",
                Some(ValueSource::CommandLine) => "command line",
                Some(ValueSource::DefaultValue) => "default",
                _ => "unset",
            };
            let value = if values.is_empty() {
                "(unset)".to_owned()
            } else if arg.is_hide_env_values_set() {
                "(hidden)".to_owned()
            } else {
                values.iter().map(|v| without_password(v)).collect::<Vec<_>>().join(",")
            };
            Some(Setting { name, value, source })
        })
        .collect()
}

/// A URL with its password replaced; anything else as it is.
fn without_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("********"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

/// The configuration's checks, then its connections: one line per check, and whether
/// all of them passed.
pub async fn check(config: &Config) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut ok = true;
    match config.validate() {
        Ok(()) => lines.push("settings: valid".to_owned()),
        Err(error) => {
            ok = false;
            lines.push(format!("settings: {error}"));
        }
    }
    match crate::connect_for_migrations(&config.database).await {
        Ok(db) => {
            match Migrator::get_pending_migrations(&db).await {
                Ok(pending) if pending.is_empty() => lines.push("database: reachable, migrations up to date".into()),
                Ok(pending) => lines.push(format!(
                    "database: reachable, {} migrations pending (`tessera migrate up`, or MIGRATE_ON_START)",
                    pending.len()
                )),
                Err(error) => {
                    ok = false;
                    lines.push(format!(
                        "database: reachable, but its migrations cannot be read: {error}"
                    ));
                }
            }
            db.close().await.ok();
        }
        Err(error) => {
            ok = false;
            lines.push(format!(
                "database (DATABASE_URL): {}",
                without_password(&format!("{error:#}"))
            ));
        }
    }
    match &config.redis.url {
        None => lines.push("redis: not configured (caches, rate limits and events stay in this process)".into()),
        Some(url) => {
            let answered = match tessera_infrastructure::redis_pool::Redis::connect(url.expose()) {
                Ok(redis) => redis.ping().await,
                Err(error) => Err(error.to_string()),
            };
            match answered {
                Ok(()) => lines.push("redis: answers".into()),
                Err(error) => {
                    ok = false;
                    lines.push(format!("redis (REDIS_URL): {}", without_password(&error)));
                }
            }
        }
    }
    (lines, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_and_other_values_kept() {
        assert_eq!(
            without_password("postgres://app:s3cret@db:5432/tessera"),
            "postgres://app:********@db:5432/tessera"
        );
        assert_eq!(without_password("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(without_password("600"), "600");
    }
}
