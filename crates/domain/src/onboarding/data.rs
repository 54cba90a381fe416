//! What each onboarding step collects: raw drafts as typed in, and the validated values.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{Locale, TimeZone};
use crate::{DisplayName, InvalidValue, Name, Slug};

/// Every field error of one step (not just the first), keyed by the field's camelCase wire name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageDataError {
    pub fields: Vec<(&'static str, String)>,
}

impl StageDataError {
    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            fields: vec![(field, message.into())],
        }
    }

    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.fields.push((field, message.into()));
    }

    /// The first message recorded for `field`, if any.
    pub fn message(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    /// Keeps a good value; records a bad one under `field` and yields `None`.
    fn check<T>(&mut self, field: &'static str, result: Result<T, InvalidValue>) -> Option<T> {
        result.map_err(|InvalidValue(message)| self.push(field, message)).ok()
    }
}

impl fmt::Display for StageDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, message)) in self.fields.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            write!(f, "{separator}{field} {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StageDataError {}

fn required(raw: Option<&str>) -> Result<&str, InvalidValue> {
    raw.ok_or_else(|| InvalidValue("is required".into()))
}

/// Trimmed free text of at most `max` characters; blank becomes `None`.
fn optional_text(raw: Option<&str>, max: usize) -> Result<Option<String>, InvalidValue> {
    let text = raw.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > max {
        return Err(InvalidValue(format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(InvalidValue("must not contain control characters".into()));
    }
    Ok(Some(text.to_owned()))
}

fn required_text(raw: Option<&str>, max: usize) -> Result<String, InvalidValue> {
    optional_text(Some(required(raw)?), max)?.ok_or_else(|| InvalidValue("must not be empty".into()))
}

/// Who the user is, collected on the `PersonalInfo` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalInfo {
    pub display_name: DisplayName,
    pub job_title: Option<String>,
    pub time_zone: TimeZone,
    pub locale: Locale,
}

impl PersonalInfo {
    pub const JOB_TITLE_MAX_LEN: usize = 100;
}

/// The `PersonalInfo` step as typed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalInfoInput {
    pub display_name: Option<String>,
    pub job_title: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

impl PersonalInfoInput {
    pub fn validate(&self) -> Result<PersonalInfo, StageDataError> {
        let mut errors = StageDataError::default();
        let display_name = errors.check(
            "displayName",
            required(self.display_name.as_deref()).and_then(DisplayName::parse),
        );
        let job_title = errors.check(
            "jobTitle",
            optional_text(self.job_title.as_deref(), PersonalInfo::JOB_TITLE_MAX_LEN),
        );
        let time_zone = errors.check(
            "timeZone",
            required(self.time_zone.as_deref()).and_then(TimeZone::parse),
        );
        let locale = errors.check("locale", required(self.locale.as_deref()).and_then(Locale::parse));
        match (display_name, job_title, time_zone, locale) {
            (Some(display_name), Some(job_title), Some(time_zone), Some(locale)) => Ok(PersonalInfo {
                display_name,
                job_title,
                time_zone,
                locale,
            }),
            _ => Err(errors),
        }
    }
}

/// Head count bands offered when creating an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompanySize {
    Solo,
    Small,
    Medium,
    Large,
    Enterprise,
}

impl CompanySize {
    pub const ALL: [Self; 5] = [Self::Solo, Self::Small, Self::Medium, Self::Large, Self::Enterprise];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Solo => "1",
            Self::Small => "2-10",
            Self::Medium => "11-50",
            Self::Large => "51-200",
            Self::Enterprise => "201+",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|size| size.as_str() == raw)
    }
}

/// The `Organization` step: create a new tenant, or join one through an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Organization {
    Create {
        name: Name,
        slug: Slug,
        size: CompanySize,
        industry: Option<String>,
    },
    JoinInvited {
        invitation_token: String,
    },
}

impl Organization {
    pub const INDUSTRY_MAX_LEN: usize = 80;
    pub const INVITATION_TOKEN_MAX_LEN: usize = 200;
}

/// The `Organization` step as typed in: either the creation fields or an invitation token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub size: Option<String>,
    pub industry: Option<String>,
    pub invitation_token: Option<String>,
}

impl OrganizationInput {
    pub fn validate(&self) -> Result<Organization, StageDataError> {
        let given = |raw: &Option<String>| raw.as_deref().is_some_and(|text| !text.trim().is_empty());
        let creating = [&self.name, &self.slug, &self.size, &self.industry]
            .into_iter()
            .any(given);
        match (creating, given(&self.invitation_token)) {
            (true, false) => self.validate_create(),
            (false, true) => {
                let token = required_text(self.invitation_token.as_deref(), Organization::INVITATION_TOKEN_MAX_LEN);
                let mut errors = StageDataError::default();
                let invitation_token = errors.check("invitationToken", token);
                invitation_token
                    .map(|invitation_token| Organization::JoinInvited { invitation_token })
                    .ok_or(errors)
            }
            (true, true) => Err(StageDataError::single(
                "choice",
                "give either a new organization's details or an invitation, not both",
            )),
            (false, false) => Err(StageDataError::single(
                "choice",
                "create an organization or join one with an invitation",
            )),
        }
    }

    fn validate_create(&self) -> Result<Organization, StageDataError> {
        let mut errors = StageDataError::default();
        let name = errors.check("name", required(self.name.as_deref()).and_then(Name::parse));
        let slug = errors.check("slug", required(self.slug.as_deref()).and_then(Slug::parse_tenant));
        let size = errors.check(
            "size",
            required(self.size.as_deref()).and_then(|raw| {
                CompanySize::parse(raw.trim()).ok_or_else(|| {
                    let sizes: Vec<&str> = CompanySize::ALL.iter().map(|size| size.as_str()).collect();
                    InvalidValue(format!("must be one of {}", sizes.join(", ")))
                })
            }),
        );
        let industry = errors.check(
            "industry",
            optional_text(self.industry.as_deref(), Organization::INDUSTRY_MAX_LEN),
        );
        match (name, slug, size, industry) {
            (Some(name), Some(slug), Some(size), Some(industry)) => Ok(Organization::Create {
                name,
                slug,
                size,
                industry,
            }),
            _ => Err(errors),
        }
    }
}

/// The user's answer on the `Terms` step; finishing needs `accepted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsAcceptance {
    /// Which terms were shown, e.g. "2026-01".
    pub version: String,
    pub accepted: bool,
    /// When the answer was recorded.
    pub accepted_at: DateTime<Utc>,
}

impl TermsAcceptance {
    pub const VERSION_MAX_LEN: usize = 32;
}

/// The `Terms` step as typed in; a missing `accepted` counts as not accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermsInput {
    pub version: Option<String>,
    pub accepted: Option<bool>,
}

impl TermsInput {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<TermsAcceptance, StageDataError> {
        let mut errors = StageDataError::default();
        let version = errors.check(
            "version",
            required_text(self.version.as_deref(), TermsAcceptance::VERSION_MAX_LEN),
        );
        version
            .map(|version| TermsAcceptance {
                version,
                accepted: self.accepted.unwrap_or(false),
                accepted_at: now,
            })
            .ok_or(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    fn fields(error: &StageDataError) -> Vec<&'static str> {
        error.fields.iter().map(|(field, _)| *field).collect()
    }

    #[test]
    fn personal_info_is_trimmed_and_normalised() {
        let input = PersonalInfoInput {
            display_name: some("  Ada Lovelace "),
            job_title: some("   "),
            time_zone: some("Europe/London"),
            locale: some("en-gb"),
        };
        let info = input.validate().expect("valid personal info");
        assert_eq!(info.display_name.as_str(), "Ada Lovelace");
        assert_eq!(info.job_title, None);
        assert_eq!(info.time_zone.as_str(), "Europe/London");
        assert_eq!(info.locale.as_str(), "en-GB");
    }

    #[test]
    fn personal_info_reports_every_bad_field_together() {
        let input = PersonalInfoInput {
            display_name: None,
            job_title: Some("t".repeat(101)),
            time_zone: some("Moon/Base"),
            locale: some("english"),
        };
        let error = input.validate().expect_err("all fields are bad");
        assert_eq!(fields(&error), ["displayName", "jobTitle", "timeZone", "locale"]);
        assert_eq!(error.message("displayName"), Some("is required"));
        assert_eq!(error.message("jobTitle"), Some("must be at most 100 characters"));
        assert!(
            error
                .to_string()
                .starts_with("displayName is required; jobTitle must be")
        );
    }

    #[test]
    fn company_sizes_round_trip() {
        for size in CompanySize::ALL {
            assert_eq!(CompanySize::parse(size.as_str()), Some(size));
        }
        assert_eq!(CompanySize::parse("2-10"), Some(CompanySize::Small));
        assert_eq!(CompanySize::parse("201+"), Some(CompanySize::Enterprise));
        for bad in ["", "0", "2–10", "small", "1000"] {
            assert_eq!(CompanySize::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_organization_is_created_or_joined_but_not_both() {
        let create = OrganizationInput {
            name: some(" Acme "),
            slug: some("acme"),
            size: some("11-50"),
            industry: some(""),
            invitation_token: None,
        };
        let Ok(Organization::Create {
            name,
            slug,
            size,
            industry,
        }) = create.validate()
        else {
            panic!("expected a valid creation");
        };
        assert_eq!(
            (name.as_str(), slug.as_str(), size, industry),
            ("Acme", "acme", CompanySize::Medium, None)
        );

        let join = OrganizationInput {
            invitation_token: some(" tok_123 "),
            ..OrganizationInput::default()
        };
        assert_eq!(
            join.validate(),
            Ok(Organization::JoinInvited {
                invitation_token: "tok_123".into()
            })
        );

        let both = OrganizationInput {
            invitation_token: some("tok_123"),
            ..create
        };
        assert_eq!(fields(&both.validate().expect_err("both")), ["choice"]);
        let neither = OrganizationInput {
            name: some("  "),
            ..OrganizationInput::default()
        };
        assert_eq!(fields(&neither.validate().expect_err("neither")), ["choice"]);
        let long_token = OrganizationInput {
            invitation_token: Some("t".repeat(201)),
            ..OrganizationInput::default()
        };
        assert_eq!(
            fields(&long_token.validate().expect_err("too long")),
            ["invitationToken"]
        );
    }

    #[test]
    fn organization_creation_reports_every_bad_field_together() {
        let input = OrganizationInput {
            name: None,
            slug: some("admin"),
            size: some("huge"),
            industry: Some("i".repeat(81)),
            invitation_token: None,
        };
        let error = input.validate().expect_err("all fields are bad");
        assert_eq!(fields(&error), ["name", "slug", "size", "industry"]);
        assert_eq!(error.message("slug"), Some("is reserved, please choose another"));
        assert_eq!(
            error.message("size"),
            Some("must be one of 1, 2-10, 11-50, 51-200, 201+")
        );
    }

    #[test]
    fn terms_need_a_version_and_default_to_not_accepted() {
        let now = Utc::now();
        let unanswered = TermsInput {
            version: some(" 2026-01 "),
            accepted: None,
        };
        let terms = unanswered.validate(now).expect("valid terms");
        assert_eq!(
            (terms.version.as_str(), terms.accepted, terms.accepted_at),
            ("2026-01", false, now)
        );
        for bad in [None, some(""), Some("v".repeat(33))] {
            let input = TermsInput {
                version: bad,
                accepted: Some(true),
            };
            assert_eq!(fields(&input.validate(now).expect_err("bad version")), ["version"]);
        }
    }
}
