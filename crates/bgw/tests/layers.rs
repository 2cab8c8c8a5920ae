//! The layer rule of the `bgw` crate: a module imports only from layers below its own.
//!
//! The layers are the table in the crate's top module doc (`src/lib.rs`, "# Layers"); this test reads that table,
//! then every source file of the crate, and checks each `crate::<module>` path against it. A path to a module of a
//! higher (or the same, other) layer is a violation, and so is a module that the table does not list, or a table
//! row for a module the crate does not declare. Comments, tests and `#[cfg(test)]` code are exempt: they may
//! reach anything.
//!
//! Layers also rule out import circles between modules: a circle would need an arrow that points up.
//! The checker itself is tested below on made-up sources, so that a rule that can no longer fail is noticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer table of the crate's top module doc: module name -> layer.
fn layer_table(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut table = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(row) = line.strip_prefix("//! |") else { continue };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if cells.len() < 2 {
            continue;
        }
        let (Ok(layer), Some(module)) =
            (cells[0].parse::<u32>(), cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`')))
        else {
            continue;
        };
        assert!(table.insert(module.to_string(), layer).is_none(), "module `{module}` is listed twice");
    }
    table
}

/// The modules `lib.rs` declares (those compiled only for tests left out).
fn declared_modules(lib_rs: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut test_only = false;
    for line in lib_rs.lines().map(str::trim) {
        if line == "#[cfg(test)]" {
            test_only = true;
            continue;
        }
        let name =
            line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")).and_then(|r| r.strip_suffix(';'));
        if let Some(name) = name {
            if !test_only {
                out.insert(name.to_string());
            }
        }
        test_only = false;
    }
    out
}

/// One `crate::<module>` path in a source file.
#[derive(Debug, PartialEq)]
struct Use {
    line: usize,
    module: String,
}

/// The `crate::<module>` paths of a source text, outside comments and `#[cfg(test)]` items. Also returns the
/// names of child modules the text declares under `#[cfg(test)]` (`mod tests;`): those files are tests.
fn crate_paths(text: &str) -> (Vec<Use>, Vec<String>) {
    let mut uses = Vec::new();
    let mut test_children = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // Inside `use crate::{ ... }` spread over lines.
    let mut in_group = false;
    while i < lines.len() {
        let code = strip_comment(lines[i]);
        if code.trim() == "#[cfg(test)]" {
            // Skip the item it applies to: a `mod name;` (a test file), or a block, or a single statement.
            let mut j = i + 1;
            while j < lines.len() && (strip_comment(lines[j]).trim().is_empty() || lines[j].trim().starts_with("#[")) {
                j += 1;
            }
            if j < lines.len() {
                let item = strip_comment(lines[j]).trim().to_string();
                if let Some(name) = item
                    .strip_prefix("pub mod ")
                    .or_else(|| item.strip_prefix("mod "))
                    .and_then(|r| r.strip_suffix(';'))
                {
                    test_children.push(name.trim().to_string());
                    i = j + 1;
                    continue;
                }
                let mut depth: i64 = 0;
                let mut opened = false;
                while j < lines.len() {
                    let l = strip_comment(lines[j]);
                    for c in l.chars() {
                        match c {
                            '{' => {
                                depth += 1;
                                opened = true;
                            }
                            '}' => depth -= 1,
                            _ => {}
                        }
                    }
                    j += 1;
                    if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                        break;
                    }
                }
            }
            i = j;
            continue;
        }
        let mut rest = code.as_str();
        if in_group {
            let (inside, closed) = match rest.find('}') {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            group_members(inside, i + 1, &mut uses);
            in_group = !closed;
            i += 1;
            continue;
        }
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + "crate::".len()..];
            rest = after;
            if before.is_some_and(|c| c == '$' || c == '_' || c.is_alphanumeric()) {
                continue;
            }
            if let Some(group) = after.strip_prefix('{') {
                match group.find('}') {
                    Some(end) => group_members(&group[..end], i + 1, &mut uses),
                    None => {
                        group_members(group, i + 1, &mut uses);
                        in_group = true;
                    }
                }
                continue;
            }
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                uses.push(Use { line: i + 1, module: name });
            }
        }
        i += 1;
    }
    (uses, test_children)
}

/// The first segment of each path of a `{a::b, c, d::{e, f}}` group (nested groups are inside the first segment's
/// module, so only the top level counts).
fn group_members(group: &str, line: usize, uses: &mut Vec<Use>) {
    let mut depth = 0;
    let mut start_of_item = true;
    let mut word = String::new();
    for c in group.chars().chain(std::iter::once(',')) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => start_of_item = true,
            c if depth == 0 && start_of_item && (c.is_alphanumeric() || c == '_') => word.push(c),
            _ if depth == 0 && start_of_item && !word.is_empty() => {
                if word != "self" {
                    uses.push(Use { line, module: std::mem::take(&mut word) });
                }
                word.clear();
                start_of_item = false;
            }
            _ => {}
        }
        if c == ',' && depth == 0 && !word.is_empty() {
            if word != "self" {
                uses.push(Use { line, module: std::mem::take(&mut word) });
            }
            word.clear();
        }
    }
}

/// The line without its `//` comment (a `//` inside a string literal ends the line early, which only hides code
/// from the check, never invents a path).
fn strip_comment(line: &str) -> String {
    let mut in_str = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '/' if !in_str && prev == '/' => return line[..i - 1].to_string(),
            _ => {}
        }
        prev = if prev == '\\' && c == '\\' { '\0' } else { c };
    }
    line.to_string()
}

/// A source tree: path relative to `src/` -> text.
type Sources = BTreeMap<PathBuf, String>;

fn read_sources(dir: &Path, base: &Path, out: &mut Sources) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_sources(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.insert(path.strip_prefix(base).unwrap().to_path_buf(), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Every violation of the layer rule in `sources` (relative to `src/`), one line each.
fn violations(sources: &Sources) -> Vec<String> {
    let lib_rs = &sources[Path::new("lib.rs")];
    let table = layer_table(lib_rs);
    let declared = declared_modules(lib_rs);
    let mut out = Vec::new();
    for m in declared.difference(&table.keys().cloned().collect()) {
        out.push(format!("module `{m}` is declared in lib.rs but has no layer in its table"));
    }
    for m in table.keys().filter(|m| !declared.contains(*m)) {
        out.push(format!("the layer table lists `{m}`, which lib.rs does not declare"));
    }
    // Files that are tests: declared under #[cfg(test)] by their parent.
    let mut test_files = BTreeSet::new();
    for (path, text) in sources {
        let (_, children) = crate_paths(text);
        let dir = match path.file_name().and_then(|f| f.to_str()) {
            Some("mod.rs") | Some("lib.rs") => path.parent().unwrap().to_path_buf(),
            _ => path.with_extension(""),
        };
        for child in children {
            test_files.insert(dir.join(format!("{child}.rs")));
            test_files.insert(dir.join(&child).join("mod.rs"));
        }
    }
    for (path, text) in sources {
        let first = path.components().next().unwrap().as_os_str().to_string_lossy().to_string();
        if first == "lib.rs" || first == "main.rs" || test_files.contains(path) {
            continue;
        }
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        let Some(&own) = table.get(&module) else { continue };
        let (uses, _) = crate_paths(text);
        for u in uses.into_iter().filter(|u| u.module != module) {
            match table.get(&u.module) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => out.push(format!(
                    "src/{}:{}: `{module}` (layer {own}) uses `crate::{}` (layer {theirs}): a layer may only use \
                     layers below it",
                    path.display(),
                    u.line,
                    u.module
                )),
                // Not a module (an item of the crate root): nothing to check.
                None => {}
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_from_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Sources::new();
    read_sources(&src, &src, &mut sources);
    let table = layer_table(&sources[Path::new("lib.rs")]);
    assert!(table.len() >= 10, "the layer table in src/lib.rs was not found: {table:?}");
    let found = violations(&sources);
    assert!(found.is_empty(), "layer violations:\n{}", found.join("\n"));
}

/// A made-up crate: three layers, and the sources given.
fn made_up(files: &[(&str, &str)]) -> Sources {
    let lib = "//! | layer | module | what |\n//! |---|---|---|\n//! | 1 | `low` | a |\n//! | 2 | `mid` | b |\n\
               //! | 3 | `high` | c |\npub mod low;\npub mod mid;\npub mod high;\n#[cfg(test)]\nmod testutil;\n";
    let mut s = Sources::new();
    s.insert("lib.rs".into(), lib.into());
    for (p, t) in files {
        s.insert(p.into(), t.to_string());
    }
    s
}

#[test]
fn the_checker_finds_an_upward_import_and_a_circle() {
    // Downward imports only: clean.
    let clean = made_up(&[
        ("low.rs", "pub fn a() {}\n"),
        ("mid/mod.rs", "use crate::low;\npub mod x;\n"),
        ("mid/x.rs", "use crate::{low::a, mid::y};\n"),
        ("high.rs", "use crate::{\n    low,\n    mid::{self, x},\n};\nfn f() { crate::mid::x(); }\n"),
    ]);
    assert_eq!(violations(&clean), Vec::<String>::new());

    // An upward import, in each of the forms a path takes.
    for text in [
        "use crate::high::f;\n",
        "fn g() { crate::high::f() }\n",
        "use crate::{low, high::f};\n",
        "use crate::{\n    low::a,\n    high::{f, g},\n};\n",
    ] {
        let found = violations(&made_up(&[("mid/x.rs", text)]));
        assert_eq!(found.len(), 1, "{text:?}: {found:?}");
        assert!(found[0].contains("`mid` (layer 2) uses `crate::high` (layer 3)"), "{found:?}");
    }

    // A circle between two modules needs an arrow up, which is found.
    let circle = made_up(&[("low.rs", "use crate::mid::b;\n"), ("mid/mod.rs", "use crate::low::a;\n")]);
    assert_eq!(violations(&circle).len(), 1);

    // Comments, tests and $crate in macros are exempt.
    let exempt = made_up(&[(
        "low.rs",
        "// crate::high is named here\n/// see [`crate::high`]\nmacro_rules! m { () => { $crate::high::f() } }\n\
         #[cfg(test)]\nmod tests {\n    use crate::high;\n}\n#[cfg(test)]\nuse crate::mid::x;\n#[cfg(test)]\nmod more;\n",
    ), ("low/more.rs", "use crate::high;\n")]);
    assert_eq!(violations(&exempt), Vec::<String>::new());

    // A module without a layer, and a layer without a module.
    let mut missing = made_up(&[]);
    let lib = missing.get_mut(Path::new("lib.rs")).unwrap();
    *lib = lib.replace("pub mod high;", "pub mod other;");
    let found = violations(&missing);
    assert!(found.iter().any(|v| v.contains("`other` is declared")), "{found:?}");
    assert!(found.iter().any(|v| v.contains("lists `high`")), "{found:?}");
}
