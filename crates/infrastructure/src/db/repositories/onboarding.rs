use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use tessera_application::TenantScope;
use tessera_application::ports::{
    OnboardingFunnel, OnboardingRepository, StoreError, StoreResult, TenantSettingsRepository,
};
use tessera_domain::OnboardingRecord;
use tessera_domain::{MembershipStatus, OnboardingStage, TenantSettings, UserId};

use crate::db::entities::{membership, onboarding_progress, tenant_setting};
use crate::db::{SeaTransaction, db_failure, found, scoped, unique_as};

/// Seconds from start to completion, in each backend's date arithmetic.
fn seconds_to_complete(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust("EXTRACT(EPOCH FROM (completed_at - started_at))::float8"),
        _ => Expr::cust("(julianday(completed_at) - julianday(started_at)) * 86400.0"),
    }
}

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
        self.insert_row(onboarding_progress::Model::from_record(record), unique_as("onboarding"))
            .await
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
        found(result.rows_affected)
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
        // The tenant's active members, through the tenant-scoped select; progress rows
        // are the members' own (one per person) and are matched against them.
        let active = || {
            scoped::select::<membership::Entity>(scope)
                .filter(membership::Column::Status.eq(MembershipStatus::Active.as_str()))
        };
        let member_ids = || active().select_only().column(membership::Column::UserId).into_query();
        let members = active().count(&self.txn).await.map_err(db_failure)?;
        let begun: Vec<(String, i64)> = onboarding_progress::Entity::find()
            .select_only()
            .column(onboarding_progress::Column::Stage)
            .column_as(onboarding_progress::Column::UserId.count(), "members")
            .filter(onboarding_progress::Column::UserId.in_subquery(member_ids()))
            .group_by(onboarding_progress::Column::Stage)
            .into_tuple()
            .all(&self.txn)
            .await
            .map_err(db_failure)?;
        let mut by_stage: Vec<(OnboardingStage, u64)> = OnboardingStage::ALL.iter().map(|s| (*s, 0)).collect();
        for (stage, count) in begun {
            let stage = OnboardingStage::parse(&stage)
                .ok_or_else(|| StoreError::failure(format!("unknown onboarding stage {stage}")))?;
            if let Some(entry) = by_stage.iter_mut().find(|(s, _)| *s == stage) {
                entry.1 = u64::try_from(count).unwrap_or_default();
            }
        }
        // Members who never began are at the start.
        let begun_total: u64 = by_stage.iter().map(|(_, n)| n).sum();
        by_stage[0].1 += members.saturating_sub(begun_total);
        let completed = by_stage[by_stage.len() - 1].1;
        // The median: the database orders the durations and hands back the middle one
        // or two; nothing else is loaded.
        let median = if completed == 0 {
            None
        } else {
            let duration = seconds_to_complete(self.backend);
            let middle: Vec<f64> = onboarding_progress::Entity::find()
                .select_only()
                .column_as(duration.clone(), "seconds")
                .filter(onboarding_progress::Column::UserId.in_subquery(member_ids()))
                .filter(onboarding_progress::Column::CompletedAt.is_not_null())
                .order_by(duration, sea_orm::Order::Asc)
                .limit(2 - completed % 2)
                .offset((completed - 1) / 2)
                .into_tuple()
                .all(&self.txn)
                .await
                .map_err(db_failure)?;
            (!middle.is_empty()).then(|| middle.iter().sum::<f64>() / middle.len() as f64)
        };
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

    async fn upsert(
        &self,
        scope: &TenantScope,
        previous: &TenantSettings,
        settings: &TenantSettings,
    ) -> StoreResult<()> {
        scoped::ensure_owned(scope, settings.tenant_id)?;
        let row = tenant_setting::Model::from_domain(settings);
        let before = tenant_setting::Model::from_domain(previous);
        let mut update = scoped::update::<tenant_setting::Entity>(scope)
            .col_expr(tenant_setting::Column::UpdatedAt, Expr::value(row.updated_at));
        // Only what this change changed: a concurrent change of another field stands.
        macro_rules! changed {
            ($($field:ident => $column:ident),*) => {$(
                if row.$field != before.$field {
                    update = update.col_expr(tenant_setting::Column::$column, Expr::value(row.$field.clone()));
                }
            )*};
        }
        changed!(
            logo_url => LogoUrl,
            primary_colour => PrimaryColour,
            locale => Locale,
            time_zone => TimeZone,
            company_size => CompanySize,
            industry => Industry
        );
        let updated = update.exec(&self.txn).await.map_err(db_failure)?;
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
