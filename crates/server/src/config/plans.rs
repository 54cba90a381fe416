//! Plans: the catalogue of what each plan allows, and the plan new tenants start on.

use std::path::PathBuf;

use clap::Args;
use tessera_domain::{PlanCatalogue, PlanKey};

use super::ConfigError;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Plans")]
pub struct PlansSection {
    /// The plan catalogue, a TOML file (see deploy/plans.example.toml); without it the
    /// built-in `free`, `team` and `enterprise`.
    #[arg(long, env = "PLANS_FILE")]
    pub plans_file: Option<PathBuf>,

    /// The plan new tenants start on; the catalogue's `default` without it.
    #[arg(long, env = "DEFAULT_PLAN")]
    pub default_plan: Option<String>,
}

impl PlansSection {
    /// The catalogue, read and checked (a mistake names the file, the plan and what is wrong).
    pub fn catalogue(&self) -> Result<PlanCatalogue, ConfigError> {
        let catalogue = match &self.plans_file {
            Some(path) => tessera_infrastructure::plan_file::load_catalogue(path).map_err(ConfigError::Plans)?,
            None => PlanCatalogue::built_in(),
        };
        match &self.default_plan {
            None => Ok(catalogue),
            Some(key) => {
                let key = PlanKey::parse(key).map_err(|e| ConfigError::Plans(format!("DEFAULT_PLAN: {e}")))?;
                catalogue
                    .with_default(key)
                    .map_err(|e| ConfigError::Plans(format!("DEFAULT_PLAN: {e}")))
            }
        }
    }
}
