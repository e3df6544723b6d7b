//! [`GroupId::parse`]: the one check of a Connec! group id coming from outside (a notification,
//! the configuration, a command-line argument, a link request).

use super::GroupId;

/// The longest group id accepted, in characters.
pub const MAX_GROUP_ID_LEN: usize = 64;

/// How many characters of a refused group id its error shows (escaped).
const SHOWN: usize = 16;

/// A text that is not a Connec! group id: empty, longer than [`MAX_GROUP_ID_LEN`], or with a
/// character other than an ASCII letter, a digit, `-` or `_`.
///
/// `Display` says the allowed format and shows at most a short escaped prefix of the text, so
/// that a hostile value (markup, a path, 60 KB of text) is never echoed back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{shown}` is not a Connec! group id: expected 1 to {max} characters, ASCII letters, \
     digits, `-` or `_` (like `cld-abc123`)",
    max = MAX_GROUP_ID_LEN
)]
pub struct InvalidGroupId {
    /// The start of the refused text, escaped (ASCII only) and cut to a few characters.
    shown: String,
}

impl InvalidGroupId {
    fn of(text: &str) -> Self {
        let mut shown: String = text
            .chars()
            .take(SHOWN)
            .flat_map(char::escape_default)
            .collect();
        if text.chars().nth(SHOWN).is_some() {
            shown.push_str("...");
        }
        Self { shown }
    }

    /// The escaped, shortened start of the refused text (what `Display` shows).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl GroupId {
    /// Checks a group id coming from outside: 1 to [`MAX_GROUP_ID_LEN`] characters, each an
    /// ASCII letter, a digit, `-` or `_`. So a group id is always one plain URL path segment:
    /// no `/`, `.`, `%`, `?` or `#` can make a Connec! URL address another group.
    ///
    /// ```
    /// use sync_core::domain::GroupId;
    ///
    /// assert_eq!(GroupId::parse("cld-abc123").unwrap().as_str(), "cld-abc123");
    /// let err = GroupId::parse("x/../cld-victim").unwrap_err();
    /// assert!(err.to_string().contains("ASCII letters, digits, `-` or `_`"));
    /// assert!(GroupId::parse("").is_err());
    /// assert!(GroupId::parse(&"a".repeat(65)).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidGroupId`] when the text is not in that format.
    pub fn parse(text: &str) -> Result<Self, InvalidGroupId> {
        let valid = !text.is_empty()
            && text.len() <= MAX_GROUP_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self::new(text))
        } else {
            Err(InvalidGroupId::of(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connec_group_ids_and_the_ones_of_the_tests_are_accepted() {
        for id in [
            "cld-abc123",
            "cld-demo",
            "cld-1",
            "cld_R2-b",
            "a",
            &"x".repeat(MAX_GROUP_ID_LEN),
        ] {
            assert_eq!(GroupId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn paths_markup_spaces_and_long_texts_are_refused() {
        for id in [
            "",
            " ",
            "cld-1 ",
            "x/../cld-victim",
            "..",
            ".",
            "%2e%2e",
            "cld-1?x=1",
            "cld-1#x",
            "cld-1/people",
            "<img src=x onerror=alert(1)>",
            "cld\u{e9}",
            "cld-1\n",
            &"a".repeat(MAX_GROUP_ID_LEN + 1),
        ] {
            assert!(GroupId::parse(id).is_err(), "{id:?} accepted");
        }
    }

    #[test]
    fn the_error_says_the_format_and_shows_only_a_short_escaped_prefix() {
        let long = format!("<script>{}", "A".repeat(60_000));
        let message = GroupId::parse(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("`<script>AAAAAAAA...`"), "{message}");
        assert!(message.contains("1 to 64 characters"), "{message}");

        let err = GroupId::parse("a\nb\u{202e}c").unwrap_err();
        assert_eq!(err.shown(), "a\\nb\\u{202e}c");
        assert!(err.to_string().is_ascii());
    }
}
