//! A token's parts: the compact serialization of a JWS (RFC 7515 section 7.1), split and
//! decoded, nothing verified yet.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::AuthError;

/// Longest token accepted. Better Auth's are under 1 KiB (a 2048-bit RSA signature is 342
/// characters); the cap keeps a hostile header from costing base64 and JSON work.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The signature algorithms this service verifies: HS256 with BETTER_AUTH_SECRET, and the five
/// Better Auth's JWT plugin can sign with (its `jwks.keyPairConfig.alg`), checked against its
/// JWKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HS256,
    /// Ed25519 (the plugin's default).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
}

impl Algorithm {
    /// The algorithm a JOSE `alg` names, if this service verifies it; `none` and everything
    /// else are `None`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "HS256" => Algorithm::HS256,
            "EdDSA" => Algorithm::EdDSA,
            "ES256" => Algorithm::ES256,
            "ES512" => Algorithm::ES512,
            "RS256" => Algorithm::RS256,
            "PS256" => Algorithm::PS256,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::ES512 => "ES512",
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
        }
    }
}

/// The protected header fields this service reads.
#[derive(Debug, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 section 4.1.11); it understands none.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// A token split into its parts and decoded; its signature is not checked yet.
#[derive(Debug)]
pub struct Jws<'a> {
    pub header: Header,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'a [u8],
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Result<Jws<'a>, AuthError> {
        const MALFORMED: AuthError = AuthError::InvalidToken("malformed token");
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken("token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MALFORMED);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| MALFORMED);
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| MALFORMED)?;
        if header.crit.is_some() {
            return Err(AuthError::InvalidToken(
                "critical header extensions are not supported",
            ));
        }
        Ok(Jws {
            header,
            signing_input: &token.as_bytes()[..token.len() - signature.len() - 1],
            payload: decode(payload)?,
            signature: decode(signature)?,
        })
    }

    /// The header's algorithm, if this service verifies it.
    pub fn algorithm(&self) -> Result<Algorithm, AuthError> {
        Algorithm::from_name(&self.header.alg).ok_or(AuthError::InvalidToken(
            "algorithm must be HS256, EdDSA, ES256, ES512, RS256 or PS256",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn a_token_splits_into_header_payload_and_signature() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"EdDSA","kid":"k1"}"#),
            b64(r#"{"sub":"u"}"#),
            b64("sig")
        );
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.algorithm(), Ok(Algorithm::EdDSA));
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.payload, br#"{"sub":"u"}"#);
        assert_eq!(jws.signature, b"sig");
        assert_eq!(
            jws.signing_input,
            token.rsplit_once('.').unwrap().0.as_bytes()
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let header = b64(r#"{"alg":"HS256"}"#);
        for token in [
            "".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{header}.!!!.sig"),
            format!("{}.e30.", b64("not json")),
            format!("{}.e30.", b64(r#"{"kid":"no alg"}"#)),
        ] {
            assert_eq!(
                Jws::parse(&token).unwrap_err(),
                AuthError::InvalidToken("malformed token"),
                "{token}"
            );
        }
        let long = format!("{header}.{}.sig", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(
            Jws::parse(&long).unwrap_err(),
            AuthError::InvalidToken("token is too long")
        );
    }

    #[test]
    fn unknown_algorithms_and_critical_extensions_are_refused() {
        for alg in [
            "none", "HS384", "HS512", "ES384", "RS512", "Ed25519", "hs256",
        ] {
            let token = format!("{}.e30.", b64(&format!(r#"{{"alg":"{alg}"}}"#)));
            assert!(
                Jws::parse(&token).unwrap().algorithm().is_err(),
                "{alg} is not accepted"
            );
        }
        let token = format!(
            "{}.e30.",
            b64(r#"{"alg":"HS256","crit":["b64"],"b64":false}"#)
        );
        assert!(Jws::parse(&token).is_err());
    }
}
