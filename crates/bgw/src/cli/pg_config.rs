//! `pg_config` for bgw: where an extension built for bgw finds the server headers and PGXS, and where
//! `make install` puts what it builds.
//!
//! Runs as `bgw pg_config [OPTION]...`, or as the `bgw` executable called through a link named `pg_config`
//! (`ln -s "$(command -v bgw)" /somewhere/bin/pg_config`, then `make PG_CONFIG=/somewhere/bin/pg_config`). It
//! answers PostgreSQL's options with PostgreSQL's output format: no option prints every `NAME = value`; each
//! option prints its value on a line of its own, in the order asked; an unknown option is an error.
//!
//! The answers:
//! - The installation directories are relative to the directory the program was called from, as PostgreSQL's
//!   relocatable installation is (`bindir` is that directory, the link's own directory when called through a
//!   link, and `prefix` its parent): `pkglibdir` = `prefix/lib/bgw`, which is the host's `$libdir` (the default
//!   `dynamic_library_path`) for a `bgw` executable in `bindir`; `sharedir` = `prefix/share/bgw` (extensions'
//!   `.control` and script files go in its `extension/` folder, where CREATE EXTENSION reads them); `libdir` =
//!   `prefix/lib`.
//! - The server include tree and `pgxs.mk` are the ones this `bgw` was built with: the repository's `include/`
//!   and `pgxs/` (or `prefix/include/bgw/server` and `prefix/lib/bgw/pgxs` when an installation has them).
//! - `--version` says `PostgreSQL 15.0 (bgw x.y.z)`: bgw implements PostgreSQL 15's server API (a subset), so
//!   Makefiles that test the major version see 15; `pg_config.h` says the same (`PG_VERSION_NUM` 150000).
//! - The compiler and flags are the ones PGXS needs to build a module the host can load: `cc`, `-fPIC`, and no
//!   libraries (a module's references to the server resolve against the running `bgw` executable).

use std::path::{Path, PathBuf};

/// Where the program was called from: the absolute path of argv[0] without resolving a link (so a `pg_config`
/// link reports its own installation), else the executable.
fn invoked_as() -> PathBuf {
    let arg0 = std::env::args_os().next().map(PathBuf::from);
    let from_arg0 = arg0.and_then(|a| {
        if a.components().count() > 1 {
            std::path::absolute(&a).ok()
        } else {
            // Found through PATH.
            std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(&a)).find(|p| p.is_file()))
        }
    });
    from_arg0.or_else(|| std::env::current_exe().ok()).unwrap_or_else(|| PathBuf::from("/usr/local/bin/bgw"))
}

/// Whether the program was called as `pg_config`.
pub fn called_as_pg_config() -> bool {
    std::env::args_os().next().and_then(|a| PathBuf::from(a).file_name().map(|n| n == "pg_config")).unwrap_or(false)
}

/// The repository this executable was built from (the include tree and pgxs.mk live there).
fn source_tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `p` with `.` and `..` removed lexically (a link's `bin/..` is the link's installation, not its target's).
fn normal(p: PathBuf) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Every (name, value) pair, in PostgreSQL's order.
fn answers() -> Vec<(&'static str, String)> {
    let exe = invoked_as();
    let bindir = exe.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let prefix = bindir.join("..");
    let real_prefix =
        std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(".."))).unwrap_or(prefix.clone());
    let installed_include = real_prefix.join("include/bgw/server");
    let include =
        if installed_include.join("postgres.h").is_file() { installed_include } else { source_tree().join("include") };
    let installed_pgxs = real_prefix.join("lib/bgw/pgxs/pgxs.mk");
    let pgxs = if installed_pgxs.is_file() { installed_pgxs } else { source_tree().join("pgxs/pgxs.mk") };
    let version = format!("PostgreSQL 15.0 (bgw {})", env!("CARGO_PKG_VERSION"));
    vec![
        ("BINDIR", normal(bindir)),
        ("DOCDIR", normal(prefix.join("share/doc/bgw"))),
        ("HTMLDIR", normal(prefix.join("share/doc/bgw"))),
        ("INCLUDEDIR", normal(include.clone())),
        ("PKGINCLUDEDIR", normal(include.clone())),
        ("INCLUDEDIR-SERVER", normal(include)),
        ("LIBDIR", normal(prefix.join("lib"))),
        ("PKGLIBDIR", normal(prefix.join("lib/bgw"))),
        ("LOCALEDIR", normal(prefix.join("share/locale"))),
        ("MANDIR", normal(prefix.join("share/man"))),
        ("SHAREDIR", normal(prefix.join("share/bgw"))),
        ("SYSCONFDIR", normal(prefix.join("etc/bgw"))),
        ("PGXS", normal(pgxs)),
        ("CONFIGURE", String::new()),
        ("CC", "cc".into()),
        ("CPPFLAGS", "-D_GNU_SOURCE".into()),
        ("CFLAGS", "-Wall -Wmissing-prototypes -Wpointer-arith -Wendif-labels -fno-strict-aliasing -fwrapv -O2".into()),
        ("CFLAGS_SL", "-fPIC".into()),
        ("LDFLAGS", String::new()),
        ("LDFLAGS_EX", String::new()),
        ("LDFLAGS_SL", String::new()),
        ("LIBS", String::new()),
        ("VERSION", version),
    ]
}

/// Runs `pg_config` with `args` (without the program name); returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let all = answers();
    if args.is_empty() {
        for (name, value) in &all {
            println!("{name} = {value}");
        }
        return 0;
    }
    let mut out = Vec::new();
    for arg in args {
        if arg == "--help" || arg == "-?" {
            println!(
                "pg_config provides information about the installed version of bgw (PostgreSQL 15's server API).\n"
            );
            println!("Usage:\n  pg_config [OPTION]...\n\nOptions:");
            for (name, _) in &all {
                println!("  --{}", name.to_ascii_lowercase());
            }
            return 0;
        }
        let wanted = arg.strip_prefix("--").map(|a| a.to_ascii_uppercase());
        match wanted.and_then(|w| all.iter().find(|(name, _)| *name == w)) {
            Some((_, value)) => out.push(value.clone()),
            None => {
                eprintln!("pg_config: invalid argument: {arg}");
                eprintln!("Try \"pg_config --help\" for more information.");
                return 1;
            }
        }
    }
    for v in out {
        println!("{v}");
    }
    0
}
