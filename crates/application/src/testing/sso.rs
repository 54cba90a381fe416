//! Single sign-on in memory: connections and sign-ins, and a provider stand-in that
//! answers the identity a test queued (or refuses when none is).

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_domain::{SsoConnection, SsoSignIn, UserId};

use super::store::{FakeTransaction, in_scope};
use crate::TenantScope;
use crate::ports::{OidcClient, OidcClientRef, OidcError, OidcIdentity, SsoRepository, StoreResult};

#[async_trait]
impl SsoRepository for FakeTransaction {
    async fn find_connection(&self, scope: &TenantScope) -> StoreResult<Option<SsoConnection>> {
        Ok(self
            .state()
            .sso_connections
            .iter()
            .find(|c| in_scope(scope, c.tenant_id))
            .cloned())
    }
    async fn put_connection(&self, scope: &TenantScope, connection: &SsoConnection) -> StoreResult<()> {
        super::store::owned(scope, connection.tenant_id)?;
        let mut state = self.state();
        state.sso_connections.retain(|c| c.tenant_id != connection.tenant_id);
        state.sso_connections.push(connection.clone());
        Ok(())
    }
    async fn delete_connection(&self, scope: &TenantScope) -> StoreResult<bool> {
        let mut state = self.state();
        let before = state.sso_connections.len();
        state.sso_connections.retain(|c| !in_scope(scope, c.tenant_id));
        Ok(state.sso_connections.len() < before)
    }
    async fn insert_sign_in(&self, sign_in: &SsoSignIn, now: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        state.sso_sign_ins.retain(|s| s.expires_at > now);
        state.sso_sign_ins.push(sign_in.clone());
        Ok(())
    }
    async fn find_sign_in(&self, state_digest: &str) -> StoreResult<Option<SsoSignIn>> {
        Ok(self
            .state()
            .sso_sign_ins
            .iter()
            .find(|s| s.state_digest == state_digest)
            .cloned())
    }
    async fn take_callback(&self, state_digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let open = state
            .sso_sign_ins
            .iter_mut()
            .find(|s| s.state_digest == state_digest && s.callback_at.is_none());
        Ok(open.map(|s| s.callback_at = Some(at)).is_some())
    }
    async fn record_handover(&self, state_digest: &str, user_id: UserId, handover_digest: &str) -> StoreResult<()> {
        if let Some(sign_in) = self
            .state()
            .sso_sign_ins
            .iter_mut()
            .find(|s| s.state_digest == state_digest)
        {
            sign_in.user_id = Some(user_id);
            sign_in.handover_digest = Some(handover_digest.to_owned());
        }
        Ok(())
    }
    async fn find_handover(&self, handover_digest: &str) -> StoreResult<Option<SsoSignIn>> {
        Ok(self
            .state()
            .sso_sign_ins
            .iter()
            .find(|s| s.handover_digest.as_deref() == Some(handover_digest))
            .cloned())
    }
    async fn take_handover(&self, handover_digest: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        let open = state
            .sso_sign_ins
            .iter_mut()
            .find(|s| s.handover_digest.as_deref() == Some(handover_digest) && s.handed_over_at.is_none());
        Ok(open.map(|s| s.handed_over_at = Some(at)).is_some())
    }
}

/// Answers the identity queued with [`FakeOidc::answer`] once, for the nonce of the
/// last authorization; refuses otherwise.
#[derive(Default)]
pub struct FakeOidc {
    queued: Mutex<Option<OidcIdentity>>,
    last_nonce: Mutex<Option<String>>,
}

impl FakeOidc {
    pub fn answer(&self, identity: OidcIdentity) {
        *self.queued.lock().expect("fake oidc") = Some(identity);
    }
}

#[async_trait]
impl OidcClient for FakeOidc {
    async fn authorization_url(
        &self,
        client: OidcClientRef<'_>,
        state: &str,
        nonce: &str,
        _code_verifier: &str,
    ) -> Result<String, OidcError> {
        *self.last_nonce.lock().expect("fake oidc") = Some(nonce.to_owned());
        Ok(format!(
            "{}/authorize?client_id={}&state={state}",
            client.issuer, client.client_id
        ))
    }
    async fn redeem(
        &self,
        _client: OidcClientRef<'_>,
        _client_secret: &str,
        _code: &str,
        _code_verifier: &str,
        nonce: &str,
    ) -> Result<OidcIdentity, OidcError> {
        if self.last_nonce.lock().expect("fake oidc").as_deref() != Some(nonce) {
            return Err(OidcError::InvalidToken("another sign-in's nonce".into()));
        }
        self.queued
            .lock()
            .expect("fake oidc")
            .take()
            .ok_or_else(|| OidcError::Refused("invalid_grant".into()))
    }
}
