//! Access tokens with `sub`, `tid`, `sid`, `exp`, `iat`, `iss`, `aud` and a `kid`
//! header: HS256 by default, RS256 or EdDSA from key files. Verification looks up the
//! key by `kid`, pins its algorithm, the issuer and audience, and requires every claim.

use std::collections::HashMap;
use std::error::Error as StdError;

use chrono::DateTime;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tessera_application::ports::{AccessClaims, TokenError, TokenIssuer};
use tessera_domain::{SessionId, TenantId, UserId};

/// A key that signs, by algorithm.
#[derive(Clone)]
pub enum SigningKey {
    Hs256 { secret: Vec<u8> },
    Rs256 { private_pem: Vec<u8> },
    EdDsa { private_pem: Vec<u8> },
}

/// A key that verifies, by algorithm. A token is checked only with the algorithm of
/// the key its `kid` names, so no algorithm can be swapped for another.
#[derive(Clone)]
pub enum VerifyingKey {
    Hs256 { secret: Vec<u8> },
    Rs256 { public_pem: Vec<u8> },
    EdDsa { public_pem: Vec<u8> },
}

impl VerifyingKey {
    /// The algorithm this key pins and the key that checks its signatures.
    pub(crate) fn decoding(&self) -> Result<(Algorithm, DecodingKey), jsonwebtoken::errors::Error> {
        Ok(match self {
            Self::Hs256 { secret } => (Algorithm::HS256, DecodingKey::from_secret(secret)),
            Self::Rs256 { public_pem } => (Algorithm::RS256, DecodingKey::from_rsa_pem(public_pem)?),
            Self::EdDsa { public_pem } => (Algorithm::EdDSA, DecodingKey::from_ed_pem(public_pem)?),
        })
    }
}

/// Signing with one key (`kid`); verifying with any listed key, so keys rotate
/// without logging anyone out: add the new key, sign with it, drop the old one later.
#[derive(Clone)]
pub struct JwtConfig {
    pub signing_kid: String,
    pub signing: SigningKey,
    pub verifying: Vec<(String, VerifyingKey)>,
    pub issuer: String,
    pub audience: String,
}

impl JwtConfig {
    /// One HS256 secret that signs and verifies.
    pub fn hs256(secret: Vec<u8>, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            signing_kid: "default".into(),
            signing: SigningKey::Hs256 { secret: secret.clone() },
            verifying: vec![("default".into(), VerifyingKey::Hs256 { secret })],
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid JWT key `{kid}`: {reason}")]
pub struct JwtKeyError {
    pub(crate) kid: String,
    pub(crate) reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    sub: String,
    tid: String,
    sid: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    /// How the person authenticated (RFC 8176): `pwd`, plus `otp` and `mfa` after a
    /// second factor. Absent from tokens issued before it existed (password only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
}

pub struct JwtTokenIssuer {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    verifiers: HashMap<String, (DecodingKey, Validation)>,
    issuer: String,
    audience: String,
}

impl JwtTokenIssuer {
    pub fn new(config: JwtConfig) -> Result<Self, JwtKeyError> {
        let fail = |kid: &str, error: jsonwebtoken::errors::Error| JwtKeyError {
            kid: kid.to_owned(),
            reason: error.to_string(),
        };
        let (algorithm, encoding) = match &config.signing {
            SigningKey::Hs256 { secret } => (Algorithm::HS256, EncodingKey::from_secret(secret)),
            SigningKey::Rs256 { private_pem } => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(private_pem).map_err(|e| fail(&config.signing_kid, e))?,
            ),
            SigningKey::EdDsa { private_pem } => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem).map_err(|e| fail(&config.signing_kid, e))?,
            ),
        };
        let mut verifiers = HashMap::new();
        for (kid, key) in &config.verifying {
            let (algorithm, decoding) = key.decoding().map_err(|e| fail(kid, e))?;
            let mut validation = Validation::new(algorithm);
            validation.set_issuer(&[&config.issuer]);
            validation.set_audience(&[&config.audience]);
            validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
            // A token that says it is not valid yet is not (Tessera issues none; a
            // forged or foreign one might carry it).
            validation.validate_nbf = true;
            validation.leeway = 5;
            verifiers.insert(kid.clone(), (decoding, validation));
        }
        if !verifiers.contains_key(&config.signing_kid) {
            return Err(JwtKeyError {
                kid: config.signing_kid,
                reason: "the signing key must also be among the verifying keys".into(),
            });
        }
        Ok(Self {
            kid: config.signing_kid,
            algorithm,
            encoding,
            verifiers,
            issuer: config.issuer,
            audience: config.audience,
        })
    }
}

impl TokenIssuer for JwtTokenIssuer {
    fn issue(&self, claims: &AccessClaims) -> Result<String, Box<dyn StdError + Send + Sync>> {
        let claims = Claims {
            sub: claims.user_id.to_string(),
            tid: claims.tenant_id.to_string(),
            sid: claims.session_id.to_string(),
            iat: claims.issued_at.timestamp(),
            exp: claims.expires_at.timestamp(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            amr: if claims.second_factor {
                vec!["pwd".into(), "otp".into(), "mfa".into()]
            } else {
                vec!["pwd".into()]
            },
        };
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (decoding, validation) = self.verifiers.get(&kid).ok_or(TokenError::Invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, decoding, validation).map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let claims = data.claims;
        // A token issued in the future (beyond the clock-skew allowance) is not yet valid.
        if claims.iat > chrono::Utc::now().timestamp() + 5 {
            return Err(TokenError::Invalid);
        }
        Ok(AccessClaims {
            user_id: UserId::parse(&claims.sub).map_err(|_| TokenError::Invalid)?,
            tenant_id: TenantId::parse(&claims.tid).map_err(|_| TokenError::Invalid)?,
            session_id: SessionId::parse(&claims.sid).map_err(|_| TokenError::Invalid)?,
            issued_at: DateTime::from_timestamp(claims.iat, 0).ok_or(TokenError::Invalid)?,
            expires_at: DateTime::from_timestamp(claims.exp, 0).ok_or(TokenError::Invalid)?,
            second_factor: claims.amr.iter().any(|method| method == "mfa"),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, SubsecRound, Utc};
    use uuid::Uuid;

    fn issuer(secret: &str, audience: &str) -> JwtTokenIssuer {
        JwtTokenIssuer::new(JwtConfig::hs256(secret.as_bytes().to_vec(), "tessera", audience)).expect("valid keys")
    }

    fn ed(signing: &str, verifying: &[&str]) -> JwtTokenIssuer {
        let private = |name: &str| match name {
            "a" => include_bytes!("testdata/ed25519-a.pem").to_vec(),
            _ => include_bytes!("testdata/ed25519-b.pem").to_vec(),
        };
        let public = |name: &str| match name {
            "a" => include_bytes!("testdata/ed25519-a.pub.pem").to_vec(),
            _ => include_bytes!("testdata/ed25519-b.pub.pem").to_vec(),
        };
        JwtTokenIssuer::new(JwtConfig {
            signing_kid: signing.into(),
            signing: SigningKey::EdDsa {
                private_pem: private(signing),
            },
            verifying: verifying
                .iter()
                .map(|kid| {
                    (
                        kid.to_string(),
                        VerifyingKey::EdDsa {
                            public_pem: public(kid),
                        },
                    )
                })
                .collect(),
            issuer: "tessera".into(),
            audience: "api".into(),
        })
        .expect("valid keys")
    }

    #[test]
    fn eddsa_keys_rotate_old_verifies_new_signs() {
        let original = ed("a", &["a"]);
        let rotating = ed("b", &["a", "b"]);
        let rotated = ed("b", &["b"]);
        let old_token = original.issue(&claims(Duration::minutes(15))).expect("sign");
        let new_token = rotating.issue(&claims(Duration::minutes(15))).expect("sign");
        assert!(
            rotating.verify(&old_token).is_ok(),
            "the old key still verifies during rotation"
        );
        assert!(rotating.verify(&new_token).is_ok());
        assert_eq!(
            rotated.verify(&old_token),
            Err(TokenError::Invalid),
            "a dropped key no longer verifies"
        );
        assert!(rotated.verify(&new_token).is_ok());
        let header = jsonwebtoken::decode_header(&new_token).expect("header");
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::EdDSA, Some("b")));
    }

    #[test]
    fn a_kid_cannot_be_used_with_another_algorithm() {
        let eddsa = ed("a", &["a"]);
        // An HS256 token that names the EdDSA key's kid, signed with its public key as
        // an HMAC secret: the classic confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("a".into());
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": Uuid::now_v7().to_string(), "tid": Uuid::now_v7().to_string(), "sid": Uuid::now_v7().to_string(),
            "iat": now, "exp": now + 900, "iss": "tessera", "aud": "api",
        });
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(include_bytes!("testdata/ed25519-a.pub.pem")),
        )
        .expect("sign");
        assert_eq!(eddsa.verify(&forged), Err(TokenError::Invalid));
        let mut unknown = Header::new(Algorithm::HS256);
        unknown.kid = Some("nope".into());
        let forged = jsonwebtoken::encode(&unknown, &claims, &EncodingKey::from_secret(b"x")).expect("sign");
        assert_eq!(eddsa.verify(&forged), Err(TokenError::Invalid));
    }

    pub(crate) fn claims(expires_in: Duration) -> AccessClaims {
        let now = Utc::now().trunc_subsecs(0);
        AccessClaims {
            user_id: UserId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::now_v7()),
            session_id: SessionId::from_uuid(Uuid::now_v7()),
            issued_at: now,
            expires_at: now + expires_in,
            second_factor: false,
        }
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let jwt = issuer("a-secret-of-at-least-32-bytes-long!!", "api");
        let original = claims(Duration::minutes(15));
        let token = jwt.issue(&original).expect("sign");
        assert_eq!(jwt.verify(&token), Ok(original.clone()));
        let with_factor = AccessClaims {
            second_factor: true,
            ..original
        };
        let token = jwt.issue(&with_factor).expect("sign");
        assert_eq!(
            jwt.verify(&token),
            Ok(with_factor),
            "the second factor survives the round trip"
        );
        let payload = token.split('.').nth(1).expect("payload");
        let payload = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("b64");
        let payload: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(payload["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    }

    /// Signs arbitrary claims with the given algorithm and key, to build hostile tokens.
    fn forge(mut header: Header, claims: &serde_json::Value, secret: &[u8]) -> String {
        header.kid = Some("default".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
    }

    #[test]
    fn hostile_tokens_are_refused() {
        let secret = "a-secret-of-at-least-32-bytes-long!!";
        let jwt = issuer(secret, "api");
        let good = jwt.issue(&claims(Duration::minutes(15))).expect("sign");
        let now = Utc::now().timestamp();
        let valid_claims = serde_json::json!({
            "sub": Uuid::now_v7().to_string(), "tid": Uuid::now_v7().to_string(), "sid": Uuid::now_v7().to_string(),
            "iat": now, "exp": now + 900, "iss": "tessera", "aud": "api",
        });
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = valid_claims.clone();
            claims[key] = value;
            claims
        };
        let without = |key: &str| {
            let mut claims = valid_claims.clone();
            claims.as_object_mut().expect("object").remove(key);
            claims
        };
        let (header, payload, signature) = {
            let mut parts = good.split('.');
            (
                parts.next().expect("header").to_owned(),
                parts.next().expect("payload").to_owned(),
                parts.next().expect("signature").to_owned(),
            )
        };
        let tampered_payload = {
            use base64::Engine;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut decoded: serde_json::Value =
                serde_json::from_slice(&engine.decode(&payload).expect("base64")).expect("json");
            decoded["tid"] = serde_json::json!(Uuid::now_v7().to_string());
            engine.encode(serde_json::to_vec(&decoded).expect("json"))
        };

        let cases: Vec<(&str, String, TokenError)> = vec![
            (
                "signed with another key",
                forge(
                    Header::new(Algorithm::HS256),
                    &valid_claims,
                    b"another-secret-of-at-least-32-bytes",
                ),
                TokenError::Invalid,
            ),
            (
                "HS384 instead of HS256",
                forge(Header::new(Algorithm::HS384), &valid_claims, secret.as_bytes()),
                TokenError::Invalid,
            ),
            (
                "alg none",
                format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
                TokenError::Invalid,
            ),
            (
                "RS256 header on an HMAC signature",
                format!("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.{signature}"),
                TokenError::Invalid,
            ),
            (
                "tampered payload",
                format!("{header}.{tampered_payload}.{signature}"),
                TokenError::Invalid,
            ),
            (
                "expired",
                forge(
                    Header::new(Algorithm::HS256),
                    &with("exp", serde_json::json!(now - 3600)),
                    secret.as_bytes(),
                ),
                TokenError::Expired,
            ),
            (
                "wrong audience",
                forge(
                    Header::new(Algorithm::HS256),
                    &with("aud", serde_json::json!("other")),
                    secret.as_bytes(),
                ),
                TokenError::Invalid,
            ),
            (
                "wrong issuer",
                forge(
                    Header::new(Algorithm::HS256),
                    &with("iss", serde_json::json!("evil")),
                    secret.as_bytes(),
                ),
                TokenError::Invalid,
            ),
            (
                "missing sub",
                forge(Header::new(Algorithm::HS256), &without("sub"), secret.as_bytes()),
                TokenError::Invalid,
            ),
            (
                "missing tid",
                forge(Header::new(Algorithm::HS256), &without("tid"), secret.as_bytes()),
                TokenError::Invalid,
            ),
            (
                "missing exp",
                forge(Header::new(Algorithm::HS256), &without("exp"), secret.as_bytes()),
                TokenError::Invalid,
            ),
            (
                "sub is not an id",
                forge(
                    Header::new(Algorithm::HS256),
                    &with("sub", serde_json::json!("admin")),
                    secret.as_bytes(),
                ),
                TokenError::Invalid,
            ),
            (
                "not valid before an hour from now",
                forge(
                    Header::new(Algorithm::HS256),
                    &with("nbf", serde_json::json!(now + 3600)),
                    secret.as_bytes(),
                ),
                TokenError::Invalid,
            ),
            ("10 KB of junk", "x".repeat(10 * 1024), TokenError::Invalid),
            ("empty", String::new(), TokenError::Invalid),
        ];
        for (name, token, expected) in cases {
            assert_eq!(jwt.verify(&token), Err(expected), "{name}");
        }
        assert!(jwt.verify(&good).is_ok(), "the untouched token still verifies");
        let past_nbf = forge(
            Header::new(Algorithm::HS256),
            &with("nbf", serde_json::json!(now - 60)),
            secret.as_bytes(),
        );
        assert!(jwt.verify(&past_nbf).is_ok(), "an nbf in the past is fine");
    }
}
