//! One person's onboarding. Stage data is kept as JSON of what was typed, and checked
//! again by the domain's rules when read.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_application::ports::StoreError;
use tessera_domain::{
    Onboarding, OnboardingStage, Organization, OrganizationInput, PersonalInfo, PersonalInfoInput, TermsAcceptance,
    UserId,
};
use tessera_domain::{OnboardingRecord, StageDraft};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "onboarding_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub stage: String,
    pub version: i64,
    pub personal_info: Option<String>,
    pub organization: Option<String>,
    pub terms: Option<String>,
    pub draft: Option<String>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

super::table!();

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PersonalJson {
    display_name: Option<String>,
    job_title: Option<String>,
    time_zone: Option<String>,
    locale: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OrganizationJson {
    name: Option<String>,
    slug: Option<String>,
    size: Option<String>,
    industry: Option<String>,
    invitation_token: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TermsJson {
    version: Option<String>,
    accepted: Option<bool>,
    accepted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
enum DraftJson {
    PersonalInfo(PersonalJson),
    Organization(OrganizationJson),
    Terms(TermsJson),
}

impl From<&PersonalInfoInput> for PersonalJson {
    fn from(i: &PersonalInfoInput) -> Self {
        Self {
            display_name: i.display_name.clone(),
            job_title: i.job_title.clone(),
            time_zone: i.time_zone.clone(),
            locale: i.locale.clone(),
        }
    }
}

impl From<PersonalJson> for PersonalInfoInput {
    fn from(j: PersonalJson) -> Self {
        Self {
            display_name: j.display_name,
            job_title: j.job_title,
            time_zone: j.time_zone,
            locale: j.locale,
        }
    }
}

impl From<&OrganizationInput> for OrganizationJson {
    fn from(i: &OrganizationInput) -> Self {
        Self {
            name: i.name.clone(),
            slug: i.slug.clone(),
            size: i.size.clone(),
            industry: i.industry.clone(),
            invitation_token: i.invitation_token.clone(),
        }
    }
}

impl From<OrganizationJson> for OrganizationInput {
    fn from(j: OrganizationJson) -> Self {
        Self {
            name: j.name,
            slug: j.slug,
            size: j.size,
            industry: j.industry,
            invitation_token: j.invitation_token,
        }
    }
}

fn personal_json(p: &PersonalInfo) -> PersonalJson {
    PersonalJson {
        display_name: Some(p.display_name.as_str().to_owned()),
        job_title: p.job_title.clone(),
        time_zone: Some(p.time_zone.as_str().to_owned()),
        locale: Some(p.locale.as_str().to_owned()),
    }
}

fn organization_json(o: &Organization) -> OrganizationJson {
    match o {
        Organization::Create {
            name,
            slug,
            size,
            industry,
        } => OrganizationJson {
            name: Some(name.as_str().to_owned()),
            slug: Some(slug.as_str().to_owned()),
            size: Some(size.as_str().to_owned()),
            industry: industry.clone(),
            invitation_token: None,
        },
        Organization::JoinInvited { invitation_token } => OrganizationJson {
            invitation_token: Some(invitation_token.clone()),
            ..OrganizationJson::default()
        },
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn from_json<T: for<'de> Deserialize<'de>>(column: &str, raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| corrupt("onboarding_progress", column, e))
}

impl Model {
    pub fn into_record(self) -> Result<OnboardingRecord, StoreError> {
        let stage =
            OnboardingStage::parse(&self.stage).ok_or_else(|| corrupt("onboarding_progress", "stage", &self.stage))?;
        let personal = self
            .personal_info
            .as_deref()
            .map(|raw| {
                PersonalInfoInput::from(from_json::<PersonalJson>("personal_info", raw)?)
                    .validate()
                    .map_err(|e| corrupt("onboarding_progress", "personal_info", e))
            })
            .transpose()?;
        let organization = self
            .organization
            .as_deref()
            .map(|raw| {
                OrganizationInput::from(from_json::<OrganizationJson>("organization", raw)?)
                    .validate()
                    .map_err(|e| corrupt("onboarding_progress", "organization", e))
            })
            .transpose()?;
        let terms = self
            .terms
            .as_deref()
            .map(|raw| {
                let json: TermsJson = from_json("terms", raw)?;
                Ok::<_, StoreError>(TermsAcceptance {
                    version: json.version.unwrap_or_default(),
                    accepted: json.accepted.unwrap_or(false),
                    accepted_at: json.accepted_at.unwrap_or(self.updated_at),
                })
            })
            .transpose()?;
        let draft = self
            .draft
            .as_deref()
            .map(|raw| {
                Ok::<_, StoreError>(match from_json::<DraftJson>("draft", raw)? {
                    DraftJson::PersonalInfo(j) => StageDraft::PersonalInfo(j.into()),
                    DraftJson::Organization(j) => StageDraft::Organization(j.into()),
                    DraftJson::Terms(j) => StageDraft::Terms(tessera_domain::TermsInput {
                        version: j.version,
                        accepted: j.accepted,
                    }),
                })
            })
            .transpose()?;
        Ok(OnboardingRecord {
            progress: Onboarding {
                user_id: UserId::from_uuid(self.user_id),
                stage,
                version: self.version,
                personal,
                organization,
                terms,
                started_at: self.started_at,
                updated_at: self.updated_at,
                completed_at: self.completed_at,
            },
            draft,
        })
    }

    pub fn from_record(record: &OnboardingRecord) -> Self {
        let progress = &record.progress;
        Self {
            user_id: progress.user_id.as_uuid(),
            stage: progress.stage.as_str().to_owned(),
            version: progress.version,
            personal_info: progress.personal.as_ref().map(|p| to_json(&personal_json(p))),
            organization: progress.organization.as_ref().map(|o| to_json(&organization_json(o))),
            terms: progress.terms.as_ref().map(|t| {
                to_json(&TermsJson {
                    version: Some(t.version.clone()),
                    accepted: Some(t.accepted),
                    accepted_at: Some(t.accepted_at),
                })
            }),
            draft: record.draft.as_ref().map(|draft| {
                to_json(&match draft {
                    StageDraft::PersonalInfo(i) => DraftJson::PersonalInfo(i.into()),
                    StageDraft::Organization(i) => DraftJson::Organization(i.into()),
                    StageDraft::Terms(i) => DraftJson::Terms(TermsJson {
                        version: i.version.clone(),
                        accepted: i.accepted,
                        accepted_at: None,
                    }),
                })
            }),
            started_at: progress.started_at,
            updated_at: progress.updated_at,
            completed_at: progress.completed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tessera_domain::{StageData, TermsInput};

    use super::*;

    #[test]
    fn a_record_round_trips_through_its_row() {
        let now = Utc::now();
        let mut progress = Onboarding::start(UserId::from_uuid(Uuid::now_v7()), now);
        progress.advance(StageData::Started, now).expect("advances");
        let personal = PersonalInfoInput {
            display_name: Some("Ada".into()),
            job_title: Some("Engineer".into()),
            time_zone: Some("Europe/Paris".into()),
            locale: Some("fr-FR".into()),
        };
        progress
            .advance(StageData::PersonalInfo(personal.validate().expect("valid")), now)
            .expect("advances");
        let organization = OrganizationInput {
            name: Some("Acme".into()),
            slug: Some("acme".into()),
            size: Some("11-50".into()),
            ..OrganizationInput::default()
        };
        progress
            .advance(StageData::Organization(organization.validate().expect("valid")), now)
            .expect("advances");
        let record = OnboardingRecord {
            progress,
            draft: Some(StageDraft::Terms(TermsInput {
                version: Some("2026-01".into()),
                accepted: None,
            })),
        };
        let back = Model::from_record(&record).into_record().expect("reads back");
        assert_eq!(back.progress, record.progress);
        assert_eq!(back.draft, record.draft);
    }
}
