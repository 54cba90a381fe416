//! Sign-in settings: the keys that sign and verify access tokens, their lifetime, the
//! onboarding gate and the browser's cookie mode.

use clap::{Args, ValueEnum};

use super::values::{Secret, list, within};
use super::{ConfigError, Environment};

/// The development-only signing key. Production refuses to start with it.
pub const DEV_JWT_SECRET: &str = "tessera-development-only-secret-do-not-use-in-production";

/// The development-only key that seals stored secrets. Production refuses to start
/// with it, or without a key of its own.
pub const DEV_SECRETS_KEY: &str = "7465737365726120646576656c6f706d656e74206f6e6c79206b657920212121";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    Eddsa,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sign-in")]
pub struct AuthSection {
    /// HS256 signing key for access tokens (at least 32 bytes in production).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// hs256 (JWT_SECRET), rs256 or eddsa (JWT_PRIVATE_KEY_FILE + JWT_PUBLIC_KEY_FILES).
    #[arg(long, env = "JWT_ALGORITHM", value_enum, default_value = "hs256")]
    pub jwt_algorithm: JwtAlgorithm,

    /// The `kid` of the signing key.
    #[arg(long, env = "JWT_KEY_ID", default_value = "default")]
    pub jwt_key_id: String,

    /// PEM private key that signs (rs256/eddsa).
    #[arg(long, env = "JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<std::path::PathBuf>,

    /// Public keys that verify, as `kid=path,kid=path` (rs256/eddsa); must include the
    /// signing key's. Keep an old key listed while its tokens may still be alive.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILES")]
    pub jwt_public_key_files: Option<String>,

    /// Earlier HS256 secrets that still verify, as `kid=secret,kid=secret` (rotation).
    #[arg(long, env = "JWT_PREVIOUS_SECRETS", hide_env_values = true)]
    pub jwt_previous_secrets: Option<Secret>,

    #[arg(long, env = "JWT_ISSUER", default_value = "tessera")]
    pub jwt_issuer: String,

    #[arg(long, env = "JWT_AUDIENCE", default_value = "tessera-api")]
    pub jwt_audience: String,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900)]
    pub access_token_ttl_seconds: u32,

    /// Until a person finishes onboarding, tenant work answers FORBIDDEN
    /// (`ONBOARDING_INCOMPLETE`); onboarding itself and reading oneself stay open.
    #[arg(long, env = "ONBOARDING_GATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub onboarding_gate: bool,

    /// 32 random bytes as 64 hex digits (`openssl rand -hex 32`) that seal secrets the
    /// server reads back (authenticator secrets); required in production.
    #[arg(long, env = "SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<Secret>,

    /// Earlier SECRETS_KEY values, comma-separated: they still open what they sealed
    /// (rotation), while the current key seals everything new.
    #[arg(long, env = "SECRETS_PREVIOUS_KEYS", hide_env_values = true)]
    pub secrets_previous_keys: Option<Secret>,

    /// The name authenticator apps show above a person's codes (no `:`).
    #[arg(long, env = "TOTP_ISSUER", default_value = "Tessera")]
    pub totp_issuer: String,

    /// Where single sign-on's callback sends the browser, with `#sso_code=<code>&state=<the
    /// app's state>` for the app to check and exchange (`completeSsoSignIn`). Unset: the
    /// callback answers them as JSON.
    #[arg(long, env = "SSO_RETURN_URL")]
    pub sso_return_url: Option<String>,

    /// Cookie mode for a browser app: refresh tokens in an HttpOnly, Secure, SameSite=Lax
    /// cookie, with a double-submit CSRF token (`X-CSRF-Token`) to use it.
    #[arg(long, env = "SESSION_COOKIES", default_value_t = false, action = clap::ArgAction::Set)]
    pub session_cookies: bool,
}

impl AuthSection {
    pub fn validate(&self, environment: Environment) -> Result<(), ConfigError> {
        self.jwt_secret(environment)?;
        self.secrets_keys(environment)?;
        if let Some(url) = &self.sso_return_url {
            let url = url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(['#', ' ']) {
                return Err(ConfigError::SsoReturnUrl);
            }
        }
        if self.totp_issuer.trim().is_empty() || self.totp_issuer.contains(':') || self.totp_issuer.len() > 64 {
            return Err(ConfigError::TotpIssuer);
        }
        within("ACCESS_TOKEN_TTL_SECONDS", self.access_token_ttl_seconds, 60..=86_400)
    }

    pub fn access_token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.access_token_ttl_seconds))
    }

    /// The key that signs tokens: the configured one, or in development the fixed default.
    pub fn jwt_secret(&self, environment: Environment) -> Result<String, ConfigError> {
        let production = environment == Environment::Production;
        let configured = self.jwt_secret.as_ref().filter(|secret| !secret.is_blank());
        if self.jwt_algorithm != JwtAlgorithm::Hs256 {
            // Asymmetric keys sign; the HMAC secret is not used.
            return Ok(configured.map(|s| s.expose().to_owned()).unwrap_or_default());
        }
        match configured.map(Secret::expose) {
            Some(secret) if production && secret == DEV_JWT_SECRET => Err(ConfigError::DevelopmentJwtSecret),
            Some(secret) if secret.len() < 32 => Err(ConfigError::WeakJwtSecret),
            Some(secret) => Ok(secret.to_owned()),
            None if production => Err(ConfigError::MissingJwtSecret),
            None => Ok(DEV_JWT_SECRET.to_owned()),
        }
    }

    /// The key that seals stored secrets and the earlier ones that still open them: the
    /// configured ones, or in development the fixed default.
    pub fn secrets_keys(&self, environment: Environment) -> Result<([u8; 32], Vec<[u8; 32]>), ConfigError> {
        let parse = |raw: &str| -> Result<[u8; 32], ConfigError> {
            let raw = raw.trim();
            if raw.len() != 64 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::SecretsKey);
            }
            let mut key = [0u8; 32];
            for (i, byte) in key.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).map_err(|_| ConfigError::SecretsKey)?;
            }
            Ok(key)
        };
        let production = environment == Environment::Production;
        let current = match self
            .secrets_key
            .as_ref()
            .filter(|key| !key.is_blank())
            .map(Secret::expose)
        {
            Some(key) if production && key.trim() == DEV_SECRETS_KEY => return Err(ConfigError::DevelopmentSecretsKey),
            Some(key) => parse(key)?,
            None if production => return Err(ConfigError::MissingSecretsKey),
            None => parse(DEV_SECRETS_KEY)?,
        };
        let earlier = list(self.secrets_previous_keys.as_ref().map(Secret::expose))
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((current, earlier))
    }

    /// The token keys this configuration describes (files are read here).
    pub fn jwt_keys(&self, environment: Environment) -> Result<tessera_infrastructure::JwtConfig, ConfigError> {
        use tessera_infrastructure::auth::jwt::{SigningKey, VerifyingKey};
        let pairs = |raw: Option<&str>| -> Vec<(String, String)> {
            list(raw)
                .filter_map(|pair| pair.split_once('='))
                .map(|(kid, value)| (kid.trim().to_owned(), value.trim().to_owned()))
                .filter(|(kid, value)| !kid.is_empty() && !value.is_empty())
                .collect()
        };
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| ConfigError::JwtKeyFile(path.display().to_string(), e.to_string()))
        };
        let (signing, verifying) = match self.jwt_algorithm {
            JwtAlgorithm::Hs256 => {
                let secret = self.jwt_secret(environment)?.into_bytes();
                let mut verifying = vec![(self.jwt_key_id.clone(), VerifyingKey::Hs256 { secret: secret.clone() })];
                for (kid, old) in pairs(self.jwt_previous_secrets.as_ref().map(Secret::expose)) {
                    verifying.push((
                        kid,
                        VerifyingKey::Hs256 {
                            secret: old.into_bytes(),
                        },
                    ));
                }
                (SigningKey::Hs256 { secret }, verifying)
            }
            algorithm => {
                let path = self
                    .jwt_private_key_file
                    .as_ref()
                    .ok_or(ConfigError::JwtPrivateKeyMissing)?;
                let private_pem = read(path)?;
                let rs256 = algorithm == JwtAlgorithm::Rs256;
                let mut verifying = Vec::new();
                for (kid, file) in pairs(self.jwt_public_key_files.as_deref()) {
                    let public_pem = read(std::path::Path::new(&file))?;
                    let key = if rs256 {
                        VerifyingKey::Rs256 { public_pem }
                    } else {
                        VerifyingKey::EdDsa { public_pem }
                    };
                    verifying.push((kid, key));
                }
                let signing = if rs256 {
                    SigningKey::Rs256 { private_pem }
                } else {
                    SigningKey::EdDsa { private_pem }
                };
                (signing, verifying)
            }
        };
        Ok(tessera_infrastructure::JwtConfig {
            signing_kid: self.jwt_key_id.clone(),
            signing,
            verifying,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        })
    }
}
