//! Splitting a command line into words as a POSIX shell does for the simple commands labs
//! type: whitespace separates words, '…' and "…" quote, backslash escapes.
//!
//! One pipeline is modelled: `CMD | grep [-i] [-A NUM] PATTERN`, as the labs filter `curl`
//! and `docker … inspect` output. grep (GNU grep 3.4) selects lines containing PATTERN,
//! prints `--` between non-adjacent groups when `-A` adds context, and exits 0 when a line
//! was selected, 1 when none was; the pipeline's status is grep's. Patterns are matched as
//! fixed strings, so a pattern with a regular-expression character is refused.

use std::ops::Range;

/// A command line the shell could not split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quote in: {0}")]
pub struct SplitError(pub String);

/// A pipe into grep the simulator cannot run, or that grep itself rejects (status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PipeError(pub String);

/// `grep [-i] [-A NUM] PATTERN` reading a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grep {
    pattern: String,
    ignore_case: bool,
    after: usize,
}

/// Splits `CMD | grep …` at its (unquoted) pipe: the command, and the grep if there is one.
pub fn split_pipe(line: &str) -> Result<(String, Option<Grep>), PipeError> {
    let mut quote = None;
    let bar = line.char_indices().find_map(|(i, c)| {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if q == c => quote = None,
            (None, '|') => return Some(i),
            _ => {}
        }
        None
    });
    let Some(bar) = bar else { return Ok((line.to_string(), None)) };
    let words = split(&line[bar + 1..]).map_err(|e| PipeError(e.to_string()))?;
    match words.split_first() {
        Some((grep, args)) if grep == "grep" => {
            Ok((line[..bar].trim_end().to_string(), Some(Grep::parse(args)?)))
        }
        _ => Err(PipeError(format!(
            "pipe into `{}`: not simulated (only `| grep [-i] [-A NUM] PATTERN` is)",
            line[bar + 1..].trim()
        ))),
    }
}

impl Grep {
    fn parse(args: &[String]) -> Result<Grep, PipeError> {
        let usage =
            "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.";
        let (mut ignore_case, mut after, mut pattern) = (false, 0, None);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-i" => ignore_case = true,
                "-A" => {
                    let n = it.next().ok_or_else(|| {
                        PipeError(format!("grep: option requires an argument -- 'A'\n{usage}"))
                    })?;
                    after = n.parse().map_err(|_| {
                        PipeError(format!("grep: {n}: invalid context length argument"))
                    })?;
                }
                o if o.starts_with('-') && o.len() > 1 => {
                    return Err(PipeError(format!(
                        "grep {o}: not simulated (grep takes -i and -A NUM here)"
                    )))
                }
                p if pattern.is_none() => pattern = Some(p.to_string()),
                f => return Err(PipeError(format!("grep {f}: reading files is not simulated"))),
            }
        }
        let pattern = pattern.ok_or_else(|| PipeError(usage.to_string()))?;
        if pattern.contains(['.', '[', ']', '*', '^', '$', '\\']) {
            return Err(PipeError(format!(
                "grep '{pattern}': regular expressions are not simulated, only fixed strings"
            )));
        }
        Ok(Grep { pattern, ignore_case, after })
    }

    fn selects(&self, line: &str) -> bool {
        if self.ignore_case {
            line.to_lowercase().contains(&self.pattern.to_lowercase())
        } else {
            line.contains(&self.pattern)
        }
    }

    /// What grep prints for `input`, and its exit status.
    pub fn filter(&self, input: &str) -> (String, i32) {
        let (mut out, mut matched, mut last, mut context) = (String::new(), false, None, 0);
        for (i, line) in input.lines().enumerate() {
            let selected = self.selects(line);
            if !selected && context == 0 {
                continue;
            }
            if selected {
                if self.after > 0 && last.is_some_and(|l: usize| i > l + 1) {
                    out += "--\n";
                }
                matched = true;
                context = self.after;
            } else {
                context -= 1;
            }
            out += line;
            out.push('\n');
            last = Some(i);
        }
        (out, if matched { 0 } else { 1 })
    }
}

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
    fn grep_selects_lines_like_gnu_grep() {
        let (cmd, grep) = split_pipe("curl -s 172.16.24.4:8080 | grep -i address").unwrap();
        assert_eq!(cmd, "curl -s 172.16.24.4:8080");
        let page = "<p><span>Server&nbsp;address:</span> <span>10.0.0.8:80</span></p>\nURI\n";
        assert_eq!(
            grep.unwrap().filter(page),
            ("<p><span>Server&nbsp;address:</span> <span>10.0.0.8:80</span></p>\n".into(), 0)
        );
        let (_, grep) = split_pipe("docker network inspect x | grep -A 2 -i subnet").unwrap();
        let text = "a\n\"Subnet\": 1\nb\nc\nd\nsubnet 2\ne\n";
        let grep = grep.unwrap();
        assert_eq!(grep.filter(text), ("\"Subnet\": 1\nb\nc\n--\nsubnet 2\ne\n".into(), 0));
        assert_eq!(grep.filter("nothing\n"), (String::new(), 1));
    }

    #[test]
    fn pipes_split_only_outside_quotes() {
        assert_eq!(split_pipe("echo 'a|b'").unwrap(), ("echo 'a|b'".into(), None));
        assert!(split_pipe("ls | wc -l").is_err());
        assert!(split_pipe("ls | grep 'a.b'").is_err());
        let err = split_pipe("ls | grep -A").unwrap_err();
        assert!(err.0.starts_with("grep: option requires an argument -- 'A'\n"));
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
