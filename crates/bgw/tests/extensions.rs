//! PostgreSQL extensions built for bgw as PostgreSQL builds them: unmodified sources and Makefiles, PGXS, and
//! bgw's `pg_config` (issue 16).
//!
//! `worker_spi` (PostgreSQL's sample, `../shared/testdata/worker_spi/`) is copied to a temporary directory and
//! built with `make USE_PGXS=1 PG_CONFIG=<a pg_config link to bgw> install` into a temporary installation;
//! nothing of it is changed. Its references to the server must all resolve against the `bgw` executable, except
//! the datum-level SPI that is not implemented yet ([`PENDING`]): loading it then fails naming one of those.
//!
//! The server API that is not SPI is exercised by small C modules of this file's own, built with
//! `bgw_test_support::build_c_module_from_text` against the include tree.

use bgw_test_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Server symbols worker_spi uses that bgw declares but does not implement yet (the datum-level SPI, the second
/// half of issue 16). When they land, this list empties and the load test below must load worker_spi as it is.
const PENDING: &[&str] = &["SPI_getbinval", "SPI_tuptable"];

fn testdata() -> PathBuf {
    repo_root().join("../shared/testdata/worker_spi")
}

/// A temporary installation: `bin/pg_config` is a link to the `bgw` executable, so `pg_config` reports
/// `lib/bgw` and `share/bgw` of this directory.
fn installation() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("bgwx").tempdir_in("/tmp").unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let pg_config = dir.path().join("bin/pg_config");
    std::os::unix::fs::symlink(BGW, &pg_config).unwrap();
    (dir, pg_config)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Every file of `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

fn pg_config(pg_config: &Path, option: &str) -> String {
    let out = Command::new(pg_config).arg(option).output().unwrap();
    assert!(out.status.success(), "pg_config {option}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Builds and installs worker_spi from an unmodified copy; the installation and the library's path.
fn build_worker_spi() -> (tempfile::TempDir, PathBuf) {
    let (inst, pg_config) = installation();
    let src = inst.path().join("src/worker_spi");
    copy_dir(&testdata(), &src);
    let before = contents(&src);
    let out = Command::new("make")
        .arg("USE_PGXS=1")
        .arg(format!("PG_CONFIG={}", pg_config.display()))
        .arg("install")
        .current_dir(&src)
        .output()
        .expect("make is needed to build extensions");
    assert!(out.status.success(), "make install failed:\n{}\n{}", stdout(&out), stderr(&out));
    // Nothing of the extension's own files changed (the build only added files).
    let after: Vec<_> = contents(&src).into_iter().filter(|(name, _)| before.iter().any(|(b, _)| b == name)).collect();
    assert_eq!(before, after, "the build changed the extension's files");
    let lib = inst.path().join("lib/bgw/worker_spi.so");
    assert!(lib.is_file(), "make install did not install {}", lib.display());
    for f in ["worker_spi.control", "worker_spi--1.0.sql"] {
        assert!(inst.path().join("share/bgw/extension").join(f).is_file(), "{f} not installed");
    }
    (inst, lib)
}

#[test]
fn pg_config_answers_as_postgresqls_for_its_installation() {
    let (inst, pg_config) = installation();
    let root = inst.path().display().to_string();
    assert_eq!(self::pg_config(&pg_config, "--pkglibdir"), format!("{root}/lib/bgw"));
    assert_eq!(self::pg_config(&pg_config, "--sharedir"), format!("{root}/share/bgw"));
    assert_eq!(self::pg_config(&pg_config, "--bindir"), format!("{root}/bin"));
    assert_eq!(self::pg_config(&pg_config, "--libdir"), format!("{root}/lib"));
    let server = PathBuf::from(self::pg_config(&pg_config, "--includedir-server"));
    assert!(server.join("postgres.h").is_file() && server.join("postmaster/bgworker.h").is_file());
    assert!(PathBuf::from(self::pg_config(&pg_config, "--pgxs")).is_file());
    assert!(self::pg_config(&pg_config, "--version").starts_with("PostgreSQL 15."));
    assert_eq!(self::pg_config(&pg_config, "--cflags_sl"), "-fPIC");
    // Several options: one line each, in order; `bgw pg_config` is the same program.
    let out = Command::new(BGW).args(["pg_config", "--cc", "--version"]).output().unwrap();
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("PostgreSQL 15."));
    // No option: every NAME = value; an unknown option is an error, as PostgreSQL's.
    let out = Command::new(&pg_config).output().unwrap();
    assert!(stdout(&out).contains("PKGLIBDIR = ") && stdout(&out).contains("VERSION = PostgreSQL 15."));
    let out = Command::new(&pg_config).arg("--no-such").output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_config: invalid argument: --no-such"), "{}", stderr(&out));
}

#[test]
fn worker_spi_builds_unmodified_with_pgxs_and_only_pending_spi_is_unresolved() {
    let (_inst, lib) = build_worker_spi();
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(&lib).output().expect("nm is needed");
    let imported: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .filter(|s| !s.starts_with("__") && !s.starts_with("_ITM") && !s.starts_with("_Jv"))
        .collect();
    let out = Command::new("nm").args(["-D", "--defined-only", BGW]).output().unwrap();
    let host: std::collections::BTreeSet<String> =
        stdout(&out).lines().filter_map(|l| l.split_whitespace().last()).map(str::to_string).collect();
    // What the C library provides resolves there (nm prints those with a version: "memset@GLIBC_2.2.5").
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(&lib).output().unwrap();
    let versioned: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains('@'))
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect();
    let unresolved: Vec<&String> = imported.iter().filter(|s| !host.contains(*s) && !versioned.contains(s)).collect();
    let mut expected: Vec<&str> = PENDING.to_vec();
    expected.sort();
    let mut got: Vec<&str> = unresolved.iter().map(|s| s.as_str()).collect();
    got.sort();
    assert_eq!(got, expected, "worker_spi's references bgw does not export (besides libc's)");
    for s in ["palloc", "pstrdup", "initStringInfo", "appendStringInfo", "quote_identifier", "errstart", "proc_exit"] {
        assert!(imported.iter().any(|i| i == s) && host.contains(s), "{s}");
    }
}

#[test]
fn loading_worker_spi_fails_naming_a_pending_symbol() {
    let (inst, _lib) = build_worker_spi();
    let h = Host::start(Setup::new(BGW).library_path(&inst.path().join("lib/bgw")));
    // Registering a worker checks its entry point at once: the library is loaded with RTLD_NOW.
    let err = h.psql("SELECT bgw_register('worker_spi', 'worker_spi_main', 1)").unwrap_err();
    assert!(err.contains("could not load library"), "{err}");
    assert!(PENDING.iter().any(|s| err.contains(&format!("undefined symbol: {s}"))), "{err}");
}

/// The functions and variables the include tree declares, except those marked BGW_NOT_IMPLEMENTED.
fn declared_symbols() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "h") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo_root().join("include"), &mut files);
    let mut names = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Comments out, continuation lines joined, preprocessor lines (macros, extern "C") out.
        let mut code = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("/*") {
            code += &rest[..i];
            rest = &rest[i + rest[i..].find("*/").unwrap() + 2..];
        }
        code += rest;
        let code = code.replace("\\\n", " ");
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.contains("extern \"C\""))
            .collect::<Vec<_>>()
            .join("\n");
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(decl) = stmt.strip_prefix("extern ") else { continue };
            if decl.contains("BGW_NOT_IMPLEMENTED") {
                continue;
            }
            let head = match decl.find('(') {
                Some(i) if !decl[..i].trim_end().ends_with("pg_attribute_noreturn") => &decl[..i],
                _ => decl.split('[').next().unwrap(),
            };
            let name: String = head.trim_end().chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.push(name.chars().rev().collect());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn everything_the_include_tree_declares_is_exported_by_bgw() {
    let names = declared_symbols();
    assert!(
        names.len() > 150 && names.iter().any(|n| n == "palloc") && names.iter().any(|n| n == "MyLatch"),
        "{names:?}"
    );
    let out = Command::new("nm").args(["-D", "--defined-only", BGW]).output().expect("nm is needed");
    let host: std::collections::BTreeSet<String> =
        stdout(&out).lines().filter_map(|l| l.split_whitespace().last()).map(str::to_string).collect();
    let missing: Vec<&String> = names.iter().filter(|n| !host.contains(*n)).collect();
    assert!(missing.is_empty(), "declared in include/ without BGW_NOT_IMPLEMENTED but not exported: {missing:?}");
}
