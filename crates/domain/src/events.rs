//! Domain events: what happened to a tenant, as the outbox carries it to webhooks and
//! live subscriptions. Each one is a committed change that was also audited; the event
//! type is the audit action (`workspace.renamed`). Security events (log-ins, refusals)
//! and a person's own drafts are audited but not published.

use crate::NewAuditEvent;

/// One entry of the event catalogue: what the event means, what its `target` is, and
/// the `changes` an example of it carries (field, before, after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
    /// The `target.type` of its payload; `target.id` is that object's id (a custom
    /// domain's is its name).
    pub target: &'static str,
    pub example_changes: &'static [(&'static str, Option<&'static str>, Option<&'static str>)],
}

const ROLE: &str = "0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e01";
const OTHER_ROLE: &str = "0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e02";

/// The event catalogue: every event type a webhook endpoint or a subscription may ask
/// for, in the order the schema and the README list them.
pub const EVENT_CATALOGUE: &[EventType] = &[
    EventType {
        name: "tenant.created",
        description: "A tenant was created (its owner signed it up); opens the tenant's event stream.",
        target: "tenant",
        example_changes: &[("name", None, Some("Acme")), ("slug", None, Some("acme"))],
    },
    EventType {
        name: "tenant.settings_updated",
        description: "The tenant's name or settings changed.",
        target: "tenant",
        example_changes: &[("name", Some("Acme"), Some("Acme Inc."))],
    },
    EventType {
        name: "tenant.suspended",
        description: "The tenant was suspended (reason billing, abuse or requested): only owners sign in, to see billing and export.",
        target: "tenant",
        example_changes: &[
            ("status", Some("active"), Some("suspended")),
            ("reason", None, Some("billing")),
        ],
    },
    EventType {
        name: "tenant.reactivated",
        description: "A suspended or past-due tenant is active again.",
        target: "tenant",
        example_changes: &[
            ("status", Some("past_due"), Some("active")),
            ("reason", Some("billing"), None),
        ],
    },
    EventType {
        name: "tenant.past_due",
        description: "A payment failed: the tenant is read-only except for billing, export and its owners' sessions.",
        target: "tenant",
        example_changes: &[
            ("status", Some("active"), Some("past_due")),
            ("reason", None, Some("billing")),
        ],
    },
    EventType {
        name: "tenant.plan_changed",
        description: "The tenant's plan changed, or a per-tenant override of a limit or feature was set or cleared.",
        target: "tenant",
        example_changes: &[("plan", Some("free"), Some("team"))],
    },
    EventType {
        name: "tenant.ownership_transferred",
        description: "Another member became the tenant's owner.",
        target: "tenant",
        example_changes: &[(
            "owner_user_id",
            Some("0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e10"),
            Some("0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e11"),
        )],
    },
    EventType {
        name: "workspace.created",
        description: "A workspace was created.",
        target: "workspace",
        example_changes: &[("name", None, Some("Design")), ("slug", None, Some("design"))],
    },
    EventType {
        name: "workspace.renamed",
        description: "A workspace's name changed.",
        target: "workspace",
        example_changes: &[("name", Some("Design"), Some("Product design"))],
    },
    EventType {
        name: "workspace.deleted",
        description: "A workspace was deleted.",
        target: "workspace",
        example_changes: &[("name", Some("Design"), None), ("slug", Some("design"), None)],
    },
    EventType {
        name: "workspace.member_added",
        description: "A tenant member was added to a workspace with a role (the field names the person).",
        target: "workspace",
        example_changes: &[("member.0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e10.role_id", None, Some(ROLE))],
    },
    EventType {
        name: "workspace.member_updated",
        description: "A workspace member's role in that workspace changed.",
        target: "workspace",
        example_changes: &[(
            "member.0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e10.role_id",
            Some(ROLE),
            Some(OTHER_ROLE),
        )],
    },
    EventType {
        name: "workspace.member_removed",
        description: "A person was removed from a workspace (they stay a member of the tenant).",
        target: "workspace",
        example_changes: &[("member.0192f0c4-8a2e-7c31-9d4e-5b6a7c8d9e10.role_id", Some(ROLE), None)],
    },
    EventType {
        name: "member.role_changed",
        description: "A member's role in the tenant changed; their access changes on their next request.",
        target: "user",
        example_changes: &[("role_id", Some(ROLE), Some(OTHER_ROLE))],
    },
    EventType {
        name: "member.removed",
        description: "A member was removed from the tenant: their sessions in it ended and their API keys were revoked.",
        target: "user",
        example_changes: &[("role_id", Some(ROLE), None)],
    },
    EventType {
        name: "member.left",
        description: "A member left the tenant of their own accord.",
        target: "user",
        example_changes: &[("role_id", Some(ROLE), None)],
    },
    EventType {
        name: "invitation.created",
        description: "Someone was invited to join the tenant with a role.",
        target: "invitation",
        example_changes: &[("email", None, Some("dana@example.com")), ("role_id", None, Some(ROLE))],
    },
    EventType {
        name: "invitation.revoked",
        description: "A pending invitation was revoked before it was accepted.",
        target: "invitation",
        example_changes: &[("status", Some("pending"), Some("revoked"))],
    },
    EventType {
        name: "invitation.accepted",
        description: "An invitation was accepted: the person is now a member with the invitation's role.",
        target: "invitation",
        example_changes: &[("role_id", None, Some(ROLE))],
    },
    EventType {
        name: "role.created",
        description: "A custom role was created.",
        target: "role",
        example_changes: &[
            ("name", None, Some("Support")),
            ("permissions", None, Some("members:read,workspaces:create")),
        ],
    },
    EventType {
        name: "role.updated",
        description: "A role's name or permissions changed; its holders' access changes on their next request.",
        target: "role",
        example_changes: &[(
            "permissions",
            Some("members:read,workspaces:create"),
            Some("members:read,workspaces:create,workspaces:manage"),
        )],
    },
    EventType {
        name: "role.deleted",
        description: "A custom role nobody held was deleted.",
        target: "role",
        example_changes: &[
            ("name", Some("Support"), None),
            ("permissions", Some("members:read,workspaces:create"), None),
        ],
    },
    EventType {
        name: "api_key.created",
        description: "An API key was created (its secret is never in an event).",
        target: "api_key",
        example_changes: &[
            ("name", None, Some("CI deploys")),
            ("permissions", None, Some("workspaces:create")),
            ("expires_at", None, Some("2027-06-01T00:00:00Z")),
        ],
    },
    EventType {
        name: "api_key.revoked",
        description: "An API key was revoked (by hand, or because its creator left or was removed); requests with it are refused from now on.",
        target: "api_key",
        example_changes: &[("revoked_at", None, Some("2026-12-07T10:15:00+00:00"))],
    },
    EventType {
        name: "api_key.permissions_reduced",
        description: "An API key lost permissions because its creator's role no longer grants them.",
        target: "api_key",
        example_changes: &[
            (
                "permissions",
                Some("workspaces:create,workspaces:manage"),
                Some("workspaces:create"),
            ),
            ("reason", None, Some("role changed")),
        ],
    },
    EventType {
        name: "domain.added",
        description: "A custom domain was claimed; it names the tenant once verified.",
        target: "domain",
        example_changes: &[],
    },
    EventType {
        name: "domain.verified",
        description: "A custom domain's ownership was verified; requests to it now name the tenant.",
        target: "domain",
        example_changes: &[],
    },
    EventType {
        name: "domain.removed",
        description: "A custom domain was removed; it no longer names the tenant.",
        target: "domain",
        example_changes: &[],
    },
    EventType {
        name: "onboarding.completed",
        description: "The tenant's owner finished onboarding (terms accepted, setup done).",
        target: "user",
        example_changes: &[
            ("stage", Some("terms"), Some("completed")),
            ("terms_version", None, Some("2026-01")),
        ],
    },
    EventType {
        name: "webhook_endpoint.disabled",
        description: "An endpoint was disabled after too many failed deliveries in a row; its pending deliveries failed.",
        target: "webhook_endpoint",
        example_changes: &[
            ("enabled", Some("true"), Some("false")),
            ("disabled_reason", None, Some("5 deliveries in a row failed")),
        ],
    },
];

/// Every event type a webhook endpoint or a subscription may ask for, by name.
pub fn domain_event_types() -> impl Iterator<Item = &'static str> {
    EVENT_CATALOGUE.iter().map(|entry| entry.name)
}

/// `*` in a selection means every type, including types added later.
pub const ALL_EVENT_TYPES: &str = "*";

pub fn is_domain_event_type(event_type: &str) -> bool {
    domain_event_types().any(|name| name == event_type)
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
        for event_type in domain_event_types() {
            if changes_access(event_type) {
                assert!(is_domain_event_type(event_type));
            }
        }
        assert!(changes_access("member.role_changed"));
        assert!(!changes_access("workspace.renamed"));
    }

    #[test]
    fn the_catalogue_has_no_duplicates() {
        let mut sorted: Vec<_> = domain_event_types().collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EVENT_CATALOGUE.len());
    }
}
