//! The audit trail, for holders of `audit:read`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_application::ports::AuditFilter;
use tessera_domain::{AuditEvent as DomainAuditEvent, TenantId};

use super::access::{Access, Rule};
use super::context::{application, member};
use super::errors::{GqlResult, parse_id};
use super::pagination::{page_cost, relay_connection};
use tessera_domain::Permission;

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Query", &["auditEvents"], Access::Permission(Permission::AuditRead)),
    ("Query", &["platformAuditEvents"], Access::Person),
    ("PlatformAuditEventConnection", &["*"], Access::Inherited),
    ("PlatformAuditEventEdge", &["*"], Access::Inherited),
    // AuditEvent: who did what, from which address; every field listed
    ("AuditEvent", &["id", "sequence", "action", "actorType", "actorId", "targetType", "targetId", "changes", "ip", "userAgent", "requestId", "occurredAt", "hash"], Access::Inherited),
    ("AuditChange", &["*"], Access::Inherited),
    ("AuditEventConnection", &["*"], Access::Inherited),
    ("AuditEventEdge", &["*"], Access::Inherited),
];

/// One field a change touched (text; secrets are never recorded).
#[derive(SimpleObject, Clone)]
pub struct AuditChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One recorded change or security event.
#[derive(SimpleObject, Clone)]
pub struct AuditEvent {
    pub id: ID,
    /// Position in the tenant's chain (1, 2, 3, …).
    pub sequence: i64,
    /// `noun.verb_past`, e.g. `workspace.renamed`, `session.login_failed`.
    pub action: String,
    /// `user`, `api_key`, `platform_admin`, `system` or `anonymous`.
    pub actor_type: String,
    pub actor_id: Option<ID>,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: Vec<AuditChange>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// SHA-256 over this event and the previous event's hash.
    pub hash: String,
}

impl From<&DomainAuditEvent> for AuditEvent {
    fn from(event: &DomainAuditEvent) -> Self {
        let e = &event.event;
        Self {
            id: ID(event.id.to_string()),
            sequence: event.sequence,
            action: e.action.clone(),
            actor_type: e.actor.kind().to_owned(),
            actor_id: e.actor.id().map(|id| ID(id.to_string())),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            changes: e
                .changes
                .iter()
                .map(|c| AuditChange {
                    field: c.field.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                })
                .collect(),
            ip: e.origin.ip.clone(),
            user_agent: e.origin.user_agent.clone(),
            request_id: e.origin.request_id.clone(),
            occurred_at: e.occurred_at,
            hash: event.hash.clone(),
        }
    }
}

impl super::pagination::Cursored for DomainAuditEvent {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.event.occurred_at, self.id).encode()
    }
}

relay_connection!(
    AuditEventConnection,
    AuditEventEdge,
    AuditEvent,
    DomainAuditEvent,
    AuditFilter,
    |app, request, filter| { app.count_audit_events(request, filter) }
);

/// Every field narrows the list; all are optional.
#[derive(InputObject, Default)]
pub struct AuditEventFilterInput {
    pub actor_id: Option<ID>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

relay_connection!(
    PlatformAuditEventConnection,
    PlatformAuditEventEdge,
    AuditEvent,
    DomainAuditEvent,
    (Option<TenantId>, AuditFilter),
    |app, request, chain| async {
        let scope = app.platform_scope(request).await?;
        app.count_platform_audit_events(&scope, chain.0, &chain.1).await
    }
);

fn audit_filter(input: Option<AuditEventFilterInput>) -> Result<AuditFilter> {
    let input = input.unwrap_or_default();
    Ok(AuditFilter {
        actor_id: match input.actor_id {
            Some(raw) => Some(parse_id("filter.actorId", &raw, |s| uuid::Uuid::try_parse(s.trim()))?),
            None => None,
        },
        action: input.action,
        target_type: input.target_type,
        target_id: input.target_id,
        from: input.from,
        to: input.to,
    })
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The tenant's audit trail, oldest first (`last` for the newest). Needs `audit:read`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditEventFilterInput>,
    ) -> Result<AuditEventConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let filter = audit_filter(filter)?;
        let page = application(ctx)
            .list_audit_events(request, &filter, &page)
            .await
            .gql()?;
        Ok(AuditEventConnection { page, extra: filter })
    }

    /// Platform administrators only: the platform's own chain (events of people
    /// rather than tenants: sign-ups, email verification, password resets), or with
    /// `tenantId` any tenant's chain. Oldest first, `last: 20` for the newest.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn platform_audit_events(
        &self,
        ctx: &Context<'_>,
        tenant_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditEventFilterInput>,
    ) -> Result<PlatformAuditEventConnection> {
        let request = member(ctx)?;
        let app = application(ctx);
        let scope = app.platform_scope(request).await.gql()?;
        let tenant = match tenant_id {
            Some(raw) => Some(parse_id("tenantId", &raw, TenantId::parse)?),
            None => None,
        };
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let filter = audit_filter(filter)?;
        let page = app
            .list_platform_audit_events(&scope, tenant, &filter, &page)
            .await
            .gql()?;
        Ok(PlatformAuditEventConnection {
            page,
            extra: (tenant, filter),
        })
    }
}
