//! HS256 access tokens with `sub`, `tid`, `sid`, `exp`, `iat`, `iss`, `aud`.
//! Verification pins the algorithm, issuer and audience and requires every claim.

use std::error::Error as StdError;

use chrono::DateTime;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tessera_application::ports::{AccessClaims, TokenError, TokenIssuer};
use tessera_domain::{SessionId, TenantId, UserId};

#[derive(Clone)]
pub struct JwtConfig {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
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
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl JwtTokenIssuer {
    pub fn new(config: JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&config.secret),
            decoding: DecodingKey::from_secret(&config.secret),
            validation,
            issuer: config.issuer,
            audience: config.audience,
        }
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
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|error| {
                match error.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let claims = data.claims;
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
        JwtTokenIssuer::new(JwtConfig {
            secret: secret.as_bytes().to_vec(),
            issuer: "tessera".into(),
            audience: audience.into(),
        })
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
    fn forge(header: Header, claims: &serde_json::Value, secret: &[u8]) -> String {
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
            ("10 KB of junk", "x".repeat(10 * 1024), TokenError::Invalid),
            ("empty", String::new(), TokenError::Invalid),
        ];
        for (name, token, expected) in cases {
            assert_eq!(jwt.verify(&token), Err(expected), "{name}");
        }
        assert!(jwt.verify(&good).is_ok(), "the untouched token still verifies");
    }
}
