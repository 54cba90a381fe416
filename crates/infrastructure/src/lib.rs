//! Adapters behind the application's ports: SeaORM repositories for PostgreSQL and
//! SQLite, argon2id password hashing, HS256 access tokens, system clock and ids.
//! Nothing outside this crate sees a SeaORM entity.

pub mod attempts;
pub mod auth;
pub mod cache;
pub mod db;
pub mod domains;
pub mod events;
pub mod mail;
pub mod offboarding;
pub mod oidc;
pub mod persisted;
pub mod plan_file;
pub mod rate_limits;
pub mod redis_pool;
pub mod system;
pub mod telemetry;
pub mod webhooks;

pub use attempts::{InProcessAttempts, RedisAttempts};
pub use auth::jwt::{JwtConfig, JwtTokenIssuer};
pub use auth::password::Argon2PasswordHasher;
pub use auth::secret_box::SealingBox;
pub use auth::secrets::RandomSecrets;
pub use auth::totp::TotpAuthenticators;
pub use cache::{InProcessAccessCache, RedisAccessCache};
pub use db::repositories::audit::{ArchiveReport, ArchiveSink, ChainReport, archive_audit_events, verify_audit_chains};
pub use db::{DatabaseSettings, Executor, SeaStore, SeaTransaction, as_background};
pub use domains::HttpDomainVerifier;
pub use events::{InProcessEventBus, RedisEventBus};
pub use mail::{LogMailer, MailRenderer, MemoryMailer, RenderedMail, SmtpMailer, SmtpSettings};
pub use oidc::HttpOidcClient;
pub use persisted::{InProcessPersistedQueries, RedisPersistedQueries};
pub use rate_limits::{InProcessRateLimiter, RedisRateLimiter};
pub use redis_pool::{Redis, RedisSetupError};
pub use system::{SystemClock, UuidV7Ids};
pub use webhooks::HttpWebhookSender;
