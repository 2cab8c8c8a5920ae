//! Server log messages in PostgreSQL's style.
//!
//! Every process of the host writes its messages to its standard error (the terminal, or the `-l` log file that
//! `bgw start --detach` opens with O_APPEND for the postmaster, which children inherit). A message, with its
//! DETAIL and HINT lines, is formatted into one buffer and written with one `write(2)`, so lines from different
//! processes never interleave. Lines look like PostgreSQL's default `log_line_prefix = '%m [%p] '`:
//!
//! ```text
//! 2026-11-21 15:24:54.123 UTC [4242] LOG:  background worker "ticker" (PID 4250) exited with exit code 1
//! ```
//!
//! Times are UTC and formatted without the C library, so [`write_from_signal_handler`] can log from a handler.

use bgw_macros::hot;
use std::sync::atomic::{AtomicU8, Ordering};

/// PostgreSQL's message levels, ordered as `log_min_messages` compares them for the server log (LOG ranks
/// between ERROR and FATAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Debug5 = 0,
    Debug4,
    Debug3,
    Debug2,
    Debug1,
    Info,
    Notice,
    Warning,
    Error,
    Log,
    Fatal,
    Panic,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Debug5 | Level::Debug4 | Level::Debug3 | Level::Debug2 | Level::Debug1 => match self {
                Level::Debug5 => "DEBUG5",
                Level::Debug4 => "DEBUG4",
                Level::Debug3 => "DEBUG3",
                Level::Debug2 => "DEBUG2",
                _ => "DEBUG1",
            },
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Log => "LOG",
            Level::Fatal => "FATAL",
            Level::Panic => "PANIC",
        }
    }

    /// Parses a `log_min_messages` value.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug5" => Level::Debug5,
            "debug4" => Level::Debug4,
            "debug3" => Level::Debug3,
            "debug2" => Level::Debug2,
            "debug1" | "debug" => Level::Debug1,
            "info" => Level::Info,
            "notice" => Level::Notice,
            "warning" => Level::Warning,
            "error" => Level::Error,
            "log" => Level::Log,
            "fatal" => Level::Fatal,
            "panic" => Level::Panic,
            _ => return None,
        })
    }

    #[hot]
    fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Debug5,
            1 => Level::Debug4,
            2 => Level::Debug3,
            3 => Level::Debug2,
            4 => Level::Debug1,
            5 => Level::Info,
            6 => Level::Notice,
            7 => Level::Warning,
            8 => Level::Error,
            9 => Level::Log,
            10 => Level::Fatal,
            _ => Level::Panic,
        }
    }
}

static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);

/// Sets `log_min_messages` for this process.
pub fn set_min_level(level: Level) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

#[hot]
pub fn min_level() -> Level {
    Level::from_u8(MIN_LEVEL.load(Ordering::Relaxed))
}

/// Whether a message at `level` would be written.
#[hot]
pub fn enabled(level: Level) -> bool {
    level >= min_level()
}

/// A message with its optional DETAIL and HINT.
#[must_use = "a report does nothing until emitted"]
pub struct Report {
    level: Level,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl Report {
    pub fn new(level: Level, message: impl Into<String>) -> Report {
        Report { level, message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Report {
        self.detail = Some(d.into());
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Report {
        self.hint = Some(h.into());
        self
    }
    /// Writes the report if its level passes `log_min_messages`.
    pub fn emit(self) {
        if !enabled(self.level) {
            return;
        }
        let mut out = Vec::with_capacity(128 + self.message.len());
        let mut line = |label: &str, text: &str| {
            let mut prefix = [0u8; 64];
            let n = format_prefix(&mut prefix);
            out.extend_from_slice(&prefix[..n]);
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b":  ");
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        };
        line(self.level.label(), &self.message);
        if let Some(d) = &self.detail {
            line("DETAIL", d);
        }
        if let Some(h) = &self.hint {
            line("HINT", h);
        }
        crate::sys::signals::write_all_raw(2, &out);
    }
}

/// Emits a message at `level`.
pub fn report(level: Level, message: impl Into<String>) {
    Report::new(level, message).emit();
}

/// `LOG` message.
pub fn log(message: impl Into<String>) {
    report(Level::Log, message);
}

/// `WARNING` message.
pub fn warning(message: impl Into<String>) {
    report(Level::Warning, message);
}

/// `DEBUG1` message.
pub fn debug1(message: impl Into<String>) {
    report(Level::Debug1, message);
}

/// `DEBUG1` message, formatted only if it will be written (for the postmaster's launch and exit paths, which run
/// for every worker and usually at a level that drops DEBUG1).
pub fn debug1_with(message: impl FnOnce() -> String) {
    if enabled(Level::Debug1) {
        report(Level::Debug1, message());
    }
}

/// Writes a complete, preformatted message line (`LABEL:  text`) with the usual prefix, from a signal handler:
/// no allocation, no locks, only arithmetic and `write(2)`. `text` is truncated to fit a 512-byte line.
#[hot]
pub fn write_from_signal_handler(label: &[u8], text: &[u8]) {
    let mut buf = [0u8; 512];
    let mut n = format_prefix(&mut buf);
    for part in [label, b":  ".as_slice(), text] {
        let take = part.len().min(buf.len() - 1 - n);
        buf[n..n + take].copy_from_slice(&part[..take]);
        n += take;
    }
    buf[n] = b'\n';
    crate::sys::signals::write_all_raw(2, &buf[..n + 1]);
}

/// Formats `YYYY-MM-DD HH:MM:SS.mmm UTC [pid] ` into `buf` (at least 48 bytes); returns the length.
/// Async-signal-safe.
#[hot]
fn format_prefix(buf: &mut [u8]) -> usize {
    // clock_gettime(CLOCK_REALTIME) and getpid underneath: both async-signal-safe.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let pid = std::process::id();
    let mut w = Cursor { buf, pos: 0 };
    format_timestamp(&mut w, now.as_secs() as i64, now.subsec_millis());
    w.put(b" UTC [");
    w.num(pid as u64, 1);
    w.put(b"] ");
    w.pos
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn put(&mut self, s: &[u8]) {
        for &b in s {
            if self.pos < self.buf.len() {
                self.buf[self.pos] = b;
                self.pos += 1;
            }
        }
    }
    fn num(&mut self, mut v: u64, width: usize) {
        let mut digits = [0u8; 20];
        let mut i = 0;
        loop {
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            i += 1;
            if v == 0 || i == digits.len() {
                break;
            }
        }
        while i < width && i < digits.len() {
            digits[i] = b'0';
            i += 1;
        }
        while i > 0 {
            i -= 1;
            self.put(&[digits[i]]);
        }
    }
}

/// Writes `YYYY-MM-DD HH:MM:SS.mmm` for a Unix time in UTC (Howard Hinnant's days-to-civil algorithm).
fn format_timestamp(w: &mut Cursor<'_>, secs: i64, millis: u32) {
    let (y, m, d, hh, mm, ss) = civil(secs);
    w.num(y.max(0) as u64, 4);
    w.put(b"-");
    w.num(m as u64, 2);
    w.put(b"-");
    w.num(d as u64, 2);
    w.put(b" ");
    w.num(hh as u64, 2);
    w.put(b":");
    w.num(mm as u64, 2);
    w.put(b":");
    w.num(ss as u64, 2);
    w.put(b".");
    w.num(millis as u64, 3);
}

/// (year, month, day, hour, minute, second) of a Unix time in UTC.
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32, (rem % 60) as u32)
}

/// A timestamp as PostgreSQL prints `timestamptz` in UTC: `2026-11-21 15:24:54.123456+00`.
pub fn format_timestamptz(unix_us: i64) -> String {
    let secs = unix_us.div_euclid(1_000_000);
    let us = unix_us.rem_euclid(1_000_000);
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{us:06}+00")
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_795_273_494), (2026, 11, 21, 15, 4, 54));
        assert_eq!(format_timestamptz(1_000_000 * 86_400 + 5), "1970-01-02 00:00:00.000005+00");
    }

    #[test]
    fn prefix_shape() {
        let mut buf = [0u8; 64];
        let n = format_prefix(&mut buf);
        let s = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(&s[23..28], " UTC ");
        assert!(s.ends_with("] "));
        assert_eq!(s.as_bytes()[4], b'-');
    }

    #[test]
    fn level_order_matches_postgres_server_log() {
        assert!(Level::Log > Level::Error && Level::Log < Level::Fatal);
        assert_eq!(Level::parse("WARNING"), Some(Level::Warning));
        assert_eq!(Level::parse("loud"), None);
    }
}
