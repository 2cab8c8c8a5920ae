//! `job_queue`: a worker that takes jobs from a table on the database it connects to, for bgw's scale-out
//! pattern (several hosts, one PostgreSQL).
//!
//! Each round is one transaction: it locks up to `batch` jobs nobody has done (`FOR UPDATE SKIP LOCKED`, so
//! workers on any host never take the same job and never wait for each other), does their work (`work_ms` of
//! sleep each, standing for the real work), marks them done by this host (`done_by`, `runs + 1`, `done_at`),
//! sends `NOTIFY jobs_done` with the number done, and commits. A crash or a kill before the commit leaves the
//! jobs to others: the server rolls the transaction back. What makes "exactly once" hold is the server's row
//! locks; the worker only has to commit the claim and the result together.
//!
//! The registration's extra data configures it: `database=NAME host=LABEL batch=N work_ms=MS idle_ms=MS`
//! (defaults: `postgres`, the host's pid, 10, 0, 100).
//!
//! Runs in: a background worker process.
#![deny(unsafe_code)]

use bgw_sdk::spi::{self, Spi, SpiError};
use bgw_sdk::{ConnectionFlags, MainArg, Signals, WaitEvents};
use std::time::Duration;

#[allow(unsafe_code)] // the macro exports the entry point with #[unsafe(no_mangle)]
mod exports {
    bgw_sdk::worker_main!(job_queue_main = super::job_queue_main);
}

/// What the registration's extra data asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    database: String,
    host: String,
    batch: u32,
    work_ms: u64,
    idle_ms: u64,
}

impl Config {
    fn parse(extra: &str) -> Result<Config, String> {
        let mut config = Config {
            database: "postgres".into(),
            host: format!("pid{}", std::process::id()),
            batch: 10,
            work_ms: 0,
            idle_ms: 100,
        };
        for word in extra.split_whitespace() {
            let (key, value) = word.split_once('=').ok_or_else(|| format!("\"{word}\" is not key=value"))?;
            let number = || value.parse::<u64>().map_err(|_| format!("{key}: \"{value}\" is not a number"));
            match key {
                "database" => config.database = value.to_owned(),
                "host" => config.host = value.to_owned(),
                "batch" => config.batch = number()?.clamp(1, 10_000) as u32,
                "work_ms" => config.work_ms = number()?,
                "idle_ms" => config.idle_ms = number()?.max(1),
                other => return Err(format!("unknown key \"{other}\"")),
            }
        }
        Ok(config)
    }
}

/// One round: the number of jobs done (0: none left).
fn round(spi: &mut Spi, config: &Config, worker: &str) -> Result<u64, SpiError> {
    let batch = config.batch.to_string();
    spi.transaction(|spi| {
        let claimed = spi.execute(
            "SELECT id FROM jobs WHERE done_by IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[Some(&batch)],
        )?;
        let ids: Vec<String> =
            (0..claimed.processed as usize).filter_map(|row| claimed.value(row, 0).map(str::to_owned)).collect();
        for id in &ids {
            if config.work_ms > 0 {
                std::thread::sleep(Duration::from_millis(config.work_ms));
            }
            spi.execute(
                "UPDATE jobs SET done_by = $1, runs = runs + 1, done_at = clock_timestamp() WHERE id = $2",
                &[Some(worker), Some(id)],
            )?;
        }
        if !ids.is_empty() {
            spi.notify("jobs_done", &ids.len().to_string())?;
        }
        Ok(ids.len() as u64)
    })
}

fn job_queue_main(arg: MainArg) {
    Signals::install();
    let me = bgw_sdk::my_registration();
    let extra = me.as_ref().map(|r| String::from_utf8_lossy(r.extra_until_nul()).into_owned()).unwrap_or_default();
    let config = Config::parse(&extra).unwrap_or_else(|e| bgw_sdk::fatal!("job_queue: invalid extra data: {e}"));
    let worker = format!("{}/{}", config.host, arg.as_i32());
    spi::connect(Some(&config.database), None, ConnectionFlags::empty());
    let mut spi = Spi::connect().unwrap_or_else(|e| bgw_sdk::fatal!("job_queue: SPI_connect failed: {e}"));
    bgw_sdk::log!("job_queue worker {worker} taking jobs in database \"{}\"", config.database);
    loop {
        if Signals::sigterm_received() {
            bgw_sdk::log!("job_queue worker {worker} shutting down");
            std::process::exit(0);
        }
        match round(&mut spi, &config, &worker) {
            Ok(0) => {
                bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(Duration::from_millis(config.idle_ms)));
                bgw_sdk::reset_latch();
            }
            Ok(_) => {}
            Err(e) => bgw_sdk::fatal!("job_queue worker {worker}: {e}"),
        }
    }
}
