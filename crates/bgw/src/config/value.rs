//! The syntax of parameter values: units, booleans, integers, reals, and how integers with units and reals are
//! shown.
//!
//! Value parsing follows PostgreSQL: booleans accept `on`/`off`/`true`/
//! `false`/`yes`/`no`/`1`/`0` and unique prefixes; integers accept decimal,
//! `0x` hexadecimal and leading-zero octal, a fractional value (rounded to the
//! nearest integer, ties to even) and, for parameters with a unit, a unit
//! suffix such as `10s` or `64MB` (memory units are multiples of 1024, unit
//! names are case-sensitive). Pure functions, run by any process.

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
pub(super) fn parse_int(s: &str, unit: Unit) -> Result<i64, Option<&'static str>> {
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
pub(super) fn parse_real(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (v, end) = scan_double(b, skip_spaces(b, 0))?;
    (skip_spaces(b, end) == b.len() && v.is_finite()).then_some(v)
}

/// Formats an integer in the largest unit that divides it evenly.
pub(super) fn format_int(v: i64, unit: Unit) -> String {
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
pub(super) fn format_g(v: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::Unit;

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
}
