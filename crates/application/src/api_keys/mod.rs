//! Tenant API keys for partner integrations: created by a person with
//! `api_keys:manage`, never with more rights than that person holds, shown once,
//! stored as a digest, usable until revoked or expired, confined to their tenant.
//! A key is a machine principal: it acts with exactly its own permissions, inherits
//! no role or workspace role of its creator, and never outlives or outranks them (a
//! creator who leaves or is removed takes their keys along; one whose role shrinks
//! takes their keys down with it).

use chrono::{DateTime, Utc};
use tessera_domain::{ApiKey, ApiKeyId, AuditActor, Limit, Name, NewAuditEvent, Permission, PermissionSet, TenantId};
use uuid::Uuid;

use crate::ForbiddenReason;
use crate::ports::{CachedApiKey, KeyCreators, Transaction};
use crate::roles::permission_list;
use crate::{AppError, Application, FieldErrors, Page, PageRequest, RequestContext, TenantScope};

const PREFIX: &str = "tsk_";
const REFUSED: &str = "the API key is not valid";

#[derive(Debug, Clone)]
pub struct CreateApiKey {
    pub name: String,
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new key and its secret (shown this once).
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// `tsk_<tenant, 32 hex>_<key id, 32 hex>_<random>`.
fn parse(secret: &str) -> Option<(TenantId, ApiKeyId)> {
    let (tenant, key) = parse_secret(PREFIX, secret)?;
    Some((TenantId::from_uuid(tenant), ApiKeyId::from_uuid(key)))
}

/// A tenant credential's secret, `<prefix><tenant, 32 hex>_<id, 32 hex>_<random>`: the
/// tenant and the credential it names (its digest then proves it).
pub(crate) fn parse_secret(prefix: &str, secret: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = secret.trim().strip_prefix(prefix)?.splitn(3, '_');
    let tenant = Uuid::try_parse(parts.next()?).ok()?;
    let id = Uuid::try_parse(parts.next()?).ok()?;
    parts.next().filter(|random| !random.is_empty())?;
    Some((tenant, id))
}

/// Compares two digests in time independent of where they differ.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Application {
    #[tracing::instrument(level = "debug", name = "create_api_key", skip_all)]
    pub async fn create_api_key(&self, ctx: &RequestContext, input: CreateApiKey) -> Result<CreatedApiKey, AppError> {
        let creator = ctx.require_person()?;
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let now = self.ports.clock.now();
        let mut errors = FieldErrors::new();
        let name = errors.check("name", Name::parse(&input.name));
        let permissions = errors.check(
            "permissions",
            tessera_domain::PermissionSet::parse_names(input.permissions.iter().map(String::as_str))
                .map_err(|unknown| format!("unknown permissions: {}", unknown.join(", "))),
        );
        if input.expires_at.is_some_and(|expiry| expiry <= now) {
            errors.add("expiresAt", "must be in the future");
        }
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(AppError::Validation(errors));
        };
        errors.into_result()?;
        ctx.ensure_can_grant(&permissions)?;

        let id = ApiKeyId::from_uuid(self.ports.ids.new_id());
        let random = self.ports.secrets.generate("");
        let secret = format!(
            "{PREFIX}{}_{}_{}",
            scope.tenant_id().as_uuid().simple(),
            id.as_uuid().simple(),
            random.plain
        );
        let key = ApiKey {
            id,
            tenant_id: scope.tenant_id(),
            name,
            permissions,
            secret_digest: self.ports.secrets.digest(&secret),
            created_by: creator,
            created_at: now,
            expires_at: input.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let tx = self.quota_tx(&scope).await?;
        self.entitle(tx.as_ref(), &scope, Limit::ApiKeys).await?;
        tx.api_keys().insert(&scope, &key).await?;
        let event = ctx
            .audit("api_key.created", "api_key", key.id, now)
            .change("name", None::<&str>, Some(key.name.as_str()))
            .change("permissions", None::<String>, Some(permission_list(&key.permissions)))
            .change("expires_at", None::<String>, key.expires_at.map(|at| at.to_rfc3339()));
        self.commit_with(tx, &event).await?;
        Ok(CreatedApiKey { key, secret })
    }

    pub async fn list_api_keys(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<ApiKey>, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.api_keys().list(&scope, page).await?)
    }

    pub async fn count_api_keys(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        Ok(tx.api_keys().count(&scope).await?)
    }

    #[tracing::instrument(level = "debug", name = "revoke_api_key", skip_all, fields(api_key_id = %id))]
    pub async fn revoke_api_key(&self, ctx: &RequestContext, id: ApiKeyId) -> Result<ApiKey, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.tenant_tx(&scope).await?;
        let mut key = tx
            .api_keys()
            .find_by_id(&scope, id)
            .await?
            .ok_or(AppError::NotFound("API key"))?;
        let now = self.ports.clock.now();
        // Revoking a revoked key (also one revoked by a request racing this one)
        // changes nothing and records nothing.
        if key.revoke(now) && tx.api_keys().revoke(&scope, id, now).await? {
            let event = ctx.audit("api_key.revoked", "api_key", key.id, now).change(
                "revoked_at",
                None::<String>,
                Some(now.to_rfc3339()),
            );
            self.commit_with(tx, &event).await?;
            // Cached keys of the tenant are dropped on every replica.
            self.access_changed(scope.tenant_id()).await;
        }
        Ok(key)
    }

    /// Keeps API keys within their creators' authority, inside the caller's
    /// transaction: with `held = None` (the creator left or was removed) every live key
    /// they made is revoked; otherwise each is cut down to `held`. One audit event per
    /// key changed, by the caller, naming `reason`. The caller drops the tenant's
    /// cached access after its commit (every caller changes access anyway).
    pub(crate) async fn confine_api_keys(
        &self,
        tx: &dyn Transaction,
        ctx: &crate::context::Acting<'_>,
        creators: KeyCreators,
        held: Option<&PermissionSet>,
        reason: &'static str,
    ) -> Result<usize, AppError> {
        let scope = ctx.scope;
        let now = self.ports.clock.now();
        let mut changed = 0;
        for mut key in tx.api_keys().live_created_by(scope, &creators).await? {
            let event = match held {
                None => {
                    if !(key.revoke(now) && tx.api_keys().revoke(scope, key.id, now).await?) {
                        continue;
                    }
                    ctx.audit("api_key.revoked", "api_key", key.id, now)
                        .change("revoked_at", None::<String>, Some(now.to_rfc3339()))
                        .change("reason", None::<&str>, Some(reason))
                }
                Some(held) => {
                    let Some(kept) = key.confined_to(held) else {
                        continue;
                    };
                    if !tx.api_keys().restrict(scope, key.id, &key.permissions, &kept).await? {
                        continue;
                    }
                    ctx.audit("api_key.permissions_reduced", "api_key", key.id, now)
                        .change(
                            "permissions",
                            Some(permission_list(&key.permissions)),
                            Some(permission_list(&kept)),
                        )
                        .change("reason", None::<&str>, Some(reason))
                }
            };
            self.journal(tx, &event).await?;
            changed += 1;
        }
        Ok(changed)
    }

    /// Turns an API key secret into a request context for the key's own tenant, with
    /// the key's permissions cut down to what its creator, still an active member,
    /// holds now.
    #[tracing::instrument(level = "debug", name = "authenticate_api_key", skip_all)]
    pub async fn authenticate_api_key(&self, secret: &str) -> Result<RequestContext, AppError> {
        self.authenticate_api_key_with(secret, None).await
    }

    /// [`Application::authenticate_api_key`] for a request that [`Application::admit`]
    /// admits next unless the key's plan refuses it first: when the key is kept, answers
    /// by itself and would not be refused (an untrusted document where its plan requires
    /// trusted ones, its tenant's monthly calls spent), its rate-limit buckets are spent
    /// with the cache lookup, in one round trip where the cache allows, and `admit`
    /// uses those decisions.
    #[tracing::instrument(level = "debug", name = "authenticate_api_key", skip_all)]
    pub async fn authenticate_api_key_admitting(
        &self,
        secret: &str,
        runs_trusted_document: bool,
    ) -> Result<RequestContext, AppError> {
        let ahead = self.rate_limits.enabled.then_some(runs_trusted_document);
        self.authenticate_api_key_with(secret, ahead).await
    }

    /// `ahead`: spend the buckets with the lookup; whether the request runs a trusted
    /// document.
    async fn authenticate_api_key_with(&self, secret: &str, ahead: Option<bool>) -> Result<RequestContext, AppError> {
        let (tenant_id, key_id) = parse(secret).ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        // The secret names its tenant; the digest check below proves it. This is the
        // API-key authentication path, allowed to mint a scope.
        let scope = TenantScope::new(tenant_id);
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(secret.trim());
        // A key verified within the last minute is answered from the cache: same digest,
        // and its use already recorded (so `lastUsedAt` stays at most a minute behind).
        // A revoked or expired key is answered from the cache too. Revocation, role and
        // membership changes and suspension drop the tenant's entries.
        let (looked_up, spent) = match ahead {
            Some(runs_trusted_document) => {
                // The same test as below (only a key that answers by itself), and none of
                // the refusals that would come before admission.
                let buckets = |cached: &CachedApiKey| {
                    let answers = same_digest(&cached.key.secret_digest, &digest)
                        && cached.key.is_usable(now)
                        && cached.key.use_recorded_lately(now);
                    let refused = (cached.limits.trusted_documents_required && !runs_trusted_document)
                        || self
                            .monthly_calls_refusal(&RequestContext::for_api_key(&cached.key).with_limits(cached.limits))
                            .is_some();
                    (answers && !refused)
                        .then(|| self.buckets_to_spend(crate::Actor::ApiKey(key_id), tenant_id, &cached.limits))
                };
                let found = self
                    .ports
                    .access_cache
                    .get_api_key_spending(tenant_id, key_id, &buckets)
                    .await;
                (found.lookup, found.spent)
            }
            None => (self.ports.access_cache.get_api_key(tenant_id, key_id).await, None),
        };
        if let Some(cached) = looked_up.key
            && same_digest(&cached.key.secret_digest, &digest)
        {
            if !cached.key.is_usable(now) {
                return Err(self.refuse_unusable_key(&cached.key, now).await);
            }
            if cached.key.use_recorded_lately(now) {
                return Ok(RequestContext::for_api_key(&cached.key)
                    .with_limits(cached.limits)
                    .with_access_generation(looked_up.generation)
                    .with_spent_ahead(spent));
            }
        }
        let tx = self.tenant_tx(&scope).await?;
        let mut key = tx
            .api_keys()
            .find_by_id(&scope, key_id)
            .await?
            .filter(|key| same_digest(&key.secret_digest, &digest))
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        let tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        if !key.is_usable(now) {
            drop(tx);
            self.ports
                .access_cache
                .put_api_key(
                    &CachedApiKey {
                        key: key.clone(),
                        limits: self.current_entitlements(&tenant).request_limits(),
                    },
                    looked_up.generation,
                )
                .await;
            return Err(self.refuse_unusable_key(&key, now).await);
        }
        // A past-due tenant's keys read; a suspended tenant's keys do nothing (only its
        // owners keep a way in, and a key is no owner).
        let limits = self.current_entitlements(&tenant).request_limits();
        let standing = match tenant.status {
            tessera_domain::TenantStatus::Active => crate::Standing::Full,
            tessera_domain::TenantStatus::PastDue => crate::Standing::ReadOnly,
            tessera_domain::TenantStatus::PendingDeletion | tessera_domain::TenantStatus::Deleted => {
                return Err(AppError::Forbidden {
                    reason: ForbiddenReason::TenantPendingDeletion,
                    message: "this tenant is being deleted".into(),
                });
            }
            tessera_domain::TenantStatus::Suspended => {
                return Err(AppError::Forbidden {
                    reason: ForbiddenReason::TenantSuspended,
                    message: "this tenant is suspended".into(),
                });
            }
        };
        // Never more than its creator holds now, and nothing once they are gone (the
        // use cases that change a member's access also revoke or cut down their keys;
        // this holds even for a change that slipped past them).
        let creator = tx
            .memberships()
            .find_by_user(&scope, key.created_by)
            .await?
            .filter(|membership| membership.is_active())
            .ok_or_else(|| AppError::Unauthenticated("the API key's creator is no longer a member".into()))?;
        let held = tx.roles().permissions_of(&scope, creator.role_id).await?;
        key.restrict_to(&held);
        if key.note_use(now) {
            // Recorded in a transaction of its own that starts with the write: on SQLite a
            // transaction that has read cannot start writing while another process has
            // written since (it fails at once, "database is locked"), while one that
            // starts with its write waits its turn.
            drop(tx);
            let tx = self.tenant_tx(&scope).await?;
            tx.api_keys().record_use(&scope, key.id, now).await?;
            tx.commit().await?;
        }
        let context = RequestContext::for_api_key(&key)
            .with_limits(limits)
            .with_standing(standing)
            .with_access_generation(looked_up.generation);
        // Only an active tenant's keys are cached as usable.
        if standing == crate::Standing::Full {
            self.ports
                .access_cache
                .put_api_key(&CachedApiKey { key, limits }, looked_up.generation)
                .await;
        }
        Ok(context)
    }

    /// The refusal for a key that is revoked or expired. The secret matched, so
    /// whoever holds it is, as far as anyone can tell, the key: a revoked key's use is
    /// recorded, at most once a minute per key across replicas.
    async fn refuse_unusable_key(&self, key: &ApiKey, now: DateTime<Utc>) -> AppError {
        if key.revoked_at.is_some() {
            tracing::warn!(api_key_id = %key.id, "a revoked API key was used");
            self.record_security_event_at_most_once_a_minute(
                format!("api-key-revoked:{}:{}", key.tenant_id, key.id),
                NewAuditEvent::new(
                    Some(key.tenant_id),
                    AuditActor::ApiKey(key.id),
                    "api_key.used_after_revocation",
                    "api_key",
                    Some(key.id.to_string()),
                    now,
                ),
            )
            .await;
        }
        AppError::Unauthenticated("the API key has been revoked or has expired".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_name_their_tenant_and_key_and_digests_compare_exactly() {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let key = ApiKeyId::from_uuid(Uuid::now_v7());
        let secret = format!("tsk_{}_{}_abc_def", tenant.as_uuid().simple(), key.as_uuid().simple());
        assert_eq!(parse(&secret), Some((tenant, key)));
        for bad in [
            "",
            "tsk_",
            "tsk_x_y_z",
            "rt_abc",
            &format!("tsk_{}_{}_", tenant.as_uuid().simple(), key.as_uuid().simple()),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert!(same_digest("abc", "abc"));
        assert!(!same_digest("abc", "abd"));
        assert!(!same_digest("abc", "abcd"));
    }
}
