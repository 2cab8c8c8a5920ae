//! date, time, timestamp, timestamptz and interval: PostgreSQL's input (ISO 8601 and PostgreSQL's common forms),
//! output (`DateStyle` ISO, `IntervalStyle` postgres, time zone UTC), binary formats (days or microseconds since
//! 2000-01-01, interval as microseconds/days/months) and arithmetic (timestamp ± interval, date ± integer,
//! timestamp - timestamp, `date_trunc`, `extract`/`date_part`).
//!
//! The session time zone is UTC: a timestamptz is stored and printed in UTC (`2024-01-31 11:45:00+00`), input
//! with a numeric offset (`+02`, `-05:30`) or `Z`/`UTC`/`GMT` is converted; a named zone (`Europe/Paris`) and
//! the relative special values (`now`, `today`, `tomorrow`, `yesterday`, `allballs`) are refused with 0A000.
//!
//! Runs in: any process that runs SQL.

use super::numeric::Numeric;
use super::{bad_binary, raw_text, Reader, Typmod};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

use PgType as T;

pub const USECS_PER_SEC: i64 = 1_000_000;
pub const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Days from 2000-01-01 back to 1970-01-01.
pub const UNIX_EPOCH_DAYS: i64 = -10_957;
/// -infinity and infinity as dates and timestamps.
pub const DATE_NOBEGIN: i32 = i32::MIN;
pub const DATE_NOEND: i32 = i32::MAX;
pub const TS_NOBEGIN: i64 = i64::MIN;
pub const TS_NOEND: i64 = i64::MAX;
/// 4714-11-24 BC (Julian day 0) and 5874898-01-01, PostgreSQL's date range, in days since 2000-01-01.
const DATE_MIN: i64 = -2_451_545;
const DATE_END: i64 = 2_147_483_494 - 2_451_545;
/// PostgreSQL's timestamp range (the end excluded: 294277-01-01).
const TS_MIN: i64 = -211_813_488_000_000_000;
const TS_END: i64 = 9_223_371_331_200_000_000;

/// An interval: months, days and microseconds, kept apart as PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

/// Days since 2000-01-01 of a proleptic Gregorian date (astronomical year: 1 BC is 0).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + UNIX_EPOCH_DAYS
}

/// The date `days` days after 2000-01-01 (astronomical year).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days - UNIX_EPOCH_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

/// Why a date/time text does not read.
enum Bad {
    Syntax,
    Range,
    Zone,
    Unsupported(String),
}

#[derive(Default)]
struct Parsed {
    date: Option<(i64, u32, u32)>,
    time: Option<i64>,
    /// Seconds east of UTC.
    zone: Option<i64>,
    bc: bool,
}

enum Special {
    Infinity,
    NegInfinity,
    Epoch,
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

fn parse_date_token(token: &str) -> Result<(i64, u32, u32), Bad> {
    let parts: Vec<&str> = if token.contains('-') {
        let p: Vec<&str> = token.split('-').collect();
        if p.len() == 3 && p[0].len() < 3 {
            // DateStyle MDY.
            vec![p[2], p[0], p[1]]
        } else {
            p
        }
    } else if token.contains('/') {
        let p: Vec<&str> = token.split('/').collect();
        if p.len() != 3 {
            return Err(Bad::Syntax);
        }
        if p[0].len() >= 3 {
            vec![p[0], p[1], p[2]]
        } else {
            // DateStyle MDY.
            vec![p[2], p[0], p[1]]
        }
    } else if token.len() == 8 {
        vec![&token[..4], &token[4..6], &token[6..]]
    } else {
        return Err(Bad::Syntax);
    };
    if parts.len() != 3 {
        return Err(Bad::Syntax);
    }
    let (y, m, d) = (digits(parts[0]), digits(parts[1]), digits(parts[2]));
    let (Some(mut y), Some(m), Some(d)) = (y, m, d) else { return Err(Bad::Syntax) };
    if parts[0].len() == 2 {
        y += if y < 70 { 2000 } else { 1900 };
    }
    if y == 0 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m as u32) as i64 {
        return Err(Bad::Range);
    }
    if y > 6_000_000 {
        return Err(Bad::Range);
    }
    Ok((y, m as u32, d as u32))
}

/// A fraction of a second (the digits after the point) in microseconds, rounded to the nearest.
fn fraction_micros(frac: &str) -> Result<i64, Bad> {
    if frac.is_empty() {
        return Ok(0);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Bad::Syntax);
    }
    let mut padded = frac.to_owned();
    while padded.len() < 7 {
        padded.push('0');
    }
    let micros: i64 = padded[..6].parse().map_err(|_| Bad::Syntax)?;
    let rest = &padded[6..];
    let round_up = match rest.as_bytes()[0] {
        b'5' if rest[1..].bytes().all(|b| b == b'0') => micros % 2 == 1,
        d => d >= b'5',
    };
    Ok(micros + i64::from(round_up))
}

/// `h:mm[:ss[.frac]]` in microseconds.
fn parse_time_token(token: &str) -> Result<i64, Bad> {
    let parts: Vec<&str> = token.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(Bad::Syntax);
    }
    let hour = digits(parts[0]).ok_or(Bad::Syntax)?;
    let (minute_text, minute_frac) = match parts[1].split_once('.') {
        Some((m, f)) if parts.len() == 2 => (m, Some(f)),
        _ => (parts[1], None),
    };
    let minute = digits(minute_text).ok_or(Bad::Syntax)?;
    let (second, micros) = match parts.get(2) {
        None => (0, minute_frac.map_or(Ok(0), |f| fraction_micros(f).map(|u| u * 60))?),
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            (digits(whole).ok_or(Bad::Syntax)?, fraction_micros(frac)?)
        }
    };
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute > 0 || second > 0 || micros > 0)) {
        return Err(Bad::Range);
    }
    Ok(((hour * 60 + minute) * 60 + second) * USECS_PER_SEC + micros)
}

/// `+hh`, `+hh:mm`, `+hhmm`, `-hh:mm:ss` in seconds east of UTC.
fn parse_offset(token: &str) -> Result<i64, Bad> {
    let (sign, body) = match token.as_bytes().first() {
        Some(b'+') => (1, &token[1..]),
        Some(b'-') => (-1, &token[1..]),
        _ => return Err(Bad::Syntax),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [hm] if hm.len() == 4 => (digits(&hm[..2]), digits(&hm[2..]), Some(0)),
        [h] if h.len() <= 2 => (digits(h), Some(0), Some(0)),
        [h, m] => (digits(h), digits(m), Some(0)),
        [h, m, s] => (digits(h), digits(m), digits(s)),
        _ => return Err(Bad::Syntax),
    };
    let (Some(h), Some(m), Some(s)) = (h, m, s) else { return Err(Bad::Syntax) };
    if m > 59 || s > 59 {
        return Err(Bad::Range);
    }
    if h > 15 {
        return Err(Bad::Zone);
    }
    Ok(sign * (h * 3600 + m * 60 + s))
}

fn parse_text(text: &str) -> Result<Result<Parsed, Special>, Bad> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "infinity" | "+infinity" => return Ok(Err(Special::Infinity)),
        "-infinity" => return Ok(Err(Special::NegInfinity)),
        "epoch" => return Ok(Err(Special::Epoch)),
        "allballs" => return Ok(Ok(Parsed { time: Some(0), zone: Some(0), ..Parsed::default() })),
        "now" | "today" | "tomorrow" | "yesterday" => {
            return Err(Bad::Unsupported(format!(
                "date/time value \"{lower}\" is not supported here: write the value, or use now() or \
                 current_date"
            )))
        }
        _ => {}
    }
    let mut parsed = Parsed::default();
    // `2024-01-31T13:45:00` is two tokens.
    let spaced = match lower.find('t') {
        Some(at)
            if at > 0
                && lower.as_bytes()[at - 1].is_ascii_digit()
                && lower.as_bytes().get(at + 1).is_some_and(u8::is_ascii_digit) =>
        {
            format!("{} {}", &lower[..at], &lower[at + 1..])
        }
        _ => lower.clone(),
    };
    let mut tokens: Vec<&str> = spaced.split_ascii_whitespace().collect();
    // A month by name (`Jan 31 2024`, `January 31, 2024`, `31 Jan 2024`); day names are ignored.
    tokens.retain(|t| !is_day_name(t.trim_end_matches([',', '.'])));
    if let Some(at) = tokens.iter().position(|t| month_number(t.trim_end_matches([',', '.'])).is_some()) {
        let month = month_number(tokens[at].trim_end_matches([',', '.'])).unwrap_or(1);
        tokens.remove(at);
        let numbers: Vec<usize> = (0..tokens.len())
            .filter(|&i| {
                let t = tokens[i].trim_end_matches(',');
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
            })
            .take(2)
            .collect();
        let [first, second] = numbers[..] else { return Err(Bad::Syntax) };
        let (a, b) = (tokens[first].trim_end_matches(','), tokens[second].trim_end_matches(','));
        let (day, year) = if a.len() > 2 { (b, a) } else { (a, b) };
        let (Some(day), Some(mut year)) = (digits(day), digits(year)) else { return Err(Bad::Syntax) };
        if year < 100 && (if a.len() > 2 { a } else { b }).len() == 2 {
            year += if year < 70 { 2000 } else { 1900 };
        }
        if year == 0 || day < 1 || day > days_in_month(year, month) as i64 {
            return Err(Bad::Range);
        }
        parsed.date = Some((year, month, day as u32));
        tokens.remove(second);
        tokens.remove(first);
    }
    for token in tokens {
        match token {
            "bc" => parsed.bc = true,
            "ad" => {}
            "z" | "utc" | "gmt" | "zulu" | "ut" => parsed.zone = Some(0),
            _ if token.starts_with(['+', '-'])
                && (parsed.time.is_some() || parsed.date.is_some())
                && parsed.zone.is_none() =>
            {
                parsed.zone = Some(parse_offset(token)?);
            }
            _ if token.contains(':') && parsed.time.is_none() => {
                // The time, perhaps with its zone attached (`13:45:00+02`, `13:45z`).
                let cut = token.char_indices().skip(1).find(|(_, c)| matches!(c, '+' | '-' | 'z')).map(|(i, _)| i);
                let (time, zone) = match cut {
                    Some(at) => token.split_at(at),
                    None => (token, ""),
                };
                parsed.time = Some(parse_time_token(time)?);
                match zone {
                    "" => {}
                    "z" => parsed.zone = Some(0),
                    offset => parsed.zone = Some(parse_offset(offset)?),
                }
            }
            _ if token.as_bytes()[0].is_ascii_digit() && parsed.date.is_none() && parsed.time.is_none() => {
                parsed.date = Some(parse_date_token(token)?);
            }
            _ if token.as_bytes()[0].is_ascii_alphabetic() && parsed.zone.is_none() && parsed.date.is_some() => {
                return Err(Bad::Unsupported(format!(
                    "time zone \"{token}\" is not supported here: use a numeric offset such as +02 or UTC"
                )));
            }
            _ => return Err(Bad::Syntax),
        }
    }
    if let (true, Some((y, m, d))) = (parsed.bc, parsed.date) {
        parsed.date = Some((1 - y, m, d));
    }
    Ok(Ok(parsed))
}

/// The month a name or abbreviation stands for.
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word.len() < 3 {
        return None;
    }
    let m = MONTHS.iter().position(|m| {
        *m == word || (word.len() == 3 && m.starts_with(word)) || (word == "sept" && *m == "september")
    })?;
    Some(m as u32 + 1)
}

fn is_day_name(word: &str) -> bool {
    matches!(
        word,
        "mon"
            | "monday"
            | "tue"
            | "tues"
            | "tuesday"
            | "wed"
            | "wednes"
            | "wednesday"
            | "thu"
            | "thur"
            | "thurs"
            | "thursday"
            | "fri"
            | "friday"
            | "sat"
            | "saturday"
            | "sun"
            | "sunday"
    )
}

fn parse_error(ty: PgType, text: &str, bad: Bad) -> SqlError {
    match bad {
        Bad::Syntax => {
            // PostgreSQL's datetime input names timestamp and time without their "without time zone".
            let name = match ty {
                PgType::Timestamp => "timestamp",
                PgType::Time => "time",
                other => other.sql_name(),
            };
            SqlError::error("22007", format!("invalid input syntax for type {name}: \"{text}\""))
        }
        Bad::Range => SqlError::error("22008", format!("date/time field value out of range: \"{text}\"")),
        Bad::Zone => SqlError::error("22009", format!("time zone displacement out of range: \"{text}\"")),
        Bad::Unsupported(message) => SqlError::error("0A000", message),
    }
}

/// date's input: days since 2000-01-01 (or the infinities).
pub fn parse_date(text: &str) -> Result<i32, SqlError> {
    let err = |bad| parse_error(T::Date, text, bad);
    match parse_text(text).map_err(err)? {
        Err(Special::Infinity) => Ok(DATE_NOEND),
        Err(Special::NegInfinity) => Ok(DATE_NOBEGIN),
        Err(Special::Epoch) => Ok(UNIX_EPOCH_DAYS as i32),
        Ok(Parsed { date: Some((y, m, d)), .. }) => {
            let days = days_from_civil(y, m, d);
            if !(DATE_MIN..DATE_END).contains(&days) {
                return Err(SqlError::error("22008", format!("date out of range: \"{text}\"")));
            }
            Ok(days as i32)
        }
        Ok(_) => Err(err(Bad::Syntax)),
    }
}

/// timestamp's (and timestamptz's) input: microseconds since 2000-01-01 00:00 (UTC for timestamptz; a zone in
/// the text is ignored for timestamp, as PostgreSQL does).
pub fn parse_timestamp(ty: PgType, text: &str) -> Result<i64, SqlError> {
    let err = |bad| parse_error(ty, text, bad);
    let parsed = match parse_text(text).map_err(err)? {
        Err(Special::Infinity) => return Ok(TS_NOEND),
        Err(Special::NegInfinity) => return Ok(TS_NOBEGIN),
        Err(Special::Epoch) => return Ok(UNIX_EPOCH_DAYS * USECS_PER_DAY),
        Ok(parsed) => parsed,
    };
    let Some((y, m, d)) = parsed.date else { return Err(err(Bad::Syntax)) };
    let mut ts = days_from_civil(y, m, d) as i128 * USECS_PER_DAY as i128 + parsed.time.unwrap_or(0) as i128;
    if ty == T::Timestamptz {
        ts -= parsed.zone.unwrap_or(0) as i128 * USECS_PER_SEC as i128;
    }
    if !(TS_MIN as i128..TS_END as i128).contains(&ts) {
        return Err(SqlError::error("22008", format!("timestamp out of range: \"{text}\"")));
    }
    Ok(ts as i64)
}

/// time's input: microseconds since midnight (a date or zone in the text is ignored).
pub fn parse_time(text: &str) -> Result<i64, SqlError> {
    let err = |bad| parse_error(T::Time, text, bad);
    match parse_text(text).map_err(err)? {
        Ok(Parsed { time: Some(t), .. }) => Ok(t),
        _ => Err(err(Bad::Syntax)),
    }
}

/// Rounds microseconds to `typmod` (0 to 6) fractional digits, half away from zero.
fn round_precision(micros: i64, typmod: Typmod) -> i64 {
    if !(0..6).contains(&typmod) || micros == TS_NOBEGIN || micros == TS_NOEND {
        return micros;
    }
    let scale = 10i64.pow(6 - typmod as u32);
    let half = scale / 2;
    if micros >= 0 {
        (micros + half) / scale * scale
    } else {
        -((-micros + half) / scale * scale)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Intervals
// ---------------------------------------------------------------------------------------------------------------

/// An interval being read: months, days and microseconds (fractions spill down as PostgreSQL's do), and the
/// fields already given (each at most once).
#[derive(Default)]
struct IntervalParts {
    months: f64,
    days: f64,
    micros: f64,
    seen: Vec<&'static str>,
}

impl IntervalParts {
    /// Adds `value` of `unit`; Err for an unknown unit or a field given twice.
    fn add(&mut self, value: f64, unit: &str) -> Result<(), ()> {
        let whole = value.trunc();
        let frac = value - whole;
        let field = match unit {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "microsecon" | "useconds" => {
                self.micros += value;
                "microsecond"
            }
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "millisecon" | "mseconds" => {
                self.micros += value * 1e3;
                "millisecond"
            }
            "second" | "seconds" | "s" | "sec" | "secs" => {
                self.micros += value * 1e6;
                "second"
            }
            "minute" | "minutes" | "m" | "min" | "mins" => {
                self.micros += value * 60e6;
                "minute"
            }
            "hour" | "hours" | "h" | "hr" | "hrs" => {
                self.micros += value * 3600e6;
                "hour"
            }
            "day" | "days" | "d" => {
                self.days += whole;
                self.micros += frac * 86_400e6;
                "day"
            }
            "week" | "weeks" | "w" => {
                let d = value * 7.0;
                self.days += d.trunc();
                self.micros += (d - d.trunc()) * 86_400e6;
                "week"
            }
            "month" | "months" | "mon" | "mons" => {
                self.months += whole;
                let d = frac * 30.0;
                self.days += d.trunc();
                self.micros += (d - d.trunc()) * 86_400e6;
                "month"
            }
            "year" | "years" | "y" | "yr" | "yrs" => {
                self.months += whole * 12.0 + (frac * 12.0).round();
                "year"
            }
            "decade" | "decades" | "dec" | "decs" => {
                self.months += whole * 120.0 + (frac * 120.0).round();
                "decade"
            }
            "century" | "centuries" | "c" | "cent" => {
                self.months += whole * 1200.0 + (frac * 1200.0).round();
                "century"
            }
            "millennium" | "millennia" | "mil" | "mils" => {
                self.months += whole * 12000.0 + (frac * 12000.0).round();
                "millennium"
            }
            _ => return Err(()),
        };
        self.field(field)
    }

    fn field(&mut self, field: &'static str) -> Result<(), ()> {
        if self.seen.contains(&field) {
            return Err(());
        }
        self.seen.push(field);
        Ok(())
    }
}

/// interval's input: `1 year 2 mons 3 days 04:05:06.7`, `-1 days +02:00:00`, `1.5 months`, `@ 1 day ago`, `5`
/// (seconds), ISO 8601 `P1Y2M3DT4H5M6S`; each field at most once.
pub fn parse_interval(text: &str) -> Result<Interval, SqlError> {
    let syntax = || SqlError::error("22007", format!("invalid input syntax for type interval: \"{text}\""));
    let range = || SqlError::error("22008", format!("interval field value out of range: \"{text}\""));
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix('@').unwrap_or(&lower).trim();
    if lower.is_empty() {
        return Err(syntax());
    }
    let mut parts = IntervalParts::default();
    if let Some(iso) = lower.strip_prefix('p') {
        parse_iso_interval(iso, &mut parts).map_err(|_| syntax())?;
    } else {
        parse_postgres_interval(lower, &mut parts).map_err(|_| syntax())?;
    }
    let micros = parts.micros.round();
    if parts.months.abs() > i32::MAX as f64 || parts.days.abs() > i32::MAX as f64 || micros.abs() >= 9.2e18 {
        return Err(range());
    }
    Ok(Interval { months: parts.months as i32, days: parts.days as i32, micros: micros as i64 })
}

fn parse_postgres_interval(lower: &str, parts: &mut IntervalParts) -> Result<(), ()> {
    let mut tokens: Vec<String> = Vec::new();
    // Split `1day` into `1 day` and keep `+02:00:00` whole.
    for word in lower.split_ascii_whitespace() {
        let split = word.find(|c: char| c.is_ascii_alphabetic()).filter(|&at| at > 0 && !word.contains(':'));
        match split {
            Some(at) => {
                tokens.push(word[..at].to_owned());
                tokens.push(word[at..].to_owned());
            }
            None => tokens.push(word.to_owned()),
        }
    }
    let mut ago = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if token == "ago" && i == tokens.len() - 1 {
            ago = true;
            i += 1;
            continue;
        }
        if token.contains(':') {
            let (sign, body) = match token.as_bytes()[0] {
                b'-' => (-1.0, &token[1..]),
                b'+' => (1.0, &token[1..]),
                _ => (1.0, token.as_str()),
            };
            // `h:mm[:ss]`, hours without limit.
            let fields: Vec<&str> = body.split(':').collect();
            let hours = digits(fields[0]).ok_or(())?;
            let rest = parse_time_token(&format!("0:{}", fields[1..].join(":"))).map_err(|_| ())?;
            parts.micros += sign * (hours as f64 * 3600e6 + rest as f64);
            for field in ["hour", "minute", "second"] {
                parts.field(field)?;
            }
            i += 1;
            continue;
        }
        if token.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(());
        }
        let value: f64 = token.parse().map_err(|_| ())?;
        if !value.is_finite() {
            return Err(());
        }
        let unit = tokens.get(i + 1).map(String::as_str).unwrap_or("");
        let unit_given = !unit.is_empty() && unit != "ago" && !unit.contains(':');
        parts.add(value, if unit_given { unit.trim_end_matches(',') } else { "second" })?;
        i += if unit_given { 2 } else { 1 };
    }
    if ago {
        (parts.months, parts.days, parts.micros) = (-parts.months, -parts.days, -parts.micros);
    }
    Ok(())
}

/// ISO 8601's `P[nY][nM][nW][nD][T[nH][nM][nS]]` (after the `P`).
fn parse_iso_interval(iso: &str, parts: &mut IntervalParts) -> Result<(), ()> {
    let mut in_time = false;
    let mut number = String::new();
    for c in iso.chars() {
        match c {
            't' if number.is_empty() && !in_time => in_time = true,
            '0'..='9' | '.' | '-' | '+' => number.push(c),
            unit => {
                let value: f64 = number.parse().map_err(|_| ())?;
                number.clear();
                let unit = match (in_time, unit) {
                    (false, 'y') => "year",
                    (false, 'm') => "month",
                    (false, 'w') => "week",
                    (false, 'd') => "day",
                    (true, 'h') => "hour",
                    (true, 'm') => "minute",
                    (true, 's') => "second",
                    _ => return Err(()),
                };
                parts.add(value, unit)?;
            }
        }
    }
    if number.is_empty() {
        Ok(())
    } else {
        Err(())
    }
}

/// Seconds with their fraction, trailing zeros of the fraction dropped (`05`, `05.5`).
fn seconds_text(seconds: i64, micros: i64) -> String {
    if micros == 0 {
        format!("{seconds:02}")
    } else {
        let frac = format!("{micros:06}");
        format!("{seconds:02}.{}", frac.trim_end_matches('0'))
    }
}

/// interval's output, `IntervalStyle` postgres: `1 year 2 mons -3 days +04:05:06.5`.
pub fn interval_text(iv: &Interval) -> String {
    let mut out = String::new();
    let (mut is_zero, mut is_before) = (true, false);
    let years = iv.months / 12;
    let months = iv.months % 12;
    for (value, unit) in [(years as i64, "year"), (months as i64, "mon"), (iv.days as i64, "day")] {
        if value == 0 {
            continue;
        }
        out.push_str(&format!(
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        ));
        is_before = value < 0;
        is_zero = false;
    }
    let t = iv.micros;
    if is_zero || t != 0 {
        let abs = t.unsigned_abs() as i128;
        let hours = abs / 3_600_000_000;
        let minutes = abs / 60_000_000 % 60;
        let seconds = (abs / 1_000_000 % 60) as i64;
        let micros = (abs % 1_000_000) as i64;
        out.push_str(&format!(
            "{}{}{hours:02}:{minutes:02}:{}",
            if is_zero { "" } else { " " },
            if t < 0 {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            },
            seconds_text(seconds, micros)
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------------------

fn date_part_text(days: i64) -> (String, bool) {
    let (y, m, d) = civil_from_days(days);
    if y <= 0 {
        (format!("{:04}-{m:02}-{d:02}", 1 - y), true)
    } else {
        (format!("{y:04}-{m:02}-{d:02}"), false)
    }
}

/// date's output: `2024-01-31`, `0044-03-15 BC`, `infinity`.
pub fn date_text(days: i32) -> String {
    match days {
        DATE_NOBEGIN => "-infinity".into(),
        DATE_NOEND => "infinity".into(),
        _ => {
            let (text, bc) = date_part_text(days as i64);
            if bc {
                format!("{text} BC")
            } else {
                text
            }
        }
    }
}

/// time's output: `13:45:00`, `13:45:00.5`.
pub fn time_text(micros: i64) -> String {
    let seconds = micros / USECS_PER_SEC;
    format!("{:02}:{:02}:{}", seconds / 3600, seconds / 60 % 60, seconds_text(seconds % 60, micros % USECS_PER_SEC))
}

/// timestamp's output (`2024-01-31 13:45:00.5`), and timestamptz's in UTC (`2024-01-31 13:45:00+00`).
pub fn timestamp_text(ts: i64, with_zone: bool) -> String {
    match ts {
        TS_NOBEGIN => "-infinity".into(),
        TS_NOEND => "infinity".into(),
        _ => {
            let days = ts.div_euclid(USECS_PER_DAY);
            let time = ts.rem_euclid(USECS_PER_DAY);
            let (date, bc) = date_part_text(days);
            format!("{date} {}{}{}", time_text(time), if with_zone { "+00" } else { "" }, if bc { " BC" } else { "" })
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------------------

/// A date/time value of one of the five types, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateTime {
    Date(i32),
    Time(i64),
    Timestamp(i64),
    Timestamptz(i64),
    Interval(Interval),
}

impl DateTime {
    pub fn parse(ty: PgType, text: &str) -> Result<DateTime, SqlError> {
        Ok(match ty {
            T::Date => DateTime::Date(parse_date(text)?),
            T::Time => DateTime::Time(parse_time(text)?),
            T::Timestamp => DateTime::Timestamp(parse_timestamp(ty, text)?),
            T::Timestamptz => DateTime::Timestamptz(parse_timestamp(ty, text)?),
            T::Interval => DateTime::Interval(parse_interval(text)?),
            _ => return Err(SqlError::error("XX000", format!("{} is not a date/time type", ty.sql_name()))),
        })
    }

    /// The value a stored value holds, read as `ty`.
    pub fn of_value(ty: PgType, value: &Value) -> Result<DateTime, SqlError> {
        DateTime::parse(ty, &raw_text(value))
    }

    pub fn text(&self) -> String {
        match self {
            DateTime::Date(d) => date_text(*d),
            DateTime::Time(t) => time_text(*t),
            DateTime::Timestamp(ts) => timestamp_text(*ts, false),
            DateTime::Timestamptz(ts) => timestamp_text(*ts, true),
            DateTime::Interval(iv) => interval_text(iv),
        }
    }

    pub fn to_value(&self) -> Value {
        Value::Text(self.text())
    }

    pub fn ty(&self) -> PgType {
        match self {
            DateTime::Date(_) => T::Date,
            DateTime::Time(_) => T::Time,
            DateTime::Timestamp(_) => T::Timestamp,
            DateTime::Timestamptz(_) => T::Timestamptz,
            DateTime::Interval(_) => T::Interval,
        }
    }

    fn with_typmod(self, typmod: Typmod) -> DateTime {
        match self {
            DateTime::Time(t) => DateTime::Time(round_precision(t, typmod)),
            DateTime::Timestamp(t) => DateTime::Timestamp(round_precision(t, typmod)),
            DateTime::Timestamptz(t) => DateTime::Timestamptz(round_precision(t, typmod)),
            DateTime::Interval(mut iv) => {
                iv.micros = round_precision(iv.micros, typmod);
                DateTime::Interval(iv)
            }
            other => other,
        }
    }
}

pub(super) fn input(ty: PgType, text: &str, typmod: Typmod) -> Result<Value, SqlError> {
    Ok(DateTime::parse(ty, text)?.with_typmod(typmod).to_value())
}

pub(super) fn output(ty: PgType, value: &Value) -> String {
    DateTime::of_value(ty, value).map(|v| v.text()).unwrap_or_else(|_| raw_text(value))
}

pub(super) fn send(ty: PgType, value: &Value) -> Result<Vec<u8>, SqlError> {
    Ok(match DateTime::of_value(ty, value)? {
        DateTime::Date(d) => d.to_be_bytes().to_vec(),
        DateTime::Time(t) | DateTime::Timestamp(t) | DateTime::Timestamptz(t) => t.to_be_bytes().to_vec(),
        DateTime::Interval(iv) => {
            let mut out = iv.micros.to_be_bytes().to_vec();
            out.extend_from_slice(&iv.days.to_be_bytes());
            out.extend_from_slice(&iv.months.to_be_bytes());
            out
        }
    })
}

pub(super) fn recv(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    let mut r = Reader { bytes, ty };
    let value = match ty {
        T::Date => {
            let d = r.i32()?;
            if d != DATE_NOBEGIN && d != DATE_NOEND && !(DATE_MIN..DATE_END).contains(&(d as i64)) {
                return Err(SqlError::error("22008", "date out of range"));
            }
            DateTime::Date(d)
        }
        T::Time => {
            let t = r.i64()?;
            if !(0..=USECS_PER_DAY).contains(&t) {
                return Err(SqlError::error("22008", "time out of range"));
            }
            DateTime::Time(t)
        }
        T::Timestamp | T::Timestamptz => {
            let t = r.i64()?;
            if t != TS_NOBEGIN && t != TS_NOEND && !(TS_MIN..TS_END).contains(&t) {
                return Err(SqlError::error("22008", "timestamp out of range"));
            }
            if ty == T::Timestamp {
                DateTime::Timestamp(t)
            } else {
                DateTime::Timestamptz(t)
            }
        }
        T::Interval => {
            let micros = r.i64()?;
            let days = r.i32()?;
            let months = r.i32()?;
            DateTime::Interval(Interval { months, days, micros })
        }
        _ => return Err(bad_binary(ty)),
    };
    r.finish()?;
    Ok(value.to_value())
}

// ---------------------------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------------------------

fn timestamp_out_of_range() -> SqlError {
    SqlError::error("22008", "timestamp out of range")
}

/// `timestamp + interval` (and timestamptz, in UTC): months first (the day clamped to the month's end), then
/// days, then microseconds.
pub fn timestamp_add(ts: i64, iv: &Interval) -> Result<i64, SqlError> {
    if ts == TS_NOBEGIN || ts == TS_NOEND {
        return Ok(ts);
    }
    let mut days = ts.div_euclid(USECS_PER_DAY);
    let time = ts.rem_euclid(USECS_PER_DAY);
    if iv.months != 0 {
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + (m as i64 - 1) + iv.months as i64;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        days = days_from_civil(ny, nm, d.min(days_in_month(ny, nm)));
    }
    let result = (days + iv.days as i64) as i128 * USECS_PER_DAY as i128 + time as i128 + iv.micros as i128;
    if !(TS_MIN as i128..TS_END as i128).contains(&result) {
        return Err(timestamp_out_of_range());
    }
    Ok(result as i64)
}

pub fn interval_neg(iv: &Interval) -> Result<Interval, SqlError> {
    match (iv.months.checked_neg(), iv.days.checked_neg(), iv.micros.checked_neg()) {
        (Some(months), Some(days), Some(micros)) => Ok(Interval { months, days, micros }),
        _ => Err(SqlError::error("22008", "interval out of range")),
    }
}

/// `timestamp - timestamp`: the difference with whole days split off (`59 days 23:00:00`).
pub fn timestamp_diff(a: i64, b: i64) -> Result<Interval, SqlError> {
    if [a, b].iter().any(|t| *t == TS_NOBEGIN || *t == TS_NOEND) {
        return Err(SqlError::error("22008", "cannot subtract infinite timestamps"));
    }
    let diff = a.checked_sub(b).ok_or_else(|| SqlError::error("22008", "interval out of range"))?;
    Ok(Interval { months: 0, days: (diff / USECS_PER_DAY) as i32, micros: diff % USECS_PER_DAY })
}

/// `date + integer` (subtract with a negative count).
pub fn date_add_days(date: i32, n: i64) -> Result<i32, SqlError> {
    if date == DATE_NOBEGIN || date == DATE_NOEND {
        return Ok(date);
    }
    let result = date as i64 + n;
    if !(DATE_MIN..DATE_END).contains(&result) {
        return Err(SqlError::error("22008", "date out of range"));
    }
    Ok(result as i32)
}

/// `date - date`: days.
pub fn date_diff(a: i32, b: i32) -> Result<i32, SqlError> {
    if [a, b].iter().any(|d| *d == DATE_NOBEGIN || *d == DATE_NOEND) {
        return Err(SqlError::error("22008", "cannot subtract infinite dates"));
    }
    Ok(a - b)
}

/// A date as a timestamp (midnight).
pub fn date_to_timestamp(date: i32) -> i64 {
    match date {
        DATE_NOBEGIN => TS_NOBEGIN,
        DATE_NOEND => TS_NOEND,
        d => d as i64 * USECS_PER_DAY,
    }
}

/// A timestamp's date.
pub fn timestamp_to_date(ts: i64) -> i32 {
    match ts {
        TS_NOBEGIN => DATE_NOBEGIN,
        TS_NOEND => DATE_NOEND,
        t => t.div_euclid(USECS_PER_DAY) as i32,
    }
}

/// The canonical name of a `date_trunc`/`extract` unit in any of PostgreSQL's spellings.
fn canonical_unit(field: &str) -> Option<&'static str> {
    Some(match field.to_ascii_lowercase().as_str() {
        "microseconds" | "microsecond" | "microsecon" | "us" | "usec" | "usecs" | "useconds" => "microseconds",
        "milliseconds" | "millisecond" | "millisecon" | "ms" | "msec" | "msecs" | "mseconds" => "milliseconds",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "minute" | "minutes" | "m" | "min" | "mins" => "minute",
        "hour" | "hours" | "h" | "hr" | "hrs" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "quarter" | "qtr" => "quarter",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" | "dec" | "decs" => "decade",
        "century" | "centuries" | "c" | "cent" => "century",
        "millennium" | "millennia" | "mil" | "mils" => "millennium",
        "dow" => "dow",
        "isodow" => "isodow",
        "doy" => "doy",
        "isoyear" => "isoyear",
        "epoch" => "epoch",
        "julian" | "j" => "julian",
        "timezone" => "timezone",
        "timezone_h" | "timezone_hour" => "timezone_hour",
        "timezone_m" | "timezone_minute" => "timezone_minute",
        _ => return None,
    })
}

/// A unit PostgreSQL knows but not for this type (0A000), or one it does not know (22023).
fn unit_error(field: &str, ty: PgType) -> SqlError {
    let lower = field.to_ascii_lowercase();
    if canonical_unit(field).is_some() {
        SqlError::error("0A000", format!("unit \"{lower}\" not supported for type {}", ty.sql_name()))
    } else {
        SqlError::error("22023", format!("unit \"{lower}\" not recognized for type {}", ty.sql_name()))
    }
}

/// `date_trunc(field, timestamp)`.
pub fn timestamp_trunc(field: &str, ts: i64, ty: PgType) -> Result<i64, SqlError> {
    if ts == TS_NOBEGIN || ts == TS_NOEND {
        return Ok(ts);
    }
    let unit = canonical_unit(field).unwrap_or("");
    let days = ts.div_euclid(USECS_PER_DAY);
    let time = ts.rem_euclid(USECS_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    let at = |y: i64, m: u32| days_from_civil(y, m, 1) * USECS_PER_DAY;
    // Years before 1 count as PostgreSQL's decades and centuries do (1 BC is year 0 astronomically).
    Ok(match unit {
        "microseconds" => ts,
        "milliseconds" => days * USECS_PER_DAY + time / 1000 * 1000,
        "second" => days * USECS_PER_DAY + time / USECS_PER_SEC * USECS_PER_SEC,
        "minute" => days * USECS_PER_DAY + time / 60_000_000 * 60_000_000,
        "hour" => days * USECS_PER_DAY + time / 3_600_000_000 * 3_600_000_000,
        "day" => days * USECS_PER_DAY,
        "week" => (days - (days + 5).rem_euclid(7)) * USECS_PER_DAY,
        "month" => at(y, m),
        "quarter" => at(y, (m - 1) / 3 * 3 + 1),
        "year" => at(y, 1),
        "decade" => at(if y > 0 { y / 10 * 10 } else { -((8 - (y - 1)) / 10) * 10 }, 1),
        "century" => at(if y > 0 { (y + 99) / 100 * 100 - 99 } else { -((99 - (y - 1)) / 100 * 100) + 1 }, 1),
        "millennium" => at(if y > 0 { (y + 999) / 1000 * 1000 - 999 } else { -((999 - (y - 1)) / 1000 * 1000) + 1 }, 1),
        _ => return Err(unit_error(field, ty)),
    })
}

/// `date_trunc(field, interval)`: the fields below `field` set to zero.
pub fn interval_trunc(field: &str, iv: &Interval) -> Result<Interval, SqlError> {
    let (years, months) = (iv.months / 12, iv.months % 12);
    let t = iv.micros;
    let (hour, minute, second) = (t / 3_600_000_000, t / 60_000_000 % 60, t / 1_000_000 % 60);
    let at = |years: i32, months: i32, days: i32, micros: i64| Interval { months: years * 12 + months, days, micros };
    let hms = |h: i64, m: i64, s: i64| (h * 3600 + m * 60 + s) * USECS_PER_SEC;
    Ok(match canonical_unit(field).unwrap_or("") {
        "microseconds" => *iv,
        "milliseconds" => at(years, months, iv.days, hms(hour, minute, second) + t % 1_000_000 / 1000 * 1000),
        "second" => at(years, months, iv.days, hms(hour, minute, second)),
        "minute" => at(years, months, iv.days, hms(hour, minute, 0)),
        "hour" => at(years, months, iv.days, hms(hour, 0, 0)),
        "day" => at(years, months, iv.days, 0),
        "month" => at(years, months, 0, 0),
        "quarter" => at(years, months / 3 * 3, 0, 0),
        "year" => at(years, 0, 0, 0),
        "decade" => at(years / 10 * 10, 0, 0, 0),
        "century" => at(years / 100 * 100, 0, 0, 0),
        "millennium" => at(years / 1000 * 1000, 0, 0, 0),
        _ => return Err(unit_error(field, T::Interval)),
    })
}

fn num(i: i64) -> Numeric {
    Numeric::from_i64(i)
}

/// `n / 10^scale` as a numeric with that scale.
fn scaled(n: i64, scale: u32) -> Numeric {
    Numeric::Finite(n.into(), scale)
}

/// ISO 8601 week number and ISO year of a date.
fn iso_week(days: i64) -> (i64, i64) {
    let (y, _, _) = civil_from_days(days);
    let week_start = |year: i64| {
        // The Monday of the week holding January 4th.
        let jan4 = days_from_civil(year, 1, 4);
        jan4 - (jan4 + 5).rem_euclid(7)
    };
    let mut iso_year = y;
    if days >= week_start(y + 1) {
        iso_year = y + 1;
    } else if days < week_start(y) {
        iso_year = y - 1;
    }
    ((days - week_start(iso_year)) / 7 + 1, iso_year)
}

/// `extract(field from value)` as PostgreSQL 15 returns it (numeric: seconds with 6 decimals, epoch with 6
/// for timestamps and intervals, whole numbers otherwise).
pub fn extract(field: &str, value: &DateTime) -> Result<Numeric, SqlError> {
    let f = canonical_unit(field).unwrap_or("");
    let ty = value.ty();
    let (days, time, is_date) = match *value {
        DateTime::Date(d) => {
            if d == DATE_NOBEGIN || d == DATE_NOEND {
                return infinite_extract(f, d == DATE_NOBEGIN, ty);
            }
            (d as i64, 0, true)
        }
        DateTime::Timestamp(ts) | DateTime::Timestamptz(ts) => {
            if ts == TS_NOBEGIN || ts == TS_NOEND {
                return infinite_extract(f, ts == TS_NOBEGIN, ty);
            }
            (ts.div_euclid(USECS_PER_DAY), ts.rem_euclid(USECS_PER_DAY), false)
        }
        DateTime::Time(t) => {
            return Ok(match f {
                "microseconds" => num(t % 60_000_000),
                "milliseconds" => scaled(t % 60_000_000, 3),
                "second" => scaled(t % 60_000_000, 6),
                "minute" => num(t / 60_000_000 % 60),
                "hour" => num(t / 3_600_000_000),
                "epoch" => scaled(t, 6),
                _ => return Err(unit_error(field, ty)),
            })
        }
        DateTime::Interval(iv) => {
            let t = iv.micros;
            return Ok(match f {
                "microseconds" => num(t % 60_000_000),
                "milliseconds" => scaled(t % 60_000_000, 3),
                "second" => scaled(t % 60_000_000, 6),
                "minute" => num(t / 60_000_000 % 60),
                "hour" => num(t / 3_600_000_000),
                "day" => num(iv.days as i64),
                "month" => num(iv.months as i64 % 12),
                "quarter" => num((iv.months as i64 % 12) / 3 + 1),
                "year" => num(iv.months as i64 / 12),
                "decade" => num(iv.months as i64 / 120),
                "century" => num(iv.months as i64 / 1200),
                "millennium" => num(iv.months as i64 / 12000),
                "epoch" => {
                    // 365.25 days a year, 30 days a month, as PostgreSQL does.
                    let years = iv.months as i64 / 12;
                    let months = iv.months as i64 % 12;
                    let secs = years as i128 * 31_557_600 + months as i128 * 2_592_000 + iv.days as i128 * 86_400;
                    let total = secs * 1_000_000 + t as i128;
                    Numeric::Finite(total.into(), 6)
                }
                _ => return Err(unit_error(field, ty)),
            });
        }
    };
    let (y, m, d) = civil_from_days(days);
    let dow = (days + 6).rem_euclid(7); // 2000-01-01 was a Saturday (6).
    Ok(match f {
        "microseconds" if !is_date => num(time % 60_000_000),
        "milliseconds" if !is_date => scaled(time % 60_000_000, 3),
        "second" if !is_date => scaled(time % 60_000_000, 6),
        "minute" if !is_date => num(time / 60_000_000 % 60),
        "hour" if !is_date => num(time / 3_600_000_000),
        "timezone" | "timezone_hour" | "timezone_minute" if ty == T::Timestamptz => num(0),
        "day" => num(d as i64),
        "month" => num(m as i64),
        "quarter" => num((m as i64 - 1) / 3 + 1),
        "year" => num(if y > 0 { y } else { y - 1 }),
        "decade" => num(if y >= 0 { y / 10 } else { -((8 - (y - 1)) / 10) }),
        "century" => num(if y > 0 { (y + 99) / 100 } else { -((99 - (y - 1)) / 100) }),
        "millennium" => num(if y > 0 { (y + 999) / 1000 } else { -((999 - (y - 1)) / 1000) }),
        "dow" => num(dow),
        "isodow" => num(if dow == 0 { 7 } else { dow }),
        "doy" => num(days - days_from_civil(y, 1, 1) + 1),
        "week" => num(iso_week(days).0),
        "isoyear" => num(iso_week(days).1).sub(&num(i64::from(iso_week(days).1 <= 0)))?,
        "julian" if is_date => num(days + 2_451_545),
        "julian" => {
            // The Julian day plus the fraction of the day (numeric division's scale), as PostgreSQL adds them.
            num(days + 2_451_545).add(&num(time).div(&num(USECS_PER_DAY))?)?
        }
        "epoch" if is_date => num((days - UNIX_EPOCH_DAYS) * 86_400),
        "epoch" => {
            let micros = (days - UNIX_EPOCH_DAYS) as i128 * USECS_PER_DAY as i128 + time as i128;
            Numeric::Finite(micros.into(), 6)
        }
        _ => return Err(unit_error(field, ty)),
    })
}

fn infinite_extract(field: &str, negative: bool, ty: PgType) -> Result<Numeric, SqlError> {
    match field {
        "epoch" | "year" | "years" | "decade" | "century" | "millennium" | "julian" | "isoyear" => {
            Ok(Numeric::Inf(negative))
        }
        "microseconds" | "milliseconds" | "second" | "minute" | "hour" | "day" | "month" | "quarter" | "week"
        | "dow" | "isodow" | "doy" => Err(SqlError::error(
            "0A000",
            format!(
                "extract of field \"{field}\" from an infinite {} returns NULL in PostgreSQL; it is not supported here",
                ty.sql_name()
            ),
        )),
        _ => Err(unit_error(field, ty)),
    }
}

/// The current time as microseconds since 2000-01-01 UTC.
pub fn now_micros() -> i64 {
    let since_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    since_unix + UNIX_EPOCH_DAYS * USECS_PER_DAY
}
