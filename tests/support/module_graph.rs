//! The module-graph check shared by `tool/tests/module_graph.rs` and
//! `runtime/tests/module_graph.rs` (issue #13): a crate's modules form no dependency
//! cycle — a module uses its children and other modules' items, and nothing it uses
//! uses it back, directly or through others (so a parent's helpers that its children
//! need live in a child module of their own, e.g. `ops/common.rs`) — and no file in
//! `src/` is longer than 700 lines.
//!
//! The dependencies are read from the source text: `use` declarations and
//! `crate::` / `super::` / `self::` paths, plus a parent naming a child module, with
//! comments, string literals and `#[cfg(test)]` items left out. A path to an item
//! re-exported by the crate root counts as a use of the module that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root (empty: the root).
pub type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file defines (`None` for the binary's `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// `text` without comments, string / char literals and `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let mut code = strip(text);
    while let Some(at) = code.find("#[cfg(test)]") {
        // The item ends at the brace closing its first block (or at its `;`).
        let mut depth = 0;
        let mut end = code.len();
        for (i, ch) in code[at..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 1 => {
                    end = at + i + 1;
                    break;
                }
                '}' => depth -= 1,
                ';' if depth == 0 => {
                    end = at + i + 1;
                    break;
                }
                _ => {}
            }
        }
        code.replace_range(at..end, "");
    }
    code
}

/// `text` without comments and string / char literals.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            'r' if c.get(i + 1).is_some_and(|&n| n == '"' || n == '#')
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= c.len() {
                        break;
                    }
                    if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if c.get(i + 1) == Some(&'\\') => {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '\'' if c.get(i + 2) == Some(&'\'') => i += 3,
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// The paths of every `use` declaration, braces expanded (`a::{b, c::d}` → `a::b`,
/// `a::c::d`).
fn use_paths(code: &str) -> Vec<String> {
    fn expand(s: &str, out: &mut Vec<String>) {
        let Some(open) = s.find('{') else {
            out.push(s.split(" as ").next().unwrap_or(s).to_string());
            return;
        };
        let prefix = &s[..open];
        let (mut depth, mut cur) = (0, String::new());
        for ch in s[open + 1..].chars() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items(prefix, &core::mem::take(&mut cur), out);
                    continue;
                }
                _ => {}
            }
            cur.push(ch);
        }
        items(prefix, &cur, out);
    }
    fn items(prefix: &str, item: &str, out: &mut Vec<String>) {
        let item = item.trim();
        match item {
            "" => {}
            "self" => out.push(prefix.trim_end_matches(':').to_string()),
            _ => expand(&format!("{prefix}{item}"), out),
        }
    }
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        if before.is_some_and(is_ident) {
            rest = after;
            continue;
        }
        let end = after.find(';').unwrap_or(after.len());
        let stmt: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        expand(&stmt, &mut out);
        rest = &after[end..];
    }
    out
}

/// Every `crate::…`, `super::…` and `self::…` path in `code`.
fn rooted_paths(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let start = i;
        if !is_ident(c[i]) || (i > 0 && (is_ident(c[i - 1]) || c[i - 1] == ':')) {
            i += 1;
            continue;
        }
        while i < c.len() && (is_ident(c[i]) || (c[i] == ':' && c.get(i + 1) == Some(&':'))) {
            i += if c[i] == ':' { 2 } else { 1 };
        }
        let path: String = c[start..i].iter().collect();
        let head = path.split("::").next().unwrap_or("");
        // `crate::{a, b}` ends in `::` here: `use_paths` reads its items.
        if path.contains("::")
            && !path.ends_with("::")
            && matches!(head, "crate" | "super" | "self")
        {
            out.push(path);
        }
        i = i.max(start + 1);
    }
    out
}

/// Checks the crate whose sources are under `src`: no file over 700 lines, no module
/// cycle. Returns the dependency edges so that the caller can check that the parser saw
/// the modules it guards (a parser that found nothing would pass).
pub fn check(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut code: BTreeMap<Module, String> = BTreeMap::new();
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines = text.lines().count();
        if lines > 700 {
            long.push(format!("{} ({lines} lines)", f.display()));
        }
        if let Some(m) = module_of(src, f) {
            code.insert(m, code_of(&text));
        }
    }
    assert!(long.is_empty(), "files over 700 lines: {long:?}");
    let modules: BTreeSet<Module> = code.keys().cloned().collect();
    // The longest module prefix of an absolute path.
    let resolve = |path: &[String]| -> Module {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
            .unwrap_or_default()
    };
    // A path as written in module `m`, made absolute (`None`: an external crate).
    let absolute = |m: &Module, path: &str| -> Option<Vec<String>> {
        let segs: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty() && *s != "*")
            .map(str::to_string)
            .collect();
        match segs.first().map(String::as_str) {
            Some("crate") => Some(segs[1..].to_vec()),
            Some("super" | "self") => {
                let mut cur = m.clone();
                let mut rest = &segs[..];
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "super" => {
                            cur.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                cur.extend(rest.iter().cloned());
                Some(cur)
            }
            Some(first) => {
                let mut child = m.clone();
                child.push(first.to_string());
                modules.contains(&child).then(|| {
                    let mut p = m.clone();
                    p.extend(segs.iter().cloned());
                    p
                })
            }
            None => None,
        }
    };
    // Items the crate root re-exports, by name → the module defining them.
    let root = Module::new();
    let mut reexports: BTreeMap<String, Module> = BTreeMap::new();
    for p in use_paths(&code[&root]) {
        if let Some(a) = absolute(&root, &p) {
            if let Some(name) = a.last() {
                reexports.insert(name.clone(), resolve(&a));
            }
        }
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, text) in &code {
        let deps = edges.entry(m.clone()).or_default();
        for child in modules
            .iter()
            .filter(|c| c.len() == m.len() + 1 && c.starts_with(m))
        {
            let name = child.last().unwrap();
            let named = text.match_indices(&format!("{name}::")).any(|(at, _)| {
                text[..at]
                    .chars()
                    .last()
                    .is_none_or(|ch| !is_ident(ch) && ch != ':')
            });
            if named {
                deps.insert(child.clone());
            }
        }
        for p in use_paths(text).into_iter().chain(rooted_paths(text)) {
            let Some(a) = absolute(m, &p) else { continue };
            let mut target = resolve(&a);
            if target.is_empty() && m != &root {
                if let Some(r) = a.first().and_then(|n| reexports.get(n)) {
                    target = r.clone();
                }
            }
            if &target != m {
                deps.insert(target);
            }
        }
    }
    // Depth-first search for a back edge; the cycle is printed as a path.
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for d in edges.get(m).into_iter().flatten() {
            match state.get(d).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let name = |m: &Module| {
        if m.is_empty() {
            "crate".to_string()
        } else {
            m.join("::")
        }
    };
    let mut state = BTreeMap::new();
    for m in &modules {
        if state.get(m).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new()) {
                let path: Vec<String> = cycle.iter().map(name).collect();
                panic!("module cycle: {}", path.join(" -> "));
            }
        }
    }
    edges
}
