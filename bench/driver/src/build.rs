//! Builds the C parts of the benchmark: the module for PostgreSQL (PGXS), the same source for bgw (cc against
//! include/bgworker.h), and the fork-floor program.
//!
//! Everything is built into the run's own directory, readable by the `postgres` user, so nothing is installed into
//! PostgreSQL's system directories: both hosts find `bgw_bench` through `dynamic_library_path`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Built {
    pub pg_module_dir: PathBuf,
    pub bgw_module_dir: PathBuf,
    pub fork_floor: PathBuf,
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// `repo` is the repository root (bench/ext, bench/floor and include/ are read from it); `out` the build directory.
pub fn build_all(repo: &Path, out: &Path, pg_config: &Path) -> Result<Built> {
    let source = repo.join("bench/ext/bgw_bench.c");
    let pg_dir = out.join("pg-module");
    let bgw_dir = out.join("bgw-module");
    std::fs::create_dir_all(&pg_dir)?;
    std::fs::create_dir_all(&bgw_dir)?;

    // PostgreSQL: PGXS builds in the directory of the Makefile; build in a copy.
    std::fs::copy(&source, pg_dir.join("bgw_bench.c"))?;
    std::fs::copy(repo.join("bench/ext/Makefile"), pg_dir.join("Makefile"))?;
    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(&pg_dir)
        .arg(format!("PG_CONFIG={}", pg_config.display()))
        .arg("with_llvm=no"))?;

    // bgw: the same source against the host's header; no host library to link, its symbols resolve at load.
    run(Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"])
        .arg(repo.join("include"))
        .arg(&source)
        .arg("-o")
        .arg(bgw_dir.join("bgw_bench.so")))?;

    let fork_floor = out.join("fork_floor");
    run(Command::new("cc")
        .args(["-O2", "-Wall", "-Werror"])
        .arg(repo.join("bench/floor/fork_floor.c"))
        .arg("-o")
        .arg(&fork_floor))?;
    Ok(Built { pg_module_dir: pg_dir, bgw_module_dir: bgw_dir, fork_floor })
}
