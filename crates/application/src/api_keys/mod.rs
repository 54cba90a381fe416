//! Tenant API keys for partner integrations: created by a person with
//! `api_keys:manage`, never with more rights than that person holds, shown once,
//! stored as a digest, usable until revoked or expired, confined to their tenant.

use chrono::{DateTime, Utc};
use tessera_domain::{ApiKey, ApiKeyId, AuditActor, Name, NewAuditEvent, Permission, TenantId};
use uuid::Uuid;

use crate::ports::CachedApiKey;
use crate::roles::permission_list;
use crate::{AppError, Application, FieldErrors, Page, PageRequest, RequestContext, TenantScope};

const PREFIX: &str = "tsk_";
const REFUSED: &str = "the API key is not valid";
/// `last_used_at` is written at most this often per key.
const USE_RECORD_INTERVAL_SECONDS: i64 = 60;

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
    let mut parts = secret.trim().strip_prefix(PREFIX)?.splitn(3, '_');
    let tenant = Uuid::try_parse(parts.next()?).ok()?;
    let key = Uuid::try_parse(parts.next()?).ok()?;
    parts.next().filter(|random| !random.is_empty())?;
    Some((TenantId::from_uuid(tenant), ApiKeyId::from_uuid(key)))
}

/// Compares two digests in time independent of where they differ.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Application {
    #[tracing::instrument(name = "create_api_key", skip_all)]
    pub async fn create_api_key(&self, ctx: &RequestContext, input: CreateApiKey) -> Result<CreatedApiKey, AppError> {
        ctx.require_person()?;
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
            created_by: ctx.user_id(),
            created_at: now,
            expires_at: input.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        tx.api_keys().insert(&scope, &key).await?;
        let event = ctx
            .audit("api_key.created", "api_key", key.id, now)
            .change("name", None::<&str>, Some(key.name.as_str()))
            .change("permissions", None::<String>, Some(permission_list(&key.permissions)))
            .change("expires_at", None::<String>, key.expires_at.map(|at| at.to_rfc3339()));
        self.journal(tx.as_ref(), &event).await?;
        tx.commit().await?;
        Ok(CreatedApiKey { key, secret })
    }

    pub async fn list_api_keys(&self, ctx: &RequestContext, page: &PageRequest) -> Result<Page<ApiKey>, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        Ok(tx.api_keys().list(&scope, page).await?)
    }

    pub async fn count_api_keys(&self, ctx: &RequestContext) -> Result<u64, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        Ok(tx.api_keys().count(&scope).await?)
    }

    #[tracing::instrument(name = "revoke_api_key", skip_all, fields(api_key_id = %id))]
    pub async fn revoke_api_key(&self, ctx: &RequestContext, id: ApiKeyId) -> Result<ApiKey, AppError> {
        let scope = ctx.authorize(Permission::ApiKeysManage)?.scope().clone();
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let mut key = tx
            .api_keys()
            .find_by_id(&scope, id)
            .await?
            .ok_or(AppError::NotFound("API key"))?;
        // Revoking a revoked key changes nothing and records nothing.
        if key.revoked_at.is_none() {
            let now = self.ports.clock.now();
            key.revoked_at = Some(now);
            tx.api_keys().update(&scope, &key).await?;
            let event = ctx.audit("api_key.revoked", "api_key", key.id, now).change(
                "revoked_at",
                None::<String>,
                Some(now.to_rfc3339()),
            );
            self.journal(tx.as_ref(), &event).await?;
            tx.commit().await?;
            // Cached keys of the tenant are dropped on every replica.
            self.access_changed(scope.tenant_id()).await;
        }
        Ok(key)
    }

    /// Turns an API key secret into a request context for the key's own tenant.
    #[tracing::instrument(name = "authenticate_api_key", skip_all)]
    pub async fn authenticate_api_key(&self, secret: &str) -> Result<RequestContext, AppError> {
        let (tenant_id, key_id) = parse(secret).ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        // The secret names its tenant; the digest check below proves it. This is the
        // API-key authentication path, allowed to mint a scope.
        let scope = TenantScope::new(tenant_id);
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(secret.trim());
        // A key verified within the last minute is answered from the cache: same digest,
        // still usable, and its use already recorded (so `lastUsedAt` stays at most a
        // minute behind). Revocation and suspension invalidate the tenant's entries.
        if let Some(cached) = self.ports.access_cache.get_api_key(tenant_id, key_id).await
            && same_digest(&cached.key.secret_digest, &digest)
            && cached.key.is_usable(now)
            && cached
                .key
                .last_used_at
                .is_some_and(|at| (now - at).num_seconds() < USE_RECORD_INTERVAL_SECONDS)
        {
            return Ok(RequestContext::for_api_key(&cached.key).with_plan(cached.plan));
        }
        let tx = self.ports.store.begin().await?;
        tx.enter_tenant(&scope).await?;
        let mut key = tx
            .api_keys()
            .find_by_id(&scope, key_id)
            .await?
            .filter(|key| same_digest(&key.secret_digest, &digest))
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        if !key.is_usable(now) {
            drop(tx);
            if key.revoked_at.is_some() {
                tracing::warn!(api_key_id = %key.id, "a revoked API key was used");
                // The secret matched: whoever holds it is, as far as anyone can tell, the key.
                self.record_security_event(NewAuditEvent::new(
                    Some(key.tenant_id),
                    AuditActor::ApiKey(key.id),
                    "api_key.used_after_revocation",
                    "api_key",
                    Some(key.id.to_string()),
                    now,
                ))
                .await;
            }
            return Err(AppError::Unauthenticated(
                "the API key has been revoked or has expired".into(),
            ));
        }
        let tenant = tx
            .tenants()
            .find_by_id(tenant_id)
            .await?
            .ok_or_else(|| AppError::Unauthenticated(REFUSED.into()))?;
        if !tenant.is_active() {
            return Err(AppError::Forbidden {
                reason: "TENANT_SUSPENDED",
                message: "this tenant is suspended".into(),
            });
        }
        if key
            .last_used_at
            .is_none_or(|at| (now - at).num_seconds() >= USE_RECORD_INTERVAL_SECONDS)
        {
            key.last_used_at = Some(now);
            tx.api_keys().update(&scope, &key).await?;
            tx.commit().await?;
        }
        let context = RequestContext::for_api_key(&key).with_plan(tenant.plan);
        self.ports
            .access_cache
            .put_api_key(&CachedApiKey { key, plan: tenant.plan })
            .await;
        Ok(context)
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
