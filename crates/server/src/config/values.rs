//! Value types settings are read into: secrets that never print, connection URLs
//! that print without their password, and the range check every section uses.

use std::fmt;
use std::ops::RangeInclusive;

use super::ConfigError;

/// A secret setting (`JWT_SECRET`, `METRICS_TOKEN`, `SMTP_URL`, …). Its `Debug` and
/// `Display` say `[redacted]`, so logging a configuration cannot leak it; the value
/// is reached only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Empty or only spaces: as if unset.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database or Redis URL. It prints with its password replaced by `***`; the
/// whole URL is reached only through [`ConnectionUrl::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL without its password, for messages and logs.
    pub fn masked(&self) -> String {
        match url::Url::parse(&self.0) {
            // `user:pw@host` parses as a scheme and a path: not a URL to show.
            Ok(parsed) if parsed.cannot_be_a_base() => "[not a URL]".to_owned(),
            Ok(mut parsed) if parsed.password().is_some() => {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => self.0.clone(),
            // Not a URL the parser knows: anything in it could be a password.
            Err(_) => "[not a URL]".to_owned(),
        }
    }

    pub fn starts_with_any(&self, schemes: &[&str]) -> bool {
        schemes.iter().any(|scheme| self.0.starts_with(scheme))
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.masked())
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Both wrappers are read from the command line or the environment as they are.
macro_rules! from_text {
    ($($wrapper:ty),*) => {$(
        impl std::str::FromStr for $wrapper {
            type Err = std::convert::Infallible;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Ok(Self(raw.to_owned()))
            }
        }

        impl From<&str> for $wrapper {
            fn from(raw: &str) -> Self {
                Self(raw.to_owned())
            }
        }

        impl From<String> for $wrapper {
            fn from(raw: String) -> Self {
                Self(raw)
            }
        }
    )*};
}
from_text!(Secret, ConnectionUrl);

/// Refuses a value outside `allowed`, naming the variable that set it.
pub(super) fn within<T>(variable: &'static str, value: T, allowed: RangeInclusive<T>) -> Result<(), ConfigError>
where
    T: PartialOrd + fmt::Display,
{
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            variable,
            value: value.to_string(),
            min: allowed.start().to_string(),
            max: allowed.end().to_string(),
        })
    }
}

/// Splits `a,b , c` into its non-empty, trimmed entries.
pub(super) fn list(raw: Option<&str>) -> impl Iterator<Item = &str> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::from("hunter2-hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2-hunter2");
        assert!(Secret::from("  ").is_blank());
    }

    #[test]
    fn a_connection_url_prints_without_its_password() {
        let url = ConnectionUrl::from("postgres://tessera:s3cret@db.internal:5432/tessera");
        assert_eq!(url.to_string(), "postgres://tessera:***@db.internal:5432/tessera");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.expose(), "postgres://tessera:s3cret@db.internal:5432/tessera");
        let redis = ConnectionUrl::from("redis://:pw@127.0.0.1:6379/0");
        assert!(!redis.to_string().contains("pw@"));
        assert_eq!(
            ConnectionUrl::from("sqlite://tessera.db?mode=rwc").to_string(),
            "sqlite://tessera.db?mode=rwc"
        );
        assert_eq!(ConnectionUrl::from("user:pw@host").to_string(), "[not a URL]");
    }

    #[test]
    fn a_value_out_of_range_names_its_variable() {
        assert!(within("X", 5u32, 1..=10).is_ok());
        let refused = within("WEBHOOK_TIMEOUT_SECONDS", 0u64, 1..=300).expect_err("0 is out of range");
        assert_eq!(
            refused.to_string(),
            "WEBHOOK_TIMEOUT_SECONDS is 0; it must be between 1 and 300"
        );
    }
}
