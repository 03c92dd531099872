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
