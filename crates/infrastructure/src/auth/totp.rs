//! TOTP (RFC 6238) with the parameters every authenticator app understands: SHA-1, six
//! digits, 30-second steps, one step of clock drift either way. The arithmetic is the
//! `totp-rs` crate's; which step matched is found here, so the application can refuse
//! a step already used.

use std::error::Error as StdError;

use chrono::{DateTime, Utc};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tessera_application::ports::Authenticators;
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECONDS: i64 = 30;
/// Steps of drift accepted either side of the current one.
const DRIFT: i64 = 1;

/// Authenticator secrets and codes, named `issuer` in the apps.
pub struct TotpAuthenticators {
    issuer: String,
}

impl TotpAuthenticators {
    /// `issuer` is what authenticator apps show above the code (no `:`).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into() }
    }

    fn totp(&self, secret: &str, account: &str) -> Result<TOTP, Box<dyn StdError + Send + Sync>> {
        let bytes = Secret::Encoded(secret.to_owned())
            .to_bytes()
            .map_err(|e| format!("the TOTP secret is not base32: {e:?}"))?;
        Ok(TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS as u64,
            bytes,
            Some(self.issuer.clone()),
            account.to_owned(),
        )
        .map_err(|e| format!("{e:?}"))?)
    }

    /// The code for `secret` at `at` (tests and tools; the server only checks codes).
    pub fn code_at(&self, secret: &str, at: DateTime<Utc>) -> Option<String> {
        let totp = self.totp(secret, "code").ok()?;
        Some(totp.generate(u64::try_from(at.timestamp()).ok()?))
    }
}

impl Authenticators for TotpAuthenticators {
    fn new_secret(&self) -> String {
        // 160 bits, as RFC 4226 recommends.
        let mut bytes = [0u8; 20];
        rand::rng().fill_bytes(&mut bytes);
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS as u64,
            bytes.to_vec(),
            None,
            String::new(),
        )
        .get_secret_base32()
    }

    fn provisioning_uri(&self, secret: &str, account: &str) -> Result<String, Box<dyn StdError + Send + Sync>> {
        Ok(self.totp(secret, account)?.get_url())
    }

    fn matching_step(&self, secret: &str, code: &str, at: DateTime<Utc>) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp(secret, "code").ok()?;
        let current = at.timestamp().div_euclid(STEP_SECONDS);
        (current - DRIFT..=current + DRIFT).find(|step| {
            let Ok(time) = u64::try_from(step * STEP_SECONDS) else {
                return false;
            };
            bool::from(totp.generate(time).as_bytes().ct_eq(code.as_bytes()))
        })
    }

    fn recovery_code(&self) -> String {
        // 80 random bits as 16 base32 characters in groups of four.
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect();
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed, "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("valid time")
    }

    /// The RFC's test vectors (their last six digits), at fixed times.
    #[test]
    fn codes_match_the_rfc_vectors_at_fixed_times() {
        let totp = TotpAuthenticators::new("Tessera");
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp.code_at(RFC_SECRET, at(time)).as_deref(), Some(code), "at {time}");
            assert_eq!(
                totp.matching_step(RFC_SECRET, code, at(time)),
                Some(time / 30),
                "at {time}"
            );
        }
    }

    #[test]
    fn a_code_works_one_step_either_side_and_no_further() {
        let totp = TotpAuthenticators::new("Tessera");
        let t = 1_111_111_111;
        let code = totp.code_at(RFC_SECRET, at(t)).expect("code");
        let step = t / 30;
        assert_eq!(
            totp.matching_step(RFC_SECRET, &code, at(t - 30)),
            Some(step),
            "a fast clock"
        );
        assert_eq!(
            totp.matching_step(RFC_SECRET, &code, at(t + 30)),
            Some(step),
            "a slow clock"
        );
        assert_eq!(
            totp.matching_step(RFC_SECRET, &code, at(t + 90)),
            None,
            "three steps later"
        );
        assert_eq!(totp.matching_step(RFC_SECRET, &code, at(t - 90)), None);
        for wrong in ["", "12345", "1234567", "abcdef", "05047 ", "999999"] {
            assert_eq!(totp.matching_step(RFC_SECRET, wrong, at(t)), None, "{wrong:?}");
        }
        assert_eq!(totp.matching_step("not base32!", &code, at(t)), None);
    }

    #[test]
    fn secrets_uris_and_recovery_codes_have_their_shapes() {
        let totp = TotpAuthenticators::new("Acme Cloud");
        let secret = totp.new_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        assert_ne!(secret, totp.new_secret());
        let uri = totp.provisioning_uri(&secret, "ada@example.com").expect("uri");
        assert!(
            uri.starts_with("otpauth://totp/Acme%20Cloud:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Acme%20Cloud"),
            "{uri}"
        );
        let code = totp.recovery_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.split('-').count(), 4);
        assert_ne!(code, totp.recovery_code());
    }
}
