//! Plugin tokens already verified, so a token sent with every request costs one Ed25519 (or
//! ECDSA, RSA) verification, not one per request: an Ed25519 check takes about twice the CPU of
//! the rest of a get by id (`make bench`), where an HMAC is negligible.
//!
//! Keyed by the SHA-256 of the whole token, so only the exact token that was checked hits; an
//! entry holds until the token's `exp` (plus the leeway) and only while the key set it was
//! checked against is the current one, so a key the JWKS drops stops its tokens at the next
//! refresh, cached or not. Bounded: only tokens that passed every check get in, and past
//! [`CAPACITY`] the expired and outdated entries go, then all of them if that is not enough.

use std::collections::HashMap;
use std::sync::RwLock;

use ring::digest;

use crate::domain::UserId;

/// Entries kept at most: far more users than one pod serves within a token's 15 minutes, at
/// about 100 bytes each.
pub const CAPACITY: usize = 16 * 1024;

pub type TokenDigest = [u8; 32];

pub struct VerifiedTokens {
    entries: RwLock<HashMap<TokenDigest, Verified>>,
    capacity: usize,
}

struct Verified {
    user: UserId,
    /// `exp` plus the leeway, in seconds since the epoch.
    valid_until: f64,
    /// The key set's version when the token was checked.
    keys_version: u64,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> VerifiedTokens {
        VerifiedTokens {
            entries: RwLock::default(),
            capacity,
        }
    }

    pub fn digest(token: &str) -> TokenDigest {
        let hash = digest::digest(&digest::SHA256, token.as_bytes());
        hash.as_ref().try_into().expect("SHA-256 is 32 bytes")
    }

    /// The user of a token checked before, if it is still valid at `now` under `keys_version`.
    pub fn get(&self, token: &TokenDigest, keys_version: u64, now: f64) -> Option<UserId> {
        let entries = self.entries.read().expect("verified tokens lock");
        let entry = entries.get(token)?;
        (entry.keys_version == keys_version && now <= entry.valid_until).then(|| entry.user.clone())
    }

    pub fn insert(
        &self,
        token: TokenDigest,
        user: UserId,
        valid_until: f64,
        keys_version: u64,
        now: f64,
    ) {
        let mut entries = self.entries.write().expect("verified tokens lock");
        if entries.len() >= self.capacity {
            entries
                .retain(|_, entry| entry.keys_version == keys_version && now <= entry.valid_until);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            token,
            Verified {
                user,
                valid_until,
                keys_version,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name.to_owned()).unwrap()
    }

    #[test]
    fn a_token_hits_until_it_expires_or_the_keys_change() {
        let cache = VerifiedTokens::new(8);
        let token = VerifiedTokens::digest("header.payload.signature");
        cache.insert(token, user("u"), 100.0, 1, 0.0);
        assert_eq!(cache.get(&token, 1, 50.0), Some(user("u")));
        assert_eq!(cache.get(&token, 1, 100.5), None, "expired");
        assert_eq!(
            cache.get(&token, 2, 50.0),
            None,
            "checked against older keys"
        );
        let other = VerifiedTokens::digest("header.payload.signaturf");
        assert_eq!(cache.get(&other, 1, 50.0), None, "another token");
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = VerifiedTokens::new(4);
        for n in 0..3 {
            cache.insert(
                VerifiedTokens::digest(&format!("old-{n}")),
                user("u"),
                10.0,
                1,
                0.0,
            );
        }
        cache.insert(VerifiedTokens::digest("live"), user("u"), 1000.0, 1, 0.0);
        // Full: the expired entries go first.
        cache.insert(VerifiedTokens::digest("new"), user("u"), 1000.0, 1, 20.0);
        assert_eq!(cache.len(), 2);
        for n in 0..10 {
            cache.insert(
                VerifiedTokens::digest(&format!("more-{n}")),
                user("u"),
                1000.0,
                1,
                20.0,
            );
            assert!(cache.len() <= 4);
        }
    }
}
