//! Typed SPI values of the SDK (`row.get::<T>(column)`, `Spi::query` with typed parameters) against the real
//! host: a worker of `crates/sdk-demo` writes a row of every supported type and reads it back typed.

use bgw_test_support::*;

const MODULE: Module = Module::package("sdk-demo");

#[test]
fn a_worker_reads_typed_values_and_gets_typed_errors_naming_the_column() {
    let h = Host::start(MODULE.setup());
    let handle = h.register("sdk_demo", "typed_spi", 0, r#"{"name":"typed","flags":["shmem","database"]}"#);
    assert!(handle.contains(':'), "no handle: {handle:?}");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    let log = h.wait_log("background worker \"typed\" (PID");
    assert!(
        log.contains(
            "typed_spi: Ok(-7) Ok(70000) Ok(9000000000) Ok(1.5) Ok(inf) Ok(true) Ok(\"h\u{e9}llo\") Ok(None) Ok([0, 1, 255])"
        ),
        "{log}"
    );
    assert!(
        log.contains(
            "typed_spi errors: column \"n\" is NULL, read as text (use Option<text>) | column \"i4\": \"70000\" is not a valid smallint | no column \"missing\" in the result"
        ),
        "{log}"
    );
    assert!(log.contains("typed_spi floats: Ok(true) Ok(-inf) Ok(1e100) Ok(false)"), "{log}");
    assert!(log.contains("exited with exit code 0"), "{log}");
    // What the worker wrote is what a client reads.
    assert_eq!(
        h.sql("SELECT i2, i4, i8, r4, r8, b, t, n IS NULL, by FROM typed"),
        "-7|70000|9000000000|1.5|Infinity|t|h\u{e9}llo|t|\\x0001ff"
    );
}
