//! The daily usage rollups in memory.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::NaiveDate;
use tessera_domain::{ApiKeyId, Bucket, Principal, RoleId, Tenant, TenantId, UsageCounts, UsageKey, UsagePoint};

use crate::TenantScope;
use crate::ports::{ActivityWindow, StoreResult, TenantActivity, TenantCalls, UsageRepository};

/// Each tenant's calls, errors and last day with calls from `since` up to `until`.
fn totals(state: &State, since: NaiveDate, until: NaiveDate) -> BTreeMap<TenantId, (u64, u64, NaiveDate)> {
    let mut totals: BTreeMap<TenantId, (u64, u64, NaiveDate)> = BTreeMap::new();
    for (key, counts) in &state.usage {
        if key.day >= since && key.day < until {
            let entry = totals.entry(key.tenant_id).or_insert((0, 0, key.day));
            entry.0 += counts.api_calls;
            entry.1 += counts.errors;
            entry.2 = entry.2.max(key.day);
        }
    }
    totals
}

use super::store::*;

#[async_trait]
impl UsageRepository for FakeTransaction {
    async fn add(&self, rows: &[(UsageKey, UsageCounts)]) -> StoreResult<()> {
        let mut state = self.state();
        for (key, counts) in rows {
            if state.tenants.iter().any(|t| t.id == key.tenant_id) {
                state.usage.entry(*key).or_default().add(*counts);
            }
        }
        Ok(())
    }

    async fn month_calls(&self, tenants: &[TenantId], month: NaiveDate) -> StoreResult<Vec<(TenantId, u64)>> {
        let state = self.state();
        let mut totals: BTreeMap<TenantId, u64> = BTreeMap::new();
        for (key, counts) in &state.usage {
            if tessera_domain::usage::first_of_month(key.day) == month && tenants.contains(&key.tenant_id) {
                *totals.entry(key.tenant_id).or_default() += counts.api_calls;
            }
        }
        Ok(totals.into_iter().collect())
    }

    async fn series(&self, scope: &TenantScope, buckets: &[Bucket]) -> StoreResult<Vec<UsagePoint>> {
        let state = self.state();
        Ok(buckets
            .iter()
            .map(|bucket| {
                let mut point = UsagePoint {
                    bucket: *bucket,
                    api_calls: 0,
                    api_key_calls: 0,
                    errors: 0,
                    refused: 0,
                    active_users: 0,
                };
                let mut people = BTreeSet::new();
                let rows = state.usage.iter().filter(|(key, _)| {
                    in_scope(scope, key.tenant_id) && key.day >= bucket.start && key.day < bucket.end
                });
                for (key, counts) in rows {
                    point.api_calls += counts.api_calls;
                    point.errors += counts.errors;
                    point.refused += counts.refused;
                    match key.principal {
                        Principal::ApiKey(_) => point.api_key_calls += counts.api_calls,
                        Principal::Person(user) => {
                            people.insert(user);
                        }
                    }
                }
                point.active_users = people.len() as u64;
                point
            })
            .collect())
    }

    async fn top_api_keys(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
        limit: u64,
    ) -> StoreResult<Vec<(ApiKeyId, u64)>> {
        let state = self.state();
        let mut calls: BTreeMap<ApiKeyId, u64> = BTreeMap::new();
        for (key, counts) in &state.usage {
            if let Principal::ApiKey(id) = key.principal
                && in_scope(scope, key.tenant_id)
                && key.day >= from
                && key.day < to
                && counts.api_calls > 0
            {
                *calls.entry(id).or_default() += counts.api_calls;
            }
        }
        let mut ranked: Vec<_> = calls.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(ranked)
    }

    async fn member_tallies(&self, scope: &TenantScope) -> StoreResult<Vec<(RoleId, String, String, u64)>> {
        let state = self.state();
        let mut tallies: BTreeMap<(String, String, RoleId), u64> = BTreeMap::new();
        for membership in state.memberships.iter().filter(|m| in_scope(scope, m.tenant_id)) {
            let Some(role) = state
                .roles
                .iter()
                .find(|r| r.tenant_id == membership.tenant_id && r.id == membership.role_id)
            else {
                continue;
            };
            let key = (
                role.name.as_str().to_owned(),
                membership.status.as_str().to_owned(),
                role.id,
            );
            *tallies.entry(key).or_default() += 1;
        }
        Ok(tallies
            .into_iter()
            .map(|((name, status, role), n)| (role, name, status, n))
            .collect())
    }

    async fn invitation_tallies(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<(String, u64)>> {
        let state = self.state();
        let mut tallies: BTreeMap<String, u64> = BTreeMap::new();
        for invitation in state.invitations.iter().filter(|i| {
            in_scope(scope, i.tenant_id) && i.created_at.date_naive() >= from && i.created_at.date_naive() < to
        }) {
            *tallies.entry(invitation.status.as_str().to_owned()).or_default() += 1;
        }
        Ok(tallies.into_iter().collect())
    }

    async fn tenant_tallies(&self) -> StoreResult<Vec<(String, String, u64)>> {
        let state = self.state();
        let mut tallies: BTreeMap<(String, String), u64> = BTreeMap::new();
        for tenant in &state.tenants {
            *tallies
                .entry((tenant.plan.to_string(), tenant.status.as_str().to_owned()))
                .or_default() += 1;
        }
        Ok(tallies
            .into_iter()
            .map(|((plan, status), n)| (plan, status, n))
            .collect())
    }

    async fn sign_ups(&self, buckets: &[Bucket]) -> StoreResult<Vec<(u64, u64)>> {
        let state = self.state();
        let within = |at: chrono::DateTime<chrono::Utc>, bucket: &Bucket| {
            at.date_naive() >= bucket.start && at.date_naive() < bucket.end
        };
        Ok(buckets
            .iter()
            .map(|bucket| {
                let sign_ups = state.users.iter().filter(|u| within(u.created_at, bucket)).count();
                let activations = state
                    .onboarding
                    .iter()
                    .filter(|o| o.progress.completed_at.is_some_and(|at| within(at, bucket)))
                    .count();
                (sign_ups as u64, activations as u64)
            })
            .collect())
    }

    async fn tenant_activity(
        &self,
        window: &ActivityWindow,
        monthly_limits: &[(String, u64)],
        ranked: u64,
        candidates: u64,
    ) -> StoreResult<TenantActivity> {
        let state = self.state();
        let mut active = totals(&state, window.since, window.until);
        active.retain(|_, (calls, _, _)| *calls > 0);
        let recently = active.values().filter(|(_, _, last)| *last >= window.recent).count();
        let named = |tenant_id: TenantId, calls: u64, errors: u64| {
            let tenant = state.tenants.iter().find(|t| t.id == tenant_id)?;
            Some(TenantCalls {
                tenant_id,
                slug: tenant.slug.to_string(),
                name: tenant.name.as_str().to_owned(),
                calls,
                errors,
            })
        };
        let in_range: Vec<TenantCalls> = totals(&state, window.month, window.until)
            .into_iter()
            .filter_map(|(tenant_id, (calls, errors, _))| named(tenant_id, calls, errors))
            .collect();
        let ranking = |measure: fn(&TenantCalls) -> u64| {
            let mut ranked_list: Vec<TenantCalls> = in_range.iter().filter(|t| measure(t) > 0).cloned().collect();
            ranked_list.sort_by(|a, b| measure(b).cmp(&measure(a)).then(a.tenant_id.cmp(&b.tenant_id)));
            ranked_list.truncate(usize::try_from(ranked).unwrap_or(usize::MAX));
            ranked_list
        };
        let mut month_calls: Vec<(Tenant, u64)> = totals(&state, window.month, window.until)
            .into_iter()
            .filter(|(_, (calls, _, _))| *calls > 0)
            .filter_map(|(tenant_id, (calls, _, _))| {
                let tenant = state.tenants.iter().find(|t| t.id == tenant_id)?;
                let limit = monthly_limits.iter().find(|(plan, _)| *plan == tenant.plan.to_string());
                let near = limit.is_some_and(|(_, limit)| calls * 100 >= limit * window.near_percent);
                (near || !tenant.plan_overrides.is_empty()).then(|| (tenant.clone(), calls))
            })
            .collect();
        month_calls.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
        month_calls.truncate(usize::try_from(candidates).unwrap_or(usize::MAX));
        Ok(TenantActivity {
            active_since: active.len() as u64,
            active_recently: recently as u64,
            busiest: ranking(|t| t.calls),
            most_errors: ranking(|t| t.errors),
            month_calls,
        })
    }
}
