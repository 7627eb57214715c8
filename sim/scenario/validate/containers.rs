//! Which containers exist, as far as the step list can tell, and which services were named.
//!
//! A container is declared by a step on a host whose command is `docker run … --name X`,
//! `docker container run …`, `docker create …` or `docker container create …` (with
//! `--name X` or `--name=X` anywhere among its words, optionally after `sudo`), and is
//! forgotten by `docker rm X…` / `docker container rm X…`. Only the first command of a
//! shell line (up to `;`, `&&`, `||` or `|`) is read, and `--rm` containers are assumed to
//! stay. `docker service create … --name X` names a service, which reachability specs may
//! then name without a load-time doubt (it is looked up when the check runs). That is
//! deliberately simple: it exists so `in:` and reachability specs can be
//! checked before the run, not to model Docker.

use std::ops::Range;

/// What a command does to the set of named containers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect<'a> {
    /// Declares `name`; `at` is its byte range in the command.
    Create {
        name: &'a str,
        at: Range<usize>,
    },
    Remove(Vec<&'a str>),
    /// `docker service create --name NAME`.
    Service(&'a str),
    Nothing,
}

pub(crate) fn effect(command: &str) -> Effect<'_> {
    let words = words(command);
    let mut rest: &[(&str, Range<usize>)] = &words;
    if rest.first().is_some_and(|(w, _)| *w == "sudo") {
        rest = &rest[1..];
    }
    let Some(((first, _), mut rest)) = rest.split_first() else { return Effect::Nothing };
    if *first != "docker" {
        return Effect::Nothing;
    }
    if rest.first().is_some_and(|(w, _)| *w == "container") {
        rest = &rest[1..];
    }
    match rest.split_first() {
        Some(((verb, _), args)) if matches!(*verb, "run" | "create") => created(command, args),
        Some(((group, _), [(verb, _), args @ ..])) if *group == "service" && *verb == "create" => {
            match created(command, args) {
                Effect::Create { name, .. } => Effect::Service(name),
                other => other,
            }
        }
        Some(((verb, _), args)) if *verb == "rm" => {
            Effect::Remove(args.iter().map(|(w, _)| *w).filter(|w| !w.starts_with('-')).collect())
        }
        _ => Effect::Nothing,
    }
}

fn created<'a>(command: &'a str, args: &[(&'a str, Range<usize>)]) -> Effect<'a> {
    for (i, (word, range)) in args.iter().enumerate() {
        if let Some(name) = word.strip_prefix("--name=") {
            let start = range.end - name.len();
            return Effect::Create { name: &command[start..range.end], at: start..range.end };
        }
        if *word == "--name" {
            if let Some((name, at)) = args.get(i + 1) {
                return Effect::Create { name, at: at.clone() };
            }
        }
    }
    Effect::Nothing
}

/// Whitespace-separated words of the first command, with surrounding quotes dropped, and
/// the byte range of each word's text.
fn words(command: &str) -> Vec<(&str, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in command.char_indices().chain([(command.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let word = &command[s..i];
                if matches!(word, ";" | "&&" | "||" | "|") {
                    break;
                }
                out.push(unquote(word, s));
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn unquote(word: &str, start: usize) -> (&str, Range<usize>) {
    for q in ['"', '\''] {
        if word.len() >= 2 && word.starts_with(q) && word.ends_with(q) {
            return (&word[1..word.len() - 1], start + 1..start + word.len() - 1);
        }
    }
    (word, start..start + word.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_and_create_declare_their_name() {
        let cmd = "docker run -itd --name c1 alpine sh";
        assert_eq!(effect(cmd), Effect::Create { name: "c1", at: 23..25 });
        let cmd = "sudo docker container run --name=web1 -d nginx";
        assert_eq!(effect(cmd), Effect::Create { name: "web1", at: 33..37 });
        assert_eq!(
            effect("docker create --name 'db' redis"),
            Effect::Create { name: "db", at: 22..24 }
        );
    }

    #[test]
    fn rm_forgets_names_and_other_commands_do_nothing() {
        assert_eq!(effect("docker rm -f c1 c2"), Effect::Remove(vec!["c1", "c2"]));
        assert_eq!(effect("docker container rm web1"), Effect::Remove(vec!["web1"]));
        assert_eq!(effect("docker run alpine ping -c 1 8.8.8.8"), Effect::Nothing);
        assert_eq!(effect("ping -c 1 --name x"), Effect::Nothing);
        assert_eq!(effect("docker ps; docker run --name x alpine"), Effect::Nothing);
        assert_eq!(effect(""), Effect::Nothing);
        assert_eq!(
            effect("docker service create --network n --name=dog-db redis"),
            Effect::Service("dog-db")
        );
        assert_eq!(effect("docker service create redis"), Effect::Nothing);
    }
}
