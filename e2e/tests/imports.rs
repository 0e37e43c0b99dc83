//! No import cycles between the files of any crate of the workspace: no file uses, directly or
//! through others, a file that uses it. (`make lint` runs this test too.)
//!
//! Each crate's module tree is read from its root files (`mod x;` declarations). A file uses
//! another when one of its paths (`use` declarations, and paths in code) names an item of that
//! file's module, or the module itself; `mod` declarations are the tree, not uses. Paths inside
//! macro invocations and attributes are not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The module tree of one crate target: module path (`["http", "routes"]`) to file.
struct ModuleTree {
    files: BTreeMap<Vec<String>, PathBuf>,
}

impl ModuleTree {
    fn read(root: &Path) -> ModuleTree {
        let mut tree = ModuleTree {
            files: BTreeMap::new(),
        };
        tree.add(
            Vec::new(),
            root.to_path_buf(),
            root.parent().unwrap().to_path_buf(),
        );
        tree
    }

    /// Adds the module at `file` and, recursively, the files of its `mod x;` declarations,
    /// which live in `children_dir`.
    fn add(&mut self, module: Vec<String>, file: PathBuf, children_dir: PathBuf) {
        let source = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let syntax =
            syn::parse_file(&source).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        self.files.insert(module.clone(), file);
        for item in syntax.items {
            if let syn::Item::Mod(declared) = item
                && declared.content.is_none()
            {
                let name = declared.ident.to_string();
                let flat = children_dir.join(format!("{name}.rs"));
                let nested = children_dir.join(&name).join("mod.rs");
                let (child, grandchildren) = if flat.exists() {
                    (flat, children_dir.join(&name))
                } else {
                    (nested, children_dir.join(&name))
                };
                let mut path = module.clone();
                path.push(name);
                self.add(path, child, grandchildren);
            }
        }
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.files.contains_key(path)
    }

    /// The module a path used in module `from` refers into: the longest prefix that names a
    /// module of this crate, or None for a path into another crate.
    fn target(&self, from: &[String], path: &[String]) -> Option<Vec<String>> {
        let (mut module, rest): (Vec<String>, &[String]) = match path.first().map(String::as_str) {
            Some("crate") => (Vec::new(), &path[1..]),
            Some("self") => (from.to_vec(), &path[1..]),
            Some("super") => {
                let mut module = from.to_vec();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    module.pop();
                    rest = &rest[1..];
                }
                (module, rest)
            }
            Some(first) => {
                // A bare path names a child module only if one of that name exists here.
                let mut child = from.to_vec();
                child.push(first.to_owned());
                if !self.is_module(&child) {
                    return None;
                }
                (from.to_vec(), path)
            }
            None => return None,
        };
        for segment in rest {
            let mut deeper = module.clone();
            deeper.push(segment.clone());
            if self.is_module(&deeper) {
                module = deeper;
            } else {
                break;
            }
        }
        Some(module)
    }
}

/// Every path a file mentions (`use` trees flattened, and paths in code), each with the
/// inline modules (`mod tests { ... }`) it sits in, which `super` and bare paths start from.
#[derive(Default)]
struct Paths {
    inline: Vec<String>,
    found: Vec<(Vec<String>, Vec<String>)>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let mut path = prefix.clone();
                if name.ident != "self" {
                    path.push(name.ident.to_string());
                }
                self.found.push((self.inline.clone(), path));
            }
            syn::UseTree::Rename(rename) => {
                let mut path = prefix.clone();
                path.push(rename.ident.to_string());
                self.found.push((self.inline.clone(), path));
            }
            syn::UseTree::Glob(_) => self.found.push((self.inline.clone(), prefix.clone())),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        self.found.push((self.inline.clone(), segments));
        syn::visit::visit_path(self, path);
    }

    /// `pub(super)` and `pub(crate)` say who may use an item; they use nothing.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.inline.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.inline.pop();
    }
}

/// The files each file uses, within one crate target.
fn uses(tree: &ModuleTree) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut graph = BTreeMap::new();
    for (module, file) in &tree.files {
        let source = std::fs::read_to_string(file).unwrap();
        let syntax = syn::parse_file(&source).unwrap();
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        let mut used = BTreeSet::new();
        for (inline, path) in &paths.found {
            let from: Vec<String> = module.iter().chain(inline).cloned().collect();
            if let Some(target) = tree.target(&from, path)
                && let Some(target_file) = tree.files.get(&target)
                && target_file != file
            {
                used.insert(target_file.clone());
            }
        }
        graph.insert(file.clone(), used);
    }
    graph
}

/// A cycle in `graph`, as the files along it, if there is one.
fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Visiting,
        Done,
    }
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, State>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        match state.get(node) {
            Some(State::Done) => return None,
            Some(State::Visiting) => {
                let start = stack.iter().position(|n| n == node).unwrap();
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(node.clone(), State::Visiting);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), State::Done);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// Every crate target root of the workspace: libraries, binaries, test crates.
fn target_roots() -> Vec<PathBuf> {
    let root = e2e::repo_root();
    let mut roots = Vec::new();
    for member in ["service", "testkit", "e2e", "bench"] {
        let dir = root.join(member);
        for candidate in ["src/lib.rs", "src/main.rs"] {
            if dir.join(candidate).exists() {
                roots.push(dir.join(candidate));
            }
        }
        for folder in ["src/bin", "tests"] {
            let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|ext| ext == "rs") {
                    roots.push(path);
                } else if path.join("main.rs").exists() {
                    roots.push(path.join("main.rs"));
                }
            }
        }
    }
    roots.sort();
    roots
}

fn relative(path: &Path) -> String {
    path.strip_prefix(e2e::repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let roots = target_roots();
    assert!(roots.len() > 5, "found only {roots:?}");
    let mut cycles = Vec::new();
    for root in &roots {
        let tree = ModuleTree::read(root);
        if let Some(cycle) = find_cycle(&uses(&tree)) {
            let files: Vec<String> = cycle.iter().map(|file| relative(file)).collect();
            cycles.push(format!("{}: {}", relative(root), files.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let a = PathBuf::from("a.rs");
    let b = PathBuf::from("b.rs");
    let c = PathBuf::from("c.rs");
    let graph = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([c.clone()])),
        (c.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(
        find_cycle(&graph),
        Some(vec![a.clone(), b.clone(), c, a.clone()])
    );
    let acyclic = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b, BTreeSet::new()),
    ]);
    assert_eq!(find_cycle(&acyclic), None);
}

#[test]
fn paths_resolve_to_the_files_of_modules() {
    let root = e2e::repo_root().join("service/src/lib.rs");
    let tree = ModuleTree::read(&root);
    let module = |path: &str| -> Vec<String> { path.split("::").map(str::to_owned).collect() };
    let from = module("http::api::routes");
    assert_eq!(
        tree.target(&from, &module("super::extract::user")),
        Some(module("http::api::extract"))
    );
    assert_eq!(
        tree.target(&from, &module("crate::domain::UserId")),
        Some(module("domain"))
    );
    assert_eq!(tree.target(&from, &module("warp::Filter")), None);
    assert!(tree.is_module(&module("http::server::connection")));
}
