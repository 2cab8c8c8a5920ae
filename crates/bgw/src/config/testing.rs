//! Helpers shared by the configuration module's unit tests.

use super::{
    host_parameters, parse_config, ConfigError, ConfigItem, GucContext, GucDef, GucValue, ReloadReport, Settings, Unit,
};
use std::path::{Path, PathBuf};

pub(super) const FILE: &str = "/data/bgworker.conf";

pub(super) fn item(name: &str, value: &str, line: u32) -> ConfigItem {
    ConfigItem { name: name.to_string(), value: value.to_string(), file: PathBuf::from(FILE), line }
}

pub(super) fn items(text: &str) -> Vec<ConfigItem> {
    parse_config(text, Path::new(FILE)).unwrap()
}

pub(super) fn host() -> Settings {
    Settings::try_new(host_parameters(Path::new("/data"))).unwrap()
}

pub(super) fn texts(report: &ReloadReport) -> Vec<&str> {
    report.messages.iter().map(|m| m.text.as_str()).collect()
}

pub(super) fn int_def(unit: Unit) -> GucDef {
    GucDef::int("x", 0, i64::MIN, i64::MAX, unit, GucContext::Sighup, "test")
}

pub(super) fn int(raw: &str, unit: Unit) -> Result<i64, ConfigError> {
    match int_def(unit).parse_value(raw)? {
        GucValue::Int(v) => Ok(v),
        other => panic!("unexpected {other:?}"),
    }
}
