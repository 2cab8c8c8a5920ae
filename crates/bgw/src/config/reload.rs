//! Applying configuration to the registry: the file and the `-c` overrides at server start
//! ([`Settings::load_initial`], all or nothing), and the file again on SIGHUP ([`Settings::reload`]), which applies
//! what it can and reports the rest in a [`ReloadReport`] for the host to log.
//!
//! Runs in the postmaster (start, SIGHUP) and in children that reload their own copy on SIGHUP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::def::param_error;
use super::parse::{is_valid_name, ConfigItem};
use super::registry::Placeholder;
use super::{ConfigError, GucContext, GucSource, Settings};

/// The severity of a reload message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// An informational message, e.g. a parameter that changed.
    Log,
    /// A problem: an invalid or rejected setting, or the summary of those.
    Warning,
}

/// One message produced by [`Settings::reload`], for the host to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadMessage {
    /// How serious the message is.
    pub level: Level,
    /// The message text, worded as PostgreSQL does.
    pub text: String,
    /// An optional hint to log after the message.
    pub hint: Option<String>,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Messages to log, in order.
    pub messages: Vec<ReloadMessage>,
    /// Names of the parameters whose effective value changed.
    pub changed: Vec<String>,
}

impl ReloadReport {
    /// Whether any message is a warning, i.e. the file had problems.
    pub fn has_errors(&self) -> bool {
        self.messages.iter().any(|m| m.level == Level::Warning)
    }

    fn push(&mut self, level: Level, text: String, hint: Option<String>) {
        self.messages.push(ReloadMessage { level, text, hint });
    }

    fn push_error(&mut self, error: &ConfigError) {
        self.push(Level::Warning, error.to_string(), error.hint().map(str::to_string));
    }
}

/// How a parameter name resolves.
enum NameKind {
    Defined,
    Placeholder,
}

impl Settings {
    /// Applies the configuration file and the `-c` overrides at server start.
    ///
    /// All parameters first go back to their defaults; then the file items
    /// apply (the last setting of a name wins), then the overrides in order.
    /// Unknown names without a dot, invalid dotted names and invalid values
    /// are errors, with the file and line where they came from a file; on error
    /// nothing changes. Dotted names not defined yet become placeholders.
    pub fn load_initial(
        &mut self,
        file_items: &[ConfigItem],
        overrides: &[(String, String)],
    ) -> Result<(), ConfigError> {
        let mut next = self.clone();
        next.apply_initial(file_items, overrides)?;
        *self = next;
        Ok(())
    }

    fn apply_initial(&mut self, items: &[ConfigItem], overrides: &[(String, String)]) -> Result<(), ConfigError> {
        for entry in self.entries.values_mut() {
            entry.value = entry.def.default.clone();
            entry.source = GucSource::Default;
            entry.pending_restart = false;
        }
        self.placeholders.clear();
        self.overrides.clear();
        if let Some(first) = items.first() {
            self.config_file = Some(first.file.clone());
        }

        for item in items {
            self.classify(&item.name.to_ascii_lowercase()).map_err(|e| e.at(&item.file, item.line))?;
        }
        let last = last_occurrences(items);
        for (idx, item) in items.iter().enumerate() {
            let key = item.name.to_ascii_lowercase();
            if last.get(&key) != Some(&idx) {
                continue;
            }
            match self.entries.get_mut(&key) {
                Some(entry) => {
                    entry.value = entry.def.parse_value(&item.value).map_err(|e| e.at(&item.file, item.line))?;
                    entry.source = GucSource::File;
                }
                None => {
                    let ph = Placeholder { value: item.value.clone(), file: item.file.clone(), line: item.line };
                    self.placeholders.insert(key, ph);
                }
            }
        }

        for (name, raw) in overrides {
            let key = name.to_ascii_lowercase();
            self.classify(&key)?;
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.value = entry.def.parse_value(raw)?;
                entry.source = GucSource::CommandLine;
            }
            self.overrides.push((key, raw.clone()));
        }
        Ok(())
    }

    /// Re-applies the configuration file on SIGHUP and reports what happened.
    ///
    /// * If the file could not be read or parsed (`Err`), or names an unknown
    ///   parameter, nothing changes and the report ends with
    ///   `configuration file "..." contains errors; no changes were applied`.
    /// * `Sighup` parameters take their new file values. A parameter that is no
    ///   longer in the file goes back to its default. Parameters set with `-c`
    ///   keep the command-line value.
    /// * A `Postmaster` parameter whose file value differs from the running
    ///   value keeps its value, is marked pending restart, and is reported
    ///   (`parameter "x" cannot be changed without restarting the server`).
    /// * An invalid value is reported and the parameter keeps its value.
    ///
    /// When anything was reported as a problem the last message is
    /// `configuration file "..." contains errors; unaffected changes were
    /// applied`.
    pub fn reload(&mut self, file_items: Result<Vec<ConfigItem>, ConfigError>) -> ReloadReport {
        let mut report = ReloadReport::default();
        let items = match file_items {
            Ok(items) => items,
            Err(error) => {
                report.push_error(&error);
                let file = error.file().map(Path::to_path_buf).or_else(|| self.config_file.clone());
                report.push(Level::Warning, summary(file.as_deref(), false), None);
                return report;
            }
        };
        if let Some(first) = items.first() {
            self.config_file = Some(first.file.clone());
        }

        // Unknown names make the whole file suspect: check them all first.
        let mut error_file: Option<PathBuf> = None;
        for item in &items {
            if let Err(e) = self.classify(&item.name.to_ascii_lowercase()) {
                report.push_error(&e.at(&item.file, item.line));
                error_file.get_or_insert_with(|| item.file.clone());
            }
        }
        if error_file.is_some() {
            report.push(Level::Warning, summary(error_file.as_deref(), false), None);
            return report;
        }

        let last = last_occurrences(&items);
        let mut errors = false;

        // Parameters that were set in the file and no longer are.
        for (key, entry) in self.entries.iter_mut() {
            if last.contains_key(key) || entry.source != GucSource::File {
                continue;
            }
            let name = &entry.def.name;
            if entry.def.context == GucContext::Postmaster {
                if entry.value == entry.def.default {
                    entry.source = GucSource::Default;
                    entry.pending_restart = false;
                } else {
                    entry.pending_restart = true;
                    errors = true;
                    let text = format!("parameter \"{name}\" cannot be changed without restarting the server");
                    report.push(Level::Warning, text, None);
                }
                continue;
            }
            let changed = entry.value != entry.def.default;
            entry.value = entry.def.default.clone();
            entry.source = GucSource::Default;
            report.push(
                Level::Log,
                format!("parameter \"{name}\" removed from configuration file, reset to default"),
                None,
            );
            if changed {
                report.changed.push(name.clone());
            }
        }
        let removed: Vec<String> = self.placeholders.keys().filter(|k| !last.contains_key(*k)).cloned().collect();
        for key in removed {
            self.placeholders.remove(&key);
            if self.override_for(&key).is_none() {
                report.push(
                    Level::Log,
                    format!("parameter \"{key}\" removed from configuration file, reset to default"),
                    None,
                );
                report.changed.push(key);
            }
        }

        // The file's settings, in file order; the last setting of a name wins.
        for (idx, item) in items.iter().enumerate() {
            let key = item.name.to_ascii_lowercase();
            if last.get(&key) != Some(&idx) {
                continue;
            }
            let overridden = self.override_for(&key).is_some();
            let Some(entry) = self.entries.get_mut(&key) else {
                if self.reserved_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
                    report.push(
                        Level::Warning,
                        format!("invalid configuration parameter name \"{key}\", removing it"),
                        None,
                    );
                    continue;
                }
                let ph = Placeholder { value: item.value.clone(), file: item.file.clone(), line: item.line };
                let old = self.placeholders.insert(key.clone(), ph);
                if old.is_none_or(|o| o.value != item.value) && !overridden {
                    report.push(Level::Log, format!("parameter \"{key}\" changed to \"{}\"", item.value), None);
                    report.changed.push(key);
                }
                continue;
            };
            let value = match entry.def.parse_value(&item.value) {
                Ok(v) => v,
                Err(e) => {
                    report.push_error(&e.at(&item.file, item.line));
                    error_file.get_or_insert_with(|| item.file.clone());
                    errors = true;
                    continue;
                }
            };
            if entry.source == GucSource::CommandLine {
                continue;
            }
            let name = &entry.def.name;
            if entry.def.context == GucContext::Postmaster {
                if value == entry.value {
                    entry.source = GucSource::File;
                    entry.pending_restart = false;
                } else {
                    entry.pending_restart = true;
                    errors = true;
                    let text = format!("parameter \"{name}\" cannot be changed without restarting the server");
                    report.push(Level::Warning, text, None);
                    error_file.get_or_insert_with(|| item.file.clone());
                }
                continue;
            }
            if value != entry.value {
                report.push(Level::Log, format!("parameter \"{name}\" changed to \"{}\"", item.value), None);
                report.changed.push(name.clone());
                entry.value = value;
            }
            entry.source = GucSource::File;
        }

        if errors {
            let file = error_file.or_else(|| self.config_file.clone());
            report.push(Level::Warning, summary(file.as_deref(), true), None);
        }
        report
    }

    /// Resolves a (lower-case) name as a defined parameter or a valid
    /// placeholder, or gives PostgreSQL's error for it.
    fn classify(&self, key: &str) -> Result<NameKind, ConfigError> {
        if self.entries.contains_key(key) {
            return Ok(NameKind::Defined);
        }
        if key.contains('.') {
            if is_valid_name(key) {
                return Ok(NameKind::Placeholder);
            }
            return Err(param_error(
                key,
                format!("invalid configuration parameter name \"{key}\""),
                Some("Custom parameter names must be two or more simple identifiers separated by dots.".to_string()),
            ));
        }
        Err(param_error(key, format!("unrecognized configuration parameter \"{key}\""), None))
    }
}

/// For each (lower-case) name, the index of its last setting.
fn last_occurrences(items: &[ConfigItem]) -> BTreeMap<String, usize> {
    items.iter().enumerate().map(|(i, item)| (item.name.to_ascii_lowercase(), i)).collect()
}

/// The closing message of a reload that found problems.
fn summary(file: Option<&Path>, applied: bool) -> String {
    let outcome = if applied { "unaffected changes were applied" } else { "no changes were applied" };
    match file {
        Some(f) => format!("configuration file \"{}\" contains errors; {outcome}", f.display()),
        None => format!("configuration file contains errors; {outcome}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::{
        host_parameters, parse_bool, parse_config, GucContext, GucDef, GucKind, GucSource, GucValue, Unit,
    };
    use std::path::Path;

    #[test]
    fn load_initial_applies_file_then_overrides() {
        let mut s = host();
        let file = items("max_connections = 50\nport = 6000\nport = 6001\nlog_min_messages = DEBUG2\n");
        s.load_initial(&file, &[("port".into(), "7000".into())]).unwrap();
        assert_eq!(s.get_int("max_connections"), Some(50));
        assert_eq!(s.source("max_connections"), Some(GucSource::File));
        assert_eq!(s.get_int("port"), Some(7000));
        assert_eq!(s.source("port"), Some(GucSource::CommandLine));
        assert_eq!(s.get_str("log_min_messages"), Some("debug2"));
        assert_eq!(s.source("max_parallel_workers"), Some(GucSource::Default));
        // Calling it again starts over from the defaults.
        s.load_initial(&[], &[]).unwrap();
        assert_eq!(s.get_int("max_connections"), Some(100));
        assert_eq!(s.get_int("port"), Some(5432));
    }

    #[test]
    fn load_initial_only_validates_the_last_setting_of_a_name() {
        let mut s = host();
        s.load_initial(&items("port = abc\nport = 6000\n"), &[]).unwrap();
        assert_eq!(s.get_int("port"), Some(6000));
    }

    #[test]
    fn load_initial_errors_name_file_line_and_parameter() {
        let mut s = host();
        let e = s.load_initial(&items("port = 6000\n\nmax_worker_processes = abc\n"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for parameter \"max_worker_processes\": \"abc\" in file \"/data/bgworker.conf\" line 3"
        );
        // Nothing was applied.
        assert_eq!(s.get_int("port"), Some(5432));

        let e = s.load_initial(&items("max_worker_processes = 1000000"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1000000 is outside the valid range for parameter \"max_worker_processes\" (0 .. 262143) in file \
             \"/data/bgworker.conf\" line 1"
        );
        let e = s.load_initial(&items("\n\nfoo = 1"), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unrecognized configuration parameter \"foo\" in file \"/data/bgworker.conf\" line 3"
        );
        let e = s.load_initial(&items("log_min_messages = loud"), &[]).unwrap_err();
        assert!(e.hint().unwrap().starts_with("Available values: debug5, debug4"));
        assert_eq!(e.line(), Some(1));

        let e = s.load_initial(&[], &[("foo".into(), "1".into())]).unwrap_err();
        assert_eq!(e.to_string(), "unrecognized configuration parameter \"foo\"");
        let e = s.load_initial(&[], &[("port".into(), "0".into())]).unwrap_err();
        assert_eq!(e.to_string(), "0 is outside the valid range for parameter \"port\" (1 .. 65535)");
        let e = s.load_initial(&[], &[("a..b".into(), "0".into())]).unwrap_err();
        assert_eq!(e.to_string(), "invalid configuration parameter name \"a..b\"");
        assert!(e.hint().is_some());
        // A hand-built item with an unusual case still resolves.
        s.load_initial(&[item("PORT", "1234", 1)], &[("Max_Connections".into(), "7".into())]).unwrap();
        assert_eq!(s.get_int("port"), Some(1234));
        assert_eq!(s.get_int("max_connections"), Some(7));
    }

    #[test]
    fn reload_applies_sighup_changes() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4"), &[]).unwrap();
        let report =
            s.reload(Ok(items("max_parallel_workers = 6\nrestart_after_crash = off\nlog_min_messages = ERROR")));
        assert_eq!(
            texts(&report),
            vec![
                "parameter \"max_parallel_workers\" changed to \"6\"",
                "parameter \"restart_after_crash\" changed to \"off\"",
                "parameter \"log_min_messages\" changed to \"ERROR\""
            ]
        );
        assert!(report.messages.iter().all(|m| m.level == Level::Log));
        assert!(!report.has_errors());
        assert_eq!(report.changed, vec!["max_parallel_workers", "restart_after_crash", "log_min_messages"]);
        assert_eq!(s.get_int("max_parallel_workers"), Some(6));
        assert_eq!(s.get_bool("restart_after_crash"), Some(false));
        assert_eq!(s.get_str("log_min_messages"), Some("error"));

        // The same file again changes nothing and says nothing.
        let report =
            s.reload(Ok(items("max_parallel_workers = 6\nrestart_after_crash = off\nlog_min_messages = error")));
        assert_eq!(report, ReloadReport::default());
    }

    #[test]
    fn reload_keeps_postmaster_parameters() {
        let mut s = host();
        s.load_initial(&items("max_connections = 50"), &[]).unwrap();
        let report = s.reload(Ok(items("max_connections = 60\nmax_parallel_workers = 2")));
        assert_eq!(
            texts(&report),
            vec![
                "parameter \"max_connections\" cannot be changed without restarting the server",
                "parameter \"max_parallel_workers\" changed to \"2\"",
                "configuration file \"/data/bgworker.conf\" contains errors; unaffected changes were applied"
            ]
        );
        assert_eq!(report.messages[0].level, Level::Warning);
        assert_eq!(report.changed, vec!["max_parallel_workers"]);
        assert_eq!(s.get_int("max_connections"), Some(50));
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        assert_eq!(s.pending_restart(), vec!["max_connections"]);

        // Putting the running value back clears the pending restart.
        let report = s.reload(Ok(items("max_connections = 50\nmax_parallel_workers = 2")));
        assert_eq!(report, ReloadReport::default());
        assert!(s.pending_restart().is_empty());

        // Removing a postmaster parameter whose value differs from the default
        // cannot take effect either.
        let report = s.reload(Ok(items("max_parallel_workers = 2")));
        assert_eq!(
            texts(&report),
            vec![
                "parameter \"max_connections\" cannot be changed without restarting the server",
                "configuration file \"/data/bgworker.conf\" contains errors; unaffected changes were applied"
            ]
        );
        assert_eq!(s.get_int("max_connections"), Some(50));

        // A postmaster parameter set in the file to its running value is fine.
        let mut s = host();
        s.load_initial(&[], &[]).unwrap();
        let report = s.reload(Ok(items("max_connections = 100\nport = 5432")));
        assert_eq!(report, ReloadReport::default());
    }

    #[test]
    fn reload_resets_removed_parameters() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4\nrestart_after_crash = on\ndynamic_library_path = '/x'"), &[])
            .unwrap();
        let report = s.reload(Ok(items("dynamic_library_path = '/x'")));
        assert_eq!(
            texts(&report),
            vec![
                "parameter \"max_parallel_workers\" removed from configuration file, reset to default",
                "parameter \"restart_after_crash\" removed from configuration file, reset to default",
            ]
        );
        // restart_after_crash was already at its default, so it did not change.
        assert_eq!(report.changed, vec!["max_parallel_workers"]);
        assert_eq!(s.get_int("max_parallel_workers"), Some(8));
        assert_eq!(s.source("max_parallel_workers"), Some(GucSource::Default));
        assert_eq!(s.get_str("dynamic_library_path"), Some("/x"));
    }

    #[test]
    fn reload_invalid_value_keeps_old_value() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4\nlog_min_messages = info"), &[]).unwrap();
        let report =
            s.reload(Ok(items("max_parallel_workers = lots\nlog_min_messages = loud\nrestart_after_crash = no")));
        assert_eq!(
            texts(&report),
            vec![
                "invalid value for parameter \"max_parallel_workers\": \"lots\" in file \"/data/bgworker.conf\" line 1",
                "invalid value for parameter \"log_min_messages\": \"loud\" in file \"/data/bgworker.conf\" line 2",
                "parameter \"restart_after_crash\" changed to \"no\"",
                "configuration file \"/data/bgworker.conf\" contains errors; unaffected changes were applied"
            ]
        );
        assert!(report.messages[1].hint.as_deref().unwrap().starts_with("Available values:"));
        assert!(report.has_errors());
        assert_eq!(report.changed, vec!["restart_after_crash"]);
        assert_eq!(s.get_int("max_parallel_workers"), Some(4));
        assert_eq!(s.get_str("log_min_messages"), Some("info"));
        assert_eq!(s.get_bool("restart_after_crash"), Some(false));
        let report =
            s.reload(Ok(items("max_parallel_workers = 2000\nlog_min_messages = info\nrestart_after_crash = no")));
        assert_eq!(
            texts(&report)[0],
            "2000 is outside the valid range for parameter \"max_parallel_workers\" (0 .. 1024) in file \
             \"/data/bgworker.conf\" line 1"
        );
        assert_eq!(s.get_int("max_parallel_workers"), Some(4));
    }

    #[test]
    fn reload_with_syntax_error_changes_nothing() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4"), &[]).unwrap();
        let parsed = parse_config("max_parallel_workers = 5\nport = = 1\n", Path::new(FILE));
        let report = s.reload(parsed);
        assert_eq!(
            texts(&report),
            vec![
                "syntax error in file \"/data/bgworker.conf\" line 2, near token \"=\"",
                "configuration file \"/data/bgworker.conf\" contains errors; no changes were applied"
            ]
        );
        assert!(report.changed.is_empty());
        assert_eq!(s.get_int("max_parallel_workers"), Some(4));

        let report = s.reload(Err(ConfigError::Io { file: FILE.into(), message: "gone".into() }));
        assert_eq!(
            texts(&report),
            vec![
                "could not open configuration file \"/data/bgworker.conf\": gone",
                "configuration file \"/data/bgworker.conf\" contains errors; no changes were applied"
            ]
        );
    }

    #[test]
    fn reload_with_unknown_name_changes_nothing() {
        let mut s = host();
        s.load_initial(&[], &[]).unwrap();
        let report = s.reload(Ok(items("max_parallel_workers = 5\nfoo = 1\nbar.baz = 2")));
        assert_eq!(
            texts(&report),
            vec![
                "unrecognized configuration parameter \"foo\" in file \"/data/bgworker.conf\" line 2",
                "configuration file \"/data/bgworker.conf\" contains errors; no changes were applied"
            ]
        );
        assert_eq!(s.get_int("max_parallel_workers"), Some(8));
        assert_eq!(s.show("bar.baz"), None);
    }

    #[test]
    fn overrides_win_across_reloads() {
        let mut s = host();
        s.load_initial(&items("max_parallel_workers = 4"), &[("max_parallel_workers".into(), "2".into())]).unwrap();
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        let report = s.reload(Ok(items("max_parallel_workers = 6")));
        assert_eq!(report, ReloadReport::default());
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        let report = s.reload(Ok(vec![]));
        assert_eq!(report, ReloadReport::default());
        assert_eq!(s.get_int("max_parallel_workers"), Some(2));
        assert_eq!(s.source("max_parallel_workers"), Some(GucSource::CommandLine));
        // An overridden postmaster parameter is not reported either.
        let mut s = host();
        s.load_initial(&[], &[("port".into(), "6000".into())]).unwrap();
        let report = s.reload(Ok(items("port = 7000")));
        assert_eq!(report, ReloadReport::default());
        assert_eq!(s.get_int("port"), Some(6000));
        // But an invalid file value is still reported.
        let report = s.reload(Ok(items("port = x")));
        assert!(report.has_errors());
        assert_eq!(s.get_int("port"), Some(6000));
    }

    #[test]
    fn reserved_prefixes_refuse_unknown_names_on_reload() {
        let mut s = Settings::new(Vec::new());
        s.load_initial(&items("m.typo = 1\nm.ok = 2"), &[]).unwrap();
        s.define(GucDef::int("m.ok", 0, 0, 10, Unit::None, GucContext::Sighup, "ok")).unwrap();
        assert_eq!(s.remove_placeholders_with_prefix("m"), vec!["m.typo".to_string()]);
        let report = s.reload(Ok(items("m.typo = 1\nm.ok = 3")));
        let texts: Vec<&str> = report.messages.iter().map(|m| m.text.as_str()).collect();
        assert!(texts.contains(&"invalid configuration parameter name \"m.typo\", removing it"), "{texts:?}");
        assert_eq!(s.get_int("m.ok"), Some(3));
        assert_eq!(s.show("m.typo"), None);
    }

    #[test]
    fn reload_tracks_placeholders() {
        let mut s = host();
        s.load_initial(&items("ext.a = 1\next.b = 2"), &[("ext.c".into(), "9".into())]).unwrap();
        let report = s.reload(Ok(items("ext.a = 1\next.c = 3\next.d = 4")));
        assert_eq!(
            texts(&report),
            vec![
                "parameter \"ext.b\" removed from configuration file, reset to default",
                "parameter \"ext.d\" changed to \"4\""
            ]
        );
        assert_eq!(report.changed, vec!["ext.b", "ext.d"]);
        assert_eq!(s.show("ext.b"), None);
        assert_eq!(s.show("ext.c").as_deref(), Some("9"));
        assert_eq!(s.show("ext.d").as_deref(), Some("4"));
        // A parameter defined after start picks up reloads like any other.
        s.define(GucDef::int("ext.d", 0, 0, 100, Unit::None, GucContext::Sighup, "")).unwrap();
        assert_eq!(s.get_int("ext.d"), Some(4));
        let report = s.reload(Ok(items("ext.a = 1\next.c = 3\next.d = 5")));
        assert_eq!(texts(&report), vec!["parameter \"ext.d\" changed to \"5\""]);
        assert_eq!(s.get_int("ext.d"), Some(5));
    }

    #[test]
    fn reload_uses_last_setting_of_a_name() {
        let mut s = host();
        s.load_initial(&[], &[]).unwrap();
        let report = s.reload(Ok(items("max_parallel_workers = bad\nmax_parallel_workers = 3")));
        assert_eq!(texts(&report), vec!["parameter \"max_parallel_workers\" changed to \"3\""]);
        assert_eq!(s.get_int("max_parallel_workers"), Some(3));
    }

    use crate::testutil::XorShift;

    #[test]
    fn random_values_and_files_never_panic() {
        const VALUE_CHARS: &[u8] = b"0123456789xXeE.+- \tkMGTBsminhdu\x01\xff";
        const FILE_CHARS: &[u8] = b"portmax_connectionsext.a=#'\\\n 0123456789-.sMBonf";
        let mut defs = host_parameters(Path::new("/data"));
        for unit in [Unit::None, Unit::Kb, Unit::Bytes, Unit::Ms, Unit::S, Unit::Min] {
            let mut d = int_def(unit);
            d.name = format!("fuzz.{unit:?}").to_ascii_lowercase();
            defs.push(d);
        }
        defs.push(GucDef::real("fuzz.real", 0.0, f64::MIN, f64::MAX, GucContext::Sighup, ""));
        let mut base = Settings::try_new(defs.clone()).unwrap();
        base.load_initial(&[], &[]).unwrap();
        let mut s = base.clone();
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for case in 0..100_000u32 {
            let len = rng.below(24);
            let alphabet = if case % 2 == 0 { VALUE_CHARS } else { FILE_CHARS };
            let bytes: Vec<u8> = (0..len)
                .map(|_| if case % 5 == 0 { rng.next() as u8 } else { alphabet[rng.below(alphabet.len())] })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            let def = &defs[rng.below(defs.len())];
            if let Ok(v) = def.parse_value(&text) {
                let _ = v.show(&def.kind);
                if let (GucValue::Int(i), GucKind::Int { min, max, .. }) = (&v, &def.kind) {
                    assert!(min <= i && i <= max);
                }
            }
            let _ = parse_bool(&text);
            if case % 2 == 1 {
                let parsed = parse_config(&text, Path::new(FILE));
                if let Ok(list) = &parsed {
                    let _ = s.clone().load_initial(list, &[(def.name.clone(), text.to_string())]);
                }
                let report = s.reload(parsed);
                for name in &report.changed {
                    assert!(s.show(name).is_some() || !name.is_empty());
                }
                if case % 1000 == 1 {
                    s = base.clone();
                }
            }
        }
        // Whatever happened, every value still satisfies its definition.
        for name in s.names() {
            let def = s.def(name).unwrap();
            let shown = s.get(name).unwrap().to_string();
            if !matches!(def.kind, GucKind::Real { .. }) {
                assert_eq!(def.parse_value(&shown).as_ref().ok(), s.get(name), "{name}");
            }
        }
    }
}
