//! `/.well-known/jwks.json`: with EdDSA or RS256 keys, an outside verifier that knows
//! only the published set accepts Tessera's access tokens, before and after a key
//! rotation; with HS256 nothing is published.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use tessera_server::JwtAlgorithm;
use tessera_tests::{Backend, PASSWORD, TestApp};

const KEYS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/infrastructure/src/auth/testdata"
);
const LOG_IN: &str = "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }";

/// A server signing with `signing` and publishing every key in `listed`.
async fn spawn(algorithm: JwtAlgorithm, signing: &'static str, listed: &'static [&'static str]) -> TestApp {
    TestApp::spawn_configured(Backend::Sqlite, move |config, _| {
        let file = |kid: &str, public: bool| match (algorithm, public) {
            (JwtAlgorithm::Rs256, false) => format!("{KEYS}/rsa-{kid}.pem"),
            (JwtAlgorithm::Rs256, true) => format!("{KEYS}/rsa-{kid}.pub.pem"),
            (_, false) => format!("{KEYS}/ed25519-{kid}.pem"),
            (_, true) => format!("{KEYS}/ed25519-{kid}.pub.pem"),
        };
        config.auth.jwt_algorithm = algorithm;
        config.auth.jwt_key_id = signing.into();
        config.auth.jwt_private_key_file = Some(file(signing, false).into());
        config.auth.jwt_public_key_files = Some(
            listed
                .iter()
                .map(|kid| format!("{kid}={}", file(kid, true)))
                .collect::<Vec<_>>()
                .join(","),
        );
    })
    .await
    .expect("SQLite is always available")
}

async fn published(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    response.json().await.expect("a JWK Set")
}

async fn access_token(app: &TestApp, email: &str) -> String {
    app.sign_up(email, &email.replace(['@', '.'], "-")).await;
    let login = app.graphql(LOG_IN, json!({ "e": email, "p": PASSWORD }), None).await;
    login.assert_ok()["logIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// What a gateway does: the key named by the token's `kid`, from the published set only.
fn verifies(set: &JwkSet, token: &str) -> bool {
    let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid) else {
        return false;
    };
    let Some(jwk) = set.find(&kid) else {
        return false;
    };
    let alg = serde_json::to_value(jwk.common.key_algorithm.expect("alg")).expect("json");
    let algorithm: jsonwebtoken::Algorithm = alg.as_str().and_then(|name| name.parse().ok()).expect("known alg");
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&["tessera-api"]);
    validation.set_issuer(&["tessera"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).expect("usable key"), &validation).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_keys_verify_tokens_across_a_rotation() {
    // Before the rotation: key a signs and is the only one published.
    let before = spawn(JwtAlgorithm::Eddsa, "a", &["a"]).await;
    let old_token = access_token(&before, "ada@example.com").await;
    let old_set = published(&before).await;
    assert_eq!(old_set.keys.len(), 1);
    assert!(verifies(&old_set, &old_token));

    // During the rotation: b signs, a is still published, so tokens of both verify.
    let during = spawn(JwtAlgorithm::Eddsa, "b", &["a", "b"]).await;
    let new_token = access_token(&during, "bob@example.com").await;
    let set = published(&during).await;
    let kids: Vec<_> = set.keys.iter().filter_map(|key| key.common.key_id.clone()).collect();
    assert_eq!(kids, ["a", "b"]);
    assert!(verifies(&set, &old_token), "the previous key still verifies its tokens");
    assert!(verifies(&set, &new_token), "the current key verifies");
    assert!(!verifies(&old_set, &new_token), "a set without the new key does not");
    let text = serde_json::to_string(&set).expect("json");
    assert!(!text.contains("\"d\""), "no private part is published: {text}");

    // RS256 the same way.
    let rsa = spawn(JwtAlgorithm::Rs256, "a", &["a"]).await;
    let rsa_token = access_token(&rsa, "cy@example.com").await;
    let rsa_set = published(&rsa).await;
    assert!(verifies(&rsa_set, &rsa_token));
    assert!(
        !verifies(&rsa_set, &new_token),
        "another server's token does not verify"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hmac_secret_is_never_published() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let token = access_token(&app, "ada@example.com").await;
    let set = published(&app).await;
    assert!(set.keys.is_empty(), "HS256: nothing to publish");
    assert!(!verifies(&set, &token));
}
