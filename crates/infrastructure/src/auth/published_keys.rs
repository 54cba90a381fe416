//! The public half of the token keys, published as a JWK Set (RFC 7517) at
//! `/.well-known/jwks.json` for verifiers outside Tessera.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};

use super::jwt::{JwtConfig, JwtKeyError, VerifyingKey};

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
            if matches!(key, VerifyingKey::Hs256 { .. }) {
                continue;
            }
            let (algorithm, decoding) = key.decoding().map_err(fail)?;
            let mut jwk = Jwk::from_decoding_key(&decoding, Some(algorithm)).map_err(fail)?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            keys.push(jwk);
        }
        Ok(JwkSet { keys })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use tessera_application::ports::TokenIssuer;

    use super::*;
    use crate::auth::jwt::tests::claims;
    use crate::auth::jwt::{Claims, JwtTokenIssuer, SigningKey};

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
