//! Bearer-token authentication. Two kinds of token reach this service, and both go through
//! [`Authenticator::verify`]:
//! - HS256, signed with BETTER_AUTH_SECRET (the deployment contract's shared secret). `iss`
//!   and `aud` are enforced only when JWT_ISSUER and JWT_AUDIENCE are set. (Better Auth's own
//!   HS256 JWTs, its session cookie cache with `strategy: "jwt"`, carry no `sub` and are
//!   refused: a frontend sends the JWT plugin's tokens.)
//! - The tokens of Better Auth's JWT plugin (`jwt()` in the frontend's auth config): EdDSA
//!   (Ed25519) by default, or ES256, ES512, RS256 or PS256, with the signing key's `kid` in the
//!   header, checked against the public keys it publishes at `{BETTER_AUTH_URL}/api/auth/jwks`
//!   ([`jwks`]). `iss` and `aud` are required and must be BETTER_AUTH_URL (the plugin's
//!   defaults), or one of JWT_ISSUER / JWT_AUDIENCE when those are set.
//!
//! Every token needs `exp` (30 s of leeway) and `sub`, the user that owns the tasks; `nbf` is
//! honoured. `alg: none` and every other algorithm are refused, and each key verifies only its
//! own algorithm (see [`keys`]).
//!
//! The JOSE parsing and claims checks are written here, on ring and p521 for the signatures:
//! jsonwebtoken (which this service used for HS256) has no ES512 and cannot even read the header
//! of such a token, and its bundled crypto providers pull in the `rsa` crate.

mod claims;
mod error;
mod jwks;
mod jws;
mod keys;
mod verified;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub use self::claims::ClaimsPolicy;
pub use self::error::AuthError;
pub use self::jwks::JwksConfig;
use self::jwks::KeySet;
use self::jws::{Algorithm, Jws};
use self::keys::{SignatureError, VerifyingKey};
use self::verified::VerifiedTokens;
use crate::domain::UserId;
use crate::metrics::Metrics;

/// What tokens are signed with and which issuers and audiences they must name.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// BETTER_AUTH_SECRET, shared with the frontend.
    pub secret: SecretString,
    /// `iss` and `aud` of HS256 tokens (JWT_ISSUER, JWT_AUDIENCE): empty = any.
    pub secret_claims: ClaimsPolicy,
    /// Better Auth's JWT plugin tokens: where its keys are and the `iss` and `aud` its tokens
    /// must carry (never empty). None without BETTER_AUTH_URL.
    pub better_auth: Option<BetterAuthConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthConfig {
    pub jwks: JwksConfig,
    pub claims: ClaimsPolicy,
}

pub struct Authenticator {
    secret: VerifyingKey,
    secret_claims: ClaimsPolicy,
    better_auth: Option<BetterAuth>,
}

struct BetterAuth {
    keys: Arc<KeySet>,
    claims: ClaimsPolicy,
    verified: VerifiedTokens,
    /// The periodic JWKS refresh, stopped when the authenticator goes.
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl Authenticator {
    /// A verifier for the configured tokens. With Better Auth's JWKS configured it starts
    /// fetching the keys in the background (so it needs a Tokio runtime), without waiting.
    pub fn new(config: &TokenConfig, metrics: &Metrics) -> Result<Authenticator, String> {
        let better_auth = match &config.better_auth {
            None => None,
            Some(better_auth) => {
                let keys = Arc::new(KeySet::new(better_auth.jwks.clone(), metrics.clone())?);
                Some(BetterAuth {
                    refresher: tokio::spawn(keys.clone().refresh_periodically()),
                    keys,
                    claims: better_auth.claims.clone(),
                    verified: VerifiedTokens::new(verified::CAPACITY),
                })
            }
        };
        Ok(Authenticator {
            secret: VerifyingKey::hs256(config.secret.expose_secret().as_bytes()),
            secret_claims: config.secret_claims.clone(),
            better_auth,
        })
    }

    /// Checks an `Authorization` header value and returns the user it names.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<UserId, AuthError> {
        let token = bearer_token(authorization)?;
        let jws = Jws::parse(token)?;
        let algorithm = jws.algorithm()?;
        let now = unix_now();
        if algorithm == Algorithm::HS256 {
            self.secret
                .verify(algorithm, jws.signing_input, &jws.signature)
                .map_err(signature_error)?;
            return self
                .secret_claims
                .check(&jws.payload, now)
                .map(|(user, _)| user);
        }
        let Some(better_auth) = &self.better_auth else {
            return Err(AuthError::InvalidToken(
                "only HS256 tokens are accepted: set BETTER_AUTH_URL for Better Auth's JWT plugin tokens",
            ));
        };
        let digest = VerifiedTokens::digest(token);
        let keys_version = better_auth.keys.version();
        if let Some(user) = better_auth.verified.get(&digest, keys_version, now) {
            return Ok(user);
        }
        let kid = jws
            .header
            .kid
            .as_deref()
            .ok_or(AuthError::InvalidToken("the kid header is required"))?;
        let key = better_auth
            .keys
            .key_for(kid, || claims::unverified_issued_at(&jws.payload))
            .await?;
        key.verify(algorithm, jws.signing_input, &jws.signature)
            .map_err(signature_error)?;
        let (user, valid_until) = better_auth.claims.check(&jws.payload, now)?;
        better_auth
            .verified
            .insert(digest, user.clone(), valid_until, keys_version, now);
        Ok(user)
    }
}

fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header = authorization.ok_or(AuthError::MissingToken)?;
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AuthError::NotBearer),
    };
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

fn signature_error(error: SignatureError) -> AuthError {
    match error {
        SignatureError::WrongKeyType => {
            AuthError::InvalidToken("the key named by kid is not for this algorithm")
        }
        SignatureError::BadSignature => AuthError::InvalidToken("bad signature"),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// 9999-12-31T23:59:59Z: later expiry times are refused by `mint`, as many JWT libraries refuse
/// them (and JavaScript's numbers lose whole seconds beyond 2^53).
const LAST_EXPIRY: u64 = 253_402_300_799;

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// A token for `user` that the service accepts from `now` until `now + ttl`: HS256 with the
/// configured secret, and the first JWT_ISSUER and JWT_AUDIENCE, if any, as `iss` and `aud`.
/// For `backend token`, so developers need no other tool to call the API. None when `now +
/// ttl` is past the year 9999 (or past what a number can hold).
pub fn mint(config: &TokenConfig, user: &UserId, ttl: Duration, now: SystemTime) -> Option<String> {
    let iat = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let claims = MintedClaims {
        sub: user.as_str(),
        iat,
        exp: iat
            .checked_add(ttl.as_secs())
            .filter(|exp| *exp <= LAST_EXPIRY)?,
        iss: config.secret_claims.issuers.first().map(String::as_str),
        aud: config.secret_claims.audiences.first().map(String::as_str),
    };
    let claims = serde_json::to_vec(&claims).expect("plain claims serialize");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, config.secret.expose_secret().as_bytes());
    let signature = hmac::sign(&key, signing_input.as_bytes());
    Some(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use testkit::auth_server::{AuthServer, JWKS_PATH};
    use testkit::jwt::{Alg, SigningKey, better_auth_claims};

    const SECRET: &str = "unit-test-secret-unit-test-secret-0123";
    const SITE: &str = "https://todo.example.com";

    fn now() -> i64 {
        testkit::jwt::now()
    }

    /// Signed by testkit (ring's HMAC), not by the code under test.
    fn hmac_token(alg: &str, claims: Value, secret: &str) -> String {
        testkit::jwt::sign(&json!({ "alg": alg, "typ": "JWT" }), &claims, secret)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn config(issuers: &[&str], audiences: &[&str]) -> TokenConfig {
        TokenConfig {
            secret: SecretString::from(SECRET),
            secret_claims: ClaimsPolicy {
                issuers: strings(issuers),
                audiences: strings(audiences),
            },
            better_auth: None,
        }
    }

    async fn verify_with(config: &TokenConfig, token: &str) -> Result<UserId, AuthError> {
        Authenticator::new(config, &Metrics::new("test"))
            .unwrap()
            .verify(Some(&format!("Bearer {token}")))
            .await
    }

    async fn verify(token: &str) -> Result<UserId, AuthError> {
        verify_with(&config(&[], &[]), token).await
    }

    /// A config that accepts Better Auth's plugin tokens from `server` (issuer and audience
    /// `SITE`, as a frontend at that URL would issue them).
    fn better_auth_config(server: &AuthServer) -> TokenConfig {
        TokenConfig {
            better_auth: Some(BetterAuthConfig {
                jwks: JwksConfig::new(format!("{}{JWKS_PATH}", server.url())),
                claims: ClaimsPolicy {
                    issuers: strings(&[SITE]),
                    audiences: strings(&[SITE]),
                },
            }),
            ..config(&[], &[])
        }
    }

    #[tokio::test]
    async fn a_minted_token_is_accepted_until_it_expires() {
        let config = config(&[SITE], &[SITE]);
        let user = UserId::parse("dev-user".into()).unwrap();
        let now = SystemTime::now();
        let token = mint(&config, &user, Duration::from_secs(3600), now).unwrap();
        assert_eq!(
            verify_with(&config, &token).await.unwrap(),
            user,
            "iss and aud are the configured ones"
        );
        // Minted two hours ago for one hour: expired an hour ago, past the leeway.
        let old = mint(
            &config,
            &user,
            Duration::from_secs(3600),
            now - Duration::from_secs(7200),
        )
        .unwrap();
        assert_eq!(verify_with(&config, &old).await, Err(AuthError::Expired));
        assert_eq!(
            mint(&config, &user, Duration::from_secs(u64::MAX), now),
            None,
            "exp would overflow"
        );
    }

    #[tokio::test]
    async fn hs256_tokens_with_better_auths_claims_are_accepted_without_settings() {
        let claims = better_auth_claims("u_7Kq2", SITE);
        let token = hmac_token("HS256", claims.clone(), SECRET);
        assert_eq!(verify(&token).await.unwrap().as_str(), "u_7Kq2");
        let mut claims = claims;
        claims["aud"] = json!([SITE, "mobile"]);
        assert!(
            verify(&hmac_token("HS256", claims, SECRET)).await.is_ok(),
            "aud as an array"
        );
    }

    #[tokio::test]
    async fn better_auths_session_cookie_cache_jwt_is_refused_for_want_of_sub() {
        // Its shape with `session.cookieCache.strategy: "jwt"` (better-auth's cookies/index.ts).
        let claims = json!({
            "session": {"id": "s1", "userId": "u1"},
            "user": {"id": "u1", "email": "ada@example.com"},
            "updatedAt": now() * 1000, "version": "1",
            "iat": now(), "exp": now() + 300,
        });
        assert_eq!(
            verify(&hmac_token("HS256", claims, SECRET)).await,
            Err(AuthError::InvalidToken(
                "the exp and sub claims are required"
            ))
        );
    }

    #[tokio::test]
    async fn configured_issuer_and_audience_are_enforced_on_hs256_tokens() {
        let token = hmac_token("HS256", better_auth_claims("u", SITE), SECRET);
        assert!(
            verify_with(&config(&[SITE], &["other", SITE]), &token)
                .await
                .is_ok()
        );
        assert_eq!(
            verify_with(&config(&["https://evil.example"], &[]), &token).await,
            Err(AuthError::InvalidToken("issuer not accepted"))
        );
    }

    #[tokio::test]
    async fn every_plugin_algorithm_is_verified_against_the_jwks() {
        let server = AuthServer::start().await;
        let keys: Vec<SigningKey> = Alg::ASYMMETRIC
            .iter()
            .map(|&alg| SigningKey::generate(alg, &format!("{alg:?}-key")))
            .collect();
        server.publish(&keys.iter().collect::<Vec<_>>());
        let config = better_auth_config(&server);
        for key in &keys {
            let token = key.token(&better_auth_claims("ba-user", SITE));
            assert_eq!(
                verify_with(&config, &token)
                    .await
                    .map(|user| user.as_str().to_owned()),
                Ok("ba-user".to_owned()),
                "{:?}",
                key.alg()
            );
        }
    }

    #[tokio::test]
    async fn plugin_tokens_need_the_right_issuer_audience_and_expiry() {
        let server = AuthServer::start().await;
        let key = SigningKey::generate(Alg::EdDSA, "k1");
        server.publish(&[&key]);
        let config = better_auth_config(&server);
        let check = |claims: Value| {
            let token = key.token(&claims);
            let config = config.clone();
            async move { verify_with(&config, &token).await }
        };
        let mut claims = better_auth_claims("u", "https://evil.example");
        assert_eq!(
            check(claims.clone()).await,
            Err(AuthError::InvalidToken("issuer not accepted"))
        );
        claims["iss"] = json!(SITE);
        assert_eq!(
            check(claims.clone()).await,
            Err(AuthError::InvalidToken("audience not accepted"))
        );
        claims.as_object_mut().unwrap().remove("aud");
        assert_eq!(
            check(claims.clone()).await,
            Err(AuthError::InvalidToken("the aud claim is required")),
            "required for plugin tokens even without JWT_AUDIENCE"
        );
        let mut expired = better_auth_claims("u", SITE);
        expired["exp"] = json!(now() - 60);
        assert_eq!(check(expired).await, Err(AuthError::Expired));
        let mut early = better_auth_claims("u", SITE);
        early["nbf"] = json!(now() + 600);
        assert_eq!(
            check(early).await,
            Err(AuthError::InvalidToken("token is not valid yet"))
        );
    }

    #[tokio::test]
    async fn a_token_cannot_choose_how_its_signature_is_checked() {
        let server = AuthServer::start().await;
        let ed = SigningKey::generate(Alg::EdDSA, "ed");
        let es = SigningKey::generate(Alg::ES256, "es");
        server.publish(&[&ed, &es]);
        let config = better_auth_config(&server);
        let claims = better_auth_claims("u", SITE);
        // An ES256 signature presented as EdDSA under the ES256 key's kid, and vice versa.
        let lying = es.token_with_header(&json!({"alg": "EdDSA", "kid": "es"}), &claims);
        assert_eq!(
            verify_with(&config, &lying).await,
            Err(AuthError::InvalidToken(
                "the key named by kid is not for this algorithm"
            ))
        );
        // HMAC with the public key's bytes as the secret: HS256 always means the shared secret.
        let public_x = ed.public_jwk()["x"].as_str().unwrap().to_owned();
        let confused =
            testkit::jwt::sign(&json!({"alg": "HS256", "kid": "ed"}), &claims, &public_x);
        assert_eq!(
            verify_with(&config, &confused).await,
            Err(AuthError::InvalidToken("bad signature"))
        );
        // Signed by a key the JWKS does not list, under a listed kid.
        let impostor = SigningKey::generate(Alg::EdDSA, "ed");
        assert_eq!(
            verify_with(&config, &impostor.token(&claims)).await,
            Err(AuthError::InvalidToken("bad signature"))
        );
        let no_kid = ed.token_with_header(&json!({"alg": "EdDSA"}), &claims);
        assert_eq!(
            verify_with(&config, &no_kid).await,
            Err(AuthError::InvalidToken("the kid header is required"))
        );
    }

    #[tokio::test]
    async fn a_verified_token_stops_working_once_the_jwks_drops_its_key() {
        let server = AuthServer::start().await;
        let (old, new) = (
            SigningKey::generate(Alg::EdDSA, "old"),
            SigningKey::generate(Alg::EdDSA, "new"),
        );
        server.publish(&[&old, &new]);
        let authenticator =
            Authenticator::new(&better_auth_config(&server), &Metrics::new("test")).unwrap();
        let header = format!("Bearer {}", old.token(&better_auth_claims("u", SITE)));
        for _ in 0..3 {
            assert!(authenticator.verify(Some(&header)).await.is_ok());
        }
        let fetches = server.fetches();
        server.publish(&[&new]);
        let keys = &authenticator.better_auth.as_ref().unwrap().keys;
        assert!(keys.refresh().await);
        assert!(server.fetches() > fetches);
        assert!(
            authenticator.verify(Some(&header)).await.is_err(),
            "the cached verification went with the key"
        );
    }

    #[tokio::test]
    async fn plugin_tokens_are_refused_without_better_auth_url() {
        let key = SigningKey::generate(Alg::EdDSA, "k1");
        let result = verify(&key.token(&better_auth_claims("u", SITE))).await;
        assert!(
            matches!(result, Err(AuthError::InvalidToken(why)) if why.contains("BETTER_AUTH_URL")),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn control_characters_in_sub_are_rejected() {
        for subject in [
            "nul\0byte",
            "line\nbreak",
            "esc\u{1b}",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let token = hmac_token("HS256", json!({"sub": subject, "exp": now() + 60}), SECRET);
            assert_eq!(
                verify(&token).await,
                Err(AuthError::InvalidToken(
                    "sub must not contain control characters"
                )),
                "{subject:?}"
            );
        }
    }

    #[tokio::test]
    async fn scheme_is_case_insensitive() {
        let token = hmac_token("HS256", json!({"sub": "u", "exp": now() + 60}), SECRET);
        let user = Authenticator::new(&config(&[], &[]), &Metrics::new("test"))
            .unwrap()
            .verify(Some(&format!("bearer {token}")))
            .await;
        assert!(user.is_ok());
    }

    #[tokio::test]
    async fn expired_and_exp_less_tokens_are_rejected() {
        let expired = hmac_token("HS256", json!({"sub": "u", "exp": now() - 3600}), SECRET);
        assert_eq!(verify(&expired).await, Err(AuthError::Expired));
        let forever = hmac_token("HS256", json!({"sub": "u"}), SECRET);
        assert!(matches!(
            verify(&forever).await,
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[tokio::test]
    async fn token_signed_with_another_secret_is_rejected() {
        let token = hmac_token(
            "HS256",
            json!({"sub": "u", "exp": now() + 60}),
            "another-secret-another-secret-0123456",
        );
        assert_eq!(
            verify(&token).await,
            Err(AuthError::InvalidToken("bad signature"))
        );
    }

    #[tokio::test]
    async fn other_hmac_algorithms_and_none_are_rejected() {
        let token = hmac_token("HS512", json!({"sub": "u", "exp": now() + 60}), SECRET);
        assert_eq!(
            verify(&token).await,
            Err(AuthError::InvalidToken(
                "algorithm must be HS256, EdDSA, ES256, ES512, RS256 or PS256"
            ))
        );
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"u","exp":{}}}"#, now() + 60));
        assert!(matches!(
            verify(&format!("{header}.{claims}.")).await,
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[tokio::test]
    async fn missing_and_non_bearer_headers_are_told_apart() {
        let authenticator = Authenticator::new(&config(&[], &[]), &Metrics::new("test")).unwrap();
        assert_eq!(
            authenticator.verify(None).await,
            Err(AuthError::MissingToken)
        );
        assert_eq!(
            authenticator.verify(Some("Basic dTpw")).await,
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            authenticator.verify(Some("Bearer ")).await,
            Err(AuthError::MissingToken)
        );
        assert!(matches!(
            authenticator.verify(Some("Bearer not.a.jwt")).await,
            Err(AuthError::InvalidToken(_))
        ));
    }
}
