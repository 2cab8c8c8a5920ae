//! Declared workers: `workers.toml` in the data directory lists workers to register statically at start.
//!
//! Each `[[worker]]` table has the same fields as a dynamic registration: `name` (required), `library` (default "bgw"),
//! `function` (required), `main_arg` (integer, default 0), `type`, `flags` (array of "shmem", "database", "parallel",
//! "interruptible", "die_at_interrupts"; default ["shmem"]), `start` ("postmaster_start", "consistent_state",
//! "recovery_finished"; default "recovery_finished"), `restart` (seconds, or "never"; default 60, the spec's default
//! interval) and `extra` (text, at most 128 bytes). Like a systemd unit or a supervisord program, with the
//! spec's semantics. Runs in the postmaster at start, before shared memory exists.

use super::types::{
    Restart, StartTime, WorkerSpec, BGWORKER_BACKEND_DATABASE_CONNECTION, BGWORKER_CLASS_PARALLEL,
    BGWORKER_SHMEM_ACCESS, BGW_DEFAULT_RESTART_INTERVAL,
};
use serde::Deserialize;
use std::path::Path;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "workers.toml";

#[derive(Debug, thiserror::Error)]
pub enum DeclaredError {
    #[error("could not read file \"{path}\": {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid worker declaration in file \"{path}\": {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    worker: Vec<Declared>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RestartValue {
    Seconds(i64),
    Word(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    name: String,
    #[serde(default = "default_library")]
    library: String,
    function: String,
    #[serde(default)]
    main_arg: i64,
    #[serde(default, rename = "type")]
    worker_type: String,
    flags: Option<Vec<String>>,
    start: Option<String>,
    restart: Option<RestartValue>,
    #[serde(default)]
    extra: String,
    backoff: Option<super::options::BackoffDecl>,
    give_up: Option<super::options::GiveUpDecl>,
    start_timeout: Option<f64>,
}

fn default_library() -> String {
    super::types::INTERNAL_LIBRARY.to_string()
}

/// Parses flag words into spec flags.
pub fn parse_flags(words: &[String]) -> Result<i32, String> {
    let mut flags = 0;
    for w in words {
        flags |= match w.as_str() {
            "shmem" => BGWORKER_SHMEM_ACCESS,
            "database" => BGWORKER_BACKEND_DATABASE_CONNECTION,
            "parallel" => BGWORKER_CLASS_PARALLEL,
            "interruptible" => super::types::BGWORKER_INTERRUPTIBLE,
            "die_at_interrupts" => super::types::BGWORKER_DIE_AT_INTERRUPTS,
            other => {
                return Err(format!(
                    "unknown flag \"{other}\" (expected \"shmem\", \"database\", \"interruptible\", \
                     \"die_at_interrupts\" or \"parallel\")"
                ))
            }
        };
    }
    Ok(flags)
}

/// Parses the text of a declared-workers file into specs (not yet sanity-checked: registration does that).
pub fn parse(text: &str, path: &str) -> Result<Vec<WorkerSpec>, DeclaredError> {
    let invalid = |message: String| DeclaredError::Invalid { path: path.to_string(), message };
    let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string().trim().replace('\n', " ")))?;
    let mut specs = Vec::with_capacity(file.worker.len());
    for (i, d) in file.worker.into_iter().enumerate() {
        let which = format!("worker {} (\"{}\")", i + 1, d.name);
        let mut spec = WorkerSpec::new(&d.name, &d.library, &d.function);
        spec.worker_type = d.worker_type;
        spec.main_arg = d.main_arg as usize;
        if let Some(words) = d.flags {
            spec.flags = parse_flags(&words).map_err(|m| invalid(format!("{which}: {m}")))?;
        }
        if let Some(start) = d.start {
            spec.start_time = StartTime::parse(&start).ok_or_else(|| {
                invalid(format!(
                    "{which}: unknown start \"{start}\" (expected \"postmaster_start\", \"consistent_state\" or \"recovery_finished\")"
                ))
            })?;
        }
        spec.restart = match d.restart {
            None => Restart::After { seconds: BGW_DEFAULT_RESTART_INTERVAL },
            Some(RestartValue::Word(w)) if w == "never" => Restart::Never,
            Some(RestartValue::Word(w)) => {
                return Err(invalid(format!("{which}: restart must be a number of seconds or \"never\", not \"{w}\"")))
            }
            Some(RestartValue::Seconds(s)) => {
                Restart::After { seconds: i32::try_from(s).unwrap_or(i32::MAX).max(i32::MIN + 1) }
            }
        };
        spec.extra = d.extra.into_bytes();
        if let Some(b) = &d.backoff {
            spec.options.backoff = Some(b.to_backoff().map_err(|m| invalid(format!("{which}: {m}")))?);
        }
        if let Some(t) = d.start_timeout {
            spec.options.start_timeout =
                Some(super::options::start_timeout(t).map_err(|m| invalid(format!("{which}: {m}")))?);
        }
        if let Some(g) = &d.give_up {
            spec.options.give_up = Some(g.to_give_up().map_err(|m| invalid(format!("{which}: {m}")))?);
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Reads `workers.toml` from `data_dir`; a missing file declares nothing.
pub fn load(data_dir: &Path) -> Result<Vec<WorkerSpec>, DeclaredError> {
    let path = data_dir.join(FILE_NAME);
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &shown),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(DeclaredError::Read { path: shown, source }),
    }
}

/// The demo `bgw initdb` writes: two tickers, so a new host shows workers at work.
pub const DEMO: &str = r#"# Background workers registered when the host starts (static registration).
#
# Each [[worker]] has the fields of a registration:
#   name      (required)  the worker's name, shown by `ps` as "bgw: <name>"
#   library   "bgw"       library holding the entry point ("bgw" is the host's internal library)
#   function  (required)  entry point: noop, exit_with, sleeper, crasher, spawner, ticker in "bgw"
#   main_arg  0           integer passed to the entry point
#   type      = name      shown in pg_stat_activity.backend_type and in exit messages
#   flags     ["shmem"]   any of "shmem", "database", "parallel"
#   start     "recovery_finished"   or "postmaster_start", "consistent_state"
#   restart   60          seconds to wait before restarting after exit code 1, or "never"
#   extra     ""          up to 128 bytes of text handed to the worker
#   backoff   { initial = 1, max = 60, factor = 2, jitter = 0.1 }   restarts grow by the factor (seconds)
#   give_up   { restarts = 5, within = 60 }   more restarts than that within the window: state failed
#   start_timeout 30   seconds to report ready (BackgroundWorkerReportReady) before it is ended as a failed start
# A worker that exits with 0 is unregistered; with 1, restarted after `restart`; anything else from a worker with
# shared memory access is a crash, and the host restarts all its processes.

[[worker]]
name = "ticker fast"
type = "ticker"
function = "ticker"
main_arg = 2000
restart = 5

[[worker]]
name = "ticker slow"
type = "ticker"
function = "ticker"
main_arg = 5000
restart = 5
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_parses() {
        let specs = parse(DEMO, "workers.toml").unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].function, "ticker");
        assert_eq!(specs[0].restart, Restart::After { seconds: 5 });
        assert_eq!(specs[1].main_arg, 5000);
    }

    #[test]
    fn all_fields_and_errors() {
        let t = r#"
[[worker]]
name = "a"
function = "sleeper"
flags = ["shmem", "database"]
start = "consistent_state"
restart = "never"
extra = "xyz"
type = "kind"
"#;
        let s = &parse(t, "f").unwrap()[0];
        assert_eq!(s.flags, BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION);
        assert_eq!(s.start_time, StartTime::ConsistentState);
        assert_eq!(s.restart, Restart::Never);
        assert_eq!(s.extra, b"xyz");
        for bad in [
            "[[worker]]\nname=\"a\"\nfunction=\"x\"\nflags=[\"gpu\"]",
            "[[worker]]\nname=\"a\"\nfunction=\"x\"\nstart=\"soon\"",
            "[[worker]]\nname=\"a\"\nfunction=\"x\"\nrestart=\"often\"",
            "[[worker]]\nname=\"a\"\nfunction=\"x\"\ncolour=\"red\"",
            "[[worker]]\nfunction=\"x\"",
            "not toml at all [",
        ] {
            let e = parse(bad, "f").unwrap_err().to_string();
            assert!(e.starts_with("invalid worker declaration in file \"f\""), "{e}");
        }
    }
}
