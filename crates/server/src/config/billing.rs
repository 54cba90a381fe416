//! The billing provider's events: the endpoint's signing secret, how old a signature
//! may be, and which plan each of the provider's prices stands for.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use tessera_application::billing::BillingSettings;
use tessera_domain::{PlanCatalogue, PlanKey};

use super::ConfigError;
use super::values::{Secret, list, within};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Billing")]
pub struct BillingSection {
    /// The signing secret of the billing provider's webhook endpoint (Stripe's
    /// `whsec_…`); `POST /billing/stripe` answers 404 without it.
    #[arg(long, env = "BILLING_WEBHOOK_SECRET", hide_env_values = true)]
    pub billing_webhook_secret: Option<Secret>,

    /// How far (seconds) a signature's timestamp may be from now.
    #[arg(long, env = "BILLING_SIGNATURE_TOLERANCE_SECONDS", default_value_t = 300)]
    pub billing_signature_tolerance_seconds: u64,

    /// The plan each provider price stands for, `price_id=plan` separated by commas
    /// (`price_1Abc=team,price_1Def=enterprise`).
    #[arg(long, env = "BILLING_PRICE_PLANS")]
    pub billing_price_plans: Option<String>,
}

impl BillingSection {
    pub fn validate(&self, plans: &PlanCatalogue) -> Result<(), ConfigError> {
        within(
            "BILLING_SIGNATURE_TOLERANCE_SECONDS",
            self.billing_signature_tolerance_seconds,
            1..=3_600,
        )?;
        self.settings(plans).map(|_| ())
    }

    /// The price-to-plan map, every plan checked against the catalogue.
    pub fn settings(&self, plans: &PlanCatalogue) -> Result<BillingSettings, ConfigError> {
        let mut price_plans = HashMap::new();
        for entry in list(self.billing_price_plans.as_deref()) {
            let bad = |why: String| ConfigError::Billing(format!("BILLING_PRICE_PLANS: `{entry}` {why}"));
            let (price, plan) = entry
                .split_once('=')
                .ok_or_else(|| bad("is not `price_id=plan`".into()))?;
            let plan = PlanKey::parse(plan.trim()).map_err(bad)?;
            if plans.get(&plan).is_none() {
                return Err(bad(format!("names `{plan}`, which is not a plan of the catalogue")));
            }
            price_plans.insert(price.trim().to_owned(), plan);
        }
        Ok(BillingSettings { price_plans })
    }

    pub fn webhook(&self) -> tessera_api::http::billing::BillingWebhook {
        tessera_api::http::billing::BillingWebhook {
            secret: self
                .billing_webhook_secret
                .as_ref()
                .filter(|secret| !secret.is_blank())
                .map(|secret| secret.expose().to_owned()),
            tolerance: Duration::from_secs(self.billing_signature_tolerance_seconds),
        }
    }
}
