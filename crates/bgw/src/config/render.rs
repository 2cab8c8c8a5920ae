//! Rendering the commented-out default `bgworker.conf` that `bgw initdb` writes.
//!
//! Runs in the `bgw initdb` command.

use super::{GucContext, GucDef, GucValue};

/// Renders the commented-out `bgworker.conf` that `bgw initdb` writes: a header
/// explaining the file, then one `#name = default` line per parameter with its
/// description. Every line is a comment, so the file sets nothing.
pub fn render_default_config(defs: &[GucDef]) -> String {
    let mut out = String::new();
    for line in HEADER {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str("#------------------------------------------------------------------------------\n");
    out.push_str("# PARAMETERS\n");
    out.push_str("#------------------------------------------------------------------------------\n\n");
    for def in defs {
        let setting = format!("#{} = {}", single_line(&def.name), config_literal(def));
        let width = setting.chars().count();
        // Align the comments on column 32 using 8-column tabs, with at least one tab.
        let tabs = if width < 32 { 4usize.saturating_sub(width / 8) } else { 1 };
        let mut desc = single_line(def.short_desc.trim()).trim_end_matches('.').to_string();
        if def.context == GucContext::Postmaster {
            if !desc.is_empty() {
                desc.push(' ');
            }
            desc.push_str("(change requires restart)");
        }
        out.push_str(&setting);
        if !desc.is_empty() {
            out.push_str(&"\t".repeat(tabs));
            out.push_str("# ");
            out.push_str(&desc);
        }
        out.push('\n');
    }
    out
}

const HEADER: &[&str] = &[
    "-----------------------------",
    "bgw configuration file (bgworker.conf)",
    "-----------------------------",
    "",
    "This file is read by the bgw server at start. It uses the syntax of",
    "PostgreSQL's postgresql.conf: one setting per line,",
    "",
    "    name = value",
    "",
    "where the \"=\" is optional and \"#\" starts a comment. Strings are quoted",
    "with single quotes ('it''s'); numbers may carry a unit, e.g. 10s or 64MB.",
    "Parameter names are case-insensitive. If a name appears more than once,",
    "the last setting wins. Every parameter is listed below, commented out,",
    "with its built-in default; remove the \"#\" to change it.",
    "",
    "A setting can also be given on the command line with -c name=value; the",
    "command line wins over this file, also when the file is re-read.",
    "",
    "Parameters marked \"(change requires restart)\" are only read when the",
    "server starts. All others take effect when the file is re-read after",
    "\"bgw reload\" (which sends the server SIGHUP).",
    "",
    "Memory units:  B  = bytes            Time units:  us  = microseconds",
    "               kB = kilobytes                     ms  = milliseconds",
    "               MB = megabytes                     s   = seconds",
    "               GB = gigabytes                     min = minutes",
    "               TB = terabytes                     h   = hours",
    "                                                  d   = days",
];

/// Replaces line breaks so that a text stays on one (comment) line.
fn single_line(s: &str) -> String {
    s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect()
}

/// The default value written as it would appear in the file.
fn config_literal(def: &GucDef) -> String {
    match &def.default {
        GucValue::String(s) => quote(s),
        GucValue::Enum(s) if !is_plain_word(s) => quote(s),
        other => other.show(&def.kind),
    }
}

fn is_plain_word(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Quotes a string for the file, escaping quotes, backslashes and control
/// characters so the result stays on one line.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::{host_parameters, parse_config, GucSource, Settings, Unit};
    use std::path::Path;

    #[test]
    fn rendered_default_config_sets_nothing() {
        let defs = host_parameters(Path::new("/var/lib/bgw/it's\\data\nx"));
        let text = render_default_config(&defs);
        assert!(parse_config(&text, Path::new(FILE)).unwrap().is_empty());
        assert!(text.lines().all(|l| l.is_empty() || l.starts_with('#')), "{text}");
        assert!(text.contains("postgresql.conf"));
        assert!(text.contains("-c name=value"));
        assert!(text.contains("bgw reload"));
        assert!(text.contains(
            "#max_connections = 100\t\t# Maximum number of concurrent connections to the front door (change requires \
             restart)\n"
        ));
        assert!(text.contains("#max_parallel_workers = 8\t# Maximum number of parallel workers"));
        assert!(text.contains("#port = 5432\t\t\t# TCP port"));
        assert!(text.contains("#log_min_messages = warning\t# Minimum severity"));
        assert!(text.contains("#dynamic_library_path = '$libdir'\t# Search path"));
        assert!(text.contains("#restart_after_crash = on\t"));
        let line = text.lines().find(|l| l.starts_with("#max_parallel_workers")).unwrap();
        assert!(!line.contains("restart"));
        for def in &defs {
            assert!(text.contains(&format!("\n#{} = ", def.name)), "{}", def.name);
        }
    }

    #[test]
    fn rendered_default_config_round_trips_when_uncommented() {
        let mut defs = host_parameters(Path::new("/tmp/odd 'dir'\\x\ty"));
        defs.push(GucDef::int("ext.nap", 90_000, -1, i64::MAX, Unit::Ms, GucContext::Sighup, "Nap time."));
        defs.push(GucDef::int("ext.mem", 65_536, 0, i64::MAX, Unit::Kb, GucContext::Sighup, ""));
        defs.push(GucDef::real("ext.ratio", 1e-7, 0.0, 1.0, GucContext::Sighup, "Ratio."));
        defs.push(GucDef::enumeration("ext.mode", "Fast-Path", &["Fast-Path", "slow"], GucContext::Sighup, "Mode."));
        let text = render_default_config(&defs);
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| defs.iter().any(|d| l.starts_with(&format!("{} = ", d.name))))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed = parse_config(&uncommented, Path::new(FILE)).unwrap();
        assert_eq!(parsed.len(), defs.len());
        let mut s = Settings::try_new(defs.clone()).unwrap();
        s.load_initial(&parsed, &[]).unwrap();
        for def in &defs {
            assert_eq!(s.get(&def.name), Some(&def.default), "{}", def.name);
            assert_eq!(s.source(&def.name), Some(GucSource::File));
        }
    }
}
