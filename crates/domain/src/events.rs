//! Domain events: what happened to a tenant, as the outbox carries it to webhooks and
//! live subscriptions. Each one is a committed change that was also audited; the event
//! type is the audit action (`workspace.renamed`). Security events (log-ins, refusals)
//! and a person's own drafts are audited but not published.

use crate::NewAuditEvent;

/// Every event type a webhook endpoint or a subscription may ask for.
pub const DOMAIN_EVENT_TYPES: &[&str] = &[
    "tenant.created",
    "tenant.settings_updated",
    "tenant.suspended",
    "tenant.reactivated",
    "tenant.past_due",
    "tenant.plan_changed",
    "tenant.ownership_transferred",
    "workspace.created",
    "workspace.renamed",
    "workspace.deleted",
    "workspace.member_added",
    "workspace.member_updated",
    "workspace.member_removed",
    "member.role_changed",
    "member.removed",
    "member.left",
    "invitation.created",
    "invitation.revoked",
    "invitation.accepted",
    "role.created",
    "role.updated",
    "role.deleted",
    "api_key.created",
    "api_key.revoked",
    "api_key.permissions_reduced",
    "domain.added",
    "domain.verified",
    "domain.removed",
    "onboarding.completed",
    "webhook_endpoint.disabled",
];

/// `*` in a selection means every type, including types added later.
pub const ALL_EVENT_TYPES: &str = "*";

pub fn is_domain_event_type(event_type: &str) -> bool {
    DOMAIN_EVENT_TYPES.contains(&event_type)
}

/// Whether an event changes what a member or an API key may do in the tenant (roles,
/// memberships, keys, the tenant's status): cached access must be dropped after it.
pub fn changes_access(event_type: &str) -> bool {
    matches!(
        event_type,
        "tenant.suspended"
            | "tenant.reactivated"
            | "tenant.past_due"
            | "tenant.plan_changed"
            | "tenant.ownership_transferred"
            | "member.role_changed"
            | "member.removed"
            | "member.left"
            | "invitation.accepted"
            | "role.updated"
            | "role.deleted"
            | "api_key.revoked"
            | "api_key.permissions_reduced"
            | "onboarding.completed"
    )
}

impl NewAuditEvent {
    /// Whether this change is published as a domain event (it belongs to a tenant and
    /// its action is in the catalogue).
    pub fn is_domain_event(&self) -> bool {
        self.tenant_id.is_some() && is_domain_event_type(&self.action)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{AuditActor, TenantId};

    #[test]
    fn only_catalogued_tenant_changes_are_published() {
        let tenant = Some(TenantId::from_uuid(uuid::Uuid::now_v7()));
        let event = |tenant, action| NewAuditEvent::new(tenant, AuditActor::System, action, "x", None, Utc::now());
        assert!(event(tenant, "workspace.renamed").is_domain_event());
        assert!(!event(tenant, "session.login_failed").is_domain_event());
        assert!(!event(tenant, "access.denied").is_domain_event());
        assert!(!event(None, "workspace.renamed").is_domain_event());
    }

    #[test]
    fn access_changing_events_are_catalogued() {
        for event_type in DOMAIN_EVENT_TYPES {
            if changes_access(event_type) {
                assert!(is_domain_event_type(event_type));
            }
        }
        assert!(changes_access("member.role_changed"));
        assert!(!changes_access("workspace.renamed"));
    }

    #[test]
    fn the_catalogue_has_no_duplicates() {
        let mut sorted = DOMAIN_EVENT_TYPES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), DOMAIN_EVENT_TYPES.len());
    }
}
