//! The driver matrix (issue 14): real client libraries run the same program against a throwaway PostgreSQL 15
//! cluster and against bgw, and their outputs must agree.
//!
//! The programs are in `tests/drivers/` (psycopg 3, asyncpg, node `pg`, pgjdbc, psql meta-commands); `.ci/run`
//! installs the drivers (the Python ones in `target/drivers/venv`, node's in `tests/drivers/node_modules`,
//! pgjdbc from Debian). Each program reads the server from libpq's environment variables (TCP, password
//! authentication: see `bgw_test_support::Login`), prints one line per step (`name: result`, or
//! `name: ERROR sqlstate message`), and with `BGW_TARGET=bgw` adds the bgw-only steps (`bgw.*`: `bgw_launch` with
//! a typed integer parameter, then `bgw_workers`).
//!
//! `*_on_postgres` proves each program and its installation against the real server (every step succeeds);
//! `*_on_bgw` runs it against both and asserts the same lines, plus the bgw steps.

use bgw_test_support::{bgw_login, os_user, repo_root, Host, Login, Postgres, Setup, TEST_USER};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How long one driver program may take (the Java one compiles itself first).
const PROGRAM_DEADLINE: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
enum Driver {
    Psycopg,
    Asyncpg,
    Node,
    Jdbc,
    Psql,
}

fn drivers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/drivers")
}

/// The interpreter `.ci/run` installed psycopg and asyncpg into.
fn python() -> PathBuf {
    let p = repo_root().join("target/drivers/venv/bin/python");
    assert!(p.exists(), "{} is missing: .ci/run installs the Python drivers", p.display());
    p
}

/// The command that runs `driver`'s program against `login` (database `db`).
fn command(driver: Driver, login: &Login, db: &str, target: &str) -> Command {
    let dir = drivers_dir();
    let mut cmd = match driver {
        Driver::Psycopg => {
            let mut c = login.command(python(), db);
            c.arg(dir.join("psycopg3.py"));
            c
        }
        Driver::Asyncpg => {
            let mut c = login.command(python(), db);
            c.arg(dir.join("asyncpg_driver.py"));
            c
        }
        Driver::Node => {
            assert!(
                dir.join("node_modules/pg").exists(),
                "node pg is missing: .ci/run runs npm ci in {}",
                dir.display()
            );
            let mut c = login.command("node", db);
            c.arg(dir.join("node_pg.js"));
            c
        }
        Driver::Jdbc => {
            let jar = "/usr/share/java/postgresql.jar";
            assert!(std::path::Path::new(jar).exists(), "{jar} is missing: .ci/run installs libpostgresql-jdbc-java");
            let mut c = login.command("java", db);
            c.arg("-Duser.timezone=UTC").arg("-cp").arg(jar).arg(dir.join("Jdbc.java"));
            c
        }
        Driver::Psql => {
            // psql's errors go to stderr: one stream, so that they stay beside their section.
            let mut c = login.command("sh", db);
            c.args(["-c", "exec psql -X -v \"bgw=$1\" -f \"$0\" 2>&1"])
                .arg(dir.join("psql.sql"))
                .arg(if target == "bgw" { "true" } else { "false" })
                .current_dir(std::env::temp_dir());
            c
        }
    };
    cmd.env("BGW_TARGET", target).env("PGTZ", "UTC").env("TZ", "UTC").env("PGCLIENTENCODING", "UTF8");
    cmd
}

/// Runs the program; its standard output (psql's has its errors merged in). The program itself must end
/// normally (its steps catch their own errors).
fn run(driver: Driver, login: &Login, db: &str, target: &str) -> String {
    let out = Login::run(&mut command(driver, login, db, target), PROGRAM_DEADLINE);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("---- {driver:?} on {target} ----\n{stdout}{stderr}");
    assert!(out.status.success(), "{driver:?} on {target} exited with {}:\n{stdout}\n{stderr}", out.status);
    match driver {
        Driver::Psql => {
            assert!(stdout.contains("== end"), "psql on {target} did not finish:\n{stdout}");
            stdout
        }
        _ => {
            assert!(
                stdout.lines().last() == Some("done"),
                "{driver:?} on {target} did not finish:\n{stdout}\n{stderr}"
            );
            stdout
        }
    }
}

/// The steps of a program's output: name -> result.
fn steps(out: &str) -> BTreeMap<String, String> {
    out.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The steps that failed (`name: ERROR ...`).
fn failed(out: &str) -> Vec<String> {
    steps(out).into_iter().filter(|(_, v)| v.starts_with("ERROR")).map(|(k, v)| format!("{k}: {v}")).collect()
}

/// Every step of `driver`'s program succeeds on PostgreSQL 15.
fn on_postgres(driver: Driver) {
    let pg = Postgres::start();
    let out = run(driver, &pg.login(), "postgres", "postgres");
    let bad = failed(&out);
    assert!(bad.is_empty(), "{driver:?} on PostgreSQL 15: failed steps:\n{}", bad.join("\n"));
}

/// A bgw host reachable over TCP with the test role's password.
fn bgw_host() -> (Host, Login) {
    let host = Host::start(Setup::new(env!("CARGO_BIN_EXE_bgw")).tcp());
    let login = bgw_login(&host);
    (host, login)
}

/// The program's steps give the same results on bgw as on PostgreSQL 15, and its bgw steps succeed.
fn same_on_bgw(driver: Driver) {
    let pg = Postgres::start();
    let expected = steps(&run(driver, &pg.login(), "postgres", "postgres"));
    drop(pg);
    let (host, login) = bgw_host();
    let out = run(driver, &login, "postgres", "bgw");
    drop(host);
    let got = steps(&out);
    let mut differing = Vec::new();
    for (name, want) in &expected {
        match got.get(name) {
            Some(have) if have == want => {}
            have => differing
                .push(format!("{name}:\n    postgres: {want}\n    bgw:      {}", have.map_or("(missing)", |s| s))),
        }
    }
    for (name, have) in got.iter().filter(|(k, _)| k.starts_with("bgw.")) {
        let launched = have.contains("pid>0=True") || have.contains("pid>0=true");
        if have.starts_with("ERROR") || !launched || !have.contains("rows=1") {
            differing.push(format!("{name}: {have}"));
        }
    }
    if !got.keys().any(|k| k.starts_with("bgw.")) {
        differing.push("no bgw.* step ran".into());
    }
    assert!(differing.is_empty(), "{driver:?}: {} steps differ on bgw:\n{}", differing.len(), differing.join("\n"));
}

#[test]
fn psycopg_on_postgres() {
    on_postgres(Driver::Psycopg);
}

#[test]
fn psycopg_on_bgw() {
    same_on_bgw(Driver::Psycopg);
}

#[test]
fn asyncpg_on_postgres() {
    on_postgres(Driver::Asyncpg);
}

#[test]
fn asyncpg_on_bgw() {
    same_on_bgw(Driver::Asyncpg);
}

#[test]
fn node_pg_on_postgres() {
    on_postgres(Driver::Node);
}

#[test]
fn node_pg_on_bgw() {
    same_on_bgw(Driver::Node);
}

#[test]
fn pgjdbc_on_postgres() {
    on_postgres(Driver::Jdbc);
}

#[test]
fn pgjdbc_on_bgw() {
    same_on_bgw(Driver::Jdbc);
}

/// psql's output split into its sections (`== name` lines), the port number written as `PORT`.
fn sections(out: &str, port: u16) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut name = String::from("setup");
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("== ") {
            name = n.to_string();
            continue;
        }
        let entry: &mut String = map.entry(name.clone()).or_default();
        entry.push_str(&line.replace(&format!("\"{port}\""), "\"PORT\""));
        entry.push('\n');
    }
    map
}

/// Sections that must be the same as PostgreSQL's, and those that must only succeed with a word in them (their
/// content lists what differs by design: the databases, the roles, the functions and extensions of each server).
const PSQL_SAME: &[&str] = &["setup", "dt", "d", "dn", "copy", "conninfo"];
const PSQL_CONTAINS: &[(&str, &str)] =
    &[("l", "postgres"), ("du", "bgw_test"), ("df", "List of functions"), ("dx", "List of installed extensions")];

/// psql's failed sections: those with an error in them.
fn psql_errors(s: &BTreeMap<String, String>) -> Vec<String> {
    s.iter().filter(|(_, v)| v.contains("ERROR") || v.contains("error:")).map(|(k, v)| format!("{k}:\n{v}")).collect()
}

#[test]
fn psql_on_postgres() {
    let pg = Postgres::start();
    let s = sections(&run(Driver::Psql, &pg.login(), "postgres", "postgres"), pg.port);
    let bad = psql_errors(&s);
    assert!(bad.is_empty(), "psql on PostgreSQL 15: errors in\n{}", bad.join("\n"));
    for (name, word) in PSQL_CONTAINS {
        assert!(s.get(*name).is_some_and(|v| v.contains(word)), "psql \\{name}: no {word:?} in {:?}", s.get(*name));
    }
    assert!(s["copy"].contains("plum, red") && s["copy"].contains("3\n"), "{}", s["copy"]);
}

#[test]
fn psql_on_bgw() {
    let pg = Postgres::start();
    let want = sections(&run(Driver::Psql, &pg.login(), "postgres", "postgres"), pg.port);
    drop(pg);
    let (host, login) = bgw_host();
    let mut got = sections(&run(Driver::Psql, &login, "postgres", "bgw"), host.port);
    drop(host);
    // bgw's relations and schemas are owned by its bootstrap superuser (README: the dialect), PostgreSQL's by
    // the role that made them (the login).
    for name in ["dt", "dn"] {
        if let Some(section) = got.get_mut(name) {
            *section = section.replace(&format!("|{}\n", os_user()), &format!("|{TEST_USER}\n"));
        }
    }
    let mut differing = psql_errors(&got);
    for name in PSQL_SAME {
        if want.get(*name) != got.get(*name) {
            differing.push(format!(
                "\\{name}:\n--- postgres:\n{}--- bgw:\n{}",
                want[*name],
                got.get(*name).map_or("(missing)\n", |s| s)
            ));
        }
    }
    for (name, word) in PSQL_CONTAINS {
        if !got.get(*name).is_some_and(|v| v.contains(word)) {
            differing.push(format!("\\{name}: no {word:?} in {:?}", got.get(*name)));
        }
    }
    if !got.get("bgw").is_some_and(|v| v.contains("| t") && v.contains("(1 row)")) {
        differing.push(format!("bgw_launch and bgw_workers: {:?}", got.get("bgw")));
    }
    assert!(differing.is_empty(), "psql: {} sections differ on bgw:\n{}", differing.len(), differing.join("\n"));
}
