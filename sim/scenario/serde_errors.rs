//! Turns yaml_serde's errors (syntax, wrong type, unknown or missing key) into
//! [`ScenarioError`]s with a caret, what was expected, and a hint.
//!
//! serde reports these as text ("unknown field `nmae`, expected one of `name`, `ip`"); the
//! wording comes from serde's derive and is stable, so it is read back here to offer the
//! nearest valid key.

use super::error::{ErrorKind, ScenarioError};
use super::positions::{PositionIndex, Region};
use super::suggest::did_you_mean;

/// Converts a deserialization error, underlining the word it points at.
pub fn convert(
    err: &serde_yaml::Error,
    file: &str,
    source: &str,
    index: &PositionIndex,
) -> ScenarioError {
    let text = strip_locations(&err.to_string());
    let message = strip_path(&text);
    let mut region = err.location().map_or(Region::START, |loc| {
        let len = index.len_at(loc.line(), loc.column()).unwrap_or(1);
        Region { line: loc.line(), column: loc.column(), len }
    });
    let (kind, expected, hint) = classify(message);
    // serde points a duplicate key at its mapping; the index knows the repetition itself.
    if let ErrorKind::DuplicateKey(key) = &kind {
        region = index.repeated_key(key).unwrap_or(region);
    }
    let err = ScenarioError::at(kind, file, source, region).hint(hint);
    match expected {
        Some(expected) => err.expected(expected),
        None => err,
    }
}

pub const EMPTY_HINT: &str = "a scenario needs at least `name:`, `underlay:` and `steps:`";

type Parts = (ErrorKind, Option<String>, Option<String>);

fn classify(message: &str) -> Parts {
    let words = backticked(message);
    let word = words.first().cloned().unwrap_or_default();
    let valid: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
    let one_of = || Some(format!("expected one of {}", quote_list(&valid)));
    if message.starts_with("unknown field") {
        if valid.is_empty() {
            return (ErrorKind::UnknownKey(word), Some("this mapping takes no keys".into()), None);
        }
        let hint = did_you_mean(&word, valid.iter().copied());
        (ErrorKind::UnknownKey(word), one_of(), hint)
    } else if message.starts_with("unknown variant") {
        let hint = did_you_mean(&word, valid.iter().copied());
        (ErrorKind::UnknownValue(word), one_of(), hint)
    } else if message.starts_with("missing field") {
        let hint = Some(format!("add `{word}:` to this mapping"));
        (ErrorKind::MissingKey(word), Some("this mapping is incomplete".into()), hint)
    } else if message.starts_with("duplicate field") {
        let hint = Some("each key may appear once per mapping".to_string());
        (ErrorKind::DuplicateKey(word), None, hint)
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        wrong_type(rest)
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        wrong_type(rest)
    } else if message.starts_with("EOF while parsing") {
        (ErrorKind::Empty, None, Some(EMPTY_HINT.to_string()))
    } else {
        (ErrorKind::Syntax(message.to_string()), None, None)
    }
}

/// "string \"x\", expected u64" → found `string "x"`, expected "a whole number".
fn wrong_type(rest: &str) -> Parts {
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
    let expected = readable_type(expected);
    (ErrorKind::WrongType(format!("found {found}")), Some(format!("expected {expected}")), None)
}

/// serde's names for Rust types, in the words of someone writing YAML.
fn readable_type(rust: &str) -> String {
    match rust {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u64" => "a whole number".into(),
        "a string" => "a string".into(),
        "a sequence" => "a list".into(),
        _ if rust.starts_with("struct ") => "a mapping of `key: value` lines".into(),
        _ => rust.to_string(),
    }
}

/// The words between backticks, in order.
fn backticked(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn quote_list(words: &[&str]) -> String {
    words.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}

/// Drops the first " at line N column M" (or " at position N"): the caret shows where.
/// A later one, libyaml's context ("while parsing a flow mapping at line 9 column 5"),
/// stays, since it points somewhere else.
fn strip_locations(text: &str) -> String {
    let mut from = 0;
    while let Some(at) = text[from..].find(" at ").map(|i| from + i) {
        let skip = location_len(&text[at + 4..]);
        if skip > 0 {
            return format!("{}{}", &text[..at], &text[at + 4 + skip..]);
        }
        from = at + 4;
    }
    text.to_string()
}

/// The length of "line N column M" or "position N" at the start of `text`, else 0.
fn location_len(text: &str) -> usize {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    if let Some(after) = text.strip_prefix("line ") {
        let n = digits(after);
        if let Some(col) = after[n..].strip_prefix(" column ") {
            let m = digits(col);
            if n > 0 && m > 0 {
                return text.len() - col.len() + m;
            }
        }
    } else if let Some(after) = text.strip_prefix("position ") {
        let n = digits(after);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// Drops the "hosts[0].ip: " prefix: the snippet shows where.
fn strip_path(text: &str) -> &str {
    match text.split_once(": ") {
        Some((head, rest)) if !head.contains([' ', '`']) => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_paths_are_stripped() {
        let text = "hosts[0]: unknown field `nmae`, expected `name` at line 3 column 5";
        assert_eq!(strip_path(&strip_locations(text)), "unknown field `nmae`, expected `name`");
        let syntax = "did not find expected key at line 2 column 1, while parsing a block mapping at line 1 column 1";
        assert_eq!(
            strip_locations(syntax),
            "did not find expected key, while parsing a block mapping at line 1 column 1"
        );
        assert_eq!(strip_locations("look at this"), "look at this");
    }

    #[test]
    fn unknown_keys_suggest_the_nearest_valid_one() {
        let (kind, expected, hint) =
            classify("unknown field `nmae`, expected one of `name`, `ip`, `network`");
        assert_eq!(kind, ErrorKind::UnknownKey("nmae".into()));
        assert_eq!(expected.as_deref(), Some("expected one of `name`, `ip`, `network`"));
        assert_eq!(hint.as_deref(), Some("did you mean `name`?"));
    }

    #[test]
    fn wrong_types_speak_yaml() {
        let (kind, expected, _) = classify("invalid type: string \"abc\", expected u64");
        assert_eq!(kind.to_string(), "wrong type: found string \"abc\"");
        assert_eq!(expected.as_deref(), Some("expected a whole number"));
    }
}
