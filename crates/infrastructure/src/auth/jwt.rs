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

    #[test]
    fn hostile_tokens_are_refused() {
        let jwt = issuer("a-secret-of-at-least-32-bytes-long!!", "api");
        let token = jwt.issue(&claims(Duration::minutes(15))).expect("sign");

        let other_key = issuer("another-secret-of-at-least-32-bytes", "api");
        assert_eq!(other_key.verify(&token), Err(TokenError::Invalid), "bad signature");
        let other_audience = issuer("a-secret-of-at-least-32-bytes-long!!", "other");
        assert_eq!(
            other_audience.verify(&token),
            Err(TokenError::Invalid),
            "wrong audience"
        );

        let expired = jwt.issue(&claims(Duration::minutes(-10))).expect("sign");
        assert_eq!(jwt.verify(&expired), Err(TokenError::Expired));

        // alg "none": header {"alg":"none","typ":"JWT"} with the same payload, no signature.
        let payload = token.split('.').nth(1).expect("payload part");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(jwt.verify(&unsigned), Err(TokenError::Invalid), "alg none");

        assert_eq!(jwt.verify("garbage"), Err(TokenError::Invalid));
    }
}
