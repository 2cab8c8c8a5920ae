//! A module written with the SDK's attribute macros: worker entry points and SQL functions without any
//! `extern "C"`. Loaded into the real host by `crates/bgw/tests/sdk_macros.rs`.
//!
//! Runs in: the postmaster (`_PG_init` while preloading defines the SQL functions), backends (the SQL
//! functions), workers (the entry points).
#![deny(unsafe_code)]

use bgw_sdk::sql::SqlError;
use bgw_sdk::{BackgroundWorkerBuilder, MainArg, Restart};
use serde::{Deserialize, Serialize};

bgw_sdk::module_init!(|| -> Result<(), bgw_sdk::Error> {
    if bgw_sdk::preloading() {
        bgw_sdk::sql::define::<demo_add>()?;
        bgw_sdk::sql::define::<demo_greet>()?;
        bgw_sdk::sql::define::<demo_len>()?;
        bgw_sdk::sql::define::<demo_half>()?;
        bgw_sdk::sql::define::<demo_positive>()?;
        bgw_sdk::sql::define::<demo_div>()?;
        bgw_sdk::sql::define::<parse_int>()?;
        bgw_sdk::sql::define::<demo_panic>()?;
        bgw_sdk::sql::define::<demo_small>()?;
        bgw_sdk::sql::define::<demo_launch_with_arg>()?;
        bgw_sdk::sql::define::<demo_launch_without_arg>()?;
        // A static worker with a typed argument (kept in this module's memory, inherited by the worker).
        BackgroundWorkerBuilder::new("static typed")
            .library("sdk_demo")
            .function("typed_arg_worker")
            .restart(Restart::Never)
            .arg(&JobArgs::new(99, 100))
            .register_static()?;
    }
    Ok(())
});

// ---------- workers ----------

/// Logs its argument and ends (exit code 0).
#[bgw_sdk::worker]
fn macro_worker(arg: MainArg) {
    bgw_sdk::log!("macro_worker: argument {}", arg.value());
}

/// Takes no argument; logs and ends.
#[bgw_sdk::worker]
fn macro_plain() {
    bgw_sdk::log!("macro_plain: ran");
}

/// Fails with an `Err` for an odd argument (an ERROR, exit code 1).
#[bgw_sdk::worker]
fn macro_fallible(n: usize) -> Result<(), String> {
    if n % 2 == 1 {
        return Err(format!("macro_fallible: {n} is odd"));
    }
    bgw_sdk::log!("macro_fallible: {n} is even");
    Ok(())
}

/// Panics (an ERROR with the panic's message, exit code 1; never an abort).
#[bgw_sdk::worker]
fn macro_panicker(_arg: MainArg) {
    panic!("macro_panicker: boom");
}

// ---------- SQL functions ----------

#[bgw_sdk::sql_function]
fn demo_add(a: i64, b: i64) -> i64 {
    a + b
}

#[bgw_sdk::sql_function]
fn demo_greet(name: &str) -> String {
    format!("hello, {name}")
}

/// NULL in is None; None out is NULL.
#[bgw_sdk::sql_function]
fn demo_len(s: Option<String>) -> Option<i64> {
    s.map(|s| s.chars().count() as i64)
}

#[bgw_sdk::sql_function]
fn demo_half(x: f64) -> f64 {
    x / 2.0
}

#[bgw_sdk::sql_function(name = "demo_is_positive")]
fn demo_positive(x: f64) -> bool {
    x > 0.0
}

/// A `SqlError` keeps its SQLSTATE.
#[bgw_sdk::sql_function]
fn demo_div(a: i64, b: i64) -> Result<i64, SqlError> {
    if b == 0 {
        return Err(SqlError::new("22012", "division by zero"));
    }
    Ok(a / b)
}

/// Any other error type is P0001 with its text.
#[bgw_sdk::sql_function]
fn parse_int(s: &str) -> Result<i64, std::num::ParseIntError> {
    s.trim().parse()
}

#[bgw_sdk::sql_function]
fn demo_panic(s: &str) -> bool {
    panic!("demo_panic: {s}")
}

/// An i16 argument: a bigint out of its range is 22003.
#[bgw_sdk::sql_function]
fn demo_small(x: i16) -> i32 {
    i32::from(x) * 2
}

// ---------- typed SPI values ----------

/// Connects to `postgres`, writes a row with typed parameters and reads it back typed, logging each value and
/// each typed error (read by `tests/sdk_spi.rs`).
#[bgw_sdk::worker]
fn typed_spi() -> Result<(), bgw_sdk::spi::SpiError> {
    use bgw_sdk::spi::{self, Spi};
    spi::connect(Some("postgres"), None, bgw_sdk::ConnectionFlags::empty());
    let mut spi = Spi::connect()?;
    spi.transaction(|spi| {
        spi.execute(
            "CREATE TABLE typed (i2 int2, i4 int4, i8 int8, r4 float4, r8 float8, b bool, t text, n text, by bytea)",
            &[],
        )?;
        spi.query(
            // The bytea as a literal: the host's SPI stores a text parameter into a bytea column as its text.
            "INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7, $8, X'0001FF')",
            &[&-7i16, &70000i32, &9_000_000_000i64, &1.5f32, &f64::INFINITY, &true, &"h\u{e9}llo", &None::<&str>],
        )?;
        Ok::<_, spi::SpiError>(())
    })?;
    let r = spi.execute("SELECT * FROM typed", &[])?;
    let row = r.row(0).expect("one row");
    bgw_sdk::log!(
        "typed_spi: {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        row.get::<i16>("i2"),
        row.get::<i32>(1),
        row.get::<i64>("i8"),
        row.get::<f32>("r4"),
        row.get::<f64>("r8"),
        row.get::<bool>("b"),
        row.get::<String>("t"),
        row.get::<Option<String>>("n"),
        row.get::<Vec<u8>>("by"),
    );
    bgw_sdk::log!(
        "typed_spi errors: {} | {} | {}",
        row.get::<String>("n").unwrap_err(),
        row.get::<i16>("i4").unwrap_err(),
        row.get::<i64>("missing").unwrap_err(),
    );
    // SPI speaks SQLite's dialect: the special floats go in as typed parameters.
    spi.execute("CREATE TABLE floats (nan float8, ninf float8, big float8, f bool)", &[])?;
    spi.query("INSERT INTO floats VALUES ($1, $2, $3, $4)", &[&f64::NAN, &f64::NEG_INFINITY, &1e100f64, &false])?;
    let r = spi.execute("SELECT * FROM floats", &[])?;
    let row = r.row(0).expect("one row");
    bgw_sdk::log!(
        "typed_spi floats: {:?} {:?} {:?} {:?}",
        row.get::<f64>("nan").map(f64::is_nan),
        row.get::<f64>("ninf"),
        row.get::<f64>("big"),
        row.get::<bool>("f"),
    );
    Ok(())
}

// ---------- typed arguments ----------

/// A typed argument larger than `bgw_extra`: the worker checks that it arrived intact.
#[derive(Serialize, Deserialize, Debug)]
struct JobArgs {
    id: i64,
    payload: String,
    checksum: u64,
}

impl JobArgs {
    fn new(id: i64, size: usize) -> JobArgs {
        let payload: String = (0..size).map(|i| char::from(b'a' + ((i as i64 + id) % 26) as u8)).collect();
        let checksum = Self::sum(&payload);
        JobArgs { id, payload, checksum }
    }
    fn sum(payload: &str) -> u64 {
        payload.bytes().enumerate().map(|(i, b)| (i as u64 + 1) * u64::from(b)).sum()
    }
}

/// Takes its typed argument as its parameter (the attribute reads it with `bgw_sdk::arg`).
#[bgw_sdk::worker]
fn typed_arg_worker(args: JobArgs) -> Result<(), String> {
    if JobArgs::sum(&args.payload) != args.checksum {
        return Err(format!("typed_arg_worker: job {} arrived corrupted", args.id));
    }
    bgw_sdk::log!("typed_arg_worker: job {} intact, payload {} bytes", args.id, args.payload.len());
    Ok(())
}

/// Registers `typed_arg_worker` named `name` with a job of `size` payload bytes; its handle.
#[bgw_sdk::sql_function]
fn demo_launch_with_arg(name: &str, id: i64, size: i64) -> Result<Option<String>, SqlError> {
    let handle = BackgroundWorkerBuilder::new(name)
        .library("sdk_demo")
        .function("typed_arg_worker")
        .restart(Restart::Never)
        .arg(&JobArgs::new(id, size.max(0) as usize))
        .register_dynamic()
        .map_err(|e| SqlError::new("54000", e.to_string()))?;
    Ok(handle.map(|h| h.to_string()))
}

/// Registers `typed_arg_worker` named `name` without an argument; its handle.
#[bgw_sdk::sql_function]
fn demo_launch_without_arg(name: &str) -> Result<Option<String>, SqlError> {
    let handle = BackgroundWorkerBuilder::new(name)
        .library("sdk_demo")
        .function("typed_arg_worker")
        .restart(Restart::Never)
        .register_dynamic()
        .map_err(|e| SqlError::internal(e.to_string()))?;
    Ok(handle.map(|h| h.to_string()))
}
