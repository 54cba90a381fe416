//! Time zone and locale values, shared by user profiles and tenant settings.

use std::fmt;

use crate::InvalidValue;

/// The top-level areas of IANA time zone names.
const TIME_ZONE_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// An IANA time zone name: "UTC" or `Area/Location(/Sub)`, e.g. "Europe/Paris".
///
/// This is a shape check only: there is no tz database here, so a well-formed but
/// unknown name such as "Europe/Atlantis" is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeZone(String);

impl TimeZone {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(InvalidValue("must not be empty".into()));
        }
        if name.len() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        let segment_ok = |segment: &&str| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        };
        let parts: Vec<&str> = name.split('/').collect();
        let well_formed = match parts.as_slice() {
            ["UTC"] => true,
            [area, rest @ ..] => {
                TIME_ZONE_AREAS.contains(area) && (1..=2).contains(&rest.len()) && rest.iter().all(segment_ok)
            }
            [] => false,
        };
        if !well_formed {
            return Err(InvalidValue(
                "must be a time zone name like \"Europe/Paris\" or \"UTC\"".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A language tag: `ll`, `ll-CC` or `ll-Script-CC` ("en", "en-US", "es-419", "zh-Hant-TW").
/// Case is normalised (language lower, script title, region upper): "en-us" becomes "en-US".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let tag = raw.trim();
        if tag.is_empty() {
            return Err(InvalidValue("must not be empty".into()));
        }
        normalise_locale(tag)
            .map(Self)
            .ok_or_else(|| InvalidValue("must be a language tag like \"en\", \"en-US\" or \"zh-Hant-TW\"".into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn normalise_locale(tag: &str) -> Option<String> {
    let letters = |part: &str| part.bytes().all(|b| b.is_ascii_alphabetic());
    let language = |part: &str| ((2..=3).contains(&part.len()) && letters(part)).then(|| part.to_ascii_lowercase());
    let region = |part: &str| {
        let ok = (part.len() == 2 && letters(part)) || (part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit()));
        ok.then(|| part.to_ascii_uppercase())
    };
    let script = |part: &str| {
        (part.len() == 4 && letters(part)).then(|| {
            let mut script = part.to_ascii_lowercase();
            script[..1].make_ascii_uppercase();
            script
        })
    };
    let parts: Vec<&str> = tag.split('-').collect();
    match parts.as_slice() {
        [lang] => language(lang),
        [lang, reg] => Some(format!("{}-{}", language(lang)?, region(reg)?)),
        [lang, scr, reg] => Some(format!("{}-{}-{}", language(lang)?, script(scr)?, region(reg)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_checked_for_shape() {
        for ok in [
            "UTC",
            "Europe/Paris",
            " Asia/Tokyo ",
            "America/Argentina/Buenos_Aires",
            "America/Port-au-Prince",
            "Etc/GMT+5",
            "Etc/UTC",
        ] {
            assert_eq!(TimeZone::parse(ok).map(|tz| tz.to_string()), Ok(ok.trim().to_owned()));
        }
        let too_long = format!("Europe/{}", "x".repeat(58));
        for bad in [
            "",
            "utc",
            "Paris",
            "europe/paris",
            "Mars/Olympus",
            "Europe",
            "Europe/",
            "Europe//Paris",
            "Europe/Par is",
            "Europe/Paris.",
            "America/A/B/C",
            too_long.as_str(),
        ] {
            assert!(TimeZone::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(TimeZone::utc().as_str(), "UTC");
    }

    #[test]
    fn locales_are_checked_and_their_case_normalised() {
        for (raw, normalised) in [
            ("en", "en"),
            ("fil", "fil"),
            ("en-us", "en-US"),
            (" fr-CA ", "fr-CA"),
            ("es-419", "es-419"),
            ("ZH-hant-tw", "zh-Hant-TW"),
        ] {
            assert_eq!(
                Locale::parse(raw).map(|l| l.as_str().to_owned()),
                Ok(normalised.to_owned())
            );
        }
        for bad in [
            "", "e", "engl", "en_US", "en-USA", "en-1", "en-", "e1", "zh-Hant", "en-US-x", "zh-Ha-TW", "é",
        ] {
            assert!(Locale::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
