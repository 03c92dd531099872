//! The crate's shape: the core's modules depend on one another without cycles, and none of them
//! reaches into the skins (`web`, `cli`) or names wasm-bindgen. Read from the source, so that a
//! new `use` that closes a loop fails here rather than in a review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its code (not its comments) names as `crate::…`.
fn core_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.iter().next().unwrap().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            if ["web", "cli", "main", "lib"].contains(&module.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let uses = graph.entry(module.clone()).or_default();
            for line in text.lines().map(str::trim) {
                if line.starts_with("//") {
                    continue;
                }
                assert!(
                    !line.contains("wasm_bindgen") && !line.contains("crate::web"),
                    "{}: the core names the browser layer: {line}",
                    relative.display()
                );
                let mut rest = line;
                while let Some(at) = rest.find("crate::") {
                    rest = &rest[at + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module && name.chars().all(|c| !c.is_uppercase())
                    {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn the_core_has_no_import_cycles_and_knows_nothing_of_the_skins() {
    let graph = core_dependencies();
    assert!(
        graph.contains_key("model") && graph.contains_key("app"),
        "{graph:?}"
    );
    for skin in ["web", "cli"] {
        for (module, uses) in &graph {
            assert!(!uses.contains(skin), "{module} uses {skin}");
        }
    }
    // Depth-first search for a path back to where it started.
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(graph, next, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(&graph, module, &mut Vec::new(), &mut done);
    }
}

/// The first path segment of each item a `use`/path names after `prefix` on `line`: `a` for
/// `prefix::a::X`, `a` and `b` for `prefix::{a, b::Y}`.
fn names_after(line: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group only: `{a::{X, Y}, b}` names a and b.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            names.push(ident(&item));
        } else {
            names.push(ident(rest));
        }
    }
    names
}

#[test]
fn modules_in_one_folder_have_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src.clone()];
    let mut checked = 0;
    while let Some(dir) = dirs.pop() {
        let mut siblings = BTreeSet::new();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                dirs.push(path);
                siblings.insert(name);
            } else if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
                siblings.insert(name.clone());
                files.push((name, path));
            }
        }
        if dir == src {
            continue; // the top level is the test above's
        }
        // `crate::a::b::` for src/a/b, as well as `super::`.
        let relative = dir.strip_prefix(&src).unwrap();
        let crate_path = format!(
            "crate::{}::",
            relative
                .iter()
                .map(|s| s.to_string_lossy())
                .collect::<Vec<_>>()
                .join("::")
        );
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, path) in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let uses = graph.entry(module.clone()).or_default();
            // Unit tests may reach anywhere in their folder.
            let code = text.split("#[cfg(test)]").next().unwrap();
            for line in code.lines().map(str::trim) {
                if line.starts_with("//") {
                    continue;
                }
                for prefix in ["super::", crate_path.as_str()] {
                    for name in names_after(line, prefix) {
                        if name != *module && siblings.contains(&name) {
                            uses.insert(name);
                        }
                    }
                }
            }
        }
        for start in graph.keys() {
            // Breadth-first from each module's imports: reaching the module again is a cycle.
            let mut seen = BTreeSet::new();
            let mut queue: Vec<(String, Vec<String>)> = graph[start]
                .iter()
                .map(|n| (n.clone(), vec![start.clone(), n.clone()]))
                .collect();
            while let Some((node, path)) = queue.pop() {
                assert!(
                    node != *start,
                    "import cycle in {}: {}",
                    relative.display(),
                    path.join(" -> ")
                );
                if !seen.insert(node.clone()) {
                    continue;
                }
                for next in graph.get(&node).into_iter().flatten() {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    queue.push((next.clone(), longer));
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 5, "only {checked} folders checked");
}
