//! The SDK's attribute macros (`#[bgw_sdk::worker]`, `#[bgw_sdk::sql_function]`) in a real module
//! (`crates/sdk-demo`) loaded by the real host: entry points and SQL functions written with no `extern "C"`,
//! typed arguments and results, NULLs, errors with their SQLSTATEs, panics kept from the host.

use bgw_test_support::*;

const MODULE: Module = Module::package("sdk-demo");

fn run_worker(h: &Host, function: &str, arg: i64, name: &str) -> String {
    let handle = h.register("sdk_demo", function, arg, &format!(r#"{{"name":"{name}"}}"#));
    assert!(handle.contains(':'), "no handle: {handle:?}");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    h.wait_log(&format!("background worker \"{name}\" (PID"))
}

#[test]
fn worker_entry_points_made_by_the_attribute_run_and_keep_panics_from_the_host() {
    let h = Host::start(MODULE.setup());
    let log = run_worker(&h, "macro_worker", 42, "mw");
    assert!(log.contains("macro_worker: argument 42"), "{log}");
    let log = run_worker(&h, "macro_plain", 0, "mp");
    assert!(log.contains("macro_plain: ran"), "{log}");
    let log = run_worker(&h, "macro_fallible", 4, "even");
    assert!(log.contains("macro_fallible: 4 is even"), "{log}");
    let log = run_worker(&h, "macro_fallible", 3, "odd");
    assert!(log.contains("ERROR:  macro_fallible: 3 is odd"), "{log}");
    assert!(log.contains("background worker \"odd\" (PID") && log.contains("exited with exit code 1"), "{log}");
    let log = run_worker(&h, "macro_panicker", 0, "boom");
    assert!(log.contains("ERROR:  macro_panicker: boom"), "{log}");
    assert!(
        log.contains("Rust panic in background worker function \"macro_panicker\" at crates/sdk-demo/src/lib.rs:"),
        "{log}"
    );
    assert!(!log.contains("panicked at"), "Rust's default panic report leaked into the log:\n{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn sql_functions_made_by_the_attribute_convert_arguments_results_nulls_and_errors() {
    let h = Host::start(MODULE.setup().preload());
    assert_eq!(h.sql("SELECT demo_add(40, 2)"), "42");
    assert_eq!(h.sql("SELECT demo_greet('bgw')"), "hello, bgw");
    assert_eq!(h.sql("SELECT demo_len('h\u{e9}llo')"), "5");
    assert_eq!(h.sql("SELECT demo_len(NULL) IS NULL"), "t");
    // NULL into a non-Option argument: NULL, the function is not called (STRICT).
    assert_eq!(h.sql("SELECT demo_add(1, NULL) IS NULL"), "t");
    assert_eq!(h.sql("SELECT demo_half(5)"), "2.5");
    assert_eq!(h.sql("SELECT demo_is_positive(-1.5), demo_is_positive(3)"), "f|t");
    assert_eq!(h.sql("SELECT demo_div(7, 2)"), "3");
    let e = h.psql("SELECT demo_div(1, 0)").unwrap_err();
    assert!(e.contains("division by zero") && e.contains("22012"), "{e}");
    assert_eq!(h.sql("SELECT parse_int(' 17 ')"), "17");
    let e = h.psql("SELECT parse_int('x')").unwrap_err();
    assert!(e.contains("invalid digit found in string") && e.contains("P0001"), "{e}");
    let e = h.psql("SELECT demo_add('a', 1)").unwrap_err();
    assert!(e.contains("argument 1 (a) of function demo_add must be bigint, not text") && e.contains("42804"), "{e}");
    assert_eq!(h.sql("SELECT demo_small(300)"), "600");
    let e = h.psql("SELECT demo_small(100000)").unwrap_err();
    assert!(e.contains("smallint out of range") && e.contains("22003"), "{e}");
    let e = h.psql("SELECT demo_panic('oops')").unwrap_err();
    assert!(e.contains("demo_panic: oops") && e.contains("XX000"), "{e}");
    // The session and the host go on.
    assert_eq!(h.sql("SELECT demo_add(1, 1)"), "2");
    assert!(!h.log().contains("terminating any other active server processes"));
}
