//! Redis settings: the one Redis every replica shares, and how long cached access may
//! live there.

use clap::Args;

use super::ConfigError;
use super::values::{ConnectionUrl, within};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Redis")]
pub struct RedisSection {
    /// Redis, shared by every replica (access cache, rate limits, persisted queries,
    /// live events); in-process instead without it.
    #[arg(
        id = "redis_url",
        value_name = "REDIS_URL",
        long = "redis-url",
        env = "REDIS_URL",
        hide_env_values = true
    )]
    pub url: Option<ConnectionUrl>,

    /// How long a member's cached permissions may live without an invalidation.
    #[arg(long, env = "ACCESS_CACHE_TTL_SECONDS", default_value_t = 30)]
    pub access_cache_ttl_seconds: u64,
}

impl RedisSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .url
            .as_ref()
            .is_some_and(|url| !url.starts_with_any(&["redis://", "rediss://"]))
        {
            return Err(ConfigError::RedisUrl);
        }
        within("ACCESS_CACHE_TTL_SECONDS", self.access_cache_ttl_seconds, 1..=3_600)
    }

    pub fn access_cache_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.access_cache_ttl_seconds)
    }
}
