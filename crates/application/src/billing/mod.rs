//! A billing provider's events: what a tenant's subscription is on and whether its
//! payments go through, turned into plan changes and the past-due status. Tessera
//! never calls the provider; the HTTP adapter checks each event's signature first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tessera_domain::{AuditActor, PlanKey, StatusReason, TenantId, TenantStatus};

use crate::ports::{BillingEventRecord, StoreError};
use crate::{AppError, Application, TenantScope};

/// Which plan each of the provider's prices stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingSettings {
    pub price_plans: HashMap<String, PlanKey>,
}

/// What an event says about the tenant's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingChange {
    /// The subscription is on `price_id`, in the provider's `status` (`active`,
    /// `trialing`, `past_due`, `unpaid`, …).
    Subscription {
        price_id: String,
        status: String,
    },
    /// The subscription ended: the tenant returns to the default plan.
    SubscriptionEnded,
    PaymentFailed,
    PaymentSucceeded,
    /// An event Tessera does not act on.
    Other,
}

/// One verified event from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    pub id: String,
    pub event_type: String,
    /// When the provider says it happened (orders events that arrive out of order).
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub change: BillingChange,
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingOutcome {
    /// The tenant's plan or status now follows it (or already did).
    Applied,
    /// Received before: nothing changed again.
    Duplicate,
    /// Older than an event already applied: recorded, nothing changed.
    Stale,
    /// Not an event Tessera acts on: recorded, nothing changed.
    Ignored,
}

impl BillingOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
        }
    }
}

impl Application {
    /// Maps the provider's prices to plans.
    pub fn with_billing(mut self, settings: BillingSettings) -> Self {
        self.billing = settings;
        self
    }

    /// Applies one verified event, at most once: a replayed event and one older than an
    /// event already applied change nothing, and an unknown price is refused with
    /// nothing changed (so the provider's retry applies it once the price is mapped).
    pub async fn apply_billing_event(&self, event: BillingEvent) -> Result<BillingOutcome, AppError> {
        let scope = TenantScope::new(event.tenant_id);
        let tx = self.tenant_tx(&scope).await?;
        let tenant = tx
            .tenants()
            .find_by_id(event.tenant_id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if tx.billing_events().seen(&scope, &event.id).await? {
            return Ok(BillingOutcome::Duplicate);
        }
        let plan = match &event.change {
            BillingChange::Subscription { price_id, .. } => {
                Some(self.billing.price_plans.get(price_id).cloned().ok_or_else(|| {
                    AppError::validation(
                        "price",
                        format!("price `{price_id}` is not mapped to a plan (BILLING_PRICE_PLANS)"),
                    )
                })?)
            }
            BillingChange::SubscriptionEnded => Some(self.plans.default_key().clone()),
            _ => None,
        };
        let latest = tx.billing_events().latest_applied(&scope).await?;
        let outcome = if event.change == BillingChange::Other {
            BillingOutcome::Ignored
        } else if latest.is_some_and(|latest| event.occurred_at < latest) {
            BillingOutcome::Stale
        } else {
            BillingOutcome::Applied
        };
        // Read only so far: the changes come first and the record last, so an event
        // interrupted halfway is applied again in full by the provider's retry (every
        // step is idempotent: a plan or status the tenant already has changes nothing).
        drop(tx);
        if outcome != BillingOutcome::Applied {
            self.record_billing_event(&event, false).await?;
            return Ok(outcome);
        }
        if let Some(plan) = plan {
            self.change_plan_for_billing(event.tenant_id, &plan).await?;
        }
        let status = match &event.change {
            BillingChange::Subscription { status, .. } if status == "past_due" || status == "unpaid" => {
                Some(TenantStatus::PastDue)
            }
            BillingChange::PaymentFailed => Some(TenantStatus::PastDue),
            BillingChange::Subscription { status, .. } if status == "active" || status == "trialing" => {
                Some(TenantStatus::Active)
            }
            BillingChange::PaymentSucceeded | BillingChange::SubscriptionEnded => Some(TenantStatus::Active),
            _ => None,
        };
        match status {
            // Billing only moves a tenant between active and past due: a suspension
            // for another reason stays a platform administrator's call.
            Some(TenantStatus::PastDue) if tenant.status == TenantStatus::Active => {
                self.change_tenant_status(
                    event.tenant_id,
                    TenantStatus::PastDue,
                    StatusReason::Billing,
                    AuditActor::Billing,
                    None,
                )
                .await?;
            }
            Some(TenantStatus::Active)
                if tenant.status == TenantStatus::PastDue
                    || (tenant.status == TenantStatus::Suspended
                        && tenant.status_reason == Some(StatusReason::Billing)) =>
            {
                self.change_tenant_status(
                    event.tenant_id,
                    TenantStatus::Active,
                    StatusReason::Billing,
                    AuditActor::Billing,
                    None,
                )
                .await?;
            }
            _ => {}
        }
        self.record_billing_event(&event, true).await?;
        Ok(BillingOutcome::Applied)
    }

    /// Notes that the tenant received `event` (a concurrent delivery of the same event
    /// may have noted it already).
    async fn record_billing_event(&self, event: &BillingEvent, applied: bool) -> Result<(), AppError> {
        let scope = TenantScope::new(event.tenant_id);
        let tx = self.tenant_tx(&scope).await?;
        let record = BillingEventRecord {
            tenant_id: event.tenant_id,
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            received_at: self.ports.clock.now(),
            applied,
        };
        match tx.billing_events().record(&scope, &record).await {
            Ok(()) => Ok(tx.commit().await?),
            Err(StoreError::Duplicate(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests;
