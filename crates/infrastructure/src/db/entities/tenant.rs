use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use tessera_application::ports::StoreError;
use tessera_domain::{
    Allowance, Feature, Limit, Name, OverrideTarget, PlanKey, PlanOverride, ScheduledDeletion, Slug, StatusReason,
    Tenant, TenantId, TenantStatus,
};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub plan: String,
    /// The tenant's plan overrides, a JSON list of [`StoredOverride`].
    pub plan_overrides: String,
    pub deletion_requested_at: Option<DateTimeUtc>,
    pub deletion_due_at: Option<DateTimeUtc>,
    pub status_before_deletion: Option<String>,
    pub mfa_required: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

super::table!();

/// One plan override as stored: `limit` holds a number or `null` (unlimited) for a
/// limit, `enabled` a feature's state.
#[derive(Serialize, Deserialize)]
struct StoredOverride {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    expires_at: Option<DateTime<Utc>>,
    set_at: DateTime<Utc>,
}

fn encode_overrides(overrides: &[PlanOverride]) -> String {
    let stored: Vec<StoredOverride> = overrides
        .iter()
        .map(|o| {
            let (name, limit, enabled) = match o.target {
                OverrideTarget::Limit(limit, allowance) => {
                    (format!("limit:{limit}"), Some(allowance.as_number()), None)
                }
                OverrideTarget::Feature(feature, on) => (format!("feature:{feature}"), None, Some(on)),
            };
            StoredOverride {
                name,
                limit,
                enabled,
                expires_at: o.expires_at,
                set_at: o.set_at,
            }
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

fn decode_overrides(raw: &str) -> Result<Vec<PlanOverride>, StoreError> {
    let bad = |detail: &str| corrupt("tenants", "plan_overrides", detail);
    let stored: Vec<StoredOverride> = serde_json::from_str(raw).map_err(|e| bad(&e.to_string()))?;
    stored
        .into_iter()
        .map(|o| {
            let target = match (o.name.split_once(':'), o.limit, o.enabled) {
                (Some(("limit", name)), Some(limit), None) => OverrideTarget::Limit(
                    Limit::parse(name).ok_or_else(|| bad(name))?,
                    limit.map_or(Allowance::Unlimited, Allowance::AtMost),
                ),
                (Some(("feature", name)), None, Some(on)) => {
                    OverrideTarget::Feature(Feature::parse(name).ok_or_else(|| bad(name))?, on)
                }
                _ => return Err(bad(&o.name)),
            };
            Ok(PlanOverride {
                target,
                expires_at: o.expires_at,
                set_at: o.set_at,
            })
        })
        .collect()
}

impl Model {
    pub fn into_domain(self) -> Result<Tenant, StoreError> {
        Ok(Tenant {
            id: TenantId::from_uuid(self.id),
            slug: Slug::parse(&self.slug).map_err(|e| corrupt("tenants", "slug", e))?,
            name: Name::parse(&self.name).map_err(|e| corrupt("tenants", "name", e))?,
            status: TenantStatus::parse(&self.status).ok_or_else(|| corrupt("tenants", "status", &self.status))?,
            status_reason: self
                .status_reason
                .as_deref()
                .map(|raw| StatusReason::parse(raw).ok_or_else(|| corrupt("tenants", "status_reason", raw)))
                .transpose()?,
            plan: PlanKey::parse(&self.plan).map_err(|e| corrupt("tenants", "plan", e))?,
            plan_overrides: decode_overrides(&self.plan_overrides)?,
            deletion: match (
                self.deletion_requested_at,
                self.deletion_due_at,
                self.status_before_deletion,
            ) {
                (Some(requested_at), Some(due_at), Some(before)) => Some(ScheduledDeletion {
                    requested_at,
                    due_at,
                    restore_to: TenantStatus::parse(&before)
                        .ok_or_else(|| corrupt("tenants", "status_before_deletion", &before))?,
                }),
                (None, None, None) => None,
                _ => {
                    return Err(corrupt(
                        "tenants",
                        "deletion_due_at",
                        "a deletion is only partly recorded",
                    ));
                }
            },
            mfa_required: self.mfa_required,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_domain(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.as_uuid(),
            slug: tenant.slug.as_str().to_owned(),
            name: tenant.name.as_str().to_owned(),
            status: tenant.status.as_str().to_owned(),
            status_reason: tenant.status_reason.map(|r| r.as_str().to_owned()),
            plan: tenant.plan.as_str().to_owned(),
            plan_overrides: encode_overrides(&tenant.plan_overrides),
            deletion_requested_at: tenant.deletion.map(|d| d.requested_at),
            deletion_due_at: tenant.deletion.map(|d| d.due_at),
            status_before_deletion: tenant.deletion.map(|d| d.restore_to.as_str().to_owned()),
            mfa_required: tenant.mfa_required,
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
        }
    }

    /// The stored form of the tenant's overrides (for updates of that column alone).
    pub fn overrides_of(tenant: &Tenant) -> String {
        encode_overrides(&tenant.plan_overrides)
    }
}
