use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, Statement,
};
use tessera_application::TenantScope;
use tessera_application::ports::{
    OnboardingFunnel, OnboardingRecord, OnboardingRepository, StoreError, StoreResult, TenantSettingsRepository,
};
use tessera_domain::{OnboardingStage, TenantSettings, UserId};

use crate::db::entities::{onboarding_progress, tenant_setting};
use crate::db::{SeaTransaction, db_failure, scoped, unique_as};

/// Members of the tenant per stage; members who never began count as `started`.
const FUNNEL_POSTGRES: &str = "SELECT COALESCE(op.stage, 'started') AS stage, COUNT(*) AS members \
     FROM memberships m LEFT JOIN onboarding_progress op ON op.user_id = m.user_id \
     WHERE m.tenant_id = $1 AND m.status = 'active' GROUP BY 1";
const FUNNEL_SQLITE: &str = "SELECT COALESCE(op.stage, 'started') AS stage, COUNT(*) AS members \
     FROM memberships m LEFT JOIN onboarding_progress op ON op.user_id = m.user_id \
     WHERE m.tenant_id = ? AND m.status = 'active' GROUP BY 1";
/// The median time from start to completion, in seconds, of the tenant's members.
const MEDIAN_POSTGRES: &str = "SELECT (percentile_cont(0.5) WITHIN GROUP \
     (ORDER BY EXTRACT(EPOCH FROM (op.completed_at - op.started_at))))::float8 AS median \
     FROM memberships m JOIN onboarding_progress op ON op.user_id = m.user_id \
     WHERE m.tenant_id = $1 AND m.status = 'active' AND op.completed_at IS NOT NULL";
const MEDIAN_SQLITE: &str = "WITH d AS (SELECT (julianday(op.completed_at) - julianday(op.started_at)) * 86400.0 AS s \
     FROM memberships m JOIN onboarding_progress op ON op.user_id = m.user_id \
     WHERE m.tenant_id = ? AND m.status = 'active' AND op.completed_at IS NOT NULL) \
     SELECT AVG(s) AS median FROM (SELECT s FROM d ORDER BY s \
     LIMIT 2 - (SELECT COUNT(*) FROM d) % 2 OFFSET (SELECT (COUNT(*) - 1) / 2 FROM d))";

#[async_trait]
impl OnboardingRepository for SeaTransaction {
    async fn find(&self, user_id: UserId) -> StoreResult<Option<OnboardingRecord>> {
        onboarding_progress::Entity::find_by_id(user_id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(onboarding_progress::Model::into_record)
            .transpose()
    }

    async fn insert(&self, record: &OnboardingRecord) -> StoreResult<()> {
        onboarding_progress::Model::from_record(record)
            .into_active_model()
            .reset_all()
            .insert(&self.txn)
            .await
            .map_err(unique_as("onboarding"))?;
        Ok(())
    }

    async fn save(&self, record: &OnboardingRecord, expected_version: i64) -> StoreResult<()> {
        let row = onboarding_progress::Model::from_record(record);
        // One conditional UPDATE: whoever saved since `expected_version` wins, this loses.
        let result = onboarding_progress::Entity::update_many()
            .col_expr(onboarding_progress::Column::Stage, Expr::value(row.stage))
            .col_expr(onboarding_progress::Column::Version, Expr::value(row.version))
            .col_expr(
                onboarding_progress::Column::PersonalInfo,
                Expr::value(row.personal_info),
            )
            .col_expr(onboarding_progress::Column::Organization, Expr::value(row.organization))
            .col_expr(onboarding_progress::Column::Terms, Expr::value(row.terms))
            .col_expr(onboarding_progress::Column::Draft, Expr::value(row.draft))
            .col_expr(onboarding_progress::Column::UpdatedAt, Expr::value(row.updated_at))
            .col_expr(onboarding_progress::Column::CompletedAt, Expr::value(row.completed_at))
            .filter(onboarding_progress::Column::UserId.eq(row.user_id))
            .filter(onboarding_progress::Column::Version.eq(expected_version))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if result.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn is_completed(&self, user_id: UserId) -> StoreResult<bool> {
        let row = onboarding_progress::Entity::find_by_id(user_id.as_uuid())
            .filter(onboarding_progress::Column::CompletedAt.is_not_null())
            .one(&self.txn)
            .await
            .map_err(db_failure)?;
        Ok(row.is_some())
    }

    async fn funnel(&self, scope: &TenantScope) -> StoreResult<OnboardingFunnel> {
        let (funnel_sql, median_sql) = match self.backend {
            DbBackend::Postgres => (FUNNEL_POSTGRES, MEDIAN_POSTGRES),
            _ => (FUNNEL_SQLITE, MEDIAN_SQLITE),
        };
        let tenant = scope.tenant_id().as_uuid();
        let rows = self
            .txn
            .query_all_raw(Statement::from_sql_and_values(
                self.backend,
                funnel_sql,
                [tenant.into()],
            ))
            .await
            .map_err(db_failure)?;
        let mut by_stage: Vec<(OnboardingStage, u64)> = OnboardingStage::ALL.iter().map(|s| (*s, 0)).collect();
        for row in rows {
            let stage: String = row.try_get("", "stage").map_err(db_failure)?;
            let members: i64 = row.try_get("", "members").map_err(db_failure)?;
            let stage = OnboardingStage::parse(&stage)
                .ok_or_else(|| StoreError::failure(format!("unknown onboarding stage {stage}")))?;
            if let Some(entry) = by_stage.iter_mut().find(|(s, _)| *s == stage) {
                entry.1 = u64::try_from(members).unwrap_or_default();
            }
        }
        let median = self
            .txn
            .query_one_raw(Statement::from_sql_and_values(
                self.backend,
                median_sql,
                [tenant.into()],
            ))
            .await
            .map_err(db_failure)?
            .map(|row| row.try_get::<Option<f64>>("", "median"))
            .transpose()
            .map_err(db_failure)?
            .flatten();
        let members = by_stage.iter().map(|(_, n)| n).sum();
        let completed = by_stage
            .iter()
            .find(|(s, _)| *s == OnboardingStage::Completed)
            .map_or(0, |(_, n)| *n);
        Ok(OnboardingFunnel {
            by_stage,
            members,
            completed,
            median_seconds_to_complete: median,
        })
    }
}

#[async_trait]
impl TenantSettingsRepository for SeaTransaction {
    async fn find(&self, scope: &TenantScope) -> StoreResult<Option<TenantSettings>> {
        scoped::select::<tenant_setting::Entity>(scope)
            .one(&self.txn)
            .await
            .map_err(db_failure)?
            .map(tenant_setting::Model::into_domain)
            .transpose()
    }

    async fn upsert(&self, scope: &TenantScope, settings: &TenantSettings) -> StoreResult<()> {
        scoped::ensure_owned(scope, settings.tenant_id)?;
        let row = tenant_setting::Model::from_domain(settings);
        let updated = scoped::update::<tenant_setting::Entity>(scope)
            .col_expr(tenant_setting::Column::LogoUrl, Expr::value(row.logo_url.clone()))
            .col_expr(
                tenant_setting::Column::PrimaryColour,
                Expr::value(row.primary_colour.clone()),
            )
            .col_expr(tenant_setting::Column::Locale, Expr::value(row.locale.clone()))
            .col_expr(tenant_setting::Column::TimeZone, Expr::value(row.time_zone.clone()))
            .col_expr(
                tenant_setting::Column::CompanySize,
                Expr::value(row.company_size.clone()),
            )
            .col_expr(tenant_setting::Column::Industry, Expr::value(row.industry.clone()))
            .col_expr(tenant_setting::Column::UpdatedAt, Expr::value(row.updated_at))
            .exec(&self.txn)
            .await
            .map_err(db_failure)?;
        if updated.rows_affected == 0 {
            // Two first saves at once: the loser finds the row and is told to retry.
            row.into_active_model()
                .reset_all()
                .insert(&self.txn)
                .await
                .map_err(unique_as("settings"))?;
        }
        Ok(())
    }
}
