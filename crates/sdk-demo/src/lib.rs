//! A module written with the SDK's attribute macros: worker entry points and SQL functions without any
//! `extern "C"`. Loaded into the real host by `crates/bgw/tests/sdk_macros.rs`.
//!
//! Runs in: the postmaster (`_PG_init` while preloading defines the SQL functions), backends (the SQL
//! functions), workers (the entry points).
#![deny(unsafe_code)]

use bgw_sdk::sql::SqlError;
use bgw_sdk::MainArg;

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
