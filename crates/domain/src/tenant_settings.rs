//! A tenant's settings: branding and regional defaults, plus what onboarding learned
//! about the organization. The tenant's name lives on the tenant itself.

use chrono::{DateTime, Utc};

use crate::{CompanySize, InvalidValue, Locale, TenantId, TimeZone};

/// An `https://` URL of an image, at most 2,048 characters, without spaces or quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoUrl(String);

impl LogoUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let url = raw.trim();
        if url.len() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(InvalidValue("must be an https:// URL".into()));
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(InvalidValue("must name a host (and no credentials)".into()));
        }
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
        {
            return Err(InvalidValue("must not contain spaces, quotes or angle brackets".into()));
        }
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A colour as `#rrggbb`, stored lower-case (`#abc` is widened to `#aabbcc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colour(String);

impl Colour {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let hex = raw
            .trim()
            .strip_prefix('#')
            .ok_or_else(|| InvalidValue("must look like #1a2b3c".into()))?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(InvalidValue("must look like #1a2b3c".into()));
        }
        let hex = hex.to_ascii_lowercase();
        match hex.len() {
            6 => Ok(Self(format!("#{hex}"))),
            3 => Ok(Self(format!(
                "#{}",
                hex.chars().flat_map(|c| [c, c]).collect::<String>()
            ))),
            _ => Err(InvalidValue("must look like #1a2b3c".into())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    pub tenant_id: TenantId,
    pub logo_url: Option<LogoUrl>,
    pub primary_colour: Option<Colour>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZone>,
    pub company_size: Option<CompanySize>,
    pub industry: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl TenantSettings {
    /// Nothing set yet.
    pub fn empty(tenant_id: TenantId, now: DateTime<Utc>) -> Self {
        Self {
            tenant_id,
            logo_url: None,
            primary_colour: None,
            locale: None,
            time_zone: None,
            company_size: None,
            industry: None,
            updated_at: now,
        }
    }

    pub fn has_branding(&self) -> bool {
        self.logo_url.is_some() || self.primary_colour.is_some()
    }

    /// Applies a change of branding and regional defaults: `None` keeps a field,
    /// `Some(None)` clears it, `Some(Some(v))` sets it.
    pub fn change(&mut self, change: SettingsChange, now: DateTime<Utc>) {
        if let Some(logo_url) = change.logo_url {
            self.logo_url = logo_url;
        }
        if let Some(primary_colour) = change.primary_colour {
            self.primary_colour = primary_colour;
        }
        if let Some(locale) = change.locale {
            self.locale = locale;
        }
        if let Some(time_zone) = change.time_zone {
            self.time_zone = time_zone;
        }
        self.updated_at = now;
    }

    /// What onboarding learned about the organization.
    pub fn describe_organization(&mut self, size: CompanySize, industry: Option<String>, now: DateTime<Utc>) {
        self.company_size = Some(size);
        self.industry = industry;
        self.updated_at = now;
    }
}

/// A change of settings, field by field: `None` keeps, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub logo_url: Option<Option<LogoUrl>>,
    pub primary_colour: Option<Option<Colour>>,
    pub locale: Option<Option<Locale>>,
    pub time_zone: Option<Option<TimeZone>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_keeps_what_it_leaves_out_and_clears_what_it_nulls() {
        let start = Utc::now();
        let mut settings = TenantSettings::empty(TenantId::from_uuid(uuid::Uuid::nil()), start);
        settings.change(
            SettingsChange {
                logo_url: Some(Some(LogoUrl::parse("https://cdn.acme.com/logo.png").expect("url"))),
                locale: Some(Some(Locale::parse("fr-FR").expect("locale"))),
                ..SettingsChange::default()
            },
            start,
        );
        let later = start + chrono::Duration::seconds(1);
        settings.change(
            SettingsChange {
                logo_url: Some(None),
                ..SettingsChange::default()
            },
            later,
        );
        assert_eq!(settings.logo_url, None, "cleared");
        assert!(settings.locale.is_some(), "kept");
        assert_eq!(settings.updated_at, later);
        settings.describe_organization(CompanySize::parse("1").expect("size"), Some("Retail".into()), later);
        assert_eq!(settings.industry.as_deref(), Some("Retail"));
    }

    #[test]
    fn logo_urls_must_be_plain_https() {
        assert_eq!(
            LogoUrl::parse(" https://cdn.acme.com/logo.png ")
                .expect("valid")
                .as_str(),
            "https://cdn.acme.com/logo.png"
        );
        for bad in [
            "http://cdn.acme.com/logo.png",
            "javascript:alert(1)",
            "https://",
            "https://user:pw@cdn.acme.com/x.png",
            "https://cdn.acme.com/a b.png",
            "https://cdn.acme.com/\"onload=x",
            &format!("https://cdn.acme.com/{}", "a".repeat(2048)),
        ] {
            assert!(LogoUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn colours_are_normalised_hex() {
        assert_eq!(Colour::parse("#1A2B3C").expect("valid").as_str(), "#1a2b3c");
        assert_eq!(Colour::parse("#fa0").expect("valid").as_str(), "#ffaa00");
        for bad in ["1a2b3c", "#1a2b3", "#ggg", "red", "#1a2b3c4d", ""] {
            assert!(Colour::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn branding_means_a_logo_or_a_colour() {
        let mut settings = TenantSettings::empty(TenantId::from_uuid(uuid::Uuid::nil()), Utc::now());
        assert!(!settings.has_branding());
        settings.primary_colour = Some(Colour::parse("#000000").expect("valid"));
        assert!(settings.has_branding());
    }
}
