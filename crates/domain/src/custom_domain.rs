//! A tenant's own host name (`app.acme.com`): once its owner proves control of it, a
//! request to that host names the tenant, like a subdomain of the base domain does.

use chrono::{DateTime, Utc};

use crate::{InvalidValue, TenantId};

/// A fully qualified host name: lower-case, at least two labels, each 1–63 letters,
/// digits or inner hyphens, 253 characters at most; never an IP address or `localhost`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl DomainName {
    pub const MAX_LEN: usize = 253;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(InvalidValue("must not be empty".into()));
        }
        if name.len() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(InvalidValue("must be a full host name such as app.example.com".into()));
        }
        for label in &labels {
            let well_formed = !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !well_formed {
                return Err(InvalidValue(
                    "each part must be 1-63 letters, digits or inner hyphens (use the punycode form of international names)"
                        .into(),
                ));
            }
        }
        let top = labels[labels.len() - 1];
        if top.chars().all(|c| c.is_ascii_digit()) {
            return Err(InvalidValue("must be a host name, not an IP address".into()));
        }
        if matches!(top, "localhost" | "local" | "internal" | "invalid" | "test" | "example") {
            return Err(InvalidValue(format!("must be a public name (.{top} is reserved)")));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this name is `base` itself or lies under it (`acme.example.com` under `example.com`).
    pub fn is_within(&self, base: &str) -> bool {
        let base = base.trim_matches('.').to_ascii_lowercase();
        !base.is_empty() && (self.0 == base || self.0.ends_with(&format!(".{base}")))
    }
}

impl std::fmt::Display for DomainName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's custom domain and the proof of control it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub tenant_id: TenantId,
    pub domain: DomainName,
    /// Served by the domain at [`CustomDomain::VERIFICATION_PATH`] to prove control.
    pub verification_token: String,
    pub created_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

impl CustomDomain {
    pub const VERIFICATION_PATH: &'static str = "/.well-known/tessera-domain-verification";

    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_normalised() {
        let name = DomainName::parse(" App.Acme.COM. ").expect("valid");
        assert_eq!(name.as_str(), "app.acme.com");
        assert_eq!(
            DomainName::parse("xn--bcher-kva.example.org").expect("valid").as_str(),
            "xn--bcher-kva.example.org"
        );
    }

    #[test]
    fn malformed_or_private_names_are_refused() {
        for bad in [
            "",
            "acme",
            "acme..com",
            "-acme.com",
            "acme-.com",
            "acme_corp.com",
            "acme.com/path",
            "acme.com:8080",
            "10.0.0.1",
            "127.0.0.1",
            "app.localhost",
            "printer.local",
            "bücher.de",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}.com", ["abcdefghij"; 25].join(".")),
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn within_the_base_domain() {
        let name = DomainName::parse("acme.tessera.app").expect("valid");
        assert!(name.is_within("tessera.app"));
        assert!(name.is_within(".Tessera.App."));
        assert!(!name.is_within("sera.app"));
        assert!(!name.is_within(""));
        assert!(
            DomainName::parse("tessera.app")
                .expect("valid")
                .is_within("tessera.app")
        );
    }
}
