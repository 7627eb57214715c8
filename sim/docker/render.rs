//! What `docker inspect` prints: a value tree that renders as the API's JSON and as the
//! subset of Go templates (`-f`) the labs use.
//!
//! The tree keeps the two faces the CLI has. The *typed* face is the Go struct: field order
//! as declared, and endpoint settings behind pointers, which is why
//! `{{.NetworkSettings.Networks}}` prints `map[mybridge:0xc0004a2000]`. The *raw* face is the
//! decoded JSON the CLI falls back to when the typed template fails (`tryRawInspectFallback`):
//! maps everywhere, so a missing field prints `<no value>`.
//!
//! Template subset: text, `{{.A.B}}`, `{{.}}`, `{{json .A}}`, `{{range .A}}…{{end}}`, and
//! `{{-`/`-}}` trimming. Anything else is an error that says so, never a silent guess.

use std::collections::BTreeMap;
use std::fmt::Write;

/// One node of an inspect result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    /// A Go map: keys print and iterate sorted.
    Map(BTreeMap<String, Value>),
    /// A Go struct: fields in declaration order.
    Struct(Vec<(String, Value)>),
    /// A Go pointer (its fake heap address) to a value.
    Ptr(u64, Box<Value>),
}

impl Value {
    pub fn s(v: impl Into<String>) -> Value {
        Value::Str(v.into())
    }
    pub fn obj(fields: Vec<(&str, Value)>) -> Value {
        Value::Struct(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn strs(items: &[String]) -> Value {
        Value::List(items.iter().map(|s| Value::s(s.clone())).collect())
    }
    pub fn str_map(m: &[(String, String)]) -> Value {
        Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::s(v.clone()))).collect())
    }

    /// The raw (decoded-JSON) face.
    fn raw(&self) -> Value {
        match self {
            Value::Struct(f) => Value::Map(f.iter().map(|(k, v)| (k.clone(), v.raw())).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.raw())).collect()),
            Value::List(l) => Value::List(l.iter().map(Value::raw).collect()),
            Value::Ptr(_, v) => v.raw(),
            v => v.clone(),
        }
    }

    fn deref(&self) -> &Value {
        match self {
            Value::Ptr(_, v) => v.deref(),
            v => v,
        }
    }
}

/// JSON as the CLI prints inspect results: 4-space indent, HTML characters escaped.
pub fn to_json_indent(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v, Some(0), true);
    s
}

/// Compact JSON, as the template function `json` produces (no HTML escaping).
pub fn to_json(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v, None, false);
    s
}

fn write_json(s: &mut String, v: &Value, indent: Option<usize>, html: bool) {
    let items: Vec<(Option<String>, &Value)> = match v.deref() {
        Value::Null => return s.push_str("null"),
        Value::Bool(b) => return s.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => return s.push_str(&i.to_string()),
        Value::Str(t) => return write_str(s, t, html),
        Value::List(l) => l.iter().map(|x| (None, x)).collect(),
        Value::Map(m) => m.iter().map(|(k, x)| (Some(k.clone()), x)).collect(),
        Value::Struct(f) => f.iter().map(|(k, x)| (Some(k.clone()), x)).collect(),
        Value::Ptr(..) => unreachable!("deref removes pointers"),
    };
    let is_list = matches!(v.deref(), Value::List(_));
    let (open, close) = if is_list { ('[', ']') } else { ('{', '}') };
    s.push(open);
    for (n, (key, x)) in items.iter().enumerate() {
        s.push_str(if n > 0 { "," } else { "" });
        if let Some(d) = indent {
            s.push('\n');
            s.push_str(&"    ".repeat(d + 1));
        }
        if let Some(k) = key {
            write_str(s, k, html);
            s.push_str(if indent.is_some() { ": " } else { ":" });
        }
        write_json(s, x, indent.map(|d| d + 1), html);
    }
    if let (Some(d), false) = (indent, items.is_empty()) {
        s.push('\n');
        s.push_str(&"    ".repeat(d));
    }
    s.push(close);
}

fn write_str(s: &mut String, t: &str, html: bool) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '<' | '>' | '&' if html => write!(s, "\\u{:04x}", c as u32).expect("string write"),
            c if (c as u32) < 0x20 => write!(s, "\\u{:04x}", c as u32).expect("string write"),
            c => s.push(c),
        }
    }
    s.push('"');
}

/// Go's `fmt` rendering of a value inside a template (`{{.X}}`).
fn go_print(v: &Value, top: bool) -> Result<String, TemplateError> {
    Ok(match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        Value::List(l) => {
            let parts: Result<Vec<_>, _> = l.iter().map(|x| go_print(x, false)).collect();
            format!("[{}]", parts?.join(" "))
        }
        Value::Map(m) => {
            let parts: Result<Vec<_>, _> =
                m.iter().map(|(k, x)| Ok(format!("{k}:{}", go_print(x, false)?))).collect();
            format!("map[{}]", parts?.join(" "))
        }
        Value::Ptr(_, inner) if top => go_print(inner, true)?,
        Value::Ptr(addr, _) => format!("0x{addr:x}"),
        Value::Struct(_) => return Err(TemplateError::NotSimulated("printing a Go struct".into())),
    })
}

/// Why a template could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// What the CLI prints for a template it cannot parse or run.
    #[error("Template parsing error: template: :1: {0}")]
    Parse(String),
    #[error("swarmsim: Go template feature not simulated: {0}")]
    NotSimulated(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Field(Vec<String>),
    Json(Vec<String>),
    Range(Vec<String>, Vec<Node>),
}

/// Executes `tmpl` on `v` as `docker inspect -f` does: typed first, raw on failure.
pub fn execute(tmpl: &str, v: &Value) -> Result<String, TemplateError> {
    let nodes = parse_template(tmpl)?;
    match run(&nodes, v, true) {
        Ok(s) => Ok(s),
        Err(TemplateError::Parse(_)) => run(&nodes, &v.raw(), false),
        Err(e) => Err(e),
    }
}

/// Parses `tmpl` only: the check the CLI makes before it fetches anything
/// (`NewTemplateInspectorFromString`).
pub fn check(tmpl: &str) -> Result<(), TemplateError> {
    parse_template(tmpl).map(drop)
}

/// Executes `tmpl` on the typed face only, as the CLI does for an object it fetched without
/// its raw JSON (`docker service inspect`'s `getRef`): no fallback to the raw face.
pub fn execute_typed(tmpl: &str, v: &Value) -> Result<String, TemplateError> {
    run(&parse_template(tmpl)?, v, true)
}

fn parse_template(tmpl: &str) -> Result<Vec<Node>, TemplateError> {
    let mut stack: Vec<(Vec<String>, Vec<Node>)> = Vec::new();
    let mut cur: Vec<Node> = Vec::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| TemplateError::Parse("unclosed action".into()))?;
        let mut text = &rest[..start];
        let mut action = &rest[start + 2..start + end];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end();
            action = a;
        }
        let trim_after = action.ends_with('-');
        action = action.strip_suffix('-').unwrap_or(action).trim();
        if !text.is_empty() {
            cur.push(Node::Text(text.to_string()));
        }
        rest = &rest[start + end + 2..];
        if trim_after {
            rest = rest.trim_start();
        }
        let words: Vec<&str> = action.split_whitespace().collect();
        match words.as_slice() {
            ["end"] => {
                let (path, outer) = stack.pop().ok_or_else(|| parse_err("unexpected {{end}}"))?;
                let body = std::mem::replace(&mut cur, outer);
                cur.push(Node::Range(path, body));
            }
            ["range", p] => stack.push((field_path(p)?, std::mem::take(&mut cur))),
            ["json", p] => cur.push(Node::Json(field_path(p)?)),
            [p] if p.starts_with('.') => cur.push(Node::Field(field_path(p)?)),
            [f, ..] if !f.starts_with('.') && !f.starts_with('$') => return Err(unknown_fn(f)),
            _ => return Err(TemplateError::NotSimulated(format!("{{{{{action}}}}}"))),
        }
    }
    if !stack.is_empty() {
        return Err(parse_err("unexpected EOF"));
    }
    if !rest.is_empty() {
        cur.push(Node::Text(rest.to_string()));
    }
    Ok(cur)
}

fn parse_err(m: &str) -> TemplateError {
    TemplateError::Parse(m.to_string())
}

/// Functions Go or docker define that the simulator does not, versus truly unknown ones.
fn unknown_fn(f: &str) -> TemplateError {
    const KNOWN: &[&str] = &[
        "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le",
        "gt", "ge", "if", "with", "define", "template", "block", "html", "js", "urlquery", "slice",
        "call", "else", "join", "split", "title", "lower", "upper", "pad", "truncate", "table",
    ];
    if KNOWN.contains(&f) {
        TemplateError::NotSimulated(format!("the {f} action or function"))
    } else {
        TemplateError::Parse(format!("function \"{f}\" not defined"))
    }
}

fn field_path(p: &str) -> Result<Vec<String>, TemplateError> {
    if p == "." {
        return Ok(Vec::new());
    }
    let Some(body) = p.strip_prefix('.') else {
        return Err(TemplateError::NotSimulated(format!("the argument {p}")));
    };
    Ok(body.split('.').map(String::from).collect())
}

/// Looks a field path up; `None` is Go's "<no value>" (raw face only).
fn lookup<'a>(
    v: &'a Value,
    path: &[String],
    typed: bool,
) -> Result<Option<&'a Value>, TemplateError> {
    let mut cur = v;
    for name in path {
        cur = match cur.deref() {
            Value::Struct(f) => match f.iter().find(|(k, _)| k == name) {
                Some((_, x)) => x,
                None if typed => return Err(parse_err(&format!("can't evaluate field {name}"))),
                None => return Ok(None),
            },
            Value::Map(m) => match m.get(name) {
                Some(x) => x,
                None => return Ok(None),
            },
            _ if typed => return Err(parse_err(&format!("can't evaluate field {name}"))),
            _ => return Ok(None),
        };
    }
    Ok(Some(cur))
}

fn run(nodes: &[Node], v: &Value, typed: bool) -> Result<String, TemplateError> {
    let mut out = String::new();
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Field(p) => match lookup(v, p, typed)? {
                Some(x) => out.push_str(&go_print(x, true)?),
                None => out.push_str("<no value>"),
            },
            Node::Json(p) => out.push_str(&lookup(v, p, typed)?.map_or("null".into(), to_json)),
            Node::Range(p, body) => {
                let items: Vec<&Value> = match lookup(v, p, typed)?.map(Value::deref) {
                    Some(Value::List(l)) => l.iter().collect(),
                    Some(Value::Map(m)) => m.values().collect(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => return Err(parse_err("range can't iterate over a struct")),
                };
                for item in items {
                    out.push_str(&run(body, item, typed)?);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> Value {
        let ep =
            Value::obj(vec![("IPAddress", Value::s("172.20.0.2")), ("MacAddress", Value::s(""))]);
        let nets =
            Value::Map([("mybridge".to_string(), Value::Ptr(0xc0004a2000, Box::new(ep)))].into());
        Value::obj(vec![
            ("Name", Value::s("/alpine_host")),
            ("NetworkSettings", Value::obj(vec![("IPAddress", Value::s("")), ("Networks", nets)])),
        ])
    }

    #[test]
    fn templates_the_labs_use() {
        let c = container();
        assert_eq!(
            execute("{{.NetworkSettings.Networks}}", &c).unwrap(),
            "map[mybridge:0xc0004a2000]"
        );
        assert_eq!(
            execute("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &c).unwrap(),
            "172.20.0.2"
        );
        assert_eq!(execute("{{.NetworkSettings.IPAddress}}", &c).unwrap(), "");
        assert_eq!(
            execute("{{json .NetworkSettings.Networks}}", &c).unwrap(),
            r#"{"mybridge":{"IPAddress":"172.20.0.2","MacAddress":""}}"#
        );
        assert_eq!(execute("{{.Nope}}", &c).unwrap(), "<no value>");
        assert_eq!(
            execute("{{foo .Name}}", &c).unwrap_err().to_string(),
            "Template parsing error: template: :1: function \"foo\" not defined"
        );
        assert!(matches!(execute("{{.NetworkSettings}}", &c), Err(TemplateError::NotSimulated(_))));
    }

    #[test]
    fn json_indents_like_the_cli() {
        let v = Value::List(vec![Value::obj(vec![
            ("Name", Value::s("a<b")),
            ("Options", Value::Map(BTreeMap::new())),
            ("Config", Value::List(vec![])),
            ("IPAM", Value::obj(vec![("Options", Value::Null)])),
        ])]);
        let want = "[\n    {\n        \"Name\": \"a\\u003cb\",\n        \"Options\": {},\n        \"Config\": [],\n        \"IPAM\": {\n            \"Options\": null\n        }\n    }\n]";
        assert_eq!(to_json_indent(&v), want);
    }
}
