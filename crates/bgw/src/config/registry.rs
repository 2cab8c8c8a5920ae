//! The parameter registry ([`Settings`]): the definitions, the current value of each parameter and where it came
//! from, the file's settings for dotted names no module has defined yet (placeholders), and the `-c` overrides,
//! kept so that they stay in force across reloads and apply to parameters defined later. Modules add their
//! parameters with [`Settings::define`]. Applying the file at start and on SIGHUP is in `reload.rs`.
//!
//! Runs in every process: the postmaster fills it at start and on reload, children inherit it and reload their
//! copy on SIGHUP.

use bgw_macros::hot;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{ConfigError, GucDef, GucValue};

/// Where a parameter's current value came from, in increasing precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GucSource {
    /// The built-in default.
    Default,
    /// The configuration file.
    File,
    /// A `-c name=value` command-line override.
    CommandLine,
}

/// A defined parameter and its current state.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) def: GucDef,
    pub(super) value: GucValue,
    pub(super) source: GucSource,
    pub(super) pending_restart: bool,
}

/// A file setting for a dotted name that no module has defined yet.
#[derive(Debug, Clone)]
pub(super) struct Placeholder {
    pub(super) value: String,
    pub(super) file: PathBuf,
    pub(super) line: u32,
}

/// The parameter registry.
///
/// It holds the definitions, the current value of each parameter and where
/// that value came from, the file's settings for not-yet-defined dotted names
/// (placeholders), and the command-line overrides, which it keeps so they stay
/// in force across reloads and apply to parameters defined later.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub(super) entries: BTreeMap<String, Entry>,
    pub(super) placeholders: BTreeMap<String, Placeholder>,
    pub(super) overrides: Vec<(String, String)>,
    pub(super) config_file: Option<PathBuf>,
    /// Prefixes modules reserved (MarkGUCPrefixReserved): undefined names under them are errors, not placeholders.
    pub(super) reserved_prefixes: Vec<String>,
}

impl Settings {
    /// A registry holding `defs`, each at its default value.
    ///
    /// Definitions that [`Settings::define`] would reject (a duplicate name, a
    /// default outside the range...) are skipped; use [`Settings::try_new`]
    /// to get the error instead.
    pub fn new(defs: Vec<GucDef>) -> Settings {
        let mut settings = Settings::default();
        for def in defs {
            let _ = settings.define(def);
        }
        settings
    }

    /// Like [`Settings::new`], but fails on the first invalid definition.
    pub fn try_new(defs: Vec<GucDef>) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        for def in defs {
            settings.define(def)?;
        }
        Ok(settings)
    }

    /// Adds a parameter, e.g. one a module defines when it is loaded.
    ///
    /// If the file or a `-c` override already gave a value for this name (kept
    /// as a placeholder until now), the value is validated and applied, the
    /// override winning over the file. An invalid definition or a duplicate
    /// name is an error and changes nothing. An invalid placeholder value is
    /// also returned as an error, with its file and line when it came from the
    /// file, but the parameter is still defined, with the best valid value
    /// (the default if none is valid).
    pub fn define(&mut self, def: GucDef) -> Result<(), ConfigError> {
        def.validate()?;
        let key = def.name.to_ascii_lowercase();
        if self.entries.contains_key(&key) {
            return Err(ConfigError::Duplicate { name: def.name });
        }
        let mut entry = Entry { value: def.default.clone(), def, source: GucSource::Default, pending_restart: false };
        let mut first_error = None;
        if let Some(ph) = self.placeholders.remove(&key) {
            match entry.def.parse_value(&ph.value) {
                Ok(v) => {
                    entry.value = v;
                    entry.source = GucSource::File;
                }
                Err(e) => first_error = Some(e.at(&ph.file, ph.line)),
            }
        }
        for (name, raw) in &self.overrides {
            if *name == key {
                match entry.def.parse_value(raw) {
                    Ok(v) => {
                        entry.value = v;
                        entry.source = GucSource::CommandLine;
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        self.entries.insert(key, entry);
        first_error.map_or(Ok(()), Err)
    }

    /// Sets a defined parameter in this process's registry (PostgreSQL's `SetConfigOption`, for modules): the
    /// value is validated, applied, and kept as an override, so a reload does not undo it. The caller checks the
    /// parameter's context. An unknown name or a bad value is an error and changes nothing.
    pub fn set_in_process(&mut self, name: &str, raw: &str) -> Result<(), ConfigError> {
        let key = name.to_ascii_lowercase();
        let Some(entry) = self.entries.get_mut(&key) else {
            return Err(ConfigError::Parameter {
                name: name.to_string(),
                message: format!("unrecognized configuration parameter \"{name}\""),
                hint: None,
                file: None,
                line: None,
            });
        };
        entry.value = entry.def.parse_value(raw)?;
        entry.source = GucSource::CommandLine;
        self.overrides.retain(|(n, _)| *n != key);
        self.overrides.push((key, raw.to_string()));
        Ok(())
    }

    /// Removes and returns the names of placeholders under `prefix.` (PostgreSQL's MarkGUCPrefixReserved: a
    /// module claims its prefix, and settings under it that it did not define are mistakes).
    /// Later reloads report undefined names under the prefix instead of keeping them.
    pub fn remove_placeholders_with_prefix(&mut self, prefix: &str) -> Vec<String> {
        let lead = format!("{}.", prefix.to_ascii_lowercase());
        if !self.reserved_prefixes.contains(&lead) {
            self.reserved_prefixes.push(lead.clone());
        }
        let names: Vec<String> = self.placeholders.keys().filter(|k| k.starts_with(&lead)).cloned().collect();
        for n in &names {
            self.placeholders.remove(n);
        }
        names
    }

    /// The current value of a defined parameter (case-insensitive name).
    /// Placeholders have no typed value and give `None`.
    #[hot]
    pub fn get(&self, name: &str) -> Option<&GucValue> {
        let entry = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.entries.get(&name.to_ascii_lowercase())
        } else {
            self.entries.get(name)
        };
        entry.map(|e| &e.value)
    }

    /// The value of a boolean parameter.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            GucValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value of an integer parameter, in its base unit.
    pub fn get_int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            GucValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The value of a real parameter.
    pub fn get_real(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            GucValue::Real(v) => Some(*v),
            _ => None,
        }
    }

    /// The value of a string or enum parameter.
    #[hot]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            GucValue::String(s) | GucValue::Enum(s) => Some(s),
            _ => None,
        }
    }

    /// The value as PostgreSQL's `SHOW` would print it (see
    /// [`GucValue::show`]). For a placeholder this is its raw string, the
    /// command-line one if given, else the file's.
    pub fn show(&self, name: &str) -> Option<String> {
        let key = name.to_ascii_lowercase();
        if let Some(e) = self.entries.get(&key) {
            return Some(e.value.show(&e.def.kind));
        }
        if let Some(raw) = self.override_for(&key) {
            return Some(raw.to_string());
        }
        self.placeholders.get(&key).map(|p| p.value.clone())
    }

    /// The names of all defined parameters, sorted (placeholders excluded).
    pub fn names(&self) -> Vec<&str> {
        self.entries.values().map(|e| e.def.name.as_str()).collect()
    }

    /// Lowers the largest value an integer parameter accepts from now on (at reload too: a larger value is then
    /// refused with PostgreSQL's out-of-range wording). The postmaster uses it at start for a parameter whose
    /// ceiling another parameter fixes (`max_worker_processes` up to `max_worker_slots`).
    pub fn limit_int_max(&mut self, name: &str, max: i64) {
        if let Some(e) = self.entries.get_mut(&name.to_ascii_lowercase()) {
            if let super::GucKind::Int { max: m, .. } = &mut e.def.kind {
                *m = (*m).min(max);
            }
        }
    }

    /// The definition of a parameter.
    pub fn def(&self, name: &str) -> Option<&GucDef> {
        self.entries.get(&name.to_ascii_lowercase()).map(|e| &e.def)
    }

    /// Where the current value of a defined parameter came from.
    pub fn source(&self, name: &str) -> Option<GucSource> {
        self.entries.get(&name.to_ascii_lowercase()).map(|e| e.source)
    }

    /// Names of `Postmaster`-context parameters whose file setting differs
    /// from the running value, i.e. that take effect only after a restart.
    pub fn pending_restart(&self) -> Vec<&str> {
        self.entries.values().filter(|e| e.pending_restart).map(|e| e.def.name.as_str()).collect()
    }

    /// The last `-c` value given for a (lower-case) name.
    pub(super) fn override_for(&self, key: &str) -> Option<&str> {
        self.overrides.iter().rev().find(|(n, _)| n == key).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::{ConfigError, GucContext, GucDef, GucValue, Unit};

    #[test]
    fn getters_are_case_insensitive_and_typed() {
        let s = host();
        assert_eq!(s.get_int("MAX_Connections"), Some(100));
        assert_eq!(s.show("Port").as_deref(), Some("5432"));
        assert_eq!(s.show("restart_after_crash").as_deref(), Some("on"));
        assert_eq!(s.get_bool("port"), None);
        assert_eq!(s.get_int("restart_after_crash"), None);
        assert_eq!(s.get_real("port"), None);
        assert_eq!(s.get_str("port"), None);
        assert_eq!(s.show("nope"), None);
        let mut s = Settings::new(vec![GucDef::real("r", 0.5, 0.0, 1.0, GucContext::Sighup, "")]);
        assert_eq!(s.get_real("r"), Some(0.5));
        assert_eq!(s.show("r").as_deref(), Some("0.5"));
        s.load_initial(&[], &[("r".into(), "0.125".into())]).unwrap();
        assert_eq!(s.get_real("R"), Some(0.125));
    }

    #[test]
    fn a_value_set_in_process_holds_across_reloads() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4"), &[]).unwrap();
        s.set_in_process("MAX_PARALLEL_WORKERS", "2").unwrap();
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        let _ = s.reload(Ok(items("max_parallel_workers = 6")));
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        // A bad value or an unknown name changes nothing.
        assert!(s.set_in_process("max_parallel_workers", "many").is_err());
        assert!(s.set_in_process("no_such", "1").is_err());
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
    }

    #[test]
    fn placeholders_are_kept_and_applied_on_define() {
        let mut s = host();
        s.load_initial(&items("worker_spi.naptime = 10s\nworker_spi.database = 'db'\nother.x = 1"), &[]).unwrap();
        assert_eq!(s.get("worker_spi.naptime"), None);
        assert_eq!(s.show("Worker_SPI.naptime").as_deref(), Some("10s"));
        assert!(!s.names().contains(&"worker_spi.naptime"));

        s.define(GucDef::int("worker_spi.naptime", 1000, 1, i64::MAX, Unit::Ms, GucContext::Sighup, "nap")).unwrap();
        assert_eq!(s.get_int("worker_spi.naptime"), Some(10_000));
        assert_eq!(s.source("worker_spi.naptime"), Some(GucSource::File));
        assert_eq!(s.show("worker_spi.naptime").as_deref(), Some("10s"));
        s.define(GucDef::string("worker_spi.database", "postgres", GucContext::Postmaster, "db")).unwrap();
        assert_eq!(s.get_str("worker_spi.database"), Some("db"));

        // Defining a parameter nobody set gives the default.
        s.define(GucDef::bool("worker_spi.flag", true, GucContext::Sighup, "")).unwrap();
        assert_eq!(s.get_bool("worker_spi.flag"), Some(true));
        assert_eq!(s.source("worker_spi.flag"), Some(GucSource::Default));

        // Redefinition is refused.
        let e = s.define(GucDef::bool("Worker_SPI.flag", true, GucContext::Sighup, "")).unwrap_err();
        assert_eq!(e.to_string(), "attempt to redefine parameter \"Worker_SPI.flag\"");
    }

    #[test]
    fn invalid_placeholder_value_is_reported_on_define() {
        let mut s = host();
        s.load_initial(&items("\nworker_spi.naptime = soon"), &[]).unwrap();
        let e = s
            .define(GucDef::int("worker_spi.naptime", 1000, 1, i64::MAX, Unit::Ms, GucContext::Sighup, ""))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for parameter \"worker_spi.naptime\": \"soon\" in file \"/data/bgworker.conf\" line 2"
        );
        // The parameter exists, with its default.
        assert_eq!(s.get_int("worker_spi.naptime"), Some(1000));
    }

    #[test]
    fn override_placeholder_wins_on_define() {
        let mut s = host();
        s.load_initial(&items("ext.level = 3"), &[("ext.level".into(), "5".into())]).unwrap();
        assert_eq!(s.show("ext.level").as_deref(), Some("5"));
        s.define(GucDef::int("ext.level", 1, 0, 10, Unit::None, GucContext::Sighup, "")).unwrap();
        assert_eq!(s.get_int("ext.level"), Some(5));
        assert_eq!(s.source("ext.level"), Some(GucSource::CommandLine));

        let mut s = host();
        s.load_initial(&[], &[("ext.level".into(), "50".into())]).unwrap();
        let e = s.define(GucDef::int("ext.level", 1, 0, 10, Unit::None, GucContext::Sighup, "")).unwrap_err();
        assert_eq!(e.to_string(), "50 is outside the valid range for parameter \"ext.level\" (0 .. 10)");
        assert_eq!(e.file(), None);
        assert_eq!(s.get_int("ext.level"), Some(1));
    }

    #[test]
    fn invalid_definitions_are_rejected() {
        let mut s = Settings::default();
        let bad = [
            GucDef::int("a", 5, 0, 3, Unit::None, GucContext::Sighup, ""),
            GucDef::int("a", 1, 3, 0, Unit::None, GucContext::Sighup, ""),
            GucDef::real("a", 0.5, 1.0, 0.0, GucContext::Sighup, ""),
            GucDef::real("a", f64::NAN, 0.0, 1.0, GucContext::Sighup, ""),
            GucDef::enumeration("a", "x", &["y", "z"], GucContext::Sighup, ""),
            GucDef::enumeration("a", "y", &["y", "Y"], GucContext::Sighup, ""),
            GucDef::enumeration("a", "", &[], GucContext::Sighup, ""),
            GucDef::bool("a b", true, GucContext::Sighup, ""),
            GucDef::bool("", true, GucContext::Sighup, ""),
            GucDef { default: GucValue::Int(1), ..GucDef::bool("a", true, GucContext::Sighup, "") },
        ];
        for def in bad {
            let e = s.define(def.clone()).unwrap_err();
            assert!(matches!(e, ConfigError::Definition { .. }), "{def:?}");
        }
        assert!(s.names().is_empty());
        assert!(Settings::try_new(vec![GucDef::bool("a", true, GucContext::Sighup, ""); 2]).is_err());
        assert_eq!(Settings::new(vec![GucDef::bool("a", true, GucContext::Sighup, ""); 2]).names(), vec!["a"]);
    }
}
