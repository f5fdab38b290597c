//! Human-facing names (an agent's name, and the like): something a person
//! can read in a list. A name must have a visible character (not only
//! spaces, NULs or zero-width characters), no control characters, no
//! bidirectional overrides (which make text display in another order than
//! it is stored), and a bounded length.

use unicode_width::UnicodeWidthChar;

use super::error::ApiError;

/// The longest name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// Checks a name for `field`; 422 naming the field otherwise.
pub fn name(field: &str, value: &str) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        Err(ApiError::Unprocessable(format!(
            "invalid field {field}: {why}"
        )))
    };
    if value.chars().count() > NAME_MAX_CHARS {
        return refuse(&format!("at most {NAME_MAX_CHARS} characters"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || is_bidi_control(*c))
    {
        return refuse(&format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        ));
    }
    if !value.chars().any(visible) {
        return refuse("must contain a visible character");
    }
    Ok(())
}

fn visible(c: char) -> bool {
    !c.is_whitespace() && c.width().unwrap_or(0) > 0
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_a_visible_character_and_no_control_characters() {
        for ok in [
            "a",
            "Agent 7",
            "  padded  ",
            "🤖",
            "日本語",
            "e\u{301}",
            "a\u{200B}b",
        ] {
            assert!(name("name", ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "\u{0}",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
            "\u{3000}",
            "a\u{7}b",
            "tab\there",
            "line\nbreak",
            "\u{202E}evil",
            "x\u{2066}",
        ] {
            let e = name("name", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid field name: "),
                "{bad:?}: {e}"
            );
        }
        assert!(name("name", &"x".repeat(NAME_MAX_CHARS)).is_ok());
        assert!(name("name", &"é".repeat(NAME_MAX_CHARS + 1)).is_err());
    }
}
