//! Offboarding: a tenant's owners export its data and delete it after a grace period;
//! background passes write the archives, remove expired ones and purge deleted
//! tenants. The archive writer, the storage and the purge are ports; the rules (who
//! may, when, what is recorded) are here.

mod deletion;
mod exports;
mod person;

use std::sync::Arc;

use tessera_domain::{Password, SystemRole, UserId};

use crate::ports::{ArchiveStorage, LinkSigner, TenantArchiver, TenantPurger, Transaction};
use crate::{AppError, Application, ForbiddenReason, RequestContext};

pub use exports::{DownloadLink, MAX_LISTED_EXPORTS, SignedDownload};

/// The windows and sizes offboarding works with.
#[derive(Debug, Clone)]
pub struct OffboardingSettings {
    /// How long a download link works once issued.
    pub link_ttl: chrono::Duration,
    /// How long a finished archive is kept.
    pub export_retention: chrono::Duration,
    /// How long a tenant waits between the deletion request and its purge.
    pub deletion_grace: chrono::Duration,
    /// Rows deleted per statement by the purge.
    pub purge_batch: u32,
    /// How long an export writer holds an export without reporting progress (after each
    /// table) before another may take it over: longer than any table and the packing take.
    pub export_lease: chrono::Duration,
}

impl Default for OffboardingSettings {
    fn default() -> Self {
        Self {
            link_ttl: chrono::Duration::minutes(15),
            export_retention: chrono::Duration::days(7),
            deletion_grace: chrono::Duration::days(30),
            purge_batch: 1_000,
            export_lease: chrono::Duration::minutes(30),
        }
    }
}

/// The adapters offboarding needs.
#[derive(Clone)]
pub struct OffboardingPorts {
    pub archiver: Arc<dyn TenantArchiver>,
    pub storage: Arc<dyn ArchiveStorage>,
    pub purger: Arc<dyn TenantPurger>,
    pub signer: Arc<dyn LinkSigner>,
}

/// Offboarding's adapters and settings, as the application holds them.
#[derive(Clone)]
pub(crate) struct Offboarding {
    pub(crate) ports: OffboardingPorts,
    pub(crate) settings: OffboardingSettings,
}

impl Application {
    /// Turns on exports and deletions with these adapters and settings.
    pub fn with_offboarding(mut self, ports: OffboardingPorts, settings: OffboardingSettings) -> Self {
        self.offboarding = Some(Arc::new(Offboarding { ports, settings }));
        self
    }

    pub(crate) fn offboarding(&self) -> Result<&Offboarding, AppError> {
        self.offboarding
            .as_deref()
            .ok_or_else(|| AppError::Internal("exports and deletions are not configured on this server".into()))
    }

    /// The caller, when they are a person holding the tenant's owner role (read in `tx`,
    /// entered in the caller's tenant); `NOT_OWNER` otherwise, `API_KEY_NOT_ALLOWED` for a key.
    pub(crate) async fn require_owner(&self, tx: &dyn Transaction, ctx: &RequestContext) -> Result<UserId, AppError> {
        let me = ctx.require_person()?;
        // An owner's powers wait for the second factor the tenant requires, like the
        // rest of its work.
        ctx.ensure_second_factor()?;
        let role = match ctx.role_id() {
            Some(role_id) => tx.roles().find_by_id(ctx.own_scope(), role_id).await?,
            None => None,
        };
        if role.is_some_and(|role| role.system == Some(SystemRole::Owner)) {
            Ok(me)
        } else {
            Err(AppError::Forbidden {
                reason: ForbiddenReason::NotOwner,
                message: "only an owner of the tenant may do this".into(),
            })
        }
    }

    /// Re-authentication for an irreversible step: the caller's password, checked again
    /// (a token alone is not enough: a stolen one must not delete anything).
    /// `REAUTHENTICATION_FAILED` otherwise.
    pub(crate) async fn reauthenticate(
        &self,
        tx: &dyn Transaction,
        ctx: &RequestContext,
        password: &str,
    ) -> Result<(), AppError> {
        let me = ctx.require_person()?;
        let refused = || AppError::Forbidden {
            reason: ForbiddenReason::ReauthenticationFailed,
            message: "confirm with your password".into(),
        };
        let password = Password::parse(password).map_err(|_| refused())?;
        let user = tx.users().find_by_id(me).await?.ok_or(AppError::NotFound("user"))?;
        if self.ports.password_hasher.verify(&password, &user.password_hash).await {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

/// The archive's key in storage: one folder per tenant.
pub(crate) fn archive_key_of(tenant: tessera_domain::TenantId, export: tessera_domain::TenantExportId) -> String {
    format!("{tenant}/{export}.tar.gz")
}
