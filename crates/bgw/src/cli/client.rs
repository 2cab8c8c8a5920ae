//! Clients of the front door: `bgw ps`, `bgw launch`, `bgw terminate` connect to the running host over its Unix
//! socket with the PostgreSQL protocol, as psql would.

use crate::postmaster::datadir::read_pid_file;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

fn connect(dir: &Path) -> Result<postgres::Client> {
    let info = read_pid_file(dir).ok_or_else(|| anyhow!("no server running in \"{}\"", dir.display()))?;
    let user = crate::sys::user::os_user_name().unwrap_or_else(|| "postgres".into());
    postgres::Config::new()
        .host_path(&info.socket_dir)
        .port(info.port)
        .user(&user)
        .dbname("postgres")
        .application_name("bgw")
        .connect(postgres::NoTls)
        .with_context(|| format!("could not connect to server at \"{}/.s.PGSQL.{}\"", info.socket_dir, info.port))
}

fn text(row: &postgres::SimpleQueryRow, i: usize) -> String {
    row.get(i).unwrap_or("").to_string()
}

fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{:<w$}", c, w = widths[i])).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}

fn rows(client: &mut postgres::Client, sql: &str) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for m in client.simple_query(sql)? {
        if let postgres::SimpleQueryMessage::Row(r) = m {
            out.push((0..r.len()).map(|i| text(&r, i)).collect());
        }
    }
    Ok(out)
}

/// `bgw ps`: every registered worker, running or not (with the handle `slot:generation` that `bgw terminate`
/// takes), then every other process.
pub fn ps(dir: &Path) -> Result<i32> {
    let mut c = connect(dir)?;
    let workers = rows(
        &mut c,
        "SELECT CASE WHEN slot >= 0 THEN slot || ':' || generation END, name, type, library || '.' || function, \
         pid, state, start_phase, \
         coalesce(CAST(restart_interval AS TEXT), 'never'), starts, last_exit_description, \
         substr(CAST(last_exit_at AS text), 1, 19), substr(CAST(next_start_at AS text), 1, 19) \
         FROM bgw_workers ORDER BY slot",
    )?;
    println!("Background workers:");
    print_table(
        &[
            "HANDLE",
            "NAME",
            "TYPE",
            "ENTRY POINT",
            "PID",
            "STATE",
            "START",
            "RESTART",
            "STARTS",
            "LAST EXIT",
            "ENDED",
            "NEXT START",
        ],
        &workers,
    );
    let others = rows(
        &mut c,
        "SELECT pid, backend_type, backend_start, application_name, state FROM pg_stat_activity \
         WHERE pid NOT IN (SELECT pid FROM bgw_workers WHERE pid IS NOT NULL) ORDER BY pid",
    )?;
    println!("\nOther processes:");
    print_table(&["PID", "TYPE", "STARTED", "APPLICATION", "STATE"], &others);
    Ok(0)
}

/// `bgw launch`: register, wait for start-up, print the handle and pid.
pub fn launch(dir: &Path, library: &str, function: &str, main_arg: i64, options: &serde_json::Value) -> Result<i32> {
    let mut c = connect(dir)?;
    let opts = options.to_string();
    let row = c.query_one("SELECT bgw_register($1, $2, $3, $4)", &[&library, &function, &main_arg, &opts])?;
    let handle: Option<String> = row.get(0);
    let handle = handle.ok_or_else(|| {
        anyhow!("could not register background process\nHINT:  You may need to increase \"max_worker_processes\".")
    })?;
    let row = c.query_one("SELECT CAST(bgw_wait_for_startup($1) AS TEXT)", &[&handle])?;
    let pid: Option<String> = row.get(0);
    match pid {
        Some(pid) => {
            println!("worker started: handle {handle}, PID {pid}");
            Ok(0)
        }
        None => Err(anyhow!("background worker with handle {handle} stopped before it started")),
    }
}

/// `bgw reset HANDLE`.
pub fn reset(dir: &Path, handle: &str) -> Result<i32> {
    let mut c = connect(dir)?;
    let row = c.query_one("SELECT bgw_reset($1)", &[&handle])?;
    if row.get::<_, Option<bool>>(0) == Some(true) {
        println!("reset requested for {handle}");
        Ok(0)
    } else {
        Err(anyhow!("no background worker with handle {handle} (the handle is stale)"))
    }
}

/// `bgw terminate HANDLE [--grace INTERVAL]`.
pub fn terminate(dir: &Path, handle: &str, grace: Option<&str>) -> Result<i32> {
    let mut c = connect(dir)?;
    match grace {
        None => c.query_one("SELECT bgw_terminate($1)", &[&handle])?,
        Some(grace) => {
            c.query_one("SELECT bgw_terminate($1, CAST(CAST($2 AS text) AS interval))", &[&handle, &grace])?
        }
    };
    match grace {
        None => println!("termination requested for {handle}"),
        Some(grace) => println!("termination requested for {handle} (SIGKILL after {grace})"),
    }
    Ok(0)
}
