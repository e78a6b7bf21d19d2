//! The workspace's layout holds: roles stand side by side on `common`, `language` and
//! `store`, the language stays free of the index and of HTTP, and no two modules of a crate
//! import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

const CRATES: [&str; 8] = [
    "common",
    "broker",
    "language",
    "store",
    "collector",
    "indexer",
    "query",
    "alerting",
];

fn root() -> PathBuf {
    logpipe_common::testkit::package_dir(env!("CARGO_MANIFEST_DIR"))
}

/// The packages `package` depends on to build and run (no dev-dependencies), one name each.
fn dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}", "-p", package])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn roles_depend_on_the_shared_crates_only() {
    let roles = ["collector", "indexer", "query", "alerting"];
    for role in roles {
        let dependencies = dependencies(&format!("logpipe-{role}"));
        for other in roles.iter().filter(|other| **other != role) {
            assert!(
                !dependencies.contains(&format!("logpipe-{other}")),
                "logpipe-{role} depends on logpipe-{other}"
            );
        }
    }
    let store = dependencies("logpipe-store");
    assert!(store.contains("logpipe-language"));
    assert!(!store.contains("axum"), "the store serves no HTTP");
}

/// The broker is tansu's dependency tree: only the binary links it (for standalone), and
/// it links no logpipe crate.
#[test]
fn only_the_binary_embeds_the_broker() {
    assert!(dependencies("logpipe").contains("logpipe-broker"));
    for krate in CRATES.iter().filter(|krate| **krate != "broker") {
        let dependencies = dependencies(&format!("logpipe-{krate}"));
        assert!(
            !dependencies.contains("tansu-broker"),
            "logpipe-{krate} depends on the broker"
        );
    }
    let broker = dependencies("logpipe-broker");
    let logpipe: Vec<_> = broker
        .iter()
        .filter(|name| name.starts_with("logpipe") && *name != "logpipe-broker")
        .collect();
    assert!(logpipe.is_empty(), "logpipe-broker depends on {logpipe:?}");
}

#[test]
fn the_language_has_no_index_and_no_http() {
    let language = dependencies("logpipe-language");
    for forbidden in [
        "tantivy",
        "tantivy-columnar",
        "tantivy-sstable",
        "axum",
        "logpipe-store",
    ] {
        assert!(
            !language.contains(forbidden),
            "logpipe-language depends on {forbidden}"
        );
    }
    assert!(language.contains("tantivy-query-grammar"));
}

/// A crate's modules by path (`a::b`), each with the source file that holds it.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|entry| entry.path());
        for entry in entries {
            let path = entry.path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.to_vec();
                if !matches!(name.as_str(), "lib" | "mod" | "main") {
                    module.push(name);
                }
                out.insert(module.join("::"), path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file without its test module and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    body.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules of the crate that `module`'s code names, by `crate::` and `super::` paths
/// (also inside `use` groups), resolved to the longest module path that exists.
fn imports(module: &str, code: &str, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let path = Regex::new(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{[^}]*\})?").unwrap();
    let parent: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        let mut parts: Vec<&str> = module.split("::").collect();
        parts.pop();
        parts
    };
    let mut out = BTreeSet::new();
    for found in path.captures_iter(code) {
        let base: Vec<&str> = match &found[1] {
            "crate" => Vec::new(),
            _ => parent.clone(),
        };
        let mut heads = vec![found[2].to_owned()];
        if let Some(group) = found.get(3) {
            let inner = group
                .as_str()
                .trim_start_matches("::{")
                .trim_end_matches('}');
            heads = inner
                .split(',')
                .map(|item| format!("{}::{}", &found[2], item.trim().trim_end_matches("::*")))
                .collect();
        }
        for head in heads {
            let mut parts = base.clone();
            parts.extend(head.split("::").filter(|p| !p.is_empty()));
            while !parts.is_empty() {
                let candidate = parts.join("::");
                if known.contains_key(&candidate) {
                    out.insert(candidate);
                    break;
                }
                parts.pop();
            }
        }
    }
    out
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut found = stack[start..].to_vec();
                found.push(node.to_owned());
                return Some(found);
            }
            Some(false) => return None,
            None => {}
        }
        state.insert(node.to_owned(), true);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, state, stack) {
                return Some(found);
            }
        }
        stack.pop();
        state.insert(node.to_owned(), false);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(found) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(found);
        }
    }
    None
}

/// A module declaring or re-exporting its own submodules is not an import of them.
fn is_within(module: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || module == ancestor || module.starts_with(&format!("{ancestor}::"))
}

#[test]
fn no_two_modules_import_each_other() {
    let mut crates: Vec<PathBuf> = CRATES.iter().map(|c| root().join(c).join("src")).collect();
    crates.push(root().join("src"));
    for src in crates {
        let known = modules(&src);
        let mut graph = BTreeMap::new();
        for (module, path) in &known {
            if module.rsplit("::").next() == Some("tests") {
                continue;
            }
            let edges: BTreeSet<String> = imports(module, &code(path), &known)
                .into_iter()
                .filter(|target| target != module && !is_within(target, module))
                .filter(|target| !target.split("::").any(|part| part == "tests"))
                .collect();
            graph.insert(module.clone(), edges);
        }
        if let Some(found) = cycle(&graph) {
            panic!(
                "{}: modules import each other: {}",
                src.display(),
                found.join(" → ")
            );
        }
    }
}

#[test]
fn the_import_check_finds_a_cycle() {
    let known: BTreeMap<String, PathBuf> = ["", "a", "b", "b::c"]
        .into_iter()
        .map(|m| (m.to_owned(), PathBuf::new()))
        .collect();
    let a = imports(
        "a",
        "use crate::b::c::Thing;\nfn f() { super::b::g() }",
        &known,
    );
    assert_eq!(a, BTreeSet::from(["b::c".to_owned(), "b".to_owned()]));
    let grouped = imports("b::c", "use crate::{a::X, b};", &known);
    assert_eq!(grouped, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b::c".to_owned()])),
        ("b::c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".to_owned(), "b::c".to_owned(), "a".to_owned()])
    );
}
