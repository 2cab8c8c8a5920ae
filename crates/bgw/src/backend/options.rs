//! Parsing the arguments of `bgw_register`/`bgw_launch` into a [`RegistrationRequest`].
//!
//! The options argument is a JSON object; every key is optional:
//!
//! | key       | JSON type                      | default                 |
//! |-----------|--------------------------------|-------------------------|
//! | `name`    | string                         | `""` (host picks)       |
//! | `type`    | string                         | `""` (same as name)     |
//! | `restart` | integer seconds ≥ 0 or `"never"` | `"never"`             |
//! | `flags`   | array of `"shmem"`, `"database"`, `"parallel"` | `["shmem"]` |
//! | `start`   | `"postmaster_start"`, `"consistent_state"`, `"recovery_finished"` | `"recovery_finished"` |
//! | `extra`   | string of at most 128 bytes    | `""`                    |
//! | `notify`  | boolean                        | `true`                  |
//!
//! [`parse_registration`] is pure and never panics, whatever its input.

use serde_json::{Map, Value};

use super::host::{RegistrationRequest, RequestFlags, SqlError, StartPhase};

/// BGW_EXTRALEN: the most bytes `extra` may hold.
pub const EXTRA_MAX_BYTES: usize = bgw_abi::BGW_EXTRALEN;

const KNOWN_KEYS: &str =
    "name, type, restart, flags, start, extra, notify, backoff, give_up, start_timeout, wait, bind";

/// Builds a registration request from the SQL arguments. `None` stands for SQL NULL: a NULL `main_arg` means 0
/// and a NULL `options_json` means all defaults, but the library and function are required.
///
/// Errors are SQL errors: 22023 (invalid_parameter_value) for a missing or wrong value, naming the key, and
/// 22P02 (invalid_text_representation) for text that is not JSON at all.
pub fn parse_registration(
    library: Option<&str>,
    function: Option<&str>,
    main_arg: Option<i64>,
    options_json: Option<&str>,
) -> Result<RegistrationRequest, SqlError> {
    let library = required_text("library", library)?;
    let function = required_text("function", function)?;
    let mut req = RegistrationRequest {
        library: library.to_owned(),
        function: function.to_owned(),
        main_arg: main_arg.unwrap_or(0),
        name: String::new(),
        worker_type: String::new(),
        restart_seconds: None,
        flags: RequestFlags {
            shmem: true,
            database: false,
            parallel: false,
            interruptible: false,
            die_at_interrupts: false,
        },
        start: StartPhase::RecoveryFinished,
        extra: Vec::new(),
        notify: true,
        options: Default::default(),
        wait_ready: false,
        bind_registrant: false,
        wait_slot: None,
    };
    let Some(text) = options_json else {
        return Ok(req);
    };
    let options = parse_object(text)?;
    for (key, value) in &options {
        match key.as_str() {
            "name" => req.name = string_value(key, value)?.to_owned(),
            "type" => req.worker_type = string_value(key, value)?.to_owned(),
            "restart" => req.restart_seconds = restart_value(value)?,
            "flags" => req.flags = flags_value(value)?,
            "start" => req.start = start_value(value)?,
            "extra" => req.extra = extra_value(value)?,
            "notify" => req.notify = bool_value(key, value)?,
            "backoff" => {
                let decl: crate::bgworker::options::BackoffDecl = serde_json::from_value(value.clone())
                    .map_err(|e| invalid(format!("registration option \"backoff\": {e}")))?;
                req.options.backoff =
                    Some(decl.to_backoff().map_err(|m| invalid(format!("registration option \"backoff\": {m}")))?);
            }
            "start_timeout" => {
                let seconds = value.as_f64().ok_or_else(|| wrong_type(key, "a number of seconds", value))?;
                req.options.start_timeout = Some(
                    crate::bgworker::options::start_timeout(seconds)
                        .map_err(|m| invalid(format!("registration option \"start_timeout\": {m}")))?,
                );
            }
            "bind" => {
                req.bind_registrant = match string_value(key, value)? {
                    "registrant" => true,
                    "none" => false,
                    other => {
                        return Err(invalid(format!(
                            "registration option \"bind\" must be \"registrant\" or \"none\", not \"{}\"",
                            shorten(other)
                        )))
                    }
                }
            }
            "wait" => {
                req.wait_ready = match string_value(key, value)? {
                    "ready" => true,
                    "started" => false,
                    other => {
                        return Err(invalid(format!(
                            "registration option \"wait\" must be \"started\" or \"ready\", not \"{}\"",
                            shorten(other)
                        )))
                    }
                }
            }
            "give_up" => {
                let decl: crate::bgworker::options::GiveUpDecl = serde_json::from_value(value.clone())
                    .map_err(|e| invalid(format!("registration option \"give_up\": {e}")))?;
                req.options.give_up =
                    Some(decl.to_give_up().map_err(|m| invalid(format!("registration option \"give_up\": {m}")))?);
            }
            other => {
                return Err(invalid(format!("unrecognized registration option \"{}\"", shorten(other)))
                    .with_hint(format!("The options are: {KNOWN_KEYS}.")))
            }
        }
    }
    Ok(req)
}

fn invalid(message: impl Into<String>) -> SqlError {
    SqlError::error("22023", message)
}

fn required_text<'a>(what: &str, value: Option<&'a str>) -> Result<&'a str, SqlError> {
    match value {
        None => Err(invalid(format!("{what} name must not be null"))),
        Some(text) if text.trim().is_empty() => Err(invalid(format!("{what} name must not be empty"))),
        Some(text) => Ok(text),
    }
}

fn parse_object(text: &str) -> Result<Map<String, Value>, SqlError> {
    let value: Value = serde_json::from_str(text).map_err(|err| {
        SqlError::error("22P02", "invalid input syntax for type json")
            .with_detail(format!("The registration options are not valid JSON: {err}."))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(invalid(format!("registration options must be a JSON object, not {}", json_type(&other)))
            .with_hint(format!(
                "For example '{{\"name\": \"my worker\", \"restart\": 10}}'; the keys are: {KNOWN_KEYS}."
            ))),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(key: &str, expected: &str, value: &Value) -> SqlError {
    invalid(format!("registration option \"{key}\" must be {expected}, not {}", json_type(value)))
}

fn string_value<'a>(key: &str, value: &'a Value) -> Result<&'a str, SqlError> {
    value.as_str().ok_or_else(|| wrong_type(key, "a string", value))
}

fn bool_value(key: &str, value: &Value) -> Result<bool, SqlError> {
    value.as_bool().ok_or_else(|| wrong_type(key, "a boolean", value))
}

fn restart_value(value: &Value) -> Result<Option<i64>, SqlError> {
    let bad =
        || invalid("registration option \"restart\" must be a number of seconds (an integer, 0 or more) or \"never\"");
    match value {
        Value::String(text) if text == "never" => Ok(None),
        Value::Number(number) => match number.as_i64() {
            Some(seconds) if seconds >= 0 => Ok(Some(seconds)),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn flags_value(value: &Value) -> Result<RequestFlags, SqlError> {
    let items = value.as_array().ok_or_else(|| wrong_type("flags", "an array of strings", value))?;
    let mut flags = RequestFlags::default();
    for item in items {
        match item.as_str() {
            Some("shmem") => flags.shmem = true,
            Some("database") => flags.database = true,
            Some("parallel") => flags.parallel = true,
            Some("interruptible") => flags.interruptible = true,
            Some("die_at_interrupts") => flags.die_at_interrupts = true,
            Some(other) => {
                return Err(invalid(format!(
                    "unrecognized flag \"{}\" in registration option \"flags\"",
                    shorten(other)
                ))
                .with_hint("The flags are: shmem, database, interruptible, parallel, die_at_interrupts."))
            }
            None => return Err(wrong_type("flags", "an array of strings", value)),
        }
    }
    Ok(flags)
}

fn start_value(value: &Value) -> Result<StartPhase, SqlError> {
    match value.as_str() {
        Some("postmaster_start") => Ok(StartPhase::PostmasterStart),
        Some("consistent_state") => Ok(StartPhase::ConsistentState),
        Some("recovery_finished") => Ok(StartPhase::RecoveryFinished),
        Some(other) => {
            Err(invalid(format!("unrecognized start phase \"{}\" in registration option \"start\"", shorten(other)))
                .with_hint("The start phases are: postmaster_start, consistent_state, recovery_finished."))
        }
        None => Err(wrong_type("start", "a string", value)),
    }
}

fn extra_value(value: &Value) -> Result<Vec<u8>, SqlError> {
    let text = string_value("extra", value)?;
    if text.len() > EXTRA_MAX_BYTES {
        return Err(invalid(format!(
            "registration option \"extra\" is {} bytes long, but at most {EXTRA_MAX_BYTES} bytes are allowed",
            text.len()
        )));
    }
    Ok(text.as_bytes().to_vec())
}

/// At most 64 characters of `text` for an error message (cut on a character boundary).
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &str) -> Result<RegistrationRequest, SqlError> {
        parse_registration(Some("lib"), Some("func"), Some(7), Some(options))
    }

    fn err(options: &str) -> SqlError {
        parse(options).expect_err(options)
    }

    #[test]
    fn defaults_without_options() {
        let req = parse_registration(Some("worker_spi"), Some("worker_spi_main"), None, None).unwrap();
        assert_eq!(req.library, "worker_spi");
        assert_eq!(req.function, "worker_spi_main");
        assert_eq!(req.main_arg, 0);
        assert_eq!(req.name, "");
        assert_eq!(req.worker_type, "");
        assert_eq!(req.restart_seconds, None);
        assert_eq!(
            req.flags,
            RequestFlags {
                shmem: true,
                database: false,
                parallel: false,
                interruptible: false,
                die_at_interrupts: false
            }
        );
        assert_eq!(req.start, StartPhase::RecoveryFinished);
        assert!(req.extra.is_empty());
        assert!(req.notify);
    }

    #[test]
    fn empty_object_means_defaults() {
        let req = parse("{}").unwrap();
        assert_eq!(req, parse_registration(Some("lib"), Some("func"), Some(7), None).unwrap());
        assert_eq!(req.main_arg, 7);
    }

    #[test]
    fn every_key() {
        let req = parse(
            r#"{"name": "n1", "type": "t1", "restart": 5, "flags": ["database", "parallel"],
                "start": "postmaster_start", "extra": "hello", "notify": false}"#,
        )
        .unwrap();
        assert_eq!(req.name, "n1");
        assert_eq!(req.worker_type, "t1");
        assert_eq!(req.restart_seconds, Some(5));
        assert_eq!(
            req.flags,
            RequestFlags {
                shmem: false,
                database: true,
                parallel: true,
                interruptible: false,
                die_at_interrupts: false
            }
        );
        assert_eq!(req.start, StartPhase::PostmasterStart);
        assert_eq!(req.extra, b"hello");
        assert!(!req.notify);
    }

    #[test]
    fn restart_values() {
        assert_eq!(parse(r#"{"restart": "never"}"#).unwrap().restart_seconds, None);
        assert_eq!(parse(r#"{"restart": 0}"#).unwrap().restart_seconds, Some(0));
        assert_eq!(parse(r#"{"restart": 86400}"#).unwrap().restart_seconds, Some(86400));
        for bad in [r#"-1"#, r#"1.5"#, r#""always""#, r#""Never""#, r#"null"#, r#"true"#, r#"[1]"#, r#"1e3"#] {
            let e = err(&format!(r#"{{"restart": {bad}}}"#));
            assert_eq!(e.code, "22023", "{bad}");
            assert!(e.message.contains("\"restart\""), "{}", e.message);
        }
        // Larger than i64: a number, but not an integer we can hold.
        assert_eq!(err(r#"{"restart": 99999999999999999999}"#).code, "22023");
    }

    #[test]
    fn flags_values() {
        assert_eq!(parse(r#"{"flags": []}"#).unwrap().flags, RequestFlags::default());
        assert_eq!(
            parse(r#"{"flags": ["shmem", "shmem"]}"#).unwrap().flags,
            RequestFlags {
                shmem: true,
                database: false,
                parallel: false,
                interruptible: false,
                die_at_interrupts: false
            }
        );
        assert_eq!(
            parse(r#"{"flags": ["shmem", "database", "parallel"]}"#).unwrap().flags,
            RequestFlags {
                shmem: true,
                database: true,
                parallel: true,
                interruptible: false,
                die_at_interrupts: false
            }
        );
        let e = err(r#"{"flags": ["shmem", "network"]}"#);
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("\"network\"") && e.message.contains("\"flags\""), "{}", e.message);
        for bad in [r#""shmem""#, r#"[1]"#, r#"[null]"#, r#"{"shmem": true}"#, r#"true"#] {
            let e = err(&format!(r#"{{"flags": {bad}}}"#));
            assert_eq!(e.code, "22023", "{bad}");
            assert!(e.message.contains("\"flags\""), "{}", e.message);
        }
    }

    #[test]
    fn start_values() {
        assert_eq!(parse(r#"{"start": "postmaster_start"}"#).unwrap().start, StartPhase::PostmasterStart);
        assert_eq!(parse(r#"{"start": "consistent_state"}"#).unwrap().start, StartPhase::ConsistentState);
        assert_eq!(parse(r#"{"start": "recovery_finished"}"#).unwrap().start, StartPhase::RecoveryFinished);
        for bad in [r#""later""#, r#""POSTMASTER_START""#, r#"1"#, r#"null"#, r#"["consistent_state"]"#] {
            let e = err(&format!(r#"{{"start": {bad}}}"#));
            assert_eq!(e.code, "22023", "{bad}");
            assert!(e.message.contains("\"start\""), "{}", e.message);
        }
    }

    #[test]
    fn string_keys_reject_other_types() {
        for key in ["name", "type", "extra"] {
            for bad in ["1", "null", "true", "[]", "{}"] {
                let e = err(&format!(r#"{{"{key}": {bad}}}"#));
                assert_eq!(e.code, "22023");
                assert!(e.message.contains(&format!("\"{key}\"")), "{}", e.message);
                assert!(e.message.contains("must be a string"), "{}", e.message);
            }
        }
    }

    #[test]
    fn notify_must_be_boolean() {
        assert!(parse(r#"{"notify": true}"#).unwrap().notify);
        assert!(!parse(r#"{"notify": false}"#).unwrap().notify);
        for bad in ["1", "0", r#""false""#, "null"] {
            let e = err(&format!(r#"{{"notify": {bad}}}"#));
            assert_eq!(e.code, "22023");
            assert!(e.message.contains("\"notify\""), "{}", e.message);
        }
    }

    #[test]
    fn extra_size_limit() {
        let at_limit = "x".repeat(EXTRA_MAX_BYTES);
        assert_eq!(parse(&format!(r#"{{"extra": "{at_limit}"}}"#)).unwrap().extra.len(), EXTRA_MAX_BYTES);
        let over = "x".repeat(EXTRA_MAX_BYTES + 1);
        let e = err(&format!(r#"{{"extra": "{over}"}}"#));
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("129 bytes"), "{}", e.message);
        // The limit is in bytes, not characters: 43 three-byte characters are 129 bytes.
        let wide = "€".repeat(43);
        assert_eq!(err(&format!(r#"{{"extra": "{wide}"}}"#)).code, "22023");
        let fits = "€".repeat(42);
        assert_eq!(parse(&format!(r#"{{"extra": "{fits}"}}"#)).unwrap().extra, fits.as_bytes());
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err(r#"{"name": "x", "restart_interval": 5}"#);
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("\"restart_interval\""), "{}", e.message);
        assert!(e.hint.as_deref().unwrap_or("").contains("restart"));
    }

    #[test]
    fn bad_json_and_non_objects() {
        for bad in ["", "{", "{name: 1}", "{'name': 'x'}", "[1,", "nul", "{\"a\":1}}"] {
            let e = err(bad);
            assert_eq!(e.code, "22P02", "{bad:?}");
        }
        for bad in ["[]", "1", "\"x\"", "null", "true"] {
            let e = err(bad);
            assert_eq!(e.code, "22023", "{bad:?}");
            assert!(e.message.contains("JSON object"), "{}", e.message);
        }
    }

    #[test]
    fn library_and_function_are_required() {
        let e = parse_registration(None, Some("f"), None, None).unwrap_err();
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("library"));
        let e = parse_registration(Some("l"), None, None, None).unwrap_err();
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("function"));
        assert_eq!(parse_registration(Some(""), Some("f"), None, None).unwrap_err().code, "22023");
        assert_eq!(parse_registration(Some("l"), Some("  "), None, None).unwrap_err().code, "22023");
    }

    #[test]
    fn main_arg_is_kept() {
        let req = parse_registration(Some("l"), Some("f"), Some(-42), Some("{}")).unwrap();
        assert_eq!(req.main_arg, -42);
        let req = parse_registration(Some("l"), Some("f"), Some(i64::MAX), None).unwrap();
        assert_eq!(req.main_arg, i64::MAX);
    }

    #[test]
    fn long_unknown_names_are_shortened() {
        let key = "k".repeat(10_000);
        let e = err(&format!(r#"{{"{key}": 1}}"#));
        assert!(e.message.len() < 200, "{}", e.message.len());
    }

    use crate::testutil::XorShift;

    /// Random text built from JSON-ish fragments, valid keys and values, and raw bytes.
    fn random_text(rng: &mut XorShift) -> String {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\",
            "\\u",
            "0",
            "-1",
            "1e999",
            "1.5",
            "99999999999999999999",
            "true",
            "false",
            "null",
            "\"name\"",
            "\"type\"",
            "\"restart\"",
            "\"never\"",
            "\"flags\"",
            "\"shmem\"",
            "\"database\"",
            "\"parallel\"",
            "\"start\"",
            "\"postmaster_start\"",
            "\"consistent_state\"",
            "\"recovery_finished\"",
            "\"extra\"",
            "\"notify\"",
            " ",
            "\n",
            "é",
            "€",
            "\u{0}",
            "\"\\ud800\"",
            "x",
        ];
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            if rng.below(8) == 0 {
                text.push(char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?'));
            } else {
                text.push_str(PIECES[rng.below(PIECES.len())]);
            }
        }
        text
    }

    /// A random but well-formed options object, so that the value checks get exercised too.
    fn random_object(rng: &mut XorShift) -> String {
        const KEYS: &[&str] = &["name", "type", "restart", "flags", "start", "extra", "notify", "bogus"];
        const VALUES: &[&str] = &[
            "1",
            "-5",
            "0",
            "2.5",
            "\"never\"",
            "\"x\"",
            "true",
            "null",
            "[]",
            "[\"shmem\"]",
            "[\"database\", 1]",
            "{}",
            "\"postmaster_start\"",
            "\"consistent_state\"",
            "\"recovery_finished\"",
            "9223372036854775807",
        ];
        let fields: Vec<String> = (0..rng.below(6))
            .map(|_| {
                let value = if rng.below(10) == 0 {
                    format!("\"{}\"", "y".repeat(rng.below(300)))
                } else {
                    VALUES[rng.below(VALUES.len())].to_owned()
                };
                format!("\"{}\": {value}", KEYS[rng.below(KEYS.len())])
            })
            .collect();
        format!("{{{}}}", fields.join(", "))
    }

    #[test]
    fn never_panics_on_random_input() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut accepted = 0;
        for round in 0..100_000 {
            let options = if round % 2 == 0 { random_text(&mut rng) } else { random_object(&mut rng) };
            let library = if rng.below(20) == 0 { None } else { Some(random_text(&mut rng)) };
            let main_arg = if rng.below(3) == 0 { None } else { Some(rng.next() as i64) };
            let result = std::panic::catch_unwind(|| {
                parse_registration(library.as_deref(), Some("f"), main_arg, Some(&options))
            });
            match result {
                Ok(Ok(req)) => {
                    accepted += 1;
                    assert!(req.extra.len() <= EXTRA_MAX_BYTES);
                    assert!(req.restart_seconds.is_none_or(|s| s >= 0));
                }
                Ok(Err(e)) => assert!(e.code == "22023" || e.code == "22P02", "{e:?}"),
                Err(_) => panic!("parse_registration panicked on {options:?}"),
            }
        }
        assert!(accepted > 100, "only {accepted} random inputs were accepted");
    }
}
