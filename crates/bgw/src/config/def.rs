//! Parameter definitions and typed values: what a parameter is ([`GucDef`], [`GucKind`], [`GucContext`]), the
//! value it holds ([`GucValue`]), and checking a raw setting against a definition, with PostgreSQL's error
//! wording. The value syntax itself is in `value.rs`.
//!
//! Pure definitions and checks, run by any process.

use std::fmt;

use super::parse::is_valid_name;
use super::value::{format_g, format_int, parse_bool, parse_int, parse_real, Unit};
use super::ConfigError;

/// When a parameter may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GucContext {
    /// Fixed: shown but never set (PostgreSQL's `internal`: `server_version`, `is_superuser`, ...).
    Internal,
    /// Settable only at server start, in the file or with `-c`. A different
    /// file value found on reload is reported and ignored until a restart.
    Postmaster,
    /// Settable in the file; a change is picked up on reload (SIGHUP).
    Sighup,
    /// Like `Sighup`, and a superuser's session may `SET` it for itself (PostgreSQL's `superuser`).
    Superuser,
    /// Like `Sighup`, and any session may `SET` it for itself (PostgreSQL's `user`).
    User,
}

/// The type of a parameter and its constraints.
#[derive(Debug, Clone, PartialEq)]
pub enum GucKind {
    /// A boolean.
    Bool,
    /// An integer within `min ..= max`, stored in `unit`.
    Int {
        /// The smallest accepted value, in the base unit.
        min: i64,
        /// The largest accepted value, in the base unit.
        max: i64,
        /// The unit the value is stored in.
        unit: Unit,
    },
    /// A floating-point number within `min ..= max`.
    Real {
        /// The smallest accepted value.
        min: f64,
        /// The largest accepted value.
        max: f64,
    },
    /// Any string.
    String,
    /// One of a fixed list of words, matched case-insensitively.
    Enum {
        /// The accepted values, in the order they are listed in hints.
        options: Vec<String>,
    },
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum GucValue {
    /// A boolean value.
    Bool(bool),
    /// An integer, in the parameter's base unit.
    Int(i64),
    /// A floating-point value.
    Real(f64),
    /// A string value.
    String(String),
    /// An enum value, spelled as in the definition's option list.
    Enum(String),
}

impl fmt::Display for GucValue {
    /// Formats the value as PostgreSQL's `current_setting()` shows it for a
    /// parameter without a unit: `on`/`off`, plain numbers, reals in `%g`
    /// style, strings as they are. Use [`GucValue::show`] for integers with
    /// units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GucValue::Bool(true) => f.write_str("on"),
            GucValue::Bool(false) => f.write_str("off"),
            GucValue::Int(v) => write!(f, "{v}"),
            GucValue::Real(v) => f.write_str(&format_g(*v)),
            GucValue::String(s) | GucValue::Enum(s) => f.write_str(s),
        }
    }
}

impl GucValue {
    /// Formats the value as PostgreSQL's `SHOW` does for a parameter of type
    /// `kind`: a positive integer with a unit is shown in the largest unit that
    /// divides it evenly (`10s` for 10000 ms, `64MB` for 65536 kB); zero and
    /// negative values are shown as plain numbers.
    pub fn show(&self, kind: &GucKind) -> String {
        match (self, kind) {
            (GucValue::Int(v), GucKind::Int { unit, .. }) => format_int(*v, *unit),
            _ => self.to_string(),
        }
    }
}

/// The definition of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct GucDef {
    /// The name: an identifier, or dotted identifiers for a module's parameter.
    pub name: String,
    /// The type and constraints.
    pub kind: GucKind,
    /// When the parameter may change.
    pub context: GucContext,
    /// The built-in default; must satisfy `kind`.
    pub default: GucValue,
    /// A one-line description, used in the rendered default file.
    pub short_desc: String,
    /// Only superusers may examine the value (PostgreSQL's `GUC_SUPERUSER_ONLY`): `current_setting` by anyone
    /// else is refused with 42501.
    pub superuser_only: bool,
}

impl GucDef {
    /// A boolean parameter.
    pub fn bool(name: &str, default: bool, context: GucContext, short_desc: &str) -> GucDef {
        GucDef::new(name, GucKind::Bool, context, GucValue::Bool(default), short_desc)
    }

    /// An integer parameter with range `min ..= max`, stored in `unit`.
    pub fn int(
        name: &str,
        default: i64,
        min: i64,
        max: i64,
        unit: Unit,
        context: GucContext,
        short_desc: &str,
    ) -> GucDef {
        GucDef::new(name, GucKind::Int { min, max, unit }, context, GucValue::Int(default), short_desc)
    }

    /// A floating-point parameter with range `min ..= max`.
    pub fn real(name: &str, default: f64, min: f64, max: f64, context: GucContext, short_desc: &str) -> GucDef {
        GucDef::new(name, GucKind::Real { min, max }, context, GucValue::Real(default), short_desc)
    }

    /// A string parameter.
    pub fn string(name: &str, default: &str, context: GucContext, short_desc: &str) -> GucDef {
        GucDef::new(name, GucKind::String, context, GucValue::String(default.to_string()), short_desc)
    }

    /// An enum parameter accepting one of `options`.
    pub fn enumeration(name: &str, default: &str, options: &[&str], context: GucContext, short_desc: &str) -> GucDef {
        let options = options.iter().map(|o| o.to_string()).collect();
        GucDef::new(name, GucKind::Enum { options }, context, GucValue::Enum(default.to_string()), short_desc)
    }

    fn new(name: &str, kind: GucKind, context: GucContext, default: GucValue, short_desc: &str) -> GucDef {
        GucDef {
            name: name.to_string(),
            kind,
            context,
            default,
            short_desc: short_desc.to_string(),
            superuser_only: false,
        }
    }

    /// The same definition, examinable by superusers only.
    pub fn superuser_only(mut self, yes: bool) -> GucDef {
        self.superuser_only = yes;
        self
    }

    /// Parses and validates a raw setting for this parameter.
    ///
    /// On failure the error is a [`ConfigError::Parameter`] without a
    /// location, worded as PostgreSQL words it, e.g.
    /// `invalid value for parameter "port": "abc"` or
    /// `70000 is outside the valid range for parameter "port" (1 .. 65535)`.
    pub fn parse_value(&self, raw: &str) -> Result<GucValue, ConfigError> {
        let name = self.name.as_str();
        match &self.kind {
            GucKind::Bool => parse_bool(raw)
                .map(GucValue::Bool)
                .ok_or_else(|| param_error(name, format!("parameter \"{name}\" requires a Boolean value"), None)),
            GucKind::Int { min, max, unit } => {
                let v = parse_int(raw, *unit)
                    .map_err(|hint| param_error(name, invalid_value(name, raw), hint.map(str::to_string)))?;
                if v < *min || v > *max {
                    let (sp, u) = match unit.name() {
                        Some(u) => (" ", u),
                        None => ("", ""),
                    };
                    let message = format!(
                        "{v}{sp}{u} is outside the valid range for parameter \"{name}\" ({min}{sp}{u} .. {max}{sp}{u})"
                    );
                    return Err(param_error(name, message, None));
                }
                Ok(GucValue::Int(v))
            }
            GucKind::Real { min, max } => {
                let v = parse_real(raw).ok_or_else(|| param_error(name, invalid_value(name, raw), None))?;
                if !(v >= *min && v <= *max) {
                    let message = format!(
                        "{} is outside the valid range for parameter \"{name}\" ({} .. {})",
                        format_g(v),
                        format_g(*min),
                        format_g(*max)
                    );
                    return Err(param_error(name, message, None));
                }
                Ok(GucValue::Real(v))
            }
            GucKind::String => Ok(GucValue::String(raw.to_string())),
            GucKind::Enum { options } => match options.iter().find(|o| o.eq_ignore_ascii_case(raw)) {
                Some(o) => Ok(GucValue::Enum(o.clone())),
                None => {
                    let hint = format!("Available values: {}.", options.join(", "));
                    Err(param_error(name, invalid_value(name, raw), Some(hint)))
                }
            },
        }
    }

    /// Checks that the definition is usable: a valid name and a default that
    /// matches the kind and its constraints.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let fail = |reason: &str| Err(ConfigError::Definition { name: self.name.clone(), reason: reason.to_string() });
        if !is_valid_name(&self.name) {
            return fail("the name must be one or more identifiers separated by dots");
        }
        match (&self.kind, &self.default) {
            (GucKind::Bool, GucValue::Bool(_)) | (GucKind::String, GucValue::String(_)) => Ok(()),
            (GucKind::Int { min, max, .. }, GucValue::Int(d)) => {
                if min > max {
                    fail("the minimum is greater than the maximum")
                } else if d < min || d > max {
                    fail("the default is outside the valid range")
                } else {
                    Ok(())
                }
            }
            (GucKind::Real { min, max }, GucValue::Real(d)) => {
                if min.is_nan() || max.is_nan() || min > max {
                    fail("the range is empty or not a number")
                } else if !(d >= min && d <= max) {
                    fail("the default is outside the valid range")
                } else {
                    Ok(())
                }
            }
            (GucKind::Enum { options }, GucValue::Enum(d)) => {
                if options.is_empty() || options.iter().any(String::is_empty) {
                    return fail("an enum needs at least one non-empty option");
                }
                let duplicate = options
                    .iter()
                    .enumerate()
                    .any(|(i, o)| options.iter().skip(i.saturating_add(1)).any(|p| p.eq_ignore_ascii_case(o)));
                if duplicate {
                    fail("the enum options are not unique")
                } else if !options.iter().any(|o| o == d) {
                    fail("the default is not one of the options")
                } else {
                    Ok(())
                }
            }
            _ => fail("the default does not match the parameter's type"),
        }
    }
}

pub(super) fn param_error(name: &str, message: String, hint: Option<String>) -> ConfigError {
    ConfigError::Parameter { name: name.to_string(), message, hint, file: None, line: None }
}

fn invalid_value(name: &str, raw: &str) -> String {
    format!("invalid value for parameter \"{name}\": \"{raw}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn bool_error_message() {
        let def = GucDef::bool("restart_after_crash", true, GucContext::Sighup, "");
        assert_eq!(def.parse_value("y").unwrap(), GucValue::Bool(true));
        let e = def.parse_value("o").unwrap_err();
        assert_eq!(e.to_string(), "parameter \"restart_after_crash\" requires a Boolean value");
    }

    #[test]
    fn range_errors_use_postgres_wording() {
        let settings = host();
        let def = settings.def("max_worker_processes").unwrap();
        let e = def.parse_value("1000000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "1000000 is outside the valid range for parameter \"max_worker_processes\" (0 .. 262143)"
        );
        let e = def.parse_value("abc").unwrap_err();
        assert_eq!(e.to_string(), "invalid value for parameter \"max_worker_processes\": \"abc\"");
        let def = GucDef::int("naptime", 100, 10, 100_000, Unit::Ms, GucContext::Sighup, "");
        let e = def.parse_value("5").unwrap_err();
        assert_eq!(e.to_string(), "5 ms is outside the valid range for parameter \"naptime\" (10 ms .. 100000 ms)");
        let e = def.parse_value("2min").unwrap_err();
        assert_eq!(
            e.to_string(),
            "120000 ms is outside the valid range for parameter \"naptime\" (10 ms .. 100000 ms)"
        );
        let def = GucDef::real("ratio", 0.5, 0.0, 1.0, GucContext::Sighup, "");
        assert_eq!(def.parse_value("0.25").unwrap(), GucValue::Real(0.25));
        assert_eq!(def.parse_value(" 1e-1 ").unwrap(), GucValue::Real(0.1));
        let e = def.parse_value("1.5").unwrap_err();
        assert_eq!(e.to_string(), "1.5 is outside the valid range for parameter \"ratio\" (0 .. 1)");
        for bad in ["", "x", "1s", "nan", "inf", "1.0.0", "0x1"] {
            let e = def.parse_value(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid value for parameter \"ratio\": \"{bad}\""));
        }
    }

    #[test]
    fn enum_values_and_hint() {
        let settings = host();
        let def = settings.def("log_min_messages").unwrap();
        assert_eq!(def.parse_value("DEBUG1").unwrap(), GucValue::Enum("debug1".into()));
        let e = def.parse_value("loud").unwrap_err();
        assert_eq!(e.to_string(), "invalid value for parameter \"log_min_messages\": \"loud\"");
        assert_eq!(
            e.hint(),
            Some(
                "Available values: debug5, debug4, debug3, debug2, debug1, info, notice, warning, error, log, fatal, \
                 panic."
            )
        );
        assert!(def.parse_value("warn").is_err());
    }

    #[test]
    fn show_formats_like_postgres() {
        let ms = GucKind::Int { min: -1, max: i64::MAX, unit: Unit::Ms };
        assert_eq!(GucValue::Int(10_000).show(&ms), "10s");
        assert_eq!(GucValue::Int(60_000).show(&ms), "1min");
        assert_eq!(GucValue::Int(90_000).show(&ms), "90s");
        assert_eq!(GucValue::Int(1500).show(&ms), "1500ms");
        assert_eq!(GucValue::Int(86_400_000).show(&ms), "1d");
        assert_eq!(GucValue::Int(0).show(&ms), "0");
        assert_eq!(GucValue::Int(-1).show(&ms), "-1");
        let kb = GucKind::Int { min: 0, max: i64::MAX, unit: Unit::Kb };
        assert_eq!(GucValue::Int(65_536).show(&kb), "64MB");
        assert_eq!(GucValue::Int(1).show(&kb), "1kB");
        assert_eq!(GucValue::Int(1536).show(&kb), "1536kB");
        assert_eq!(GucValue::Int(1 << 30).show(&kb), "1TB");
        let b = GucKind::Int { min: 0, max: i64::MAX, unit: Unit::Bytes };
        assert_eq!(GucValue::Int(1000).show(&b), "1000B");
        assert_eq!(GucValue::Int(2048).show(&b), "2kB");
        let s = GucKind::Int { min: 0, max: i64::MAX, unit: Unit::S };
        assert_eq!(GucValue::Int(3600).show(&s), "1h");
        assert_eq!(GucValue::Int(172_800).show(&s), "2d");
        let min = GucKind::Int { min: 0, max: i64::MAX, unit: Unit::Min };
        assert_eq!(GucValue::Int(i64::MAX).show(&min), i64::MAX.to_string() + "min");
        assert_eq!(GucValue::Int(5432).show(&GucKind::Int { min: 0, max: 9999, unit: Unit::None }), "5432");
        assert_eq!(GucValue::Bool(true).to_string(), "on");
        assert_eq!(GucValue::Bool(false).show(&GucKind::Bool), "off");
        assert_eq!(GucValue::String("a b".into()).to_string(), "a b");
        assert_eq!(GucValue::Enum("warning".into()).to_string(), "warning");
    }
}
