//! The audit trail: one event per change and per security event, written in the same
//! transaction as the change. Events form one chain per tenant (and one for the
//! platform): each carries the hash of the one before, so an edited or removed event
//! breaks the chain. The hash itself is computed by an adapter over [`AuditEvent::chain_input`].

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{ApiKeyId, ScimTokenId, TenantId, UserId};

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditActor {
    User(UserId),
    ApiKey(ApiKeyId),
    /// A platform administrator acting across tenants.
    PlatformAdmin(UserId),
    /// Tessera itself (jobs, workers).
    System,
    /// The billing provider, through its signed events.
    Billing,
    /// The tenant's directory, through one of its SCIM tokens.
    Directory(ScimTokenId),
    /// Nobody known yet (a failed log-in, a request for a password reset).
    Anonymous,
}

impl AuditActor {
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::ApiKey(_) => "api_key",
            Self::PlatformAdmin(_) => "platform_admin",
            Self::System => "system",
            Self::Billing => "billing",
            Self::Directory(_) => "directory",
            Self::Anonymous => "anonymous",
        }
    }

    /// The actor's id, when it has one.
    pub fn id(&self) -> Option<uuid::Uuid> {
        match self {
            Self::User(id) | Self::PlatformAdmin(id) => Some(id.as_uuid()),
            Self::ApiKey(id) => Some(id.as_uuid()),
            Self::Directory(id) => Some(id.as_uuid()),
            Self::System | Self::Billing | Self::Anonymous => None,
        }
    }

    /// Rebuilds an actor from its stored kind and id.
    pub fn from_parts(kind: &str, id: Option<uuid::Uuid>) -> Option<Self> {
        Some(match (kind, id) {
            ("user", Some(id)) => Self::User(UserId::from_uuid(id)),
            ("api_key", Some(id)) => Self::ApiKey(ApiKeyId::from_uuid(id)),
            ("platform_admin", Some(id)) => Self::PlatformAdmin(UserId::from_uuid(id)),
            ("system", None) => Self::System,
            ("billing", None) => Self::Billing,
            ("directory", Some(id)) => Self::Directory(ScimTokenId::from_uuid(id)),
            ("anonymous", None) => Self::Anonymous,
            _ => return None,
        })
    }
}

/// One changed field: what it was and what it became (text; never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// An event about to be appended (the chain position and hashes are the store's), and
/// the content of a stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// `None` for platform events (not inside any tenant).
    pub tenant_id: Option<TenantId>,
    pub actor: AuditActor,
    /// `noun.verb_past`, e.g. `workspace.renamed`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: Vec<FieldChange>,
    pub origin: AuditOrigin,
    pub occurred_at: DateTime<Utc>,
}

impl NewAuditEvent {
    pub fn new(
        tenant_id: Option<TenantId>,
        actor: AuditActor,
        action: &'static str,
        target_type: &'static str,
        target_id: Option<String>,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id,
            actor,
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id,
            changes: Vec::new(),
            origin: AuditOrigin::default(),
            occurred_at,
        }
    }

    /// Records a field that changed (a field whose value stayed the same is left out).
    pub fn change(mut self, field: &str, before: Option<impl ToString>, after: Option<impl ToString>) -> Self {
        let before = before.map(|v| v.to_string());
        let after = after.map(|v| v.to_string());
        if before != after {
            self.changes.push(FieldChange {
                field: field.to_owned(),
                before,
                after,
            });
        }
        self
    }

    pub fn with_origin(mut self, origin: AuditOrigin) -> Self {
        self.origin = origin;
        self
    }
}

/// A stored event, with its place in its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub sequence: i64,
    pub event: NewAuditEvent,
    pub previous_hash: String,
    pub hash: String,
}

/// The text an event's hash covers: every stored field, each length-prefixed so no two
/// different events share an input, then the previous event's hash.
pub fn chain_input(id: uuid::Uuid, sequence: i64, event: &NewAuditEvent, previous_hash: &str) -> String {
    let mut out = String::new();
    let mut field = |value: Option<&str>| match value {
        Some(value) => {
            let _ = write!(out, "{}:{}|", value.len(), value);
        }
        None => out.push_str("-|"),
    };
    field(Some(&id.to_string()));
    field(Some(&sequence.to_string()));
    field(event.tenant_id.map(|t| t.to_string()).as_deref());
    field(Some(event.actor.kind()));
    field(event.actor.id().map(|id| id.to_string()).as_deref());
    field(Some(&event.action));
    field(Some(&event.target_type));
    field(event.target_id.as_deref());
    for change in &event.changes {
        field(Some(&change.field));
        field(change.before.as_deref());
        field(change.after.as_deref());
    }
    field(Some("end-of-changes"));
    field(event.origin.ip.as_deref());
    field(event.origin.user_agent.as_deref());
    field(event.origin.request_id.as_deref());
    field(Some(&event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)));
    field(Some(previous_hash));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn event() -> NewAuditEvent {
        NewAuditEvent::new(
            Some(TenantId::from_uuid(Uuid::now_v7())),
            AuditActor::User(UserId::from_uuid(Uuid::now_v7())),
            "workspace.renamed",
            "workspace",
            Some("w1".into()),
            Utc::now(),
        )
        .change("name", Some("Old"), Some("New"))
    }

    #[test]
    fn unchanged_fields_are_left_out() {
        let event = event().change("slug", Some("same"), Some("same"));
        assert_eq!(event.changes.len(), 1);
        assert_eq!(event.changes[0].field, "name");
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_chain_input() {
        let id = Uuid::now_v7();
        let base = event();
        let reference = chain_input(id, 1, &base, "prev");
        let mut variants = Vec::new();
        let mut edited = base.clone();
        edited.action = "workspace.deleted".into();
        variants.push(edited);
        let mut edited = base.clone();
        edited.changes[0].after = Some("Other".into());
        variants.push(edited);
        let mut edited = base.clone();
        edited.origin.ip = Some("10.0.0.1".into());
        variants.push(edited);
        let mut edited = base.clone();
        edited.actor = AuditActor::System;
        variants.push(edited);
        let mut edited = base.clone();
        edited.target_id = None;
        variants.push(edited);
        for variant in &variants {
            assert_ne!(chain_input(id, 1, variant, "prev"), reference, "{variant:?}");
        }
        assert_ne!(chain_input(id, 2, &base, "prev"), reference);
        assert_ne!(chain_input(id, 1, &base, "other"), reference);
        // Length prefixes: moving a separator between fields changes the input.
        let mut a = base.clone();
        a.target_type = "work".into();
        a.target_id = Some("spacew1".into());
        assert_ne!(chain_input(id, 1, &a, "prev"), reference);
    }

    #[test]
    fn actors_round_trip_through_their_parts() {
        let user = UserId::from_uuid(Uuid::now_v7());
        for actor in [
            AuditActor::User(user),
            AuditActor::ApiKey(ApiKeyId::from_uuid(Uuid::now_v7())),
            AuditActor::PlatformAdmin(user),
            AuditActor::System,
            AuditActor::Anonymous,
        ] {
            assert_eq!(AuditActor::from_parts(actor.kind(), actor.id()), Some(actor));
        }
        assert_eq!(AuditActor::from_parts("user", None), None);
        assert_eq!(AuditActor::from_parts("robot", None), None);
    }
}
