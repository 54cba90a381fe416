//! Tenant setup: settings (name, branding, regional defaults) and a checklist derived
//! from what the tenant really has, never from stored flags.

use tessera_domain::{Colour, Locale, LogoUrl, Name, Permission, SettingsChange, Tenant, TenantSettings, TimeZone};

use crate::{AppError, Application, FieldErrors, RequestContext};

/// A change to settings: `None` leaves a value alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TenantSettingsChange {
    pub name: Option<String>,
    pub logo_url: Option<Option<String>>,
    pub primary_colour: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub time_zone: Option<Option<String>>,
}

/// One step of setting a tenant up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupItem {
    BrandingSet,
    RegionalDefaultsSet,
    WorkspaceCreated,
    MemberInvited,
    ApiKeyCreated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupChecklist {
    pub items: Vec<(SetupItem, bool)>,
}

impl SetupChecklist {
    pub fn done(&self) -> usize {
        self.items.iter().filter(|(_, done)| *done).count()
    }
}

impl Application {
    /// The tenant and its settings (empty settings when none were ever saved).
    #[tracing::instrument(level = "debug", name = "tenant_settings", skip_all)]
    pub async fn tenant_settings(&self, ctx: &RequestContext) -> Result<(Tenant, TenantSettings), AppError> {
        let scope = ctx.member_scope()?.clone();
        let tx = self.tenant_tx(&scope).await?;
        let tenant = tx
            .tenants()
            .find_by_id(scope.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let settings = tx
            .tenant_settings()
            .find(&scope)
            .await?
            .unwrap_or_else(|| TenantSettings::empty(scope.tenant_id(), tenant.updated_at));
        Ok((tenant, settings))
    }

    #[tracing::instrument(level = "debug", name = "update_tenant_settings", skip_all)]
    pub async fn update_tenant_settings(
        &self,
        ctx: &RequestContext,
        change: TenantSettingsChange,
    ) -> Result<(Tenant, TenantSettings), AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let mut errors = FieldErrors::new();
        let name = change
            .name
            .as_deref()
            .and_then(|raw| errors.check("name", Name::parse(raw)));
        let logo_url = parse_optional(&mut errors, "logoUrl", &change.logo_url, LogoUrl::parse);
        let primary_colour = parse_optional(&mut errors, "primaryColor", &change.primary_colour, Colour::parse);
        let locale = parse_optional(&mut errors, "locale", &change.locale, Locale::parse);
        let time_zone = parse_optional(&mut errors, "timeZone", &change.time_zone, TimeZone::parse);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let now = self.ports.clock.now();
        let tx = self.tenant_tx(&scope).await?;
        let mut tenant = tx
            .tenants()
            .find_by_id(scope.tenant_id())
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let previous_name = tenant.name.clone();
        if let Some(name) = name {
            tenant.rename(name, now);
            tx.tenants().update_profile(&tenant).await?;
        }
        let mut settings = tx
            .tenant_settings()
            .find(&scope)
            .await?
            .unwrap_or_else(|| TenantSettings::empty(scope.tenant_id(), now));
        let previous = settings.clone();
        settings.change(
            SettingsChange {
                logo_url,
                primary_colour,
                locale,
                time_zone,
            },
            now,
        );
        tx.tenant_settings().upsert(&scope, &previous, &settings).await?;
        let event = ctx
            .audit("tenant.settings_updated", "tenant", scope.tenant_id(), now)
            .change("name", Some(previous_name.as_str()), Some(tenant.name.as_str()))
            .change(
                "logo_url",
                previous.logo_url.as_ref().map(LogoUrl::as_str),
                settings.logo_url.as_ref().map(LogoUrl::as_str),
            )
            .change(
                "primary_colour",
                previous.primary_colour.as_ref().map(Colour::as_str),
                settings.primary_colour.as_ref().map(Colour::as_str),
            )
            .change(
                "locale",
                previous.locale.as_ref().map(Locale::as_str),
                settings.locale.as_ref().map(Locale::as_str),
            )
            .change(
                "time_zone",
                previous.time_zone.as_ref().map(TimeZone::as_str),
                settings.time_zone.as_ref().map(TimeZone::as_str),
            );
        self.commit_with(tx, &event).await?;
        Ok((tenant, settings))
    }

    /// What is left to set the tenant up, from its real state.
    #[tracing::instrument(level = "debug", name = "setup_checklist", skip_all)]
    pub async fn setup_checklist(&self, ctx: &RequestContext) -> Result<SetupChecklist, AppError> {
        let scope = ctx.authorize(Permission::TenantUpdate)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        let settings = tx.tenant_settings().find(&scope).await?;
        let branded = settings.as_ref().is_some_and(TenantSettings::has_branding);
        let regional = settings
            .as_ref()
            .is_some_and(|s| s.locale.is_some() && s.time_zone.is_some());
        let workspaces = tx.workspaces().count(&scope, None).await?;
        // Someone was invited, or someone besides the owner already belongs.
        let invited = tx.invitations().count(&scope).await?
            + tx.memberships()
                .count(&scope, &crate::ports::MemberFilter::default())
                .await?
                .saturating_sub(1);
        let keys = tx.api_keys().count(&scope).await?;
        Ok(SetupChecklist {
            items: vec![
                (SetupItem::BrandingSet, branded),
                (SetupItem::RegionalDefaultsSet, regional),
                (SetupItem::WorkspaceCreated, workspaces > 0),
                (SetupItem::MemberInvited, invited > 0),
                (SetupItem::ApiKeyCreated, keys > 0),
            ],
        })
    }
}

/// `None`: unchanged; `Some(None)`: cleared (an empty text clears too); `Some(Some(v))`: set.
fn parse_optional<T, E: std::fmt::Display>(
    errors: &mut FieldErrors,
    field: &str,
    raw: &Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match raw {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) if text.trim().is_empty() => Some(None),
        Some(Some(text)) => errors.check(field, parse(text)).map(Some),
    }
}
