use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreResult;
use tessera_domain::{AuditActor, AuditEvent, AuditOrigin, FieldChange, NewAuditEvent, TenantId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub id: Uuid,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// JSON: `[{"field", "before", "after"}]`.
    pub changes: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub previous_hash: String,
    pub hash: String,
}

super::table!(tenant);

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredChange {
    field: String,
    before: Option<String>,
    after: Option<String>,
}

pub(crate) fn encode_changes(changes: &[FieldChange]) -> String {
    let stored: Vec<StoredChange> = changes
        .iter()
        .map(|c| StoredChange {
            field: c.field.clone(),
            before: c.before.clone(),
            after: c.after.clone(),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

impl Model {
    /// The event as recorded; the platform chain's nil tenant becomes `None`.
    pub fn into_domain(self) -> StoreResult<AuditEvent> {
        let changes: Vec<StoredChange> =
            serde_json::from_str(&self.changes).map_err(|e| corrupt("audit_events", "changes", e))?;
        let actor = AuditActor::from_parts(&self.actor_kind, self.actor_id)
            .ok_or_else(|| corrupt("audit_events", "actor_kind", &self.actor_kind))?;
        Ok(AuditEvent {
            id: self.id,
            sequence: self.sequence,
            event: NewAuditEvent {
                tenant_id: (!self.tenant_id.is_nil()).then(|| TenantId::from_uuid(self.tenant_id)),
                actor,
                action: self.action,
                target_type: self.target_type,
                target_id: self.target_id,
                changes: changes
                    .into_iter()
                    .map(|c| FieldChange {
                        field: c.field,
                        before: c.before,
                        after: c.after,
                    })
                    .collect(),
                origin: AuditOrigin {
                    ip: self.ip,
                    user_agent: self.user_agent,
                    request_id: self.request_id,
                },
                occurred_at: self.occurred_at,
            },
            previous_hash: self.previous_hash,
            hash: self.hash,
        })
    }
}
