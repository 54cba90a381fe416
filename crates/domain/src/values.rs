//! Value objects: parse, don't validate. Once built, a value is known to be good.

use std::fmt;
use validator::ValidateEmail;

/// Why a raw value was refused; the message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// An email address, trimmed and lower-cased, so that comparisons are case-insensitive.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if normalised.len() > Self::MAX_LEN {
            return Err(InvalidValue::new(format!(
                "must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        let domain_has_dot = normalised
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if !normalised.validate_email() || !domain_has_dot {
            return Err(InvalidValue::new("must be a valid email address"));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, when it is a domain name a tenant could verify.
    pub fn domain(&self) -> Option<crate::DomainName> {
        self.0
            .rsplit_once('@')
            .and_then(|(_, domain)| crate::DomainName::parse(domain).ok())
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// A URL-safe identifier: 3–63 characters of `a-z`, `0-9` and single hyphens, starting
/// and ending with a letter or digit, so it can also serve as a DNS label (subdomains).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

/// Tenant slugs double as subdomains, so names the platform itself uses are kept back.
const RESERVED_TENANT_SLUGS: &[&str] = &[
    "admin", "api", "app", "assets", "auth", "billing", "cdn", "docs", "graphql", "graphiql", "health", "help",
    "login", "mail", "metrics", "root", "signup", "static", "status", "support", "system", "tessera", "www",
];

impl Slug {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 63;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let slug = raw.trim();
        let len = slug.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(InvalidValue::new(format!(
                "must be {} to {} characters long",
                Self::MIN_LEN,
                Self::MAX_LEN
            )));
        }
        if !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InvalidValue::new(
                "may only contain lowercase letters, digits and hyphens",
            ));
        }
        if slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(InvalidValue::new(
                "must start and end with a letter or digit and not contain consecutive hyphens",
            ));
        }
        Ok(Self(slug.to_owned()))
    }

    /// Like [`Slug::parse`], and also refuses names reserved by the platform.
    pub fn parse_tenant(raw: &str) -> Result<Self, InvalidValue> {
        let slug = Self::parse(raw)?;
        if RESERVED_TENANT_SLUGS.contains(&slug.as_str()) {
            return Err(InvalidValue::new("is reserved, please choose another"));
        }
        Ok(slug)
    }

    /// Derives a slug from a display name ("Acme Corp." → "acme-corp"); `None` when the
    /// name has too few usable characters.
    pub fn derive_from(name: &str) -> Option<Self> {
        let mut out = String::new();
        for ch in name.trim().chars().flat_map(char::to_lowercase) {
            if ch.is_ascii_alphanumeric() {
                out.push(ch);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            if out.len() >= Self::MAX_LEN - 5 {
                break;
            }
        }
        let trimmed = out.trim_end_matches('-');
        Self::parse_tenant(trimmed).ok()
    }

    /// Appends a suffix (used to de-duplicate a derived slug).
    pub fn with_suffix(&self, suffix: &str) -> Result<Self, InvalidValue> {
        Self::parse_tenant(&format!("{}-{}", self.0, suffix))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_text(raw: &str, max: usize) -> Result<String, InvalidValue> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if text.chars().count() > max {
        return Err(InvalidValue::new(format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// A person's display name: 1–100 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 100;
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        parse_text(raw, Self::MAX_LEN).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a tenant, workspace or role: 1–100 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_LEN: usize = 100;
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        parse_text(raw, Self::MAX_LEN).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to the hasher. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    /// Bounds the hashing cost an attacker can ask for.
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let len = raw.chars().count();
        if len < Self::MIN_LEN {
            return Err(InvalidValue::new(format!(
                "must be at least {} characters",
                Self::MIN_LEN
            )));
        }
        if len > Self::MAX_LEN {
            return Err(InvalidValue::new(format!(
                "must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        if raw.trim().is_empty() {
            return Err(InvalidValue::new("must not be only whitespace"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a password presented at log-in without the strength rules (those apply
    /// when it is chosen, not when it is checked), still bounded in length.
    pub fn presented(raw: &str) -> Result<Self, InvalidValue> {
        if raw.chars().count() > Self::MAX_LEN || raw.is_empty() {
            return Err(InvalidValue::new("is incorrect"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_to_lowercase_and_trimmed() {
        let email = Email::parse("  Alice@Example.COM ").expect("valid email");
        assert_eq!(email.as_str(), "alice@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "alice@localhost",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn slugs_follow_the_dns_label_rules() {
        for ok in ["acme", "acme-corp", "a1b", "x".repeat(63).as_str()] {
            assert!(Slug::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "ac--me",
            "ac_me",
            "ac me",
            "x".repeat(64).as_str(),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn reserved_tenant_slugs_are_refused_but_fine_for_workspaces() {
        assert!(Slug::parse_tenant("admin").is_err());
        assert!(Slug::parse("admin").is_ok());
    }

    #[test]
    fn slug_is_derived_from_a_name() {
        assert_eq!(
            Slug::derive_from("Acme Corp.").map(|s| s.to_string()),
            Some("acme-corp".into())
        );
        assert_eq!(
            Slug::derive_from("  Über   Tools! ").map(|s| s.to_string()),
            Some("ber-tools".into())
        );
        assert_eq!(Slug::derive_from("!!"), None);
        assert!(Slug::derive_from(&"long name ".repeat(20)).is_some_and(|s| s.as_str().len() <= Slug::MAX_LEN));
    }

    #[test]
    fn names_are_bounded_and_trimmed() {
        assert_eq!(
            Name::parse("  Design  ").map(|n| n.as_str().to_owned()),
            Ok("Design".into())
        );
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"n".repeat(101)).is_err());
        assert!(Name::parse("bad\u{0007}name").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn passwords_have_length_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"p".repeat(257)).is_err());
        assert!(Password::parse("          ").is_err());
        let password = Password::parse("correct horse battery").expect("long enough");
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
    }
}
