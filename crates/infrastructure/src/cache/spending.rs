//! An authentication's lookup and its rate-limit spending in one Redis round trip.
//!
//! When this replica keeps the member's access locally, the buckets the request draws
//! from are known before Redis answers: one script checks the session's revocation
//! mark, then the tenant's generation against the one the local entry was kept under,
//! and only when both hold spends the buckets (by the rate limiter's own rule and keys).
//! An ended session or a changed tenant spends nothing; the request then goes the
//! usual way (its access read afresh, its buckets spent by the rate limiter).

use deadpool_redis::redis::Script;
use tessera_application::ports::{AccessLookup, ApiKeyLookup, BucketsFor, KeyBucketsFor, SpendingLookup};
use tessera_domain::rate_limit::Quota;
use tessera_domain::{ApiKeyId, SessionId, TenantId, UserId};
use tracing::Instrument as _;

use super::generation::current_generation_lua;
use super::{API_KEY, MEMBER_ACCESS, RedisAccessCache, count};
use crate::rate_limits::{bucket_key, decisions_from, gcra_spend_lua};
use crate::telemetry;

/// `KEYS[1]` the session's revocation mark, `KEYS[2]` the tenant's generation, then the
/// buckets; `ARGV[1]` the generation the local entry was kept under, then each
/// bucket's interval and period. Answers `{1}` for an ended session, `{0, generation,
/// 0}` when the generation moved on (nothing spent), else `{0, generation, 1, ...}`
/// with the spending's answer.
const SPEND_IF_CURRENT: &str = concat!(
    gcra_spend_lua!(),
    current_generation_lua!(),
    r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
local generation = current_generation(KEYS[2])
if generation ~= ARGV[1] then return {0, tonumber(generation), 0} end
local out = spend(3, 2)
table.insert(out, 1, 1)
table.insert(out, 1, tonumber(generation))
table.insert(out, 1, 0)
return out
"
);

/// `KEYS[1]` the tenant's generation, then the buckets; `ARGV[1]` the generation the
/// local API key was kept under, then each bucket's interval and period. Answers
/// `{generation, 0}` when the generation moved on or is absent (read as 0, never a
/// stamp; an API key's lookup does not seed it: see `generation`), nothing spent, else
/// `{generation, 1, ...}` with the spending's answer.
const KEY_SPEND_IF_CURRENT: &str = concat!(
    gcra_spend_lua!(),
    r"
local generation = redis.call('GET', KEYS[1]) or '0'
if generation ~= ARGV[1] then return {tonumber(generation), 0} end
local out = spend(2, 2)
table.insert(out, 1, 1)
table.insert(out, 1, tonumber(generation))
return out
"
);

pub(super) fn script() -> Script {
    Script::new(SPEND_IF_CURRENT)
}

pub(super) fn key_script() -> Script {
    Script::new(KEY_SPEND_IF_CURRENT)
}

/// Runs one of the spending scripts: `marks` as its first keys, the stamp the local
/// entry was kept under as its first argument, then each bucket's key, interval and
/// period; `call` names the Redis call and its tenant on the trace (before the request's
/// tenant span exists). `None` when Redis could not answer.
async fn run(
    connection: &mut deadpool_redis::Connection,
    script: &Script,
    marks: &[String],
    kept_under: i64,
    wanted: &[(String, Quota)],
    (call, tenant_id): (&'static str, TenantId),
) -> Option<Vec<i64>> {
    let mut invocation = script.prepare_invoke();
    for mark in marks {
        invocation.key(mark);
    }
    invocation.arg(kept_under);
    for (bucket, quota) in wanted {
        invocation
            .key(bucket_key(bucket))
            .arg(quota.emission_interval_ms())
            .arg(quota.period_ms());
    }
    let span = telemetry::redis_call(call);
    span.record("tenant.id", tracing::field::display(tenant_id));
    match invocation.invoke_async(connection).instrument(span).await {
        Ok(answer) => Some(answer),
        Err(error) => {
            tracing::warn!(%error, "access cache read failed; reading from the database");
            None
        }
    }
}

impl RedisAccessCache {
    pub(super) async fn lookup_and_spend(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        session_id: SessionId,
        buckets: &BucketsFor<'_>,
    ) -> SpendingLookup {
        use tessera_application::ports::AccessCache as _;
        let Some((access, kept_under)) = self.local.get(&(tenant_id, user_id)).await else {
            return SpendingLookup {
                lookup: self.lookup(tenant_id, user_id, session_id).await,
                spent: None,
            };
        };
        let unanswered = SpendingLookup {
            lookup: AccessLookup::UNANSWERED,
            spent: None,
        };
        let Some(mut connection) = self.connection().await else {
            return unanswered;
        };
        let wanted = buckets(&access);
        let marks = [Self::revoked_key(session_id), Self::generation_key(tenant_id)];
        let call = ("EVALSHA session access rate limit", tenant_id);
        let Some(answer) = run(
            &mut connection,
            &self.spend_if_current,
            &marks,
            kept_under,
            &wanted,
            call,
        )
        .await
        else {
            return unanswered;
        };
        match answer.as_slice() {
            [1, ..] => SpendingLookup {
                lookup: AccessLookup {
                    revoked: true,
                    ..AccessLookup::MISS
                },
                spent: None,
            },
            // The script spends only when the generation is the entry's.
            [0, generation, 1, spending @ ..] => {
                count(Some(()), MEMBER_ACCESS, "local");
                SpendingLookup {
                    lookup: AccessLookup {
                        revoked: false,
                        access: Some(access),
                        generation: u64::try_from(*generation).unwrap_or(u64::MAX),
                    },
                    spent: Some(decisions_from(spending, &wanted)),
                }
            }
            [0, generation, 0] => SpendingLookup {
                // The tenant changed since the entry was kept: what Redis holds now.
                lookup: self.found_under(&mut connection, tenant_id, user_id, *generation).await,
                spent: None,
            },
            _ => {
                tracing::error!("the access and rate limit script answered an unknown form");
                unanswered
            }
        }
    }
}

impl RedisAccessCache {
    /// A kept API key's generation check and its request's spending in one script.
    pub(super) async fn get_api_key_and_spend(
        &self,
        tenant_id: TenantId,
        key_id: ApiKeyId,
        buckets: &KeyBucketsFor<'_>,
    ) -> SpendingLookup<ApiKeyLookup> {
        use tessera_application::ports::AccessCache as _;
        let kept = self.api_keys.get(&(tenant_id, key_id)).await;
        let Some(((key, kept_under), wanted)) = kept.and_then(|kept| buckets(&kept.0).map(|wanted| (kept, wanted)))
        else {
            return SpendingLookup {
                lookup: self.get_api_key(tenant_id, key_id).await,
                spent: None,
            };
        };
        let unanswered = SpendingLookup {
            lookup: ApiKeyLookup {
                key: None,
                generation: u64::MAX,
            },
            spent: None,
        };
        let Some(mut connection) = self.connection().await else {
            return unanswered;
        };
        let marks = [Self::generation_key(tenant_id)];
        let call = ("EVALSHA api key rate limit", tenant_id);
        let Some(answer) = run(
            &mut connection,
            &self.key_spend_if_current,
            &marks,
            kept_under,
            &wanted,
            call,
        )
        .await
        else {
            return unanswered;
        };
        match answer.as_slice() {
            // The script spends only when the generation is the key's.
            [generation, 1, spending @ ..] => SpendingLookup {
                lookup: ApiKeyLookup {
                    key: count(Some(key), API_KEY, "local"),
                    generation: u64::try_from(*generation).unwrap_or(u64::MAX),
                },
                spent: Some(decisions_from(spending, &wanted)),
            },
            // The tenant changed since the key was kept: it no longer counts.
            [generation, 0] => SpendingLookup {
                lookup: ApiKeyLookup {
                    key: count(None, API_KEY, "local"),
                    generation: u64::try_from(*generation).unwrap_or(u64::MAX),
                },
                spent: None,
            },
            _ => {
                tracing::error!("the API key and rate limit script answered an unknown form");
                unanswered
            }
        }
    }
}
