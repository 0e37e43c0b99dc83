//! A task's title and description: text that PostgreSQL can store and the API promises.

use std::fmt;

const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Why text is not a valid title or description; the text is safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidText(String);

impl fmt::Display for InvalidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A title: 1 to 200 characters once surrounding whitespace is removed, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub const MAX_CHARS: usize = MAX_TITLE_CHARS;

    /// What the OpenAPI document promises a title is, so a client generated from it never sends
    /// one that is refused: not only whitespace, no NUL. `\s` does not cover U+0085 in ECMA-262
    /// regexes while `trim` removes it, hence the extra escape; every other character `trim`
    /// removes is in `\s`.
    pub const PATTERN: &'static str = r"^[^\u0000]*[^\s\u0000\u0085][^\u0000]*$";

    pub fn parse(raw: String) -> Result<TaskTitle, InvalidText> {
        let title = raw.trim();
        let length = title.chars().count();
        if length == 0 {
            return Err(InvalidText("must not be blank".into()));
        }
        if length > MAX_TITLE_CHARS {
            return Err(InvalidText(format!(
                "must be at most {MAX_TITLE_CHARS} characters (got {length})"
            )));
        }
        storable(title)?;
        Ok(TaskTitle(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: at most 2000 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub const MAX_CHARS: usize = MAX_DESCRIPTION_CHARS;

    /// Any text without NUL (PostgreSQL text cannot hold it).
    pub const PATTERN: &'static str = r"^[^\u0000]*$";

    pub fn parse(raw: String) -> Result<TaskDescription, InvalidText> {
        let length = raw.chars().count();
        if length > MAX_DESCRIPTION_CHARS {
            return Err(InvalidText(format!(
                "must be at most {MAX_DESCRIPTION_CHARS} characters (got {length})"
            )));
        }
        storable(&raw)?;
        Ok(TaskDescription(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// PostgreSQL text cannot hold NUL; refusing it here turns a would-be 500 into a 422.
fn storable(text: &str) -> Result<(), InvalidText> {
    if text.contains('\0') {
        return Err(InvalidText("must not contain NUL characters".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded_in_characters() {
        assert_eq!(
            TaskTitle::parse("  Buy milk \n".into()).unwrap().as_str(),
            "Buy milk"
        );
        assert!(TaskTitle::parse("é".repeat(200)).is_ok());
        for refused in ["   ".to_owned(), "x".repeat(201), "nul\0byte".to_owned()] {
            assert!(TaskTitle::parse(refused.clone()).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn description_limit_counts_characters() {
        assert!(TaskDescription::parse("ü".repeat(2000)).is_ok());
        assert!(TaskDescription::parse("ü".repeat(2001)).is_err());
        assert!(TaskDescription::parse("nul\0".into()).is_err());
    }

    /// ECMA-262's `\s` (the regex dialect of JSON Schema): WhiteSpace and LineTerminator.
    fn ecma_whitespace(c: char) -> bool {
        matches!(
            c,
            '\t' | '\u{b}'
                | '\u{c}'
                | ' '
                | '\u{a0}'
                | '\u{feff}'
                | '\n'
                | '\r'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
    }

    #[test]
    fn a_title_the_document_accepts_is_never_refused() {
        // PATTERN needs one character of the class [^\s\u0000\u0085]; every character of that
        // class must survive `trim`, or a client could send a title that is refused.
        assert!(
            TaskTitle::PATTERN.contains(r"[^\s\u0000\u0085]"),
            "{}",
            TaskTitle::PATTERN
        );
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let in_class = !ecma_whitespace(c) && c != '\0' && c != '\u{85}';
            if in_class {
                assert!(
                    TaskTitle::parse(c.to_string()).is_ok(),
                    "U+{:04X} matches the pattern but is refused",
                    c as u32
                );
            }
        }
        assert!(TaskTitle::parse("x".repeat(TaskTitle::MAX_CHARS)).is_ok());
        assert!(TaskDescription::parse("y".repeat(TaskDescription::MAX_CHARS)).is_ok());
    }
}
