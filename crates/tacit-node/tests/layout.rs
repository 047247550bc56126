//! The node's modules form no cycle: no module uses a module that uses it back (a child's
//! `super::` counts, as does a parent naming its child's items). Read from the sources, so that
//! a change that ties two modules together fails here, with the cycle named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`actor::spaces`) → its source, without comment lines.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let name = rel
                .with_extension("")
                .to_string_lossy()
                .replace('/', "::")
                .trim_end_matches("::mod")
                .to_owned();
            if name == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            // A file's own tests are a module inside it: their `super` is the file's module.
            let text = match text.find("#[cfg(test)]\nmod tests {") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(name, code);
        }
    }
    out
}

/// The names `word::` that follow `prefix` in `code` (`crate::` → `actor`, `base`…).
fn after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let word: &str = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if !word.is_empty() && rest[word.len()..].starts_with("::") {
            found.push(word);
        }
    }
    found
}

/// Whether `code` holds `path` as a path of its own (not the end of a longer one).
fn names(code: &str, path: &str) -> bool {
    code.match_indices(path).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, code) in mods {
        let mut to = BTreeSet::new();
        // `crate::a::b::…`: the deepest module named.
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .collect();
            let mut target = None;
            for n in 1..=path.len() {
                let candidate = path[..n].join("::");
                if mods.contains_key(&candidate) {
                    target = Some(candidate);
                }
            }
            if let Some(t) = target {
                to.insert(t);
            }
        }
        // `super::x`: the sibling `x` if it is a module, else the parent.
        if let Some((parent, _)) = name.rsplit_once("::") {
            for word in after(code, "super::") {
                let sibling = format!("{parent}::{word}");
                to.insert(if mods.contains_key(&sibling) {
                    sibling
                } else {
                    parent.to_owned()
                });
            }
            if code.contains("super::{") || code.contains("use super::*") {
                to.insert(parent.to_owned());
            }
        }
        // A parent naming its child: `child::item`.
        for child in mods.keys() {
            let Some(short) = child.strip_prefix(&format!("{name}::")) else {
                continue;
            };
            if !short.contains("::") && names(code, &format!("{short}::")) {
                to.insert(child.clone());
            }
        }
        to.remove(name);
        graph.insert(name.clone(), to);
    }
    graph
}

/// A cycle of the graph, if it has one (depth first).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_the_node_uses_one_that_uses_it_back() {
    let mods = modules();
    assert!(mods.contains_key("actor") && mods.contains_key("sync::session"));
    if let Some(c) = cycle(&edges(&mods)) {
        panic!("modules that use each other: {}", c.join(" → "));
    }
}

#[test]
fn the_check_sees_a_parent_and_child_that_use_each_other() {
    let mods: BTreeMap<String, String> = [
        (
            "actor".to_owned(),
            "use crate::base::Names; spaces::Shared::new()".to_owned(),
        ),
        (
            "actor::spaces".to_owned(),
            "use super::{Actor, Outcome};".to_owned(),
        ),
        ("base".to_owned(), "use crate::api::Request;".to_owned()),
        ("api".to_owned(), String::new()),
    ]
    .into_iter()
    .collect();
    assert!(cycle(&edges(&mods)).is_some());
    let mut fixed = mods.clone();
    fixed.insert("actor".into(), "use crate::base::Names;".into());
    assert_eq!(cycle(&edges(&fixed)), None);
}
