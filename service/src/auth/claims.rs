//! What a token's claims must say once its signature is good: `exp` (required, with leeway),
//! `nbf` (honoured when present), `iss` and `aud` (when the policy names accepted values), and
//! `sub`, the user that owns the tasks. Other claims (Better Auth's profile fields) are ignored.

use serde::Deserialize;

use super::error::AuthError;
use crate::domain::UserId;

/// Clock skew tolerated on `exp` and `nbf` between the token issuer and this service.
pub const LEEWAY_SECS: f64 = 30.0;

/// Which `iss` and `aud` values a kind of token must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsPolicy {
    /// Accepted `iss` values; empty = any (the claim is then not required).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (a token's `aud` may list several; one must match); empty = any
    /// (the claim is then not required).
    pub audiences: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    /// NumericDate: seconds since the epoch, possibly with a fraction (RFC 7519 section 2).
    exp: Option<f64>,
    nbf: Option<f64>,
    #[serde(default)]
    iat: Option<f64>,
    iss: Option<String>,
    aud: Option<Audience>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[String]) -> bool {
        match self {
            Audience::One(audience) => accepted.contains(audience),
            Audience::Many(audiences) => audiences.iter().any(|a| accepted.contains(a)),
        }
    }
}

impl ClaimsPolicy {
    /// The user a token with a good signature names, if its claims pass at `now` (seconds
    /// since the epoch), and until when it is valid (`exp` plus the leeway).
    pub fn check(&self, payload: &[u8], now: f64) -> Result<(UserId, f64), AuthError> {
        let claims: Claims = serde_json::from_slice(payload)
            .map_err(|_| AuthError::InvalidToken("malformed claims"))?;
        let (Some(sub), Some(exp)) = (claims.sub, claims.exp) else {
            return Err(AuthError::InvalidToken(
                "the exp and sub claims are required",
            ));
        };
        if exp + LEEWAY_SECS < now {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(AuthError::InvalidToken("token is not valid yet"));
        }
        if !self.issuers.is_empty() {
            let issuer = claims
                .iss
                .ok_or(AuthError::InvalidToken("the iss claim is required"))?;
            if !self.issuers.contains(&issuer) {
                return Err(AuthError::InvalidToken("issuer not accepted"));
            }
        }
        if !self.audiences.is_empty() {
            let audience = claims
                .aud
                .ok_or(AuthError::InvalidToken("the aud claim is required"))?;
            if !audience.contains_any(&self.audiences) {
                return Err(AuthError::InvalidToken("audience not accepted"));
            }
        }
        let user =
            UserId::parse(sub).map_err(|invalid| AuthError::InvalidToken(invalid.reason()))?;
        Ok((user, exp + LEEWAY_SECS))
    }
}

/// A token's `iat`, read before its signature is checked: only to tell a token signed with a
/// key this service has not fetched yet from one whose key is gone (see `jwks.rs`).
pub fn unverified_issued_at(payload: &[u8]) -> Option<f64> {
    serde_json::from_slice::<Claims>(payload).ok()?.iat
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_800_000_000.0;
    const SITE: &str = "https://todo.example.com";

    fn check(policy: &ClaimsPolicy, claims: serde_json::Value) -> Result<UserId, AuthError> {
        let checked = policy.check(claims.to_string().as_bytes(), NOW);
        if let Ok((_, valid_until)) = &checked {
            assert_eq!(*valid_until, claims["exp"].as_f64().unwrap() + LEEWAY_SECS);
        }
        checked.map(|(user, _)| user)
    }

    fn site_policy() -> ClaimsPolicy {
        ClaimsPolicy {
            issuers: vec![SITE.into()],
            audiences: vec!["other".into(), SITE.into()],
        }
    }

    #[test]
    fn exp_is_required_and_checked_with_leeway() {
        let any = ClaimsPolicy::default();
        assert!(check(&any, json!({"sub": "u", "exp": NOW - 29.0})).is_ok());
        assert_eq!(
            check(&any, json!({"sub": "u", "exp": NOW - 31.0})),
            Err(AuthError::Expired)
        );
        assert!(check(&any, json!({"sub": "u", "exp": NOW + 0.5})).is_ok());
        assert_eq!(
            check(&any, json!({"sub": "u"})),
            Err(AuthError::InvalidToken(
                "the exp and sub claims are required"
            ))
        );
        assert_eq!(
            check(&any, json!({"exp": NOW + 60.0})),
            Err(AuthError::InvalidToken(
                "the exp and sub claims are required"
            ))
        );
        assert_eq!(
            check(&any, json!({"sub": "u", "exp": "tomorrow"})),
            Err(AuthError::InvalidToken("malformed claims"))
        );
    }

    #[test]
    fn nbf_is_honoured_with_leeway() {
        let any = ClaimsPolicy::default();
        let claims = |nbf: f64| json!({"sub": "u", "exp": NOW + 600.0, "nbf": nbf});
        assert!(check(&any, claims(NOW + 29.0)).is_ok());
        assert_eq!(
            check(&any, claims(NOW + 31.0)),
            Err(AuthError::InvalidToken("token is not valid yet"))
        );
    }

    #[test]
    fn issuer_and_audience_are_required_only_when_named() {
        let claims = json!({"sub": "u", "exp": NOW + 60.0, "iss": SITE, "aud": [SITE, "x"]});
        assert!(check(&site_policy(), claims).is_ok());
        let bare = json!({"sub": "u", "exp": NOW + 60.0});
        assert!(check(&ClaimsPolicy::default(), bare.clone()).is_ok());
        assert_eq!(
            check(&site_policy(), bare),
            Err(AuthError::InvalidToken("the iss claim is required"))
        );
        assert_eq!(
            check(
                &site_policy(),
                json!({"sub": "u", "exp": NOW + 60.0, "iss": SITE})
            ),
            Err(AuthError::InvalidToken("the aud claim is required"))
        );
        assert_eq!(
            check(
                &site_policy(),
                json!({"sub": "u", "exp": NOW + 60.0, "iss": "https://evil.example", "aud": SITE})
            ),
            Err(AuthError::InvalidToken("issuer not accepted"))
        );
        assert_eq!(
            check(
                &site_policy(),
                json!({"sub": "u", "exp": NOW + 60.0, "iss": SITE, "aud": ["https://api.example"]})
            ),
            Err(AuthError::InvalidToken("audience not accepted"))
        );
    }

    #[test]
    fn the_subject_must_be_a_valid_user_id() {
        assert_eq!(
            check(
                &ClaimsPolicy::default(),
                json!({"sub": "line\nbreak", "exp": NOW + 60.0})
            ),
            Err(AuthError::InvalidToken(
                "sub must not contain control characters"
            ))
        );
    }
}
