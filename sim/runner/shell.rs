//! Splitting a command line into words as a POSIX shell does for the simple commands labs
//! type: whitespace separates words, '…' and "…" quote, backslash escapes.

/// A command line the shell could not split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quote in: {0}")]
pub struct SplitError(pub String);

pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError(line.to_string())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.extend(chars.next()),
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError(line.to_string())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
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
        assert!(split("echo 'oops").is_err());
    }
}
