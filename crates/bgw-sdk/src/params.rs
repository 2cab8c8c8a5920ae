//! Custom parameters (PostgreSQL's `DefineCustom*Variable`): typed, host-owned settings of a module.
//!
//! Purpose: a module defines a parameter with a qualified name (`module.name`), a description, a default, bounds
//! and a [`Context`]. The host applies any value `bgworker.conf` or `-c` gave for it, shows it in
//! `current_setting()`, and writes the current value into the parameter's storage at definition and after every
//! reload in this process ([`reload_config`](crate::reload_config) in a worker). Module code reads it with
//! `get()`.
//!
//! ```no_run
//! use bgw_sdk::params::{Context, IntParam, Unit};
//! # fn init() -> Result<(), bgw_sdk::Error> {
//! let naptime = IntParam::define("my_module.naptime", "Seconds between rounds.", 10, 1..=3600, Unit::S,
//!                                Context::Reload)?;
//! bgw_sdk::params::reserve_prefix("my_module")?;
//! let seconds = naptime.get();
//! # let _ = seconds; Ok(()) }
//! # fn main() {}
//! ```
//!
//! Invariants:
//! - The storage of every parameter is leaked (`Box::leak`): the host keeps its address for the life of the
//!   process, so it never moves or goes away, and `define` hands out `&'static` references (keep them in a
//!   `OnceLock`, or define again in each process: see below). Children forked after `_PG_init` inherit both the
//!   definition and the reference.
//! - Values are read with atomic loads, since the host writes the storage on reload.
//! - Names, ranges, defaults and options are checked before the host is called, and a name is only defined once
//!   per process by this module: the host's own refusals are ERRORs, which end the process or, where the host
//!   traps errors (SQL functions, a `_PG_init` that runs outside preload), jump over Rust frames. The SDK makes
//!   those paths unreachable for the mistakes it can see.
//! - Check, assign and show hooks are not offered (the host does not support them).
//!
//! Where to define: in `_PG_init`, in every process that loads the module (do not guard the definitions with
//! [`preloading`](crate::preloading): a worker or backend that loads the module later needs them too, and a
//! preloaded module's children inherit them without running `_PG_init` again). Restart-only parameters keep the
//! value they had when the host started; the postmaster logs that a changed value needs a restart.
//!
//! Runs in: any process that loads the module (the postmaster during preload, workers, backends).

use crate::error::Error;
use crate::ffi;
use std::ffi::{c_char, CString};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

/// When a parameter may change (`GucContext`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `PGC_POSTMASTER`: set at start; a changed value takes effect at the next restart.
    Restart,
    /// `PGC_SIGHUP`: re-read on every reload.
    Reload,
}

impl Context {
    /// The C value.
    pub const fn to_raw(self) -> i32 {
        match self {
            Context::Restart => ffi::PGC_POSTMASTER,
            Context::Reload => ffi::PGC_SIGHUP,
        }
    }
}

/// The unit of an integer parameter (`GUC_UNIT_*`): values may then be written with units (`'5min'`, `'64kB'`)
/// and `current_setting()` shows the largest unit that divides the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Unit {
    #[default]
    None,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
    /// Minutes.
    Min,
    /// Kilobytes.
    Kb,
    /// Bytes.
    Bytes,
}

impl Unit {
    /// The `GUC_UNIT_*` flag.
    pub const fn to_flags(self) -> i32 {
        match self {
            Unit::None => 0,
            Unit::Kb => ffi::GUC_UNIT_KB,
            Unit::Bytes => ffi::GUC_UNIT_BYTE,
            Unit::Ms => ffi::GUC_UNIT_MS,
            Unit::S => ffi::GUC_UNIT_S,
            Unit::Min => ffi::GUC_UNIT_MIN,
        }
    }
}

/// Names this module defined in this process (lower case: the host compares names case-insensitively).
static DEFINED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether `s` is an identifier as the host's configuration reads them: `[A-Za-z_][A-Za-z0-9_$]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Checks a parameter name: qualified (`prefix.name`, identifiers separated by dots), ASCII, no NUL.
pub(crate) fn check_param_name(name: &str) -> Result<CString, Error> {
    let bad = |reason| Err(Error::InvalidName { what: "parameter", name: name.to_string(), reason });
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if !name.is_ascii() {
        return bad("it must be ASCII");
    }
    if !name.contains('.') {
        return bad("a module's parameter needs a qualified name (\"module.name\")");
    }
    if !name.split('.').all(is_identifier) {
        return bad("it must be identifiers ([A-Za-z_][A-Za-z0-9_$]*) separated by dots");
    }
    Ok(CString::new(name).expect("checked for NUL"))
}

/// Validates the name and claims it for this process; the C strings for the host.
fn claim(name: &str, short_desc: &str) -> Result<(CString, CString), Error> {
    let c_name = check_param_name(name)?;
    let mut defined = DEFINED.lock().unwrap_or_else(|e| e.into_inner());
    let key = name.to_ascii_lowercase();
    if defined.contains(&key) {
        return Err(Error::AlreadyDefined { what: "parameter", name: name.to_string() });
    }
    defined.push(key);
    Ok((c_name, crate::ctext::c_text(short_desc)))
}

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidParam { name: name.to_string(), reason: reason.into() }
}

/// A boolean parameter.
#[derive(Debug)]
pub struct BoolParam {
    name: String,
    value: AtomicBool,
}

impl BoolParam {
    /// Defines `name` (see the module documentation).
    pub fn define(name: &str, short_desc: &str, default: bool, context: Context) -> Result<&'static BoolParam, Error> {
        let (c_name, c_desc) = claim(name, short_desc)?;
        let p: &'static BoolParam = Box::leak(Box::new(BoolParam { name: name.to_string(), value: default.into() }));
        ffi::define_bool(&c_name, &c_desc, &p.value, default, context.to_raw(), 0);
        Ok(p)
    }
    /// The current value.
    pub fn get(&self) -> bool {
        self.value.load(Ordering::Relaxed)
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An integer parameter (a C `int`), optionally with a unit.
#[derive(Debug)]
pub struct IntParam {
    name: String,
    value: AtomicI32,
    range: RangeInclusive<i32>,
    unit: Unit,
}

impl IntParam {
    /// Defines `name` with `default` in `range` (see the module documentation).
    pub fn define(
        name: &str,
        short_desc: &str,
        default: i32,
        range: RangeInclusive<i32>,
        unit: Unit,
        context: Context,
    ) -> Result<&'static IntParam, Error> {
        check_param_name(name)?;
        if range.is_empty() {
            return Err(invalid(name, "the minimum is greater than the maximum"));
        }
        if !range.contains(&default) {
            return Err(invalid(name, format!("the default {default} is outside {}..={}", range.start(), range.end())));
        }
        let (c_name, c_desc) = claim(name, short_desc)?;
        let (min, max) = (*range.start(), *range.end());
        let p: &'static IntParam =
            Box::leak(Box::new(IntParam { name: name.to_string(), value: default.into(), range, unit }));
        ffi::define_int(&c_name, &c_desc, &p.value, default, min, max, context.to_raw(), unit.to_flags());
        Ok(p)
    }
    /// The current value (in the parameter's unit).
    pub fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn range(&self) -> RangeInclusive<i32> {
        self.range.clone()
    }
    pub fn unit(&self) -> Unit {
        self.unit
    }
}

/// A floating-point parameter (a C `double`).
#[derive(Debug)]
pub struct RealParam {
    name: String,
    /// The bits of the f64 the host stores.
    value: AtomicU64,
}

impl RealParam {
    /// Defines `name` with `default` in `range` (see the module documentation). NaN bounds or defaults are
    /// refused.
    pub fn define(
        name: &str,
        short_desc: &str,
        default: f64,
        range: RangeInclusive<f64>,
        context: Context,
    ) -> Result<&'static RealParam, Error> {
        check_param_name(name)?;
        let (min, max) = (*range.start(), *range.end());
        if min.is_nan() || max.is_nan() || min > max {
            return Err(invalid(name, "the range is empty or not a number"));
        }
        if !(default >= min && default <= max) {
            return Err(invalid(name, format!("the default {default} is outside {min}..={max}")));
        }
        let (c_name, c_desc) = claim(name, short_desc)?;
        let p: &'static RealParam =
            Box::leak(Box::new(RealParam { name: name.to_string(), value: default.to_bits().into() }));
        ffi::define_real(&c_name, &c_desc, &p.value, default, min, max, context.to_raw(), 0);
        Ok(p)
    }
    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.value.load(Ordering::Relaxed))
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A text parameter.
///
/// The host keeps the text in memory it allocates, and frees the previous text when a reload stores a new one:
/// read a string parameter from the thread that reloads the configuration (the worker's main loop), not from
/// other threads while it may reload.
#[derive(Debug)]
pub struct StringParam {
    name: String,
    default: String,
    value: AtomicPtr<c_char>,
}

impl StringParam {
    /// Defines `name` (see the module documentation). A default with a NUL byte is refused.
    pub fn define(
        name: &str,
        short_desc: &str,
        default: &str,
        context: Context,
    ) -> Result<&'static StringParam, Error> {
        Self::define_with_flags(name, short_desc, default, context, 0)
    }

    /// [`StringParam::define`] for a secret (an API key, a password): only superusers may examine it
    /// (`current_setting` by anyone else is refused with 42501, PostgreSQL's `GUC_SUPERUSER_ONLY`). The module
    /// itself reads it as any other parameter.
    pub fn define_secret(
        name: &str,
        short_desc: &str,
        default: &str,
        context: Context,
    ) -> Result<&'static StringParam, Error> {
        Self::define_with_flags(name, short_desc, default, context, bgw_abi::GUC_SUPERUSER_ONLY)
    }

    fn define_with_flags(
        name: &str,
        short_desc: &str,
        default: &str,
        context: Context,
        flags: i32,
    ) -> Result<&'static StringParam, Error> {
        check_param_name(name)?;
        let c_default = CString::new(default).map_err(|_| invalid(name, "the default contains a NUL byte"))?;
        let (c_name, c_desc) = claim(name, short_desc)?;
        let p: &'static StringParam = Box::leak(Box::new(StringParam {
            name: name.to_string(),
            default: default.to_string(),
            value: AtomicPtr::new(std::ptr::null_mut()),
        }));
        ffi::define_string(&c_name, &c_desc, &p.value, &c_default, context.to_raw(), flags);
        Ok(p)
    }
    /// A copy of the current value (the default until the host has stored one).
    pub fn get(&self) -> String {
        ffi::read_string_var(&self.value).unwrap_or_else(|| self.default.clone())
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A parameter with one of a fixed list of values (named in the configuration, an `i32` in code).
#[derive(Debug)]
pub struct EnumParam {
    name: String,
    value: AtomicI32,
    options: Vec<(String, i32)>,
}

impl EnumParam {
    /// Defines `name` with `options` (name and value pairs; names non-empty, unique ignoring case, without NUL)
    /// and `default`, which must be one of the values.
    pub fn define(
        name: &str,
        short_desc: &str,
        default: i32,
        options: &[(&str, i32)],
        context: Context,
    ) -> Result<&'static EnumParam, Error> {
        check_param_name(name)?;
        if options.is_empty() || options.iter().any(|(n, _)| n.is_empty()) {
            return Err(invalid(name, "an enum needs at least one non-empty option"));
        }
        if options.iter().enumerate().any(|(i, (a, _))| options[i + 1..].iter().any(|(b, _)| a.eq_ignore_ascii_case(b)))
        {
            return Err(invalid(name, "the enum options are not unique"));
        }
        if !options.iter().any(|&(_, v)| v == default) {
            return Err(invalid(name, format!("the default {default} is not one of the options")));
        }
        let mut c_options = Vec::with_capacity(options.len());
        for &(n, v) in options {
            c_options.push((CString::new(n).map_err(|_| invalid(name, "an option contains a NUL byte"))?, v));
        }
        let (c_name, c_desc) = claim(name, short_desc)?;
        let p: &'static EnumParam = Box::leak(Box::new(EnumParam {
            name: name.to_string(),
            value: default.into(),
            options: options.iter().map(|&(n, v)| (n.to_string(), v)).collect(),
        }));
        ffi::define_enum(&c_name, &c_desc, &p.value, default, &c_options, context.to_raw(), 0);
        Ok(p)
    }
    /// The current value.
    pub fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
    /// The name of the current value's option.
    pub fn get_name(&self) -> Option<&str> {
        let v = self.get();
        self.options.iter().find(|(_, o)| *o == v).map(|(n, _)| n.as_str())
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Reserves `prefix` (`MarkGUCPrefixReserved`): settings named `prefix.something` that the module did not define
/// are reported (WARNING) and removed. Call it after defining the module's parameters.
pub fn reserve_prefix(prefix: &str) -> Result<(), Error> {
    let bad = |reason| Err(Error::InvalidName { what: "parameter prefix", name: prefix.to_string(), reason });
    if prefix.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if !prefix.split('.').all(is_identifier) {
        return bad("it must be identifiers ([A-Za-z_][A-Za-z0-9_$]*) separated by dots");
    }
    ffi::mark_guc_prefix_reserved(&CString::new(prefix).expect("checked for NUL"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_param_name("m.x").is_ok());
        assert!(check_param_name("my_mod.sub.x$1").is_ok());
        for bad in ["x", "m.", ".x", "m.1x", "m.x-y", "m.\u{e9}", "m.x\0", "m..x", ""] {
            assert!(matches!(check_param_name(bad), Err(Error::InvalidName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn contexts_and_units_are_the_headers() {
        assert_eq!(Context::Restart.to_raw(), 1);
        assert_eq!(Context::Reload.to_raw(), 2);
        let flags = [Unit::None, Unit::Kb, Unit::Bytes, Unit::Ms, Unit::S, Unit::Min].map(Unit::to_flags);
        assert_eq!(flags, [0, 0x1000, 0x8000, 0x10000, 0x20000, 0x30000]);
    }

    #[test]
    fn a_name_is_claimed_once_ignoring_case() {
        claim("unit_test.claimed", "d").unwrap();
        assert!(matches!(claim("UNIT_TEST.Claimed", "d"), Err(Error::AlreadyDefined { .. })));
    }
}
