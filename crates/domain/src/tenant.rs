//! A tenant (organization): the unit of isolation. Every tenant-scoped row carries its id.

use chrono::{DateTime, Utc};

use crate::{Name, OverrideTarget, PlanKey, PlanOverride, Slug, TenantId};

/// Where a tenant stands: `PastDue` is read-only (a payment failed), `Suspended` is
/// locked except for its owners' billing and export, `PendingDeletion` waits out its
/// grace period (its owners may cancel and export), `Deleted` is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    PastDue,
    Suspended,
    PendingDeletion,
    Deleted,
}

impl TenantStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Suspended => "suspended",
            Self::PendingDeletion => "pending_deletion",
            Self::Deleted => "deleted",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "past_due" => Some(Self::PastDue),
            "suspended" => Some(Self::Suspended),
            "pending_deletion" => Some(Self::PendingDeletion),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// Why a tenant is past due or suspended, recorded with the status and shown to its owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    Billing,
    Abuse,
    Requested,
}

impl StatusReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Abuse => "abuse",
            Self::Requested => "requested",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "billing" => Some(Self::Billing),
            "abuse" => Some(Self::Abuse),
            "requested" => Some(Self::Requested),
            _ => None,
        }
    }
}

/// A deletion waiting out its grace period: when it was asked for, when the purge may
/// start, and the status the tenant returns to if it is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledDeletion {
    pub requested_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub restore_to: TenantStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub name: Name,
    pub status: TenantStatus,
    /// Why it is past due or suspended; `None` while active.
    pub status_reason: Option<StatusReason>,
    pub plan: PlanKey,
    /// Limits and features granted or withheld for this tenant alone.
    pub plan_overrides: Vec<PlanOverride>,
    /// Set while the tenant is pending deletion.
    pub deletion: Option<ScheduledDeletion>,
    /// Its members must sign in with a second factor: a session without one may only
    /// enrol an authenticator (`MFA_REQUIRED` for the rest). Set by an owner.
    pub mfa_required: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    pub fn new(id: TenantId, slug: Slug, name: Name, plan: PlanKey, now: DateTime<Utc>) -> Self {
        Self {
            id,
            slug,
            name,
            status: TenantStatus::Active,
            status_reason: None,
            plan,
            plan_overrides: Vec::new(),
            deletion: None,
            mfa_required: false,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }

    /// Marks the tenant past due or suspended (with `reason`), or reactivates it (the
    /// reason is then cleared). `Ok(false)` when it already stands so for that reason
    /// (nothing changes); a deleted tenant changes no more, and deletion is not done here.
    pub fn change_status(
        &mut self,
        to: TenantStatus,
        reason: StatusReason,
        now: DateTime<Utc>,
    ) -> Result<bool, TenantStatusError> {
        if self.status == TenantStatus::Deleted {
            return Err(TenantStatusError::Deleted);
        }
        if self.status == TenantStatus::PendingDeletion {
            return Err(TenantStatusError::PendingDeletion);
        }
        if matches!(to, TenantStatus::Deleted | TenantStatus::PendingDeletion) {
            return Err(TenantStatusError::NotASuspension);
        }
        let reason = (to != TenantStatus::Active).then_some(reason);
        if self.status == to && self.status_reason == reason {
            return Ok(false);
        }
        self.status = to;
        self.status_reason = reason;
        self.updated_at = now;
        Ok(true)
    }

    /// Starts the grace period before the tenant is purged (`due_at`); `false` when a
    /// deletion is already scheduled (nothing changes). The status it had comes back if
    /// the deletion is cancelled.
    pub fn schedule_deletion(&mut self, due_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, TenantStatusError> {
        match self.status {
            TenantStatus::Deleted => Err(TenantStatusError::Deleted),
            TenantStatus::PendingDeletion => Ok(false),
            previous => {
                self.deletion = Some(ScheduledDeletion {
                    requested_at: now,
                    due_at,
                    restore_to: previous,
                });
                self.status = TenantStatus::PendingDeletion;
                self.updated_at = now;
                Ok(true)
            }
        }
    }

    /// Cancels a scheduled deletion: the tenant returns to the status it had (its
    /// reason kept). `false` when no deletion is scheduled.
    pub fn cancel_deletion(&mut self, now: DateTime<Utc>) -> bool {
        let Some(deletion) = self.deletion.take() else {
            return false;
        };
        self.status = deletion.restore_to;
        self.updated_at = now;
        true
    }

    /// Whether the purge may start: a deletion is scheduled and its grace period is over.
    pub fn is_due_for_purge(&self, now: DateTime<Utc>) -> bool {
        self.status == TenantStatus::PendingDeletion && self.deletion.is_some_and(|d| d.due_at <= now)
    }

    /// Moves the tenant to another plan; `false` when it is on that plan already.
    pub fn change_plan(&mut self, plan: PlanKey, now: DateTime<Utc>) -> bool {
        if self.plan == plan {
            return false;
        }
        self.plan = plan;
        self.updated_at = now;
        true
    }

    /// Sets one override, replacing any earlier one for the same limit or feature.
    pub fn set_override(&mut self, target: OverrideTarget, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        self.plan_overrides.retain(|o| o.target.slot() != target.slot());
        self.plan_overrides.push(PlanOverride {
            target,
            expires_at,
            set_at: now,
        });
        self.updated_at = now;
    }

    /// Clears the override of one limit or feature (`slot` as [`OverrideTarget::slot`]
    /// names it); `false` when there was none.
    pub fn clear_override(&mut self, slot: &str, now: DateTime<Utc>) -> bool {
        let before = self.plan_overrides.len();
        self.plan_overrides.retain(|o| o.target.slot() != slot);
        let cleared = self.plan_overrides.len() != before;
        if cleared {
            self.updated_at = now;
        }
        cleared
    }

    /// A new display name.
    pub fn rename(&mut self, name: Name, now: DateTime<Utc>) {
        self.name = name;
        self.updated_at = now;
    }

    /// A new name and address (slug), as its owner sets it up.
    pub fn set_up(&mut self, name: Name, slug: Slug, now: DateTime<Utc>) {
        self.name = name;
        self.slug = slug;
        self.updated_at = now;
    }
}

/// Why a tenant's status cannot change that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenantStatusError {
    #[error("this tenant has been deleted")]
    Deleted,
    #[error("a tenant is suspended or reactivated here")]
    NotASuspension,
    #[error("this tenant is pending deletion: cancel the deletion first")]
    PendingDeletion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for status in [
            TenantStatus::Active,
            TenantStatus::PastDue,
            TenantStatus::Suspended,
            TenantStatus::PendingDeletion,
            TenantStatus::Deleted,
        ] {
            assert_eq!(TenantStatus::parse(status.as_str()), Some(status));
        }
        for reason in [StatusReason::Billing, StatusReason::Abuse, StatusReason::Requested] {
            assert_eq!(StatusReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(TenantStatus::parse("gone"), None);
    }

    #[test]
    fn a_tenant_is_suspended_and_reactivated_but_a_deleted_one_stays_deleted() {
        let start = Utc::now();
        let later = start + chrono::Duration::seconds(1);
        let mut tenant = Tenant::new(
            TenantId::from_uuid(uuid::Uuid::nil()),
            Slug::parse("acme").expect("slug"),
            Name::parse("Acme").expect("name"),
            PlanKey::parse("free").expect("plan"),
            start,
        );
        let requested = StatusReason::Requested;
        assert_eq!(
            tenant.change_status(TenantStatus::Active, requested, later),
            Ok(false),
            "already active"
        );
        assert_eq!(tenant.updated_at, start, "nothing changed");
        assert_eq!(
            tenant.change_status(TenantStatus::PastDue, StatusReason::Billing, later),
            Ok(true)
        );
        assert_eq!(tenant.status_reason, Some(StatusReason::Billing));
        assert_eq!(
            tenant.change_status(TenantStatus::Suspended, StatusReason::Abuse, later),
            Ok(true)
        );
        assert!(!tenant.is_active());
        assert_eq!(tenant.status_reason, Some(StatusReason::Abuse));
        assert_eq!(tenant.updated_at, later);
        assert_eq!(
            tenant.change_status(TenantStatus::Deleted, requested, later),
            Err(TenantStatusError::NotASuspension)
        );
        assert_eq!(tenant.change_status(TenantStatus::Active, requested, later), Ok(true));
        assert_eq!(tenant.status_reason, None, "reactivation clears the reason");
        tenant.status = TenantStatus::Deleted;
        assert_eq!(
            tenant.change_status(TenantStatus::Active, requested, later),
            Err(TenantStatusError::Deleted)
        );
        tenant.set_up(
            Name::parse("Acme Ltd").expect("name"),
            Slug::parse("acme-ltd").expect("slug"),
            later,
        );
        assert_eq!((tenant.name.as_str(), tenant.slug.as_str()), ("Acme Ltd", "acme-ltd"));
    }

    #[test]
    fn a_scheduled_deletion_waits_its_grace_period_and_cancelling_restores_the_status() {
        let start = Utc::now();
        let due = start + chrono::Duration::days(30);
        let mut tenant = Tenant::new(
            TenantId::from_uuid(uuid::Uuid::nil()),
            Slug::parse("acme").expect("slug"),
            Name::parse("Acme").expect("name"),
            PlanKey::parse("free").expect("plan"),
            start,
        );
        assert_eq!(
            tenant.change_status(TenantStatus::Suspended, StatusReason::Billing, start),
            Ok(true)
        );
        assert!(!tenant.cancel_deletion(start), "nothing to cancel");
        assert_eq!(tenant.schedule_deletion(due, start), Ok(true));
        assert_eq!(tenant.schedule_deletion(due, start), Ok(false), "already scheduled");
        assert_eq!(tenant.status, TenantStatus::PendingDeletion);
        assert!(!tenant.is_due_for_purge(due - chrono::Duration::seconds(1)));
        assert!(tenant.is_due_for_purge(due));
        assert_eq!(
            tenant.change_status(TenantStatus::Active, StatusReason::Requested, start),
            Err(TenantStatusError::PendingDeletion),
            "a pending deletion is cancelled, not reactivated"
        );
        assert!(tenant.cancel_deletion(start));
        assert_eq!(tenant.status, TenantStatus::Suspended, "back to where it was");
        assert_eq!(tenant.status_reason, Some(StatusReason::Billing));
        assert!(!tenant.is_due_for_purge(due));
        tenant.status = TenantStatus::Deleted;
        assert_eq!(tenant.schedule_deletion(due, start), Err(TenantStatusError::Deleted));
    }
}
