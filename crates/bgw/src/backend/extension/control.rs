//! Where an extension's files are and what its control file says: `extension_control_path` (PostgreSQL 18's
//! setting: a colon-separated list of base directories, each with the files in its `extension/` subdirectory;
//! `$system` is the share directory's, `<bindir>/../share/bgw/extension` for the `bgw` executable, as `bgw
//! pg_config --sharedir` answers), the control file's keys, and the chain of scripts that installs a version.
//!
//! Runs in: a backend process.

use std::path::{Path, PathBuf};

use crate::sql::SqlError;

/// An extension's control file, read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Control {
    pub name: String,
    /// The directory the control file is in (its scripts are there too, unless `directory` says otherwise).
    pub dir: PathBuf,
    pub default_version: Option<String>,
    pub comment: Option<String>,
    pub module_pathname: Option<String>,
    pub relocatable: bool,
    pub schema: Option<String>,
    pub requires: Vec<String>,
    pub superuser: bool,
    pub trusted: bool,
}

/// The directories holding extensions' control files, in search order.
pub(crate) fn control_dirs() -> Vec<PathBuf> {
    let raw = crate::process::setting_text("extension_control_path").unwrap_or_default();
    let system = system_dir();
    let mut dirs: Vec<PathBuf> = raw
        .split(':')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| if d == "$system" { system.clone() } else { Path::new(d).join("extension") })
        .collect();
    if dirs.is_empty() {
        dirs.push(system);
    }
    dirs
}

/// `$system`: the share directory's `extension/` for the running executable (as `bgw pg_config` computes it).
pub(crate) fn system_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("../share/bgw/extension")))
        .unwrap_or_else(|| PathBuf::from("/usr/local/share/bgw/extension"))
}

/// The extensions available: (name, control file), first found first, each name once.
pub(crate) fn available() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for dir in control_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_str()?.strip_suffix(".control")?.to_string();
                (!name.contains("--")).then_some((name, path))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, path));
            }
        }
    }
    out
}

/// Reads extension `name`'s control file, or PostgreSQL's "is not available" (0A000).
pub(crate) fn read(name: &str) -> Result<Control, SqlError> {
    let dirs = control_dirs();
    let found = dirs.iter().map(|d| d.join(format!("{name}.control"))).find(|p| p.is_file());
    let Some(path) = found else {
        let shown = dirs.first().cloned().unwrap_or_else(system_dir).join(format!("{name}.control"));
        let mut e = SqlError::error("0A000", format!("extension \"{name}\" is not available"));
        e.detail =
            Some(format!("Could not open extension control file \"{}\": No such file or directory.", shown.display()));
        e.hint = Some("The extension must first be installed on the system where PostgreSQL is running.".into());
        return Err(e);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        SqlError::error("58030", format!("could not open extension control file \"{}\": {e}", path.display()))
    })?;
    parse(name, &path, &text)
}

/// Parses a control file's text (`key = value` lines, `#` comments, values quoted with `'` or bare).
pub(crate) fn parse(name: &str, path: &Path, text: &str) -> Result<Control, SqlError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut c =
        Control { name: name.to_string(), dir: dir.clone(), relocatable: false, superuser: true, ..Default::default() };
    let shown = path.display().to_string();
    let syntax = |line: usize| {
        SqlError::error("42601", format!("syntax error in file \"{shown}\" line {line}, near end of line"))
    };
    for (i, line) in text.lines().enumerate() {
        let line = strip_comment(line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => return Err(syntax(i + 1)),
            },
        };
        let value = unquote(value).ok_or_else(|| syntax(i + 1))?;
        let boolean = |v: &str| -> Result<bool, SqlError> {
            crate::backend::types::parse_bool(v)
                .ok_or_else(|| SqlError::error("22023", format!("parameter \"{key}\" requires a Boolean value")))
        };
        match key {
            "directory" => {
                let d = PathBuf::from(&value);
                c.dir = if d.is_absolute() { d } else { dir.parent().map(|p| p.join(&d)).unwrap_or(d) };
            }
            "default_version" => c.default_version = Some(value),
            "module_pathname" => c.module_pathname = Some(value),
            "comment" => c.comment = Some(value),
            "schema" => c.schema = Some(value),
            "relocatable" => c.relocatable = boolean(&value)?,
            "superuser" => c.superuser = boolean(&value)?,
            "trusted" => c.trusted = boolean(&value)?,
            "encoding" => {
                if !matches!(value.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "SQL_ASCII") {
                    return Err(SqlError::error("22023", format!("\"{value}\" is not a valid encoding name")));
                }
            }
            "requires" => {
                c.requires = value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            }
            "no_relocate" => {}
            other => {
                return Err(SqlError::error(
                    "42601",
                    format!("unrecognized parameter \"{other}\" in file \"{shown}\""),
                ));
            }
        }
    }
    if c.relocatable && c.schema.is_some() {
        return Err(SqlError::error("42601", "parameter \"schema\" cannot be specified when \"relocatable\" is true"));
    }
    Ok(c)
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, ch) in line.char_indices() {
        match ch {
            '\'' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> Option<String> {
    match v.strip_prefix('\'') {
        Some(rest) => {
            let inner = rest.strip_suffix('\'')?;
            Some(inner.replace("''", "'").replace("\\'", "'"))
        }
        None => Some(v.to_string()),
    }
}

/// The scripts that install `version` of the extension: `name--version.sql`, or the shortest chain of an install
/// script and update scripts (`name--a--b.sql`) that reaches it. None when there is no way.
pub(crate) fn script_chain(c: &Control, version: &str) -> Option<Vec<PathBuf>> {
    let direct = c.dir.join(format!("{}--{version}.sql", c.name));
    if direct.is_file() {
        return Some(vec![direct]);
    }
    let prefix = format!("{}--", c.name);
    let mut installs: Vec<String> = Vec::new();
    let mut updates: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(&c.dir).ok()?.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)).and_then(|f| f.strip_suffix(".sql"))
        else {
            continue;
        };
        match rest.split_once("--") {
            Some((a, b)) => updates.push((a.to_string(), b.to_string())),
            None => installs.push(rest.to_string()),
        }
    }
    // Breadth-first from every install script: the fewest steps win.
    let mut frontier: Vec<(String, Vec<PathBuf>)> =
        installs.iter().map(|v| (v.clone(), vec![c.dir.join(format!("{}--{v}.sql", c.name))])).collect();
    let mut seen: Vec<String> = installs.clone();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for (v, chain) in frontier {
            for (a, b) in updates.iter().filter(|(a, _)| *a == v) {
                if seen.contains(b) {
                    continue;
                }
                let mut chain = chain.clone();
                chain.push(c.dir.join(format!("{}--{a}--{b}.sql", c.name)));
                if b == version {
                    return Some(chain);
                }
                seen.push(b.clone());
                next.push((b.clone(), chain));
            }
        }
        frontier = next;
    }
    None
}

/// The versions that have an install script (for `pg_available_extension_versions`).
pub(crate) fn versions(c: &Control) -> Vec<String> {
    let prefix = format!("{}--", c.name);
    let mut out: Vec<String> = std::fs::read_dir(&c.dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let f = e.file_name().to_str()?.to_string();
                    let v = f.strip_prefix(&prefix)?.strip_suffix(".sql")?.to_string();
                    (!v.contains("--")).then_some(v)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A script's text as PostgreSQL runs it: `\echo` lines dropped, `@extschema@` and `MODULE_PATHNAME` (when the
/// control file sets `module_pathname`) substituted.
pub(crate) fn prepare_script(c: &Control, text: &str, schema: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("\\echo") {
            out.push('\n');
            continue;
        }
        out.push_str(line);
    }
    let mut out = out.replace("@extschema@", &quote_ident(schema));
    if let Some(m) = &c.module_pathname {
        out = out.replace("MODULE_PATHNAME", m);
    }
    out
}

fn quote_ident(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_control_files() {
        let text = "# worker_spi extension\ncomment = 'Sample background worker'\ndefault_version = '1.0'\nmodule_pathname = '$libdir/worker_spi'\nrelocatable = true\n";
        let c = parse("worker_spi", Path::new("/x/extension/worker_spi.control"), text).unwrap();
        assert_eq!(c.default_version.as_deref(), Some("1.0"));
        assert_eq!(c.module_pathname.as_deref(), Some("$libdir/worker_spi"));
        assert!(c.relocatable && c.superuser && !c.trusted);
        let e = parse("x", Path::new("/x/extension/x.control"), "bogus = 1\n").unwrap_err();
        assert_eq!(e.message, "unrecognized parameter \"bogus\" in file \"/x/extension/x.control\"");
    }

    #[test]
    fn prepares_scripts_as_postgresql() {
        let c = Control { name: "e".into(), module_pathname: Some("$libdir/e".into()), ..Default::default() };
        let s = prepare_script(&c, "\\echo Use \"CREATE EXTENSION e\" \\quit\nCREATE FUNCTION f() RETURNS int4 AS 'MODULE_PATHNAME' LANGUAGE C;\nCREATE TABLE @extschema@.t (a int);\n", "public");
        assert!(!s.contains("echo"));
        assert!(s.contains("'$libdir/e'"));
        assert!(s.contains("public.t"));
    }
}
