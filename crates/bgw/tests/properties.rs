//! Bad input: property tests over every parser and check that takes input from outside the host, and a check
//! over the wire that a real backend answers garbled SQL, function arguments and protocol messages with an
//! ErrorResponse and keeps serving.
//!
//! The properties use the library's public API (the backend's own SQL lexer, parameter decoding and SCRAM parsing
//! are private to it: their properties are in `crates/bgw/src/backend/proptests.rs`). Each property says more
//! than "it does not panic": what an accepted input must look like, and which errors a refused one may give.
//!
//! The number of cases comes from `PROPTEST_CASES` (default 2000, so the normal suite stays fast); the issue's
//! million-case run is `PROPTEST_CASES=1000000 cargo test --release -p bgw --test properties`. The wire check's
//! case count comes from `BGW_WIRE_CASES` (default 300). Failing cases are printed, not persisted in the tree.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use bgw::backend::{parse_registration, Handle, Severity, SqlError, StartPhase};
use bgw::bgworker::declared;
use bgw::bgworker::types::{
    BackgroundWorker, Restart, StartTime, WorkerSpec, BGWORKER_BACKEND_DATABASE_CONNECTION, BGWORKER_CLASS_PARALLEL,
    BGWORKER_SHMEM_ACCESS, BGW_EXTRALEN, BGW_MAXLEN, BGW_MAX_RESTART_INTERVAL, MAXPGPATH,
};
use bgw::config::{host_parameters, parse_config, parse_override, ConfigError, GucKind, GucValue, Settings};
use bgw::postmaster::children::Children;
use bgw::postmaster::workers::Workers;
use bgw::shmem::Phase;
use bgw::shmem::{Segment, WorkerState};
use bgw_test_support::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The case count: `PROPTEST_CASES`, or a few thousand.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// The postmaster-side code logs with `write(2)`: keep a million refused registrations out of the test output.
fn quiet() {
    bgw::elog::set_min_level(bgw::elog::Level::Panic);
}

// ----- generators -----

/// Text that looks like SQL often enough to get past the first keyword: keywords of every statement kind the
/// host looks at, names, literals of each quoting style, comments, parameters and stray bytes.
fn sql_soup() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "SELECT",
        "select",
        "INSERT",
        "INTO",
        "VALUES",
        "UPDATE",
        "DELETE",
        "FROM",
        "WHERE",
        "WITH",
        "RECURSIVE",
        "CREATE",
        "ALTER",
        "DROP",
        "DATABASE",
        "ROLE",
        "USER",
        "TABLE",
        "VIEW",
        "INDEX",
        "TEMP",
        "IF",
        "EXISTS",
        "NOT",
        "ALLOW_CONNECTIONS",
        "LOGIN",
        "NOLOGIN",
        "SUPERUSER",
        "PASSWORD",
        "NULL",
        "true",
        "false",
        "LISTEN",
        "UNLISTEN",
        "NOTIFY",
        "BEGIN",
        "START",
        "TRANSACTION",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "TO",
        "SAVEPOINT",
        "RELEASE",
        "PREPARE",
        "ATTACH",
        "VACUUM",
        "PRAGMA",
        "EXPLAIN",
        "AS",
        "AND",
        "OR",
        "WORK",
        "DEFERRED",
        "IMMEDIATE",
        "EXCLUSIVE",
        "ON",
        "OFF",
        "*",
        "(",
        ")",
        "((",
        "))",
        ",",
        ";",
        ";;",
        ".",
        "=",
        "'",
        "''",
        "'x'",
        "E'\\n'",
        "\"",
        "\"q\"",
        "$$",
        "$$body$$",
        "$tag$",
        "$1",
        "$0",
        "$99999999999",
        "?",
        "?3",
        ":name",
        "@v",
        "--",
        "-- c\n",
        "/*",
        "*/",
        "/* c */",
        "\n",
        "\t",
        "\r\n",
        " ",
        "0",
        "1",
        "-1",
        "1e309",
        "0x7fffffffffffffff",
        "9223372036854775808",
        "1.5",
        "t",
        "x",
        "schema1",
        "pg_stat_activity",
        "bgw_workers",
        "sqlite_master",
        "é",
        "\u{0}",
        "\u{feff}",
        "\u{1F600}",
        "\\",
        "[",
        "]",
        "{",
        "}",
        "|",
        "||",
        "::",
        "%",
        "bgw_status(",
        "bgw_pid(",
        "bgw_type_by_pid(",
        "current_setting(",
        "pg_notify(",
        "'1:1'",
        "'0:0'",
        "'-1:5'",
        "'99999:1'",
        "'nonsense'",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(" ")),
        2 => prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.concat()),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Text over the characters the configuration syntax cares about, and arbitrary text.
fn config_text() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "port",
        "max_connections",
        "max_worker_processes",
        "log_min_messages",
        "worker_spi.naptime",
        "a.b.c",
        "shared_preload_libraries",
        "dynamic_library_path",
        "restart_after_crash",
        "listen_addresses",
        "x",
        "_",
        "$",
        ".",
        "=",
        " = ",
        "#",
        "# c",
        "'",
        "''",
        "'\\",
        "\\",
        "\\n",
        "\\0",
        "\\777",
        "\n",
        "\r\n",
        "\t",
        " ",
        "0",
        "1",
        "-1",
        "+5",
        "0x1F",
        "0x",
        "077",
        "1e3",
        "1.5e-2",
        "10s",
        "64MB",
        "1TB",
        "3min",
        "2h",
        "1d",
        "9999999999999999999",
        "-9223372036854775808",
        "on",
        "off",
        "true",
        "yes",
        "debug1",
        "log",
        "'a b'",
        "/tmp",
        "en_US.UTF-8",
        "é",
        "\u{0}",
        "\u{7f}",
        ";",
        "\"",
        "$libdir",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES), 0..32).prop_map(|t| t.concat()),
        1 => any::<String>(),
    ]
}

/// A byte array of `N` bytes: usually arbitrary, sometimes a short NUL-terminated string, sometimes printable
/// and unterminated.
fn field<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), N).prop_map(|v| {
            let mut a = [0u8; N];
            a.copy_from_slice(&v);
            a
        }),
        "[ -~]{0,20}".prop_map(|s| {
            let mut a = [0u8; N];
            a[..s.len()].copy_from_slice(s.as_bytes());
            a
        }),
        (any::<u8>(), 1u8..=255).prop_map(|(len, b)| {
            let mut a = [0u8; N];
            let n = (len as usize * N / 255).min(N);
            a[..n].fill(b);
            a
        }),
    ]
}

/// Any `i32`, with the values the checks care about made likely.
fn interesting_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        prop::sample::select(vec![
            -2,
            -1,
            0,
            1,
            2,
            3,
            BGWORKER_SHMEM_ACCESS,
            BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION,
            BGWORKER_SHMEM_ACCESS | BGWORKER_CLASS_PARALLEL,
            BGWORKER_BACKEND_DATABASE_CONNECTION,
            BGWORKER_CLASS_PARALLEL,
            0x13,
            0x100,
            BGW_MAX_RESTART_INTERVAL,
            BGW_MAX_RESTART_INTERVAL + 1,
            i32::MAX,
            i32::MIN,
        ]),
    ]
}

/// A registration as any process could leave it in a slot: every field arbitrary.
fn raw_worker() -> impl Strategy<Value = BackgroundWorker> {
    (
        (field::<BGW_MAXLEN>(), field::<BGW_MAXLEN>(), interesting_i32(), interesting_i32(), interesting_i32()),
        (field::<MAXPGPATH>(), field::<BGW_MAXLEN>(), any::<usize>(), field::<BGW_EXTRALEN>(), interesting_i32()),
    )
        .prop_map(|((name, ty, flags, start, restart), (library, function, main_arg, extra, notify))| {
            BackgroundWorker {
                bgw_name: name,
                bgw_type: ty,
                bgw_flags: flags,
                bgw_start_time: start,
                bgw_restart_time: restart,
                bgw_library_name: library,
                bgw_function_name: function,
                bgw_main_arg: main_arg,
                bgw_extra: extra,
                bgw_notify_pid: notify,
            }
        })
}

/// A slot's registration of arbitrary bytes: the struct and the host's options.
fn raw_slot() -> impl Strategy<Value = bgw::bgworker::types::SlotRegistration> {
    (raw_worker(), prop::array::uniform8(any::<u32>()), prop::array::uniform4(any::<u32>())).prop_map(
        |(worker, o, reserved)| bgw::bgworker::types::SlotRegistration {
            worker,
            options: bgw::bgworker::options::RawRunOptions {
                backoff_initial_ms: o[0],
                backoff_max_ms: o[1],
                backoff_factor_milli: o[2],
                backoff_jitter_milli: o[3],
                give_up_restarts: o[4],
                give_up_window_ms: o[5],
                start_timeout_ms: o[6],
                bound_pid: o[7] as i32,
                reserved,
            },
        },
    )
}

/// A registration as a module or the SQL functions could ask for it, strings of any length.
/// A string that usually fits a field of `max` bytes and sometimes does not.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[ -~]{0,24}",
        2 => ".{0,12}",
        1 => prop::collection::vec(any::<char>(), max / 4..max + 8).prop_map(|c| c.into_iter().collect()),
        1 => (max - 2..max + 2).prop_map(|n| "x".repeat(n)),
    ]
}

/// A registration as a module or the SQL functions could ask for it: usually one that fits the C struct.
fn spec() -> impl Strategy<Value = WorkerSpec> {
    (
        (text(BGW_MAXLEN), text(BGW_MAXLEN), interesting_i32(), 0i32..5, interesting_i32()),
        (
            text(MAXPGPATH),
            text(BGW_MAXLEN),
            any::<usize>(),
            prop::collection::vec(any::<u8>(), 0..=BGW_EXTRALEN + 4),
            any::<i32>(),
        ),
    )
        .prop_map(|((name, ty, flags, start, restart), (library, function, main_arg, extra, notify_pid))| {
            WorkerSpec {
                name,
                worker_type: ty,
                flags,
                start_time: StartTime::from_raw(start).unwrap_or(StartTime::RecoveryFinished),
                restart: Restart::from_raw(restart),
                library,
                function,
                main_arg,
                extra,
                notify_pid,
                options: Default::default(),
            }
        })
}

// ----- the configuration parser -----

/// Quotes `value` for the configuration file the way a careful writer would.
fn conf_quote(value: &str) -> String {
    let mut s = String::from("'");
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\'' => s.push_str("''"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

#[test]
fn configuration_parser_is_total_and_accepts_only_wellformed_settings() {
    let defs = host_parameters(Path::new("/data"));
    let mut base = Settings::try_new(defs.clone()).unwrap();
    base.load_initial(&[], &[]).unwrap();
    let mut runner = TestRunner::new(config());
    runner
        .run(&(config_text(), any::<prop::sample::Index>()), |(text, pick)| {
            let file = Path::new("/fuzz/bgworker.conf");
            let lines = text.matches('\n').count() as u32 + 1;
            match parse_config(&text, file) {
                Ok(items) => {
                    for item in &items {
                        prop_assert!(!item.name.is_empty() && item.name == item.name.to_ascii_lowercase());
                        prop_assert!((1..=lines).contains(&item.line), "line {} of {lines}", item.line);
                    }
                    // The registry takes any parsed file: an error or a new state, never a panic, and a failed
                    // start changes nothing.
                    let mut s = base.clone();
                    if s.load_initial(&items, &[]).is_err() {
                        prop_assert_eq!(s.get("port"), base.get("port"));
                    }
                    let mut r = base.clone();
                    let _ = r.reload(Ok(items));
                    for name in r.names() {
                        let def = r.def(name).unwrap();
                        if let (Some(GucValue::Int(v)), GucKind::Int { min, max, .. }) = (r.get(name), &def.kind) {
                            prop_assert!(min <= v && v <= max, "{name} = {v}");
                        }
                    }
                }
                Err(ConfigError::Syntax { line, file: f, .. }) => {
                    prop_assert!((1..=lines).contains(&line));
                    prop_assert_eq!(f.as_path(), file);
                }
                Err(other) => prop_assert!(false, "a parse error that is not a syntax error: {other:?}"),
            }
            // Every parameter's value parser, and -c overrides, take the same text.
            let def = &defs[pick.index(defs.len())];
            if let Ok(v) = def.parse_value(&text) {
                if let (GucValue::Int(i), GucKind::Int { min, max, .. }) = (&v, &def.kind) {
                    prop_assert!(min <= i && i <= max);
                }
                let _ = v.show(&def.kind);
            }
            if let Ok((name, _)) = parse_override(&text) {
                prop_assert!(!name.contains('-'));
                let _ = base.clone().load_initial(&[], &[(name, text.clone())]);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn configuration_values_round_trip_through_quoting() {
    let mut runner = TestRunner::new(config());
    let name = "[A-Za-z_][A-Za-z0-9_$]{0,12}(\\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,2}";
    runner
        .run(&prop::collection::vec((name, any::<String>(), any::<bool>()), 0..6), |settings| {
            let mut text = String::new();
            for (name, value, equals) in &settings {
                let sep = if *equals { " = " } else { " " };
                text.push_str(&format!("{name}{sep}{} # comment\n", conf_quote(value)));
            }
            let items = parse_config(&text, Path::new("/x.conf")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(items.len(), settings.len());
            for (i, (item, (name, value, _))) in items.iter().zip(&settings).enumerate() {
                prop_assert_eq!(&item.name, &name.to_ascii_lowercase());
                prop_assert_eq!(&item.value, value);
                prop_assert_eq!(item.line as usize, i + 1);
            }
            Ok(())
        })
        .unwrap();
}

// ----- the registration checks -----

#[test]
fn registration_checks_accept_only_what_the_spec_allows() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&spec(), |mut spec| {
            let before = spec.clone();
            match spec.sanity_check() {
                Ok(()) => {
                    let known = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION | BGWORKER_CLASS_PARALLEL;
                    prop_assert_eq!(spec.flags & !known, 0);
                    if spec.has_flag(BGWORKER_BACKEND_DATABASE_CONNECTION) {
                        prop_assert!(spec.has_flag(BGWORKER_SHMEM_ACCESS));
                        prop_assert_ne!(spec.start_time, StartTime::PostmasterStart);
                    }
                    if let Restart::After { seconds } = spec.restart {
                        prop_assert!((0..=BGW_MAX_RESTART_INTERVAL).contains(&seconds));
                        prop_assert!(!spec.has_flag(BGWORKER_CLASS_PARALLEL));
                    }
                    prop_assert!(!spec.worker_type.is_empty() || spec.name.is_empty());
                }
                Err(e) => {
                    prop_assert_eq!(e.sqlstate, "22023");
                    prop_assert!(e.message.starts_with("background worker \""), "{}", e.message);
                    prop_assert_eq!(&spec, &before, "a refused registration was changed");
                }
            }
            // The C struct: refused exactly when a string does not fit (or holds a NUL), else a faithful copy.
            let fits = |s: &str, n: usize| s.len() < n && !s.as_bytes().contains(&0);
            let should_fit = fits(&spec.name, BGW_MAXLEN)
                && fits(&spec.worker_type, BGW_MAXLEN)
                && fits(&spec.library, MAXPGPATH)
                && fits(&spec.function, BGW_MAXLEN)
                && spec.extra.len() <= BGW_EXTRALEN;
            match spec.to_raw() {
                Ok(raw) => {
                    prop_assert!(should_fit);
                    let back = WorkerSpec::from_c(&raw).map_err(|e| TestCaseError::fail(e.message))?;
                    prop_assert_eq!(&back.name, &spec.name);
                    prop_assert_eq!(&back.library, &spec.library);
                    prop_assert_eq!(&back.function, &spec.function);
                    prop_assert_eq!(&back.extra[..spec.extra.len()], &spec.extra[..]);
                    prop_assert_eq!(back.restart, spec.restart);
                    prop_assert_eq!(back.flags, spec.flags);
                }
                Err(e) => {
                    prop_assert!(!should_fit, "refused a registration that fits: {}", e.message);
                    prop_assert_eq!(e.sqlstate, "22023");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_bytes_in_a_registration_are_copied_safely() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&raw_worker(), |raw| {
            // The C entry point's strict reading: an error for anything malformed, never a panic.
            if let Ok(spec) = WorkerSpec::from_c(&raw) {
                prop_assert!(spec.name.len() < BGW_MAXLEN && spec.library.len() < MAXPGPATH);
            }
            // The postmaster's paranoid copy: bounded, printable ASCII, and what it keeps is checked again.
            let mut spec = WorkerSpec::sanitized_from(&raw);
            for (s, n) in [
                (&spec.name, BGW_MAXLEN),
                (&spec.worker_type, BGW_MAXLEN),
                (&spec.library, MAXPGPATH),
                (&spec.function, BGW_MAXLEN),
            ] {
                prop_assert!(s.len() <= n && s.bytes().all(|b| (32..127).contains(&b)), "{s:?}");
            }
            prop_assert_eq!(spec.extra.len(), BGW_EXTRALEN);
            if spec.sanity_check().is_ok() {
                let _ = spec.to_raw();
            }
            let _ = format!("{raw:?} {}", spec.flags_text());
            Ok(())
        })
        .unwrap();
}

// ----- the postmaster's copy out of a slot -----

#[test]
fn the_postmaster_adopts_or_refuses_any_slot_contents_and_stays_consistent() {
    quiet();
    const SLOTS: usize = 4;
    let segment = Segment::create(SLOTS, 8, 0, std::process::id() as i32, 0).unwrap();
    let shm = segment.shmem();
    let mut runner = TestRunner::new(config());
    runner
        .run(
            &prop::collection::vec(
                // A raw struct from a spec that does not fit is one of arbitrary bytes too (no filtering: a
                // million cases would exceed proptest's reject limit).
                prop_oneof![raw_slot(), (spec(), raw_slot()).prop_map(|(spec, junk)| spec.to_slot().unwrap_or(junk))],
                1..=SLOTS,
            ),
            |payloads| {
                let mut workers = Workers::new(SLOTS);
                workers.install_in_segment(shm);
                let mut children = Children::new(8);
                let slots = shm.slots();
                for p in &payloads {
                    let registered =
                        matches!(slots.register(p, 64), bgw::bgworker::slots::RegisterOutcome::Registered { .. });
                    prop_assert!(registered, "a free slot refused a registration");
                }
                workers.process_state_change(shm, &mut children, Phase::Run);
                let mut adopted = Vec::new();
                for (i, p) in payloads.iter().enumerate() {
                    let slot = i as u32;
                    let mut expected = WorkerSpec::sanitized_from_slot(p);
                    // A worker bound to a registrant that is not one of the postmaster's children (there are none
                    // here) is not started.
                    let acceptable =
                        expected.sanity_check().is_ok() && expected.to_raw().is_ok() && expected.options.bound_pid == 0;
                    let state =
                        WorkerState::from_u32(shm.slot_status()[i].state.load(std::sync::atomic::Ordering::Relaxed));
                    match slots.read_slot(slot) {
                        Some(_) => {
                            prop_assert!(acceptable, "adopted a registration the checks refuse");
                            prop_assert!(
                                matches!(state, WorkerState::Pending | WorkerState::WaitingPhase),
                                "{state:?}"
                            );
                            // What a worker will be started with is the sanitized copy, never the slot's bytes.
                            let raw = workers.raw(slot);
                            let started_with = WorkerSpec::from_c(&raw).map_err(|e| TestCaseError::fail(e.message))?;
                            prop_assert_eq!(started_with.name, expected.name.clone());
                            prop_assert_eq!(raw.bgw_notify_pid, 0, "a notify pid that is not a child was kept");
                            adopted.push(slot);
                        }
                        None => prop_assert!(!acceptable, "refused a registration the checks accept"),
                    }
                }
                // Only adopted workers are launched, each once.
                let mut launched = Vec::new();
                while let Some(slot) = workers.next_launch(Phase::Run) {
                    launched.push(slot);
                }
                launched.sort();
                prop_assert!(launched.iter().all(|s| adopted.contains(s)));
                // Termination frees every adopted slot again, whatever it held.
                for &slot in &adopted {
                    let generation = slots.read_slot(slot).map(|c| c.generation).unwrap_or(0);
                    prop_assert!(slots.request_terminate(slot, generation, None));
                }
                workers.process_state_change(shm, &mut children, Phase::Run);
                for i in 0..SLOTS as u32 {
                    prop_assert!(slots.read_slot(i).is_none(), "slot {i} still in use");
                }
                Ok(())
            },
        )
        .unwrap();
}

// ----- the SQL functions' arguments -----

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "shmem",
            "database",
            "parallel",
            "never",
            "postmaster_start",
            "consistent_state",
            "recovery_finished",
            "",
        ])
        .prop_map(Value::from),
        ".{0,140}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn options_text() -> impl Strategy<Value = String> {
    let keys =
        prop::sample::select(vec!["name", "type", "restart", "flags", "start", "extra", "notify", "Name", "", "bogus"]);
    prop_oneof![
        3 => prop::collection::btree_map(keys, json_value(), 0..7)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
        1 => "[{}\\[\\]\":,0-9a-z\\\\ -]{0,40}",
    ]
}

#[test]
fn registration_options_give_a_request_or_a_22023_22p02_error() {
    let mut runner = TestRunner::new(config());
    let args = (
        prop::option::weighted(0.95, prop_oneof![Just("bgw".to_string()), ".{0,20}".prop_map(String::from)]),
        prop::option::weighted(0.95, prop_oneof![Just("sleeper".to_string()), ".{0,20}".prop_map(String::from)]),
        prop::option::of(any::<i64>()),
        prop::option::weighted(0.9, options_text()),
    );
    runner
        .run(&args, |(library, function, main_arg, options)| {
            match parse_registration(library.as_deref(), function.as_deref(), main_arg, options.as_deref()) {
                Ok(req) => {
                    prop_assert!(req.extra.len() <= 128);
                    prop_assert!(!req.library.trim().is_empty() && !req.function.trim().is_empty());
                    prop_assert_eq!(req.main_arg, main_arg.unwrap_or(0));
                    if let Some(seconds) = req.restart_seconds {
                        prop_assert!(seconds >= 0);
                    }
                    if req.flags.database || req.flags.parallel {
                        let v: serde_json::Value = serde_json::from_str(options.as_deref().unwrap()).unwrap();
                        prop_assert!(v.get("flags").is_some());
                    }
                    if req.start != StartPhase::RecoveryFinished {
                        prop_assert!(options.as_deref().unwrap().contains("\"start\""));
                    }
                }
                Err(e) => {
                    prop_assert!(e.code == "22023" || e.code == "22P02", "{}: {}", e.code, e.message);
                    prop_assert_eq!(e.severity, Severity::Error);
                    prop_assert!(e.message.len() < 400, "an error message that echoes unbounded input");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn worker_handles_round_trip_and_anything_else_is_22p02() {
    let mut runner = TestRunner::new(config());
    let text = prop_oneof![
        (any::<u32>(), any::<u64>()).prop_map(|(s, g)| format!("{s}:{g}")),
        "[-+ 0-9:a-z]{0,24}",
        any::<String>(),
    ];
    runner
        .run(&text, |text| {
            match text.parse::<Handle>().map_err(SqlError::from) {
                Ok(handle) => prop_assert_eq!(handle.to_string().parse::<Handle>().ok(), Some(handle)),
                Err(e) => {
                    prop_assert_eq!(e.code, "22P02");
                    prop_assert!(e.message.starts_with("invalid input syntax for type bgw_handle"));
                }
            }
            Ok(())
        })
        .unwrap();
    runner
        .run(&(any::<u32>(), any::<u64>()), |(slot, generation)| {
            let handle = Handle { slot, generation };
            prop_assert_eq!(handle.to_string().parse::<Handle>().ok(), Some(handle));
            Ok(())
        })
        .unwrap();
}

// ----- the declared-workers file -----

fn declared_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        ".{0,130}".prop_map(|s| serde_json::Value::from(s).to_string()),
        Just("\"never\"".to_string()),
        Just("[\"shmem\", \"database\"]".to_string()),
        Just("[\"parallel\"]".to_string()),
        Just("[1, 2]".to_string()),
        Just("\"postmaster_start\"".to_string()),
        Just("true".to_string()),
        Just("1.5".to_string()),
        Just("{ a = 1 }".to_string()),
    ];
    let key = prop::sample::select(vec![
        "name", "library", "function", "main_arg", "type", "flags", "start", "restart", "extra", "bogus",
    ]);
    // A name that usually fits, sometimes does not (the C struct holds 95 bytes).
    let name = prop_oneof![
        4 => "[a-z ]{1,12}".prop_map(|s| format!("\"{s}\"")),
        1 => (90usize..100).prop_map(|n| format!("\"{}\"", "n".repeat(n))),
    ];
    // Usually a table with its required fields, and a few others.
    let table = (prop::option::weighted(0.9, name), any::<bool>(), prop::collection::vec((key, value), 0..4)).prop_map(
        |(name, function, fields)| {
            let mut t = String::from("[[worker]]\n");
            if let Some(name) = name {
                t.push_str(&format!("name = {name}\n"));
            }
            if function {
                t.push_str("function = \"sleeper\"\n");
            }
            for (k, v) in fields {
                if (k != "name" || !t.contains("name =")) && (k != "function" || !function) {
                    t.push_str(&format!("{k} = {v}\n"));
                }
            }
            t
        },
    );
    prop_oneof![
        3 => prop::collection::vec(table, 0..6).prop_map(|t| t.concat()),
        1 => any::<String>(),
        1 => "[\\[\\]=\"a-z0-9 \n.{}#']{0,60}",
    ]
}

#[test]
fn the_declared_workers_file_gives_specs_or_a_clear_error() {
    quiet();
    let mut runner = TestRunner::new(config());
    runner
        .run(&declared_text(), |text| {
            match declared::parse(&text, "/data/workers.toml") {
                Ok(specs) => {
                    // The postmaster registers them statically (checks, then slots): whatever the file says, every
                    // worker is registered, refused, or dropped for lack of slots, and at most 2 take a slot.
                    let mut workers = Workers::new(2);
                    let mut fitting = 0usize;
                    for spec in &specs {
                        prop_assert_ne!(spec.restart, Restart::After { seconds: i32::MIN });
                        let mut checked = spec.clone();
                        if checked.sanity_check().is_ok() && checked.notify_pid == 0 && checked.to_raw().is_ok() {
                            fitting += 1;
                        }
                        workers.register_static(spec.clone());
                    }
                    prop_assert_eq!(workers.dropped_names().len(), fitting.saturating_sub(2));
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(
                        message.starts_with("invalid worker declaration in file \"/data/workers.toml\": "),
                        "{message}"
                    );
                    prop_assert!(!message.contains('\n'), "a multi-line error: {message}");
                }
            }
            Ok(())
        })
        .unwrap();
}

// ----- the SQL the host reads itself (catalog commands, SPI's classifier) -----

#[test]
fn catalog_command_parsing_and_spi_classification_are_total() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&sql_soup(), |sql| {
            let _ = bgw::spi::exec::classify(&sql);
            if let Some(n) = bgw::catalog::ddl::first_catalog_statement(&sql) {
                prop_assert!(n <= sql.len() && sql.is_char_boundary(n), "offset {n} in {sql:?}");
                prop_assert!(bgw::catalog::ddl::is_catalog_command(&sql));
            }
            if bgw::catalog::ddl::is_catalog_command(&sql) {
                if let Ok(cmd) = bgw::catalog::ddl::parse(&sql) {
                    prop_assert!(!cmd.tag().is_empty());
                }
            }
            let _ = bgw::catalog::ddl::parse(&sql);
            Ok(())
        })
        .unwrap();
}

// ----- over the wire: a real host -----

/// The number of wire cases: `BGW_WIRE_CASES`, or a few hundred.
fn wire_cases() -> usize {
    std::env::var("BGW_WIRE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

fn connect(h: &Host) -> postgres::Client {
    h.client_config(&os_user(), "postgres")
        .connect_timeout(DEADLINE)
        .connect(postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect: {e}\nlog:\n{}", h.log()))
}

/// Garbled SQL and SQL function arguments that cannot harm the host itself (no worker that crashes, no
/// termination of sessions, no catalog changes to the connecting role).
fn wire_sql() -> impl Strategy<Value = String> {
    let arg = prop_oneof![
        Just("NULL".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        Just("1e400".to_string()),
        Just("'bgw'".to_string()),
        Just("'noop'".to_string()),
        Just("'no_such_function'".to_string()),
        Just("'/no/such/lib.so'".to_string()),
        Just("'{}'".to_string()),
        Just("'{\"name\": 5}'".to_string()),
        Just("'{\"restart\": -1}'".to_string()),
        Just("'{\"flags\": [\"database\"], \"start\": \"postmaster_start\"}'".to_string()),
        Just("'{\"extra\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}'".to_string()),
        Just("'[1,2'".to_string()),
        Just("'-1:5'".to_string()),
        Just("'99999:1'".to_string()),
        Just("'0:0'".to_string()),
        Just("'3:18446744073709551615'".to_string()),
        Just("'4294967296:1'".to_string()),
        Just("'1:18446744073709551616'".to_string()),
        Just("X'00ff'".to_string()),
        Just("1.5".to_string()),
        "[ -&(-~]{0,12}".prop_map(|s| format!("'{s}'")),
    ];
    let function = prop::sample::select(vec![
        "bgw_register",
        "bgw_launch",
        "bgw_status",
        "bgw_pid",
        "bgw_wait_for_startup",
        "bgw_type_by_pid",
        "current_setting",
        "pg_notify",
        "pg_postmaster_start_time",
        "pg_backend_pid",
        "length",
    ]);
    let call =
        (function, prop::collection::vec(arg, 0..6)).prop_map(|(f, args)| format!("SELECT {f}({})", args.join(", ")));
    // (A NUL cannot be sent as query text: the client refuses it; the raw protocol test sends such bytes.)
    prop_oneof![
        2 => call,
        2 => sql_soup().prop_filter("harmless", |s| {
            let u = s.to_ascii_uppercase();
            !u.contains("ROLE") && !u.contains("USER") && !u.contains("DATABASE")
        }),
    ]
    .prop_map(|s| s.replace('\0', ""))
}

#[test]
fn a_real_backend_answers_bad_sql_and_arguments_with_errors_and_keeps_serving() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "4"));
    // A case that loses the connection must not doom the next ones (shrinking reruns cases): each case starts
    // on a fresh connection if the last one failed.
    let client: std::cell::RefCell<Option<postgres::Client>> = std::cell::RefCell::new(None);
    let mut runner = TestRunner::new(ProptestConfig { cases: wire_cases() as u32, ..config() });
    let errors = std::cell::Cell::new(0usize);
    let cases = std::cell::Cell::new(0usize);
    runner
        .run(&wire_sql(), |sql| {
            let mut slot = client.borrow_mut();
            let mut c = slot.take().unwrap_or_else(|| connect(&h));
            cases.set(cases.get() + 1);
            if let Err(e) = c.simple_query(&sql) {
                // An ErrorResponse, not a lost connection; and the session still answers.
                let db = e
                    .as_db_error()
                    .ok_or_else(|| TestCaseError::fail(format!("{sql:?}: not an ErrorResponse: {e}")))?;
                prop_assert!(db.code().code().len() == 5, "{sql:?}: {db:?}");
                prop_assert_ne!(db.severity(), "FATAL", "{}", sql);
                errors.set(errors.get() + 1);
            }
            // Leave no transaction block open for the next case.
            let _ = c.batch_execute("ROLLBACK");
            let one = c.query_one("SELECT 1", &[]).map_err(|e| TestCaseError::fail(format!("after {sql:?}: {e}")))?;
            prop_assert_eq!(one.get::<_, i32>(0), 1);
            *slot = Some(c);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", h.log()));
    let (errors, cases) = (errors.get(), cases.get());
    eprintln!("{cases} statements sent, {errors} answered with an ERROR");
    assert!(errors > cases / 4, "the generator should mostly produce bad input ({errors} errors in {cases} cases)");
    let mut client = client.into_inner().unwrap_or_else(|| connect(&h));
    // The extended protocol: the same text prepared, and bound with garbled parameters.
    for sql in ["SELECT bgw_status($1)", "SELECT bgw_register($1, $2)", "SELECT $1::int + 1"] {
        if let Ok(stmt) = client.prepare(sql) {
            let n = stmt.params().len();
            let garbage: Vec<String> = vec!["not a handle \u{1}".to_string(); n];
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                garbage.iter().map(|s| s as &(dyn postgres::types::ToSql + Sync)).collect();
            let _ = client.query(&stmt, &params);
        }
        assert_eq!(client.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    }
    assert!(bgw_test_support::alive(h.pid()), "the postmaster died:\n{}", h.log());
    assert!(!h.log().contains("PANIC"), "{}", h.log());
}

// ----- over the wire: raw protocol messages -----

/// A raw protocol connection that has passed authentication and is ready for queries.
struct Raw {
    stream: UnixStream,
}

impl Raw {
    fn connect(h: &Host) -> Raw {
        let path = h.data().join(format!(".s.PGSQL.{}", h.port));
        let stream = UnixStream::connect(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut raw = Raw { stream };
        let user = os_user();
        raw.stream.write_all(&wire::startup_message(&[("user", &user), ("database", "postgres")])).unwrap();
        let msgs = raw.until_ready().expect("the startup completes");
        assert!(msgs.iter().any(|(t, _)| *t == b'R'), "{msgs:?}");
        raw
    }

    /// Reads one message: (type, body); None when the server closed the connection.
    fn read(&mut self) -> Option<(u8, Vec<u8>)> {
        wire::read_message(&mut self.stream)
    }

    /// Reads until ReadyForQuery; None if the connection ended first.
    fn until_ready(&mut self) -> Option<Vec<(u8, Vec<u8>)>> {
        let mut msgs = Vec::new();
        loop {
            let m = self.read()?;
            let done = m.0 == b'Z';
            msgs.push(m);
            if done {
                return Some(msgs);
            }
        }
    }

    /// Reads every message until the connection ends or ReadyForQuery.
    fn until_ready_or_closed(&mut self) -> (Vec<(u8, Vec<u8>)>, bool) {
        let mut msgs = Vec::new();
        while let Some(m) = self.read() {
            let done = m.0 == b'Z';
            msgs.push(m);
            if done {
                return (msgs, false);
            }
        }
        (msgs, true)
    }

    fn send(&mut self, kind: u8, body: &[u8]) {
        let _ = self.stream.write_all(&wire::message(kind, body));
    }

    fn select_one(&mut self) -> bool {
        self.send(b'Q', b"SELECT 1\0");
        match self.until_ready() {
            Some(msgs) => msgs.iter().any(|(t, b)| *t == b'D' && b.ends_with(b"1")),
            None => false,
        }
    }
}

/// The severity field of an ErrorResponse body.
fn severity(body: &[u8]) -> String {
    body.split(|&b| b == 0)
        .find(|f| f.first() == Some(&b'S'))
        .map(|f| String::from_utf8_lossy(&f[1..]).into_owned())
        .unwrap_or_default()
}

/// Well-framed messages with garbled contents: each is answered with an ErrorResponse, and after Sync the
/// session goes on.
fn framed_message() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    let cstr = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    let bytes = prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        // Parse of bad SQL (or non-UTF-8 bytes), with arbitrary parameter type oids.
        (sql_soup(), prop::collection::vec(any::<u32>(), 0..3), bytes.clone()).prop_map(move |(sql, oids, junk)| {
            let mut b = cstr("");
            if junk.len() % 3 == 0 {
                b.extend_from_slice(&junk);
                b.push(0);
            } else {
                b.extend_from_slice(&cstr(&format!("{sql} +")));
            }
            b.extend_from_slice(&(oids.len() as u16).to_be_bytes());
            for o in oids {
                b.extend_from_slice(&o.to_be_bytes());
            }
            vec![(b'P', b), (b'S', vec![])]
        }),
        // Bind with wrong counts, formats and binary values to a statement taking an int8, a float8 and a bool.
        (any::<u16>(), prop::collection::vec(bytes.clone(), 0..4), any::<bool>()).prop_map(move |(fmt, vals, lie)| {
            let mut parse = cstr("");
            parse.extend_from_slice(&cstr("SELECT $1::int8, $2::float8, $3::bool"));
            parse.extend_from_slice(&3u16.to_be_bytes());
            for oid in [20u32, 701, 16] {
                parse.extend_from_slice(&oid.to_be_bytes());
            }
            let mut bind = cstr("");
            bind.extend_from_slice(&cstr(""));
            bind.extend_from_slice(&1u16.to_be_bytes());
            bind.extend_from_slice(&(fmt % 3).to_be_bytes());
            let count = if lie { vals.len() as u16 + 1 } else { vals.len() as u16 };
            bind.extend_from_slice(&count.to_be_bytes());
            for v in &vals {
                bind.extend_from_slice(&(v.len() as i32).to_be_bytes());
                bind.extend_from_slice(v);
            }
            bind.extend_from_slice(&0u16.to_be_bytes());
            vec![(b'P', parse), (b'B', bind), (b'E', [cstr(""), 0u32.to_be_bytes().to_vec()].concat()), (b'S', vec![])]
        }),
        // Describe / Execute / Close of things that do not exist, or of a bad kind.
        (prop::sample::select(vec![b'D', b'E', b'C']), prop::sample::select(vec![b'S', b'P', b'X', 0]), ".{0,10}")
            .prop_map(move |(t, k, name)| {
                let b = if t == b'E' {
                    [cstr(&name), 5u32.to_be_bytes().to_vec()].concat()
                } else {
                    [vec![k], cstr(&name)].concat()
                };
                vec![(t, b), (b'S', vec![])]
            }),
        // A simple query with embedded bytes.
        bytes.prop_map(|mut b| {
            b.retain(|&c| c != 0);
            b.push(0);
            vec![(b'Q', b)]
        }),
    ]
}

#[test]
fn raw_protocol_input_gets_an_error_response_and_the_host_keeps_serving() {
    let h = Host::start(Setup::new(BGW));
    let raw: std::cell::RefCell<Option<Raw>> = std::cell::RefCell::new(None);
    let mut runner = TestRunner::new(ProptestConfig { cases: wire_cases() as u32, ..config() });
    let errors = std::cell::Cell::new(0usize);
    runner
        .run(&framed_message(), |msgs| {
            let mut slot = raw.borrow_mut();
            let mut raw = slot.take().unwrap_or_else(|| Raw::connect(&h));
            for (t, b) in &msgs {
                raw.send(*t, b);
            }
            let (reply, closed) = raw.until_ready_or_closed();
            prop_assert!(!closed, "{msgs:?} ended the session: {reply:?}");
            if let Some((_, body)) = reply.iter().find(|(t, _)| *t == b'E') {
                prop_assert_eq!(severity(body), "ERROR");
                errors.set(errors.get() + 1);
            }
            prop_assert!(raw.select_one(), "no answer to SELECT 1 after {msgs:?}");
            *slot = Some(raw);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", h.log()));
    eprintln!("{} message sequences sent, {} answered with an ERROR", wire_cases(), errors.get());
    assert!(errors.get() > 0);

    // Messages the protocol cannot frame (unknown types, impossible lengths): PostgreSQL ends such a session with
    // a FATAL ErrorResponse; the backend answers before it closes, and the host serves the next connection.
    let unframed: Vec<Vec<u8>> = vec![
        vec![b'?', 0, 0, 0, 4],
        vec![0, 0, 0, 0, 8, 0, 3, 0, 0],
        vec![b'Q', 0, 0, 0, 0],
        vec![b'Q', 0, 0, 0, 3],
        vec![b'Q', 0x7f, 0xff, 0xff, 0xff],
        vec![b'Q', 0xff, 0xff, 0xff, 0xff],
        vec![b'F', 0, 0, 0, 4],
    ];
    for bytes in &unframed {
        let mut raw = Raw::connect(&h);
        raw.stream.write_all(bytes).unwrap();
        let (reply, _) = raw.until_ready_or_closed();
        assert!(reply.iter().any(|(t, _)| *t == b'E'), "{bytes:?}: no ErrorResponse: {reply:?}");
        let mut next = Raw::connect(&h);
        assert!(next.select_one(), "after {bytes:?}:\n{}", h.log());
    }
    // A client that goes away in the middle of a message: nothing to answer, the backend just ends.
    for bytes in [vec![b'P', 0, 0, 0, 6, b'x'], vec![b'B', 0, 0, 0, 8, 0, 0, 0, 0], vec![b'Q', 0, 0]] {
        let mut raw = Raw::connect(&h);
        raw.stream.write_all(&bytes).unwrap();
        raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let (_, closed) = raw.until_ready_or_closed();
        assert!(closed, "{bytes:?}");
        let mut next = Raw::connect(&h);
        assert!(next.select_one(), "after {bytes:?}:\n{}", h.log());
    }
    assert!(bgw_test_support::alive(h.pid()), "the postmaster died:\n{}", h.log());
}

/// Startup packets of any shape: a correct or wrong length, any protocol number (SSL, GSS and cancel requests
/// among them), parameters known and unknown, with odd values.
fn startup_packet() -> impl Strategy<Value = Vec<u8>> {
    let protocol = prop_oneof![
        Just(196608u32),
        Just(196609u32),
        Just(80877103u32),
        Just(80877104u32),
        Just(80877102u32),
        Just(131072u32),
        any::<u32>(),
    ];
    let key = prop::sample::select(vec![
        "user",
        "database",
        "options",
        "application_name",
        "replication",
        "client_encoding",
        "_pq_.x",
        "",
        "\u{1}",
    ]);
    let value = prop_oneof![Just(os_user()), Just("postgres".to_string()), Just("nobody_here".to_string()), ".{0,12}"];
    let structured = (protocol, prop::collection::vec((key, value), 0..4), any::<bool>(), any::<i32>()).prop_map(
        |(protocol, params, terminated, bogus_len)| {
            let mut body = protocol.to_be_bytes().to_vec();
            for (k, v) in params {
                body.extend_from_slice(k.as_bytes());
                body.push(0);
                body.extend_from_slice(v.replace('\0', "").as_bytes());
                body.push(0);
            }
            if terminated {
                body.push(0);
            }
            let len = if bogus_len % 4 == 0 { bogus_len as u32 } else { body.len() as u32 + 4 };
            [len.to_be_bytes().to_vec(), body].concat()
        },
    );
    prop_oneof![3 => structured, 1 => prop::collection::vec(any::<u8>(), 0..48)]
}

#[test]
fn any_startup_packet_is_answered_or_closed_and_the_host_keeps_accepting() {
    let h = Host::start(Setup::new(BGW));
    let path = h.data().join(format!(".s.PGSQL.{}", h.port));
    let mut runner = TestRunner::new(ProptestConfig { cases: (wire_cases() / 3).max(1) as u32, ..config() });
    runner
        .run(&startup_packet(), |packet| {
            let mut stream = UnixStream::connect(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            let _ = stream.write_all(&packet);
            // The client has said all it will: the backend must answer or close, not wait for more.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut reply = Vec::new();
            match stream.read_to_end(&mut reply) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(TestCaseError::fail(format!("{packet:?}: no answer and no close: {e}"))),
            }
            // An answer starts with a message the protocol allows at this point.
            if let Some(&first) = reply.first() {
                prop_assert!(b"ERNSv".contains(&first), "{packet:?}: {reply:?}");
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", h.log()));
    let mut raw = Raw::connect(&h);
    assert!(raw.select_one(), "{}", h.log());
    assert!(bgw_test_support::alive(h.pid()), "the postmaster died:\n{}", h.log());
}
