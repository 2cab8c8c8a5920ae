//! Typed arguments larger than `bgw_extra` (the SDK's `BackgroundWorkerBuilder::arg`, the host's
//! `bgw_register_dynamic_with_arg` / `bgw_worker_arg` and its per-slot argument area) with the real host: a
//! 4 KB argument reaches the worker intact, an oversize one is refused with a clear error, slots reused many
//! times each give their worker its own argument (never an earlier registration's), and a static worker
//! registered in `_PG_init` gets its argument too. The C ABI itself (`tests/modules/c_args.c`): the host refuses
//! an oversize argument with 54000.

use bgw_test_support::*;

const MODULE: Module = Module::package("sdk-demo");

fn wait_stopped(h: &Host, handle: &str) {
    assert!(handle.contains(':'), "no handle: {handle:?}");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
}

#[test]
fn a_4_kb_argument_reaches_the_worker_and_an_oversize_one_is_refused() {
    let h = Host::start(MODULE.setup().preload());
    let handle = h.sql("SELECT demo_launch_with_arg('big arg', 1, 4096)");
    wait_stopped(&h, &handle);
    let log = h.wait_log("background worker \"big arg\" (PID");
    assert!(log.contains("typed_arg_worker: job 1 intact, payload 4096 bytes"), "{log}");
    // The static worker of _PG_init got its argument too.
    let log = h.wait_log("typed_arg_worker: job 99 intact, payload 100 bytes");
    assert!(!log.contains("arrived corrupted"), "{log}");

    let e = h.psql("SELECT demo_launch_with_arg('huge arg', 2, 10000)").unwrap_err();
    assert!(
        e.contains("54000")
            && e.contains("background worker argument is too large (10008 bytes encoded; at most 8192)"),
        "{e}"
    );
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'huge arg'"), "0");
}

#[test]
fn reused_slots_give_each_worker_its_own_argument_or_none() {
    let h = Host::start(MODULE.setup().preload().conf("max_worker_processes", "3"));
    for i in 0..24 {
        let name = format!("job {i}");
        let handle = h.sql(&format!("SELECT demo_launch_with_arg('{name}', {i}, {})", 1000 + 250 * i));
        wait_stopped(&h, &handle);
        let log = h.wait_log(&format!("background worker \"{name}\" (PID"));
        assert!(log.contains(&format!("typed_arg_worker: job {i} intact, payload {} bytes", 1000 + 250 * i)), "{log}");
    }
    // A slot that held arguments, reused by a registration without one: the worker finds none.
    let handle = h.sql("SELECT demo_launch_without_arg('no arg')");
    wait_stopped(&h, &handle);
    let log = h.wait_log("background worker \"no arg\" (PID");
    assert!(log.contains("ERROR:  background worker \"no arg\" was registered without an argument"), "{log}");
    assert!(!log.contains("arrived corrupted"), "{log}");
}

#[test]
fn the_c_abi_carries_arguments_and_refuses_oversize_ones() {
    let dir = module_tempdir();
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules");
    build_c_module(&tests.join("c_args.c"), dir.path(), "c_args");
    let h = Host::start(Setup::new(find_bgw()).library_path(dir.path()).conf("shared_preload_libraries", "'c_args'"));
    for (name, size) in [("c 8k", 8192), ("c empty", 0)] {
        let handle = h.sql(&format!("SELECT c_args_launch('{name}', {size})"));
        wait_stopped(&h, &handle);
        h.wait_log(&format!("background worker \"{name}\" (PID"));
    }
    let log = h.log();
    assert!(log.contains("c_args_worker: argument, 8192 bytes (expected 8192), 0 wrong"), "{log}");
    assert!(log.contains("c_args_worker: argument, 0 bytes (expected 0), 0 wrong"), "{log}");
    let e = h.psql("SELECT c_args_launch('c big', 8193)").unwrap_err();
    assert!(
        e.contains("54000") && e.contains("background worker argument is too large (8193 bytes; at most 8192)"),
        "{e}"
    );
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'c big'"), "0");
    // The session goes on.
    assert_eq!(h.sql("SELECT 1"), "1");
}
