//! argon2id password hashing, run on the blocking pool so hashing never stalls the
//! request threads.

use std::error::Error as StdError;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use tessera_application::ports::PasswordHasher;
use tessera_domain::{Password, PasswordHash};

#[derive(Clone)]
pub struct Argon2PasswordHasher {
    params: Params,
    /// A real hash of a random password, checked when the account does not exist.
    dummy: Arc<String>,
}

impl Argon2PasswordHasher {
    /// OWASP's recommended argon2id settings: 19 MiB, 2 iterations, 1 lane.
    pub fn new() -> Self {
        Self::with_params(Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid"))
    }

    /// Cheap parameters for tests only (hashes stay argon2id and verifiable).
    pub fn fast_for_tests() -> Self {
        Self::with_params(Params::new(256, 1, 1, None).expect("constant argon2 parameters are valid"))
    }

    fn with_params(params: Params) -> Self {
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2(&params)
            .hash_password(b"dummy password for timing", &salt)
            .expect("hashing a constant password cannot fail")
            .to_string();
        Self {
            params,
            dummy: Arc::new(dummy),
        }
    }
}

impl Default for Argon2PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn verify_phc(params: &Params, password: &str, phc: &str) -> bool {
    match PhcHash::new(phc) {
        Ok(parsed) => argon2(params).verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Box<dyn StdError + Send + Sync>> {
        let params = self.params.clone();
        let plain = password.expose().to_owned();
        let phc = tokio_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2(&params)
                .hash_password(plain.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| format!("password hashing failed: {e}"))?;
        Ok(PasswordHash::new(phc))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        if hash.as_str().is_empty() {
            // An account without a password (single sign-on): the same time as a real
            // check, so the answer does not tell such accounts apart.
            self.verify_dummy(password).await;
            return false;
        }
        let params = self.params.clone();
        let plain = password.expose().to_owned();
        let phc = hash.as_str().to_owned();
        tokio_blocking(move || verify_phc(&params, &plain, &phc))
            .await
            .unwrap_or(false)
    }

    async fn verify_dummy(&self, password: &Password) {
        let params = self.params.clone();
        let plain = password.expose().to_owned();
        let phc = self.dummy.as_ref().clone();
        let _ = tokio_blocking(move || verify_phc(&params, &plain, &phc)).await;
    }
}

async fn tokio_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<dyn StdError + Send + Sync>> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("hashing task failed: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify_only_the_right_password() {
        let hasher = Argon2PasswordHasher::fast_for_tests();
        let password = Password::parse("correct horse battery").expect("valid");
        let first = hasher.hash(&password).await.expect("hash");
        let second = hasher.hash(&password).await.expect("hash");
        assert!(first.as_str().starts_with("$argon2id$"));
        assert_ne!(first, second, "each hash has its own salt");
        assert!(hasher.verify(&password, &first).await);
        let wrong = Password::presented("incorrect horse").expect("presentable");
        assert!(!hasher.verify(&wrong, &first).await);
        assert!(
            !hasher
                .verify(&password, &PasswordHash::new("not a phc string".into()))
                .await
        );
    }
}
