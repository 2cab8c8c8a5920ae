//! Parameter definitions, typed values, units, and the [`Settings`] registry
//! with its start-up and reload logic.
//!
//! Value parsing follows PostgreSQL: booleans accept `on`/`off`/`true`/
//! `false`/`yes`/`no`/`1`/`0` and unique prefixes; integers accept decimal,
//! `0x` hexadecimal and leading-zero octal, a fractional value (rounded to the
//! nearest integer, ties to even) and, for parameters with a unit, a unit
//! suffix such as `10s` or `64MB` (memory units are multiples of 1024, unit
//! names are case-sensitive). Error messages use PostgreSQL's wording.

use bgw_macros::hot;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::parse::{is_valid_name, ConfigItem};
use super::ConfigError;

/// When a parameter may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GucContext {
    /// Settable only at server start, in the file or with `-c`. A different
    /// file value found on reload is reported and ignored until a restart.
    Postmaster,
    /// Settable in the file; a change is picked up on reload (SIGHUP).
    Sighup,
}

/// The unit of an integer parameter: the unit its value is stored in and the
/// family of suffixes accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A plain number; a unit suffix is an error.
    None,
    /// Kilobytes; accepts `B`, `kB`, `MB`, `GB`, `TB` (powers of 1024).
    Kb,
    /// Bytes; accepts `B`, `kB`, `MB`, `GB`, `TB` (powers of 1024).
    Bytes,
    /// Milliseconds; accepts `us`, `ms`, `s`, `min`, `h`, `d`.
    Ms,
    /// Seconds; accepts `us`, `ms`, `s`, `min`, `h`, `d`.
    S,
    /// Minutes; accepts `us`, `ms`, `s`, `min`, `h`, `d`.
    Min,
}

/// One accepted suffix: a value in this unit is `value * mul / div` base units.
struct UnitEntry {
    name: &'static str,
    mul: i64,
    div: i64,
}

const fn unit(name: &'static str, mul: i64, div: i64) -> UnitEntry {
    UnitEntry { name, mul, div }
}

// Each table runs from the largest unit to the smallest.
static KB_UNITS: [UnitEntry; 5] =
    [unit("TB", 1 << 30, 1), unit("GB", 1 << 20, 1), unit("MB", 1 << 10, 1), unit("kB", 1, 1), unit("B", 1, 1 << 10)];
static BYTE_UNITS: [UnitEntry; 5] =
    [unit("TB", 1 << 40, 1), unit("GB", 1 << 30, 1), unit("MB", 1 << 20, 1), unit("kB", 1 << 10, 1), unit("B", 1, 1)];
static MS_UNITS: [UnitEntry; 6] = [
    unit("d", 86_400_000, 1),
    unit("h", 3_600_000, 1),
    unit("min", 60_000, 1),
    unit("s", 1_000, 1),
    unit("ms", 1, 1),
    unit("us", 1, 1_000),
];
static S_UNITS: [UnitEntry; 6] = [
    unit("d", 86_400, 1),
    unit("h", 3_600, 1),
    unit("min", 60, 1),
    unit("s", 1, 1),
    unit("ms", 1, 1_000),
    unit("us", 1, 1_000_000),
];
static MIN_UNITS: [UnitEntry; 6] = [
    unit("d", 1_440, 1),
    unit("h", 60, 1),
    unit("min", 1, 1),
    unit("s", 1, 60),
    unit("ms", 1, 60_000),
    unit("us", 1, 60_000_000),
];

const MEMORY_UNITS_HINT: &str = "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".";
const TIME_UNITS_HINT: &str = "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".";
const INTEGER_RANGE_HINT: &str = "Value exceeds integer range.";

impl Unit {
    /// The name of the base unit as used in messages (`kB`, `B`, `ms`, `s`,
    /// `min`), or `None` for a plain number.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Unit::None => None,
            Unit::Kb => Some("kB"),
            Unit::Bytes => Some("B"),
            Unit::Ms => Some("ms"),
            Unit::S => Some("s"),
            Unit::Min => Some("min"),
        }
    }

    fn table(self) -> &'static [UnitEntry] {
        match self {
            Unit::None => &[],
            Unit::Kb => &KB_UNITS,
            Unit::Bytes => &BYTE_UNITS,
            Unit::Ms => &MS_UNITS,
            Unit::S => &S_UNITS,
            Unit::Min => &MIN_UNITS,
        }
    }

    fn hint(self) -> Option<&'static str> {
        match self {
            Unit::None => None,
            Unit::Kb | Unit::Bytes => Some(MEMORY_UNITS_HINT),
            Unit::Ms | Unit::S | Unit::Min => Some(TIME_UNITS_HINT),
        }
    }
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
        GucDef { name: name.to_string(), kind, context, default, short_desc: short_desc.to_string() }
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
    fn validate(&self) -> Result<(), ConfigError> {
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

fn param_error(name: &str, message: String, hint: Option<String>) -> ConfigError {
    ConfigError::Parameter { name: name.to_string(), message, hint, file: None, line: None }
}

fn invalid_value(name: &str, raw: &str) -> String {
    format!("invalid value for parameter \"{name}\": \"{raw}\"")
}

/// Parses a boolean as PostgreSQL does: `on`, `off`, `true`, `false`, `yes`,
/// `no`, `1`, `0`, case-insensitively, and any unique prefix of those words
/// (`t`, `fa`, `y`, `of`...). A lone `o` is ambiguous and rejected.
pub fn parse_bool(s: &str) -> Option<bool> {
    let lower = s.to_ascii_lowercase();
    let prefix_of = |word: &str, min_len: usize| lower.len() >= min_len && word.starts_with(lower.as_str());
    match lower.as_bytes().first()? {
        b't' => prefix_of("true", 1).then_some(true),
        b'f' => prefix_of("false", 1).then_some(false),
        b'y' => prefix_of("yes", 1).then_some(true),
        b'n' => prefix_of("no", 1).then_some(false),
        b'o' => {
            if prefix_of("on", 2) {
                Some(true)
            } else if prefix_of("off", 2) {
                Some(false)
            } else {
                None
            }
        }
        b'1' => (lower == "1").then_some(true),
        b'0' => (lower == "0").then_some(false),
        _ => None,
    }
}

/// A number read by the integer parser before unit conversion.
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_c_space(c)) {
        i = i.saturating_add(1);
    }
    i
}

/// Reads an integer like C's `strtol(s, &end, 0)`: optional sign, then `0x`
/// hexadecimal, leading-zero octal or decimal. Returns the value, the index
/// after the last digit (`start` when there is none) and whether it overflowed.
fn scan_long(b: &[u8], start: usize) -> (i64, usize, bool) {
    let mut i = start;
    let negative = match b.get(i) {
        Some(b'-') => {
            i = i.saturating_add(1);
            true
        }
        Some(b'+') => {
            i = i.saturating_add(1);
            false
        }
        _ => false,
    };
    let hex = b.get(i) == Some(&b'0')
        && matches!(b.get(i.saturating_add(1)), Some(b'x' | b'X'))
        && b.get(i.saturating_add(2)).is_some_and(u8::is_ascii_hexdigit);
    let (radix, digits_start) = if hex {
        (16u32, i.saturating_add(2))
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = digits_start;
    let mut acc: i64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(j).and_then(|&c| char::from(c).to_digit(radix)) {
        if !overflow {
            let next = acc.checked_mul(i64::from(radix)).and_then(|a| {
                if negative {
                    a.checked_sub(i64::from(d))
                } else {
                    a.checked_add(i64::from(d))
                }
            });
            match next {
                Some(a) => acc = a,
                None => overflow = true,
            }
        }
        j = j.saturating_add(1);
    }
    if j == digits_start {
        return (0, start, false);
    }
    (acc, j, overflow)
}

/// Reads a decimal floating-point number like C's `strtod` (without the
/// `inf`/`nan`/hexadecimal forms). Returns the value and the index after it.
fn scan_double(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let digits_from = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i = i.saturating_add(1);
        }
        i
    };
    let mut i = start;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i = i.saturating_add(1);
    }
    let int_end = digits_from(i);
    let mut digits = int_end.saturating_sub(i);
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits_from(i.saturating_add(1));
        digits = digits.saturating_add(frac_end.saturating_sub(i.saturating_add(1)));
        i = frac_end;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut k = i.saturating_add(1);
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k = k.saturating_add(1);
        }
        let exp_end = digits_from(k);
        if exp_end > k {
            i = exp_end;
        }
    }
    let text = std::str::from_utf8(b.get(start..i)?).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((v, i))
}

/// 2^63 as a float: the first value above `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Rounds to the nearest integer (ties to even, like C's `rint`).
fn round_to_i64(v: f64) -> Result<i64, Option<&'static str>> {
    let r = v.round_ties_even();
    if !(-TWO_POW_63..TWO_POW_63).contains(&r) {
        return Err(Some(INTEGER_RANGE_HINT));
    }
    // `r` is integral and within the i64 range, so the conversion is exact
    // (and `as` saturates rather than panicking in any case).
    #[allow(clippy::cast_possible_truncation)]
    Ok(r as i64)
}

/// Parses an integer setting with an optional unit suffix, returning the value
/// in the base unit of `unit`, or the hint to show on failure.
fn parse_int(s: &str, unit: Unit) -> Result<i64, Option<&'static str>> {
    let b = s.as_bytes();
    let start = skip_spaces(b, 0);
    let (int_value, int_end, overflow) = scan_long(b, start);
    let (number, end) = if overflow || matches!(b.get(int_end), Some(b'.' | b'e' | b'E')) {
        match scan_double(b, start) {
            Some((f, _)) if !f.is_finite() => return Err(None),
            Some((f, end)) => (Number::Float(f), end),
            None => return Err(None),
        }
    } else if int_end == start {
        return Err(None);
    } else {
        (Number::Int(int_value), int_end)
    };

    let rest = b.get(skip_spaces(b, end)..).unwrap_or_default();
    if rest.is_empty() {
        return match number {
            Number::Int(v) => Ok(v),
            Number::Float(f) => round_to_i64(f),
        };
    }
    if unit == Unit::None {
        return Err(None);
    }

    let hint = unit.hint();
    let unit_len = rest.iter().position(|&c| is_c_space(c)).unwrap_or(rest.len());
    let unit_name = rest.get(..unit_len).unwrap_or_default();
    if skip_spaces(rest, unit_len) != rest.len() {
        return Err(hint);
    }
    let table = unit.table();
    let Some(idx) = table.iter().position(|e| e.name.as_bytes() == unit_name) else {
        return Err(hint);
    };
    let Some(entry) = table.get(idx) else {
        return Err(hint);
    };
    match number {
        Number::Int(v) if entry.div == 1 => v.checked_mul(entry.mul).ok_or(Some(INTEGER_RANGE_HINT)),
        _ => {
            let v = match number {
                Number::Int(v) => v as f64,
                Number::Float(f) => f,
            };
            let mut converted = v * entry.mul as f64 / entry.div as f64;
            // A fractional value is first rounded to a whole number of the next
            // smaller unit ("1.5h" is 90 minutes, "1.7ms" for seconds is 0).
            if let Some(next) = table.get(idx.saturating_add(1)) {
                let step = next.mul as f64 / next.div as f64;
                converted = (converted / step).round_ties_even() * step;
            }
            round_to_i64(converted)
        }
    }
}

/// Parses a real setting (no units), rejecting NaN and infinities.
fn parse_real(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (v, end) = scan_double(b, skip_spaces(b, 0))?;
    (skip_spaces(b, end) == b.len() && v.is_finite()).then_some(v)
}

/// Formats an integer in the largest unit that divides it evenly.
fn format_int(v: i64, unit: Unit) -> String {
    if v > 0 {
        for e in unit.table() {
            if e.div != 1 || v.checked_rem(e.mul) != Some(0) {
                continue;
            }
            if let Some(quotient) = v.checked_div(e.mul) {
                return format!("{quotient}{}", e.name);
            }
        }
    }
    v.to_string()
}

/// Formats a float like C's `printf("%g")`: six significant digits, trailing
/// zeros removed, exponent form for very small or large magnitudes.
fn format_g(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let precision = usize::try_from(5i32.saturating_sub(exp)).unwrap_or(0);
        trim_fraction(&format!("{v:.precision$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_fraction(mantissa), exp.unsigned_abs())
    }
}

fn trim_fraction(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

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

/// A defined parameter and its current state.
#[derive(Debug, Clone)]
struct Entry {
    def: GucDef,
    value: GucValue,
    source: GucSource,
    pending_restart: bool,
}

/// A file setting for a dotted name that no module has defined yet.
#[derive(Debug, Clone)]
struct Placeholder {
    value: String,
    file: PathBuf,
    line: u32,
}

/// How a parameter name resolves.
enum NameKind {
    Defined,
    Placeholder,
}

/// The parameter registry.
///
/// It holds the definitions, the current value of each parameter and where
/// that value came from, the file's settings for not-yet-defined dotted names
/// (placeholders), and the command-line overrides, which it keeps so they stay
/// in force across reloads and apply to parameters defined later.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    entries: BTreeMap<String, Entry>,
    placeholders: BTreeMap<String, Placeholder>,
    overrides: Vec<(String, String)>,
    config_file: Option<PathBuf>,
    /// Prefixes modules reserved (MarkGUCPrefixReserved): undefined names under them are errors, not placeholders.
    reserved_prefixes: Vec<String>,
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

    /// The last `-c` value given for a (lower-case) name.
    fn override_for(&self, key: &str) -> Option<&str> {
        self.overrides.iter().rev().find(|(n, _)| n == key).map(|(_, v)| v.as_str())
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

/// The host's built-in parameters. `unix_socket_directories` defaults to
/// `data_dir`.
pub fn host_parameters(data_dir: &Path) -> Vec<GucDef> {
    use GucContext::{Postmaster, Sighup};
    vec![
        GucDef::int(
            "max_worker_processes",
            8,
            0,
            262_143,
            Unit::None,
            Postmaster,
            "Maximum number of concurrent background worker processes.",
        ),
        GucDef::int(
            "max_parallel_workers",
            8,
            0,
            1024,
            Unit::None,
            Sighup,
            "Maximum number of parallel workers that can be active at one time.",
        ),
        GucDef::bool("restart_after_crash", true, Sighup, "Reinitialize the server after a worker crash."),
        GucDef::int(
            "worker_spare_processes",
            1,
            0,
            crate::postmaster::spares::MAX_SPARES as i64,
            Unit::None,
            Sighup,
            "Number of idle processes forked ahead of need, to start background workers without a fork.",
        ),
        GucDef::int(
            "max_connections",
            100,
            1,
            262_143,
            Unit::None,
            Postmaster,
            "Maximum number of concurrent connections to the front door.",
        ),
        GucDef::int("port", 5432, 1, 65_535, Unit::None, Postmaster, "TCP port the server listens on."),
        GucDef::string(
            "unix_socket_directories",
            &data_dir.to_string_lossy(),
            Postmaster,
            "Directories where the server creates its Unix-domain socket.",
        ),
        GucDef::string(
            "listen_addresses",
            "",
            Postmaster,
            "Host names or IP addresses to listen on; empty means Unix socket only.",
        ),
        GucDef::enumeration(
            "log_min_messages",
            "warning",
            &[
                "debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal",
                "panic",
            ],
            Sighup,
            "Minimum severity of messages written to the server log.",
        ),
        GucDef::string("shared_preload_libraries", "", Postmaster, "Libraries to load into the server at start."),
        GucDef::string("dynamic_library_path", "$libdir", Sighup, "Search path for dynamically loadable modules."),
    ]
}

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
    use super::super::parse::parse_config;
    use super::*;

    const FILE: &str = "/data/bgworker.conf";

    fn item(name: &str, value: &str, line: u32) -> ConfigItem {
        ConfigItem { name: name.to_string(), value: value.to_string(), file: PathBuf::from(FILE), line }
    }

    fn items(text: &str) -> Vec<ConfigItem> {
        parse_config(text, Path::new(FILE)).unwrap()
    }

    fn host() -> Settings {
        Settings::try_new(host_parameters(Path::new("/data"))).unwrap()
    }

    fn texts(report: &ReloadReport) -> Vec<&str> {
        report.messages.iter().map(|m| m.text.as_str()).collect()
    }

    fn int_def(unit: Unit) -> GucDef {
        GucDef::int("x", 0, i64::MIN, i64::MAX, unit, GucContext::Sighup, "test")
    }

    fn int(raw: &str, unit: Unit) -> Result<i64, ConfigError> {
        match int_def(unit).parse_value(raw)? {
            GucValue::Int(v) => Ok(v),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bool_words_and_prefixes() {
        for s in ["on", "ON", "true", "t", "tr", "tru", "TRUE", "yes", "y", "ye", "1", "On"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["off", "of", "OFF", "false", "f", "fa", "fals", "no", "n", "NO", "0"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        for s in ["", "o", "O", "onn", "offf", "truex", "yess", "nope", "2", "01", "10", " on", "on ", "enable", "ö"] {
            assert_eq!(parse_bool(s), None, "{s}");
        }
    }

    #[test]
    fn bool_error_message() {
        let def = GucDef::bool("restart_after_crash", true, GucContext::Sighup, "");
        assert_eq!(def.parse_value("y").unwrap(), GucValue::Bool(true));
        let e = def.parse_value("o").unwrap_err();
        assert_eq!(e.to_string(), "parameter \"restart_after_crash\" requires a Boolean value");
    }

    #[test]
    fn integers_plain_hex_octal_and_rounding() {
        assert_eq!(int("42", Unit::None).unwrap(), 42);
        assert_eq!(int("-1", Unit::None).unwrap(), -1);
        assert_eq!(int("+5", Unit::None).unwrap(), 5);
        assert_eq!(int("  7  ", Unit::None).unwrap(), 7);
        assert_eq!(int("0x1F", Unit::None).unwrap(), 31);
        assert_eq!(int("0X1f", Unit::None).unwrap(), 31);
        assert_eq!(int("-0x10", Unit::None).unwrap(), -16);
        assert_eq!(int("010", Unit::None).unwrap(), 8);
        assert_eq!(int("0", Unit::None).unwrap(), 0);
        assert_eq!(int("1.5", Unit::None).unwrap(), 2);
        assert_eq!(int("2.5", Unit::None).unwrap(), 2);
        assert_eq!(int("-1.5", Unit::None).unwrap(), -2);
        assert_eq!(int("1.4", Unit::None).unwrap(), 1);
        assert_eq!(int(".5", Unit::None).unwrap(), 0);
        assert_eq!(int("1e3", Unit::None).unwrap(), 1000);
        assert_eq!(int("1.5e1", Unit::None).unwrap(), 15);
        assert_eq!(int("9223372036854775807", Unit::None).unwrap(), i64::MAX);
        assert_eq!(int("-9223372036854775808", Unit::None).unwrap(), i64::MIN);
        for bad in ["", " ", "abc", "08", "0x", "1x", "10s", "1e", "--1", "- 1", "1 2", "nan", "inf", "0b1"] {
            let e = int(bad, Unit::None).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid value for parameter \"x\": \"{bad}\""));
            assert_eq!(e.hint(), None, "{bad}");
        }
        let e = int("9223372036854775808", Unit::None).unwrap_err();
        assert_eq!(e.hint(), Some("Value exceeds integer range."));
        let e = int("1e30", Unit::None).unwrap_err();
        assert_eq!(e.hint(), Some("Value exceeds integer range."));
        assert_eq!(int("1e400", Unit::None).unwrap_err().hint(), None);
    }

    #[test]
    fn time_units() {
        assert_eq!(int("10s", Unit::Ms).unwrap(), 10_000);
        assert_eq!(int("10 s", Unit::Ms).unwrap(), 10_000);
        assert_eq!(int(" 10s ", Unit::Ms).unwrap(), 10_000);
        assert_eq!(int("10", Unit::Ms).unwrap(), 10);
        assert_eq!(int("1min", Unit::Ms).unwrap(), 60_000);
        assert_eq!(int("2h", Unit::Ms).unwrap(), 7_200_000);
        assert_eq!(int("1d", Unit::Ms).unwrap(), 86_400_000);
        assert_eq!(int("1.5s", Unit::Ms).unwrap(), 1500);
        assert_eq!(int("-1s", Unit::Ms).unwrap(), -1000);
        assert_eq!(int("1500us", Unit::Ms).unwrap(), 2);
        assert_eq!(int("2500us", Unit::Ms).unwrap(), 2);
        assert_eq!(int("400us", Unit::Ms).unwrap(), 0);
        assert_eq!(int("0x10s", Unit::Ms).unwrap(), 16_000);
        assert_eq!(int("1.5min", Unit::S).unwrap(), 90);
        assert_eq!(int("1500ms", Unit::S).unwrap(), 2);
        assert_eq!(int("2500ms", Unit::S).unwrap(), 2);
        assert_eq!(int("1.7ms", Unit::S).unwrap(), 0);
        assert_eq!(int("1d", Unit::S).unwrap(), 86_400);
        assert_eq!(int("90s", Unit::Min).unwrap(), 2);
        assert_eq!(int("1h", Unit::Min).unwrap(), 60);
        assert_eq!(int("1.5h", Unit::Min).unwrap(), 90);
        for bad in ["10S", "10 sec", "10x", "10s s", "10 m", "10mins", "s"] {
            let e = int(bad, Unit::Ms).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid value for parameter \"x\": \"{bad}\""));
            if bad != "s" {
                assert_eq!(
                    e.hint(),
                    Some("Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"."),
                    "{bad}"
                );
            }
        }
        let e = int("9223372036854775807d", Unit::Ms).unwrap_err();
        assert_eq!(e.hint(), Some("Value exceeds integer range."));
    }

    #[test]
    fn memory_units() {
        assert_eq!(int("64MB", Unit::Kb).unwrap(), 65_536);
        assert_eq!(int("1GB", Unit::Kb).unwrap(), 1_048_576);
        assert_eq!(int("1TB", Unit::Kb).unwrap(), 1 << 30);
        assert_eq!(int("8kB", Unit::Kb).unwrap(), 8);
        assert_eq!(int("1024B", Unit::Kb).unwrap(), 1);
        assert_eq!(int("1500B", Unit::Kb).unwrap(), 1);
        assert_eq!(int("1.5MB", Unit::Kb).unwrap(), 1536);
        assert_eq!(int("0.5kB", Unit::Kb).unwrap(), 0);
        assert_eq!(int("1kB", Unit::Bytes).unwrap(), 1024);
        assert_eq!(int("3B", Unit::Bytes).unwrap(), 3);
        assert_eq!(int("1TB", Unit::Bytes).unwrap(), 1 << 40);
        for bad in ["64mb", "64KB", "1s", "64 M B"] {
            let e = int(bad, Unit::Kb).unwrap_err();
            assert_eq!(
                e.hint(),
                Some("Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\"."),
                "{bad}"
            );
        }
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

    #[test]
    fn real_formatting_is_percent_g() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-2.25, "-2.25"),
            (123_456.0, "123456"),
            (1_234_567.0, "1.23457e+06"),
            (1e10, "1e+10"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.333333"),
            (999_999.5, "1e+06"),
            (f64::MAX, "1.79769e+308"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (v, want) in cases {
            assert_eq!(format_g(*v), *want, "{v}");
        }
    }

    #[test]
    fn host_parameter_defaults() {
        let s = host();
        assert_eq!(s.get_int("max_worker_processes"), Some(8));
        assert_eq!(s.get_int("max_parallel_workers"), Some(8));
        assert_eq!(s.get_bool("restart_after_crash"), Some(true));
        assert_eq!(s.get_int("max_connections"), Some(100));
        assert_eq!(s.get_int("port"), Some(5432));
        assert_eq!(s.get_str("unix_socket_directories"), Some("/data"));
        assert_eq!(s.get_str("listen_addresses"), Some(""));
        assert_eq!(s.get_str("log_min_messages"), Some("warning"));
        assert_eq!(s.get_str("shared_preload_libraries"), Some(""));
        assert_eq!(s.get_str("dynamic_library_path"), Some("$libdir"));
        assert_eq!(s.get_int("worker_spare_processes"), Some(1));
        assert_eq!(s.def("worker_spare_processes").unwrap().context, GucContext::Sighup);
        assert_eq!(s.get("bgw_launches_per_iteration"), None);
        assert_eq!(s.names().len(), 11);
        assert!(s.names().windows(2).all(|w| w[0] < w[1]));
        assert!(host_parameters(Path::new("/d")).iter().all(|d| !d.short_desc.is_empty()));
        assert_eq!(s.def("max_connections").unwrap().context, GucContext::Postmaster);
        assert_eq!(s.def("max_parallel_workers").unwrap().context, GucContext::Sighup);
        assert_eq!(s.source("port"), Some(GucSource::Default));
    }

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
