//! Access tokens with `sub`, `tid`, `sid`, `exp`, `iat`, `iss`, `aud` and a `kid`
//! header: HS256 by default, RS256 or EdDSA from key files. Verification looks up the
//! key by `kid`, pins its algorithm, the issuer and audience, and requires every claim.

use std::collections::HashMap;
use std::error::Error as StdError;

use chrono::DateTime;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
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

impl JwtConfig {
    /// The public keys that verify, as a JWK Set (RFC 7517) for
    /// `/.well-known/jwks.json`: every listed RS256 or EdDSA key with its `kid`, `alg` and
    /// `use: sig`, so the current key and the ones kept for rotation are all there. An
    /// HS256 secret is never published: with HS256 the set is empty.
    pub fn published_keys(&self) -> Result<JwkSet, JwtKeyError> {
        let mut keys = Vec::new();
        for (kid, key) in &self.verifying {
            let fail = |error: jsonwebtoken::errors::Error| JwtKeyError {
                kid: kid.clone(),
                reason: error.to_string(),
            };
            let (algorithm, decoding) = match key {
                VerifyingKey::Hs256 { .. } => continue,
                VerifyingKey::Rs256 { public_pem } => {
                    (Algorithm::RS256, DecodingKey::from_rsa_pem(public_pem).map_err(fail)?)
                }
                VerifyingKey::EdDsa { public_pem } => {
                    (Algorithm::EdDSA, DecodingKey::from_ed_pem(public_pem).map_err(fail)?)
                }
            };
            let mut jwk = Jwk::from_decoding_key(&decoding, Some(algorithm)).map_err(fail)?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            keys.push(jwk);
        }
        Ok(JwkSet { keys })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid JWT key `{kid}`: {reason}")]
pub struct JwtKeyError {
    kid: String,
    reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tid: String,
    sid: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
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
            let (algorithm, decoding) = match key {
                VerifyingKey::Hs256 { secret } => (Algorithm::HS256, DecodingKey::from_secret(secret)),
                VerifyingKey::Rs256 { public_pem } => (
                    Algorithm::RS256,
                    DecodingKey::from_rsa_pem(public_pem).map_err(|e| fail(kid, e))?,
                ),
                VerifyingKey::EdDsa { public_pem } => (
                    Algorithm::EdDSA,
                    DecodingKey::from_ed_pem(public_pem).map_err(|e| fail(kid, e))?,
                ),
            };
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
        })
    }
}

#[cfg(test)]
mod tests {
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

    fn claims(expires_in: Duration) -> AccessClaims {
        let now = Utc::now().trunc_subsecs(0);
        AccessClaims {
            user_id: UserId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(Uuid::now_v7()),
            session_id: SessionId::from_uuid(Uuid::now_v7()),
            issued_at: now,
            expires_at: now + expires_in,
        }
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let jwt = issuer("a-secret-of-at-least-32-bytes-long!!", "api");
        let original = claims(Duration::minutes(15));
        let token = jwt.issue(&original).expect("sign");
        assert_eq!(jwt.verify(&token), Ok(original));
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

    /// A verifier that knows only the published set checks tokens of both the current
    /// and the previous key, of either asymmetric algorithm; nothing secret is published.
    #[test]
    fn published_keys_verify_tokens_and_never_include_a_secret() {
        let ed_config = |signing: &str| JwtConfig {
            signing_kid: signing.into(),
            signing: SigningKey::EdDsa {
                private_pem: match signing {
                    "a" => include_bytes!("testdata/ed25519-a.pem").to_vec(),
                    _ => include_bytes!("testdata/ed25519-b.pem").to_vec(),
                },
            },
            verifying: vec![
                (
                    "a".into(),
                    VerifyingKey::EdDsa {
                        public_pem: include_bytes!("testdata/ed25519-a.pub.pem").to_vec(),
                    },
                ),
                (
                    "b".into(),
                    VerifyingKey::EdDsa {
                        public_pem: include_bytes!("testdata/ed25519-b.pub.pem").to_vec(),
                    },
                ),
            ],
            issuer: "tessera".into(),
            audience: "api".into(),
        };
        let rsa_config = JwtConfig {
            signing_kid: "r".into(),
            signing: SigningKey::Rs256 {
                private_pem: include_bytes!("testdata/rsa-a.pem").to_vec(),
            },
            verifying: vec![(
                "r".into(),
                VerifyingKey::Rs256 {
                    public_pem: include_bytes!("testdata/rsa-a.pub.pem").to_vec(),
                },
            )],
            issuer: "tessera".into(),
            audience: "api".into(),
        };
        let set = ed_config("b").published_keys().expect("publish");
        let json = serde_json::to_value(&set).expect("serialize");
        assert_eq!(json["keys"].as_array().map(Vec::len), Some(2), "{json}");
        assert_eq!(json["keys"][0]["kid"], "a");
        assert_eq!(json["keys"][0]["kty"], "OKP");
        assert_eq!(json["keys"][0]["crv"], "Ed25519");
        assert_eq!(json["keys"][0]["alg"], "EdDSA");
        assert_eq!(json["keys"][0]["use"], "sig");
        let rsa_set = rsa_config.published_keys().expect("publish");
        let rsa_json = serde_json::to_value(&rsa_set).expect("serialize");
        assert_eq!(
            (rsa_json["keys"][0]["kty"].as_str(), rsa_json["keys"][0]["alg"].as_str()),
            (Some("RSA"), Some("RS256"))
        );
        assert_eq!(rsa_json["keys"][0]["e"], "AQAB");

        // An outside verifier: the published set alone, keyed by the token's kid.
        let outside = |set: &JwkSet, token: &str| {
            let kid = jsonwebtoken::decode_header(token).expect("header").kid.expect("kid");
            let jwk = set.find(&kid).expect("published");
            let alg = serde_json::to_value(jwk.common.key_algorithm.expect("alg")).expect("json");
            let algorithm: Algorithm = alg.as_str().and_then(|name| name.parse().ok()).expect("known alg");
            let mut validation = Validation::new(algorithm);
            validation.set_audience(&["api"]);
            validation.set_issuer(&["tessera"]);
            jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_jwk(jwk).expect("key"), &validation).is_ok()
        };
        for (config, published) in [(ed_config("a"), &set), (ed_config("b"), &set), (rsa_config, &rsa_set)] {
            let token = JwtTokenIssuer::new(config)
                .expect("keys")
                .issue(&claims(Duration::minutes(5)))
                .expect("sign");
            assert!(
                outside(published, &token),
                "a token verifies with the published key alone"
            );
            let mut tampered = token.clone();
            tampered.insert(tampered.len() / 2 + 10, 'x');
            assert!(!outside(published, &tampered), "a tampered token does not");
        }

        let hs = JwtConfig::hs256(b"a-secret-of-at-least-32-bytes-long!!".to_vec(), "tessera", "api");
        assert!(
            hs.published_keys().expect("publish").keys.is_empty(),
            "an HMAC secret is never published"
        );
    }
}
