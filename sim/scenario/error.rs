//! Scenario errors: what went wrong, where (file, line, column, the source line), what was
//! expected there, and a hint. `Display` renders them the way rustc does, which is what the
//! binary prints to stderr before exiting with code 2.

use std::fmt;
use std::ops::Range;

use super::positions::Region;

/// What went wrong. The `Display` of a kind is the error's headline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read the scenario file: {0}")]
    Io(String),
    #[error("the scenario file is empty")]
    Empty,
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    #[error("unknown value `{0}`")]
    UnknownValue(String),
    #[error("missing required key `{0}`")]
    MissingKey(String),
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    #[error("wrong type: {0}")]
    WrongType(String),
    #[error("invalid {what} `{text}`")]
    Invalid { what: &'static str, text: String },
    #[error("duplicate {what} name `{name}`")]
    DuplicateName { what: &'static str, name: String },
    #[error("IP address {ip} of {owner} is outside its network's subnet {subnet}")]
    IpOutsideSubnet { ip: String, owner: String, subnet: String },
    #[error("IP address {ip} of {owner} is inside no underlay network")]
    IpInNoNetwork { ip: String, owner: String },
    #[error("IP address {ip} of {owner} is already used by {other}")]
    IpInUse { ip: String, owner: String, other: String },
    #[error("subnet {subnet} overlaps subnet {other} of network `{other_net}`")]
    OverlappingSubnets { subnet: String, other: String, other_net: String },
    #[error("unknown {what} `{name}`")]
    Unknown { what: &'static str, name: String },
    #[error("{0}")]
    Step(String),
    #[error("container name `{0}` is already in use")]
    ContainerNameInUse(String),
    #[error("{0}")]
    Command(String),
}

/// A scenario file that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    file: String,
    at: Option<Snippet>,
    expected: Option<String>,
    hint: Option<String>,
}

/// The region and the text of its line, kept so `Display` needs no source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snippet {
    region: Region,
    line_text: String,
}

impl ScenarioError {
    /// An error at `region` of `source`.
    pub(crate) fn at(kind: ErrorKind, file: &str, source: &str, region: Region) -> ScenarioError {
        let line_text = source.lines().nth(region.line.saturating_sub(1)).unwrap_or("");
        ScenarioError(Box::new(Inner {
            kind,
            file: file.to_string(),
            at: Some(Snippet { region, line_text: line_text.to_string() }),
            expected: None,
            hint: None,
        }))
    }

    /// An error about the file as a whole (it could not be read).
    pub(crate) fn whole_file(kind: ErrorKind, file: &str) -> ScenarioError {
        ScenarioError(Box::new(Inner {
            kind,
            file: file.to_string(),
            at: None,
            expected: None,
            hint: None,
        }))
    }

    pub(crate) fn expected(mut self, expected: impl Into<String>) -> ScenarioError {
        self.0.expected = Some(expected.into());
        self
    }

    pub(crate) fn hint(mut self, hint: Option<String>) -> ScenarioError {
        self.0.hint = hint;
        self
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The headline, e.g. "unknown host `docker-hots`".
    pub fn message(&self) -> String {
        self.0.kind.to_string()
    }

    pub fn file(&self) -> &str {
        &self.0.file
    }

    /// 1-based line and column (in characters); `None` only for I/O errors.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.0.at.as_ref().map(|s| (s.region.line, s.region.column))
    }

    pub fn expected_text(&self) -> Option<&str> {
        self.0.expected.as_deref()
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        writeln!(f, "error: {}", inner.kind)?;
        let Some(snippet) = &inner.at else {
            writeln!(f, "  --> {}", inner.file)?;
            return write_hint(f, 3, inner.hint.as_deref());
        };
        let Region { line, column, len } = snippet.region;
        let width = line.to_string().len();
        let pad = " ".repeat(width);
        writeln!(f, "{pad}--> {}:{line}:{column}", inner.file)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line} | {}", snippet.line_text)?;
        // Copy tabs from the source line so the carets line up under them.
        let lead: String = snippet
            .line_text
            .chars()
            .take(column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(len))?;
        match &inner.expected {
            Some(expected) => writeln!(f, " {expected}")?,
            None => writeln!(f)?,
        }
        write_hint(f, width + 1, inner.hint.as_deref())
    }
}

fn write_hint(f: &mut fmt::Formatter<'_>, indent: usize, hint: Option<&str>) -> fmt::Result {
    match hint {
        Some(hint) => writeln!(f, "{}= hint: {hint}", " ".repeat(indent)),
        None => Ok(()),
    }
}

/// Where a step's command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// On a Docker host (`on:` naming a host).
    Host,
    /// On a plain machine without Docker (`on:` naming an external).
    External,
    /// Inside a container (`in:`), as `docker exec` would.
    Container,
}

/// A command for the caller's checker: the `run:` string and where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSite<'a> {
    pub command: &'a str,
    pub runs_on: RunsOn,
    /// The name after `on:` or `in:`.
    pub target: &'a str,
}

/// Why the caller's checker rejected a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    /// The byte range of the offending word in the command, if the checker knows it; the
    /// error then underlines that word instead of the whole command.
    pub at: Option<Range<usize>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_rustc_layout() {
        let source = "name: x\n".repeat(13) + "  - on: docker-hots\n";
        let region = Region { line: 14, column: 9, len: 11 };
        let kind = ErrorKind::Unknown { what: "host", name: "docker-hots".into() };
        let err = ScenarioError::at(kind, "scenarios/bridge.yaml", &source, region)
            .expected(
                "expected the name of a host or external declared under `hosts:`/`externals:`",
            )
            .hint(Some("did you mean `docker-host`?".into()));
        assert_eq!(
            err.to_string(),
            "error: unknown host `docker-hots`\n  --> scenarios/bridge.yaml:14:9\n   |\n14 |   - on: \
             docker-hots\n   |         ^^^^^^^^^^^ expected the name of a host or external \
             declared under `hosts:`/`externals:`\n   = hint: did you mean `docker-host`?\n"
        );
    }

    #[test]
    fn io_errors_name_the_file_without_a_snippet() {
        let err = ScenarioError::whole_file(ErrorKind::Io("No such file".into()), "a.yaml");
        assert_eq!(
            err.to_string(),
            "error: cannot read the scenario file: No such file\n  --> a.yaml\n"
        );
        assert_eq!(err.line_col(), None);
    }

    #[test]
    fn carets_follow_tabs_in_the_source_line() {
        let err = ScenarioError::at(
            ErrorKind::Step("x".into()),
            "f",
            "\tab cd\n",
            Region { line: 1, column: 5, len: 2 },
        );
        assert_eq!(err.to_string(), "error: x\n --> f:1:5\n  |\n1 | \tab cd\n  | \t   ^^\n");
    }
}
