use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Colour, CompanySize, Locale, LogoUrl, TenantId, TenantSettings, TimeZone};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub logo_url: Option<String>,
    pub primary_colour: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub company_size: Option<String>,
    pub industry: Option<String>,
    pub updated_at: DateTimeUtc,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<TenantSettings, StoreError> {
        let bad = |column: &str, e: tessera_domain::InvalidValue| corrupt("tenant_settings", column, e.0);
        Ok(TenantSettings {
            tenant_id: TenantId::from_uuid(self.tenant_id),
            logo_url: self
                .logo_url
                .as_deref()
                .map(LogoUrl::parse)
                .transpose()
                .map_err(|e| bad("logo_url", e))?,
            primary_colour: self
                .primary_colour
                .as_deref()
                .map(Colour::parse)
                .transpose()
                .map_err(|e| bad("primary_colour", e))?,
            locale: self
                .locale
                .as_deref()
                .map(Locale::parse)
                .transpose()
                .map_err(|e| bad("locale", e))?,
            time_zone: self
                .time_zone
                .as_deref()
                .map(TimeZone::parse)
                .transpose()
                .map_err(|e| bad("time_zone", e))?,
            company_size: self
                .company_size
                .as_deref()
                .map(|raw| CompanySize::parse(raw).ok_or_else(|| corrupt("tenant_settings", "company_size", raw)))
                .transpose()?,
            industry: self.industry,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(settings: &TenantSettings) -> Self {
        Self {
            tenant_id: settings.tenant_id.as_uuid(),
            logo_url: settings.logo_url.as_ref().map(|v| v.as_str().to_owned()),
            primary_colour: settings.primary_colour.as_ref().map(|v| v.as_str().to_owned()),
            locale: settings.locale.as_ref().map(|v| v.as_str().to_owned()),
            time_zone: settings.time_zone.as_ref().map(|v| v.as_str().to_owned()),
            company_size: settings.company_size.map(|v| v.as_str().to_owned()),
            industry: settings.industry.clone(),
            updated_at: settings.updated_at,
        }
    }
}
