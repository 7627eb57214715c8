//! Where each value of a scenario file sits in the source: a path → position index.
//!
//! serde gives locations only for the errors it raises itself (syntax, types, unknown and
//! missing keys). Semantic errors found later ("unknown host", "IP outside the subnet") need
//! the line and column of one specific value, so the source is also read by an event parser
//! that keeps markers (`saphyr-parser`), and every scalar, sequence and mapping is recorded
//! under its path (`steps[3].on`). The walk uses an explicit stack, so deeply nested input
//! cannot overflow the call stack.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScanError, Span};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root to a node, e.g. `steps[3].on`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(Vec<Seg>);

impl Path {
    pub fn root() -> Path {
        Path(Vec::new())
    }

    pub fn key(&self, key: &str) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        Path(segs)
    }

    pub fn index(&self, i: usize) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(i));
        Path(segs)
    }

    fn parent(&self) -> Option<Path> {
        let (_, init) = self.0.split_last()?;
        Some(Path(init.to_vec()))
    }
}

/// A region of the source: 1-based line and column (in characters), and its length in
/// characters on that line (at least 1, so there is always something to underline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub line: usize,
    pub column: usize,
    pub len: usize,
}

impl Region {
    pub const START: Region = Region { line: 1, column: 1, len: 1 };

    fn from_span(span: Span) -> Region {
        let (start, end) = (span.start, span.end);
        let len =
            if end.line() == start.line() { end.col().saturating_sub(start.col()) } else { 0 };
        Region { line: start.line(), column: start.col() + 1, len: len.max(1) }
    }
}

/// The position of one node, and of its key when it is a mapping value.
#[derive(Debug, Clone, Copy)]
struct NodePos {
    key: Option<Region>,
    value: Region,
}

/// Path → position for every node of the first document.
#[derive(Debug, Default)]
pub struct PositionIndex {
    nodes: BTreeMap<Path, NodePos>,
    /// Keys that repeat one already in the same mapping, in source order.
    repeated_keys: Vec<(Path, Region)>,
}

/// Scenario files are a few levels deep. Deeper input is refused here, before libyaml
/// sees it: its parser slows down badly on thousands of nested collections.
pub const MAX_DEPTH: usize = 32;

/// Why the source could not be indexed.
#[derive(Debug, PartialEq, Eq)]
pub enum IndexError {
    Syntax(String, Region),
    TooDeep(Region),
}

enum Frame {
    Seq { path: Path, next: usize },
    Map { path: Path, key: Option<(String, Region)> },
}

impl PositionIndex {
    /// Reads `source` with the marker-keeping parser. A syntax error comes back as the
    /// parser's message and the region where it happened.
    pub fn build(source: &str) -> Result<PositionIndex, IndexError> {
        let mut index = PositionIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(source) {
            let (event, span) = item.map_err(scan_error)?;
            let region = Region::from_span(span);
            if stack.len() >= MAX_DEPTH {
                return Err(IndexError::TooDeep(region));
            }
            match event {
                Event::DocumentEnd => break,
                Event::Scalar(text, ..) => index.on_scalar(&mut stack, &text, region),
                Event::Alias(_) => index.on_scalar(&mut stack, "*", region),
                Event::SequenceStart(..) => {
                    let path = index.open_node(&mut stack, region);
                    stack.push(Frame::Seq { path, next: 0 });
                }
                Event::MappingStart(..) => {
                    let path = index.open_node(&mut stack, region);
                    stack.push(Frame::Map { path, key: None });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Ok(index)
    }

    /// A scalar is either a mapping key (remembered until its value arrives) or a value.
    fn on_scalar(&mut self, stack: &mut [Frame], text: &str, region: Region) {
        if let Some(Frame::Map { key: key @ None, .. }) = stack.last_mut() {
            *key = Some((text.to_string(), region));
            return;
        }
        self.open_node(stack, region);
    }

    /// Records a value node under the path its parent gives it, and returns that path.
    /// A collection used as a mapping key gets a path nothing will ever look up.
    fn open_node(&mut self, stack: &mut [Frame], value: Region) -> Path {
        let (path, key) = match stack.last_mut() {
            None => (Path::root(), None),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                (path.index(*next - 1), None)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some((name, region)) => (path.key(&name), Some(region)),
                None => (path.key("\u{0}complex-key"), None),
            },
        };
        match (self.nodes.get(&path), key) {
            (Some(_), Some(key)) => self.repeated_keys.push((path.clone(), key)),
            (Some(_), None) => {}
            (None, _) => {
                self.nodes.insert(path.clone(), NodePos { key, value });
            }
        }
        path
    }

    /// Where the value at `path` is; the nearest ancestor that exists when the value does
    /// not (a defaulted key), and the start of the file as the last resort.
    pub fn value(&self, path: &Path) -> Region {
        self.find(path).map_or(Region::START, |pos| pos.value)
    }

    /// Where the key of the mapping entry at `path` is (its value for sequence items).
    pub fn key(&self, path: &Path) -> Region {
        self.find(path).map_or(Region::START, |pos| pos.key.unwrap_or(pos.value))
    }

    fn find(&self, path: &Path) -> Option<NodePos> {
        let mut at = Some(path.clone());
        while let Some(p) = at {
            if let Some(pos) = self.nodes.get(&p) {
                return Some(*pos);
            }
            at = p.parent();
        }
        None
    }

    /// True when the source holds no document at all (empty, or only comments).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Where the first repetition of the key `name` is.
    pub fn repeated_key(&self, name: &str) -> Option<Region> {
        let named = |path: &Path| matches!(path.0.last(), Some(Seg::Key(k)) if k == name);
        self.repeated_keys.iter().find(|(path, _)| named(path)).map(|(_, region)| *region)
    }

    /// The length of the key or value that starts exactly at `line:column`, so an error
    /// located by serde can underline the whole word.
    pub fn len_at(&self, line: usize, column: usize) -> Option<usize> {
        self.nodes.values().find_map(|pos| {
            [pos.key, Some(pos.value)]
                .into_iter()
                .flatten()
                .find(|r| r.line == line && r.column == column)
                .map(|r| r.len)
        })
    }
}

fn scan_error(err: ScanError) -> IndexError {
    let mark = err.marker();
    IndexError::Syntax(
        err.info().to_string(),
        Region { line: mark.line(), column: mark.col() + 1, len: 1 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_nodes_are_indexed_by_path() {
        let src = "name: x\nhosts:\n  - {name: h1, ip: 10.0.0.1}\n  - name: h2\n";
        let index = PositionIndex::build(src).unwrap();
        let hosts = Path::root().key("hosts");
        assert_eq!(index.value(&hosts.index(0).key("ip")), Region { line: 3, column: 20, len: 8 });
        assert_eq!(index.key(&hosts.index(1).key("name")), Region { line: 4, column: 5, len: 4 });
        assert_eq!(
            index.value(&hosts.index(1).key("name")),
            Region { line: 4, column: 11, len: 2 }
        );
        assert_eq!(index.len_at(4, 11), Some(2));
    }

    #[test]
    fn a_missing_path_falls_back_to_its_nearest_ancestor() {
        let index = PositionIndex::build("a:\n  b: 1\n").unwrap();
        let missing = Path::root().key("a").key("c");
        assert_eq!(index.value(&missing), index.value(&Path::root().key("a")));
        assert_eq!(PositionIndex::default().value(&missing), Region::START);
    }

    #[test]
    fn repeated_keys_are_remembered() {
        let index = PositionIndex::build("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(index.repeated_key("a"), Some(Region { line: 3, column: 1, len: 1 }));
        assert_eq!(index.repeated_key("b"), None);
        assert!(PositionIndex::build("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let Err(IndexError::Syntax(message, region)) = PositionIndex::build("a: [1, 2\n") else {
            panic!("expected a syntax error")
        };
        assert_eq!(region.line, 2);
        assert!(!message.is_empty());
        let deep = format!("a: {}", "[".repeat(40));
        let err = PositionIndex::build(&deep).unwrap_err();
        // The root mapping is the first of the 32 levels, so the 32nd `[` is one too many.
        assert_eq!(err, IndexError::TooDeep(Region { line: 1, column: 35, len: 1 }));
    }
}
