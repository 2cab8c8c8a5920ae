//! The `bgw` command line: server control (`initdb`, `start`, `stop`, `status`, `reload`, `promote`) and
//! clients of the front door (`ps`, `launch`, `terminate`), and `pg_config` for building extensions (also the
//! whole program when it is called through a link named `pg_config`).
//!
//! Runs in the process the user starts. `start` becomes the postmaster (or, with `--detach`, starts one in the
//! background and waits until it accepts connections); the others talk to a running postmaster through its lock
//! file, signals, and the PostgreSQL protocol. This is the edge of the program, so errors are `anyhow` here.

mod client;
mod control;
mod pg_config;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "bgw", version, about = "A host for background workers with PostgreSQL's semantics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct DataDirArg {
    /// Data directory (default: $BGWDATA, then ./bgw-data)
    #[arg(short = 'D', long = "pgdata")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    pub fn resolve(&self) -> PathBuf {
        self.data_dir
            .clone()
            .or_else(|| std::env::var_os("BGWDATA").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("bgw-data"))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a new data directory
    Initdb {
        #[command(flatten)]
        dir: DataDirArg,
        /// Name of the bootstrap superuser (default: the OS user's name)
        #[arg(short = 'U', long = "username")]
        username: Option<String>,
        /// Read the bootstrap superuser's password from the first line of this file
        #[arg(long = "pwfile")]
        pwfile: Option<std::path::PathBuf>,
    },
    /// Start the host (the postmaster), in the foreground unless --detach
    Start {
        #[command(flatten)]
        dir: DataDirArg,
        /// Set a configuration parameter (name=value), overriding bgworker.conf
        #[arg(short = 'c', value_name = "NAME=VALUE")]
        settings: Vec<String>,
        /// Run in the background; return once the server accepts connections
        #[arg(long)]
        detach: bool,
        /// With --detach: the log file (default: <data directory>/bgw.log)
        #[arg(short = 'l', long = "log")]
        log_file: Option<PathBuf>,
    },
    /// Stop the host and wait until it has stopped
    Stop {
        #[command(flatten)]
        dir: DataDirArg,
        /// Shutdown mode
        #[arg(short = 'm', long = "mode", default_value = "fast", value_parser = ["smart", "fast", "immediate", "s", "f", "i"])]
        mode: String,
        /// Seconds to wait
        #[arg(short = 't', long = "timeout", default_value_t = 60)]
        timeout: u64,
    },
    /// Tell whether the host is running
    Status {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Make the host reload its configuration (SIGHUP)
    Reload {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Leave standby: recovery-finished workers start
    Promote {
        #[command(flatten)]
        dir: DataDirArg,
        /// Seconds to wait
        #[arg(short = 't', long = "timeout", default_value_t = 60)]
        timeout: u64,
    },
    /// List every registered worker, running or not, and every other process of the host
    Ps {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Register a dynamic worker and wait until it has started
    Launch {
        #[command(flatten)]
        dir: DataDirArg,
        library: String,
        function: String,
        /// Main argument (an integer)
        #[arg(long = "arg", default_value_t = 0)]
        main_arg: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "type")]
        worker_type: Option<String>,
        /// Restart interval in seconds, or "never" (default)
        #[arg(long)]
        restart: Option<String>,
        /// Comma-separated flags: shmem, database, parallel (default: shmem)
        #[arg(long)]
        flags: Option<String>,
        /// postmaster_start, consistent_state or recovery_finished (default)
        #[arg(long)]
        start: Option<String>,
        /// Extra data (text, at most 128 bytes)
        #[arg(long)]
        extra: Option<String>,
    },
    /// Let a worker its restart policy gave up on run again, by its handle (slot:generation)
    Reset {
        #[command(flatten)]
        dir: DataDirArg,
        handle: String,
    },
    /// Terminate a dynamic worker by its handle (slot:generation)
    Terminate {
        #[command(flatten)]
        dir: DataDirArg,
        handle: String,
        /// SIGKILL the worker if it is still running this long after SIGTERM (an interval: 5s, '500 ms')
        #[arg(long)]
        grace: Option<String>,
    },
    /// PostgreSQL's pg_config for extensions built for bgw (also: call bgw through a link named pg_config)
    #[command(name = "pg_config", disable_help_flag = true)]
    PgConfig {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        options: Vec<String>,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    if pg_config::called_as_pg_config() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return pg_config::run(&args);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bgw: {e:#}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Initdb { dir, username, pwfile } => control::initdb(&dir.resolve(), username.as_deref(), pwfile),
        Command::Start { dir, settings, detach, log_file } => {
            control::start(&dir.resolve(), &settings, detach, log_file)
        }
        Command::Stop { dir, mode, timeout } => control::stop(&dir.resolve(), &mode, timeout),
        Command::Status { dir } => control::status(&dir.resolve()),
        Command::Reload { dir } => control::reload(&dir.resolve()),
        Command::Promote { dir, timeout } => control::promote(&dir.resolve(), timeout),
        Command::Ps { dir } => client::ps(&dir.resolve()),
        Command::Launch { dir, library, function, main_arg, name, worker_type, restart, flags, start, extra } => {
            let mut options = serde_json::Map::new();
            if let Some(n) = name {
                options.insert("name".into(), n.into());
            }
            if let Some(t) = worker_type {
                options.insert("type".into(), t.into());
            }
            if let Some(r) = restart {
                options.insert(
                    "restart".into(),
                    r.parse::<i64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::from(r)),
                );
            }
            if let Some(f) = flags {
                let words: Vec<serde_json::Value> =
                    f.split(',').map(|w| w.trim()).filter(|w| !w.is_empty()).map(serde_json::Value::from).collect();
                options.insert("flags".into(), words.into());
            }
            if let Some(s) = start {
                options.insert("start".into(), s.into());
            }
            if let Some(e) = extra {
                options.insert("extra".into(), e.into());
            }
            client::launch(&dir.resolve(), &library, &function, main_arg, &serde_json::Value::Object(options))
        }
        Command::Reset { dir, handle } => client::reset(&dir.resolve(), &handle),
        Command::Terminate { dir, handle, grace } => client::terminate(&dir.resolve(), &handle, grace.as_deref()),
        Command::PgConfig { options } => Ok(pg_config::run(&options)),
    }
}
