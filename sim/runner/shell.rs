//! Splitting a command line into words as a POSIX shell does for the simple commands labs
//! type: whitespace separates words, '…' and "…" quote, backslash escapes.

use std::ops::Range;

/// A command line the shell could not split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quote in: {0}")]
pub struct SplitError(pub String);

pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    Ok(split_spans(line)?.into_iter().map(|(word, _)| word).collect())
}

/// Like [`split`], with each word's byte range in `line` (quotes included), so an error
/// about a word can point at it.
pub fn split_spans(line: &str) -> Result<Vec<(String, Range<usize>)>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut chars = line.char_indices().peekable();
    let unterminated = || SplitError(line.to_string());
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push((std::mem::take(&mut cur), s..i));
            }
            continue;
        }
        if c == '\\' && chars.next_if(|(_, ch)| *ch == '\n').is_some() {
            // A line continuation: the shell removes both characters.
            continue;
        }
        start.get_or_insert(i);
        match c {
            '\'' => loop {
                match chars.next().ok_or_else(unterminated)?.1 {
                    '\'' => break,
                    ch => cur.push(ch),
                }
            },
            '"' => loop {
                match chars.next().ok_or_else(unterminated)?.1 {
                    '"' => break,
                    '\\' => cur.extend(chars.next().map(|(_, ch)| ch)),
                    ch => cur.push(ch),
                }
            },
            '\\' => cur.extend(chars.next().map(|(_, ch)| ch)),
            c => cur.push(c),
        }
    }
    if let Some(s) = start {
        words.push((cur, s..line.len()));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_words() {
        assert_eq!(
            split("docker run -e 'DB=cat-db' -e \"ROLE=cat\" chrch/web").unwrap(),
            ["docker", "run", "-e", "DB=cat-db", "-e", "ROLE=cat", "chrch/web"]
        );
        assert_eq!(split("a\\ b  c").unwrap(), ["a b", "c"]);
        assert_eq!(split("a \\\n  b\\\nc").unwrap(), ["a", "bc"]);
        assert!(split("echo 'oops").is_err());
    }

    #[test]
    fn spans_cover_each_word_with_its_quotes() {
        let line = "tcpdump -ni eth0 'port 4789'";
        let words = split_spans(line).unwrap();
        let spans: Vec<&str> = words.iter().map(|(_, r)| &line[r.clone()]).collect();
        assert_eq!(spans, ["tcpdump", "-ni", "eth0", "'port 4789'"]);
        assert_eq!(words[3].0, "port 4789");
    }
}
