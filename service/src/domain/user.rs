//! The authenticated caller.

use std::fmt;

/// Longest accepted user id; ids from auth providers are far shorter.
const MAX_USER_ID_BYTES: usize = 255;

/// The id of the user that owns tasks: the `sub` of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

/// Why a string is not a user id; the text is safe to show the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidUserId {
    Length,
    ControlCharacter,
}

impl InvalidUserId {
    /// Why, in terms of the token claim the id comes from.
    pub fn reason(self) -> &'static str {
        match self {
            InvalidUserId::Length => "sub must be 1 to 255 bytes",
            InvalidUserId::ControlCharacter => "sub must not contain control characters",
        }
    }
}

impl fmt::Display for InvalidUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl UserId {
    /// 1 to 255 bytes of printable text (NUL, for one, cannot be stored in PostgreSQL text).
    pub fn parse(id: String) -> Result<UserId, InvalidUserId> {
        if id.is_empty() || id.len() > MAX_USER_ID_BYTES {
            return Err(InvalidUserId::Length);
        }
        if id.chars().any(char::is_control) {
            return Err(InvalidUserId::ControlCharacter);
        }
        Ok(UserId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_printable_and_bounded() {
        assert_eq!(UserId::parse("u_7Kq2".into()).unwrap().as_str(), "u_7Kq2");
        assert_eq!(UserId::parse(String::new()), Err(InvalidUserId::Length));
        assert_eq!(UserId::parse("x".repeat(256)), Err(InvalidUserId::Length));
        for id in ["nul\0", "line\nbreak", "esc\u{1b}", "c1\u{85}"] {
            assert_eq!(
                UserId::parse(id.into()),
                Err(InvalidUserId::ControlCharacter),
                "{id:?}"
            );
        }
    }
}
