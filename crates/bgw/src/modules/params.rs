//! Custom parameters defined by modules (PostgreSQL's `DefineCustom*Variable`).
//!
//! A module defines a parameter with a name (qualified, as `module.name`), a type, bounds, a context (restart-
//! only or reloadable) and the address of its own C variable. The host adds the definition to this process's
//! settings (applying any value the configuration file or `-c` gave for it), writes the value into the module's
//! variable, and writes it again after every reload. Definitions made in `_PG_init` during preload are inherited
//! by every child; a child's own reload keeps its copy current.
//!
//! The flag `GUC_SUPERUSER_ONLY` makes the value examinable by superusers only (`current_setting` by anyone else:
//! 42501, PostgreSQL's message); the other non-unit flags are accepted and ignored.
//!
//! Check and assign hooks run as PostgreSQL runs them: whenever the module's variable is about to take a new
//! value (at definition, with the default or the configured value, and after a reload that changes it), the check
//! hook may accept it (possibly adjusting it in place), or refuse it: the variable keeps its value, with a WARNING
//! "invalid value for parameter" (while the host starts, an error that stops start-up); then the variable is
//! written and the assign hook is called with the value and the hook's `extra`. A show hook, as PostgreSQL's, gives
//! the text `SHOW`, `current_setting()` and `pg_settings.setting` display instead of the stored value (it runs in
//! the process that answers, on the module's variable as that process has it). A bad value for a module's parameter
//! while the host starts stops start-up (as any bad value does); later it is a WARNING and the parameter keeps
//! its default.
//!
//! Runs in: the postmaster (during preload) and any child that calls into a module.

#![allow(non_camel_case_types, non_snake_case, clippy::not_unsafe_ptr_arg_deref)]

use super::abi::{finish_error, text};
use crate::config::{GucContext, GucDef, GucValue, Unit};
use bgw_abi::{
    config_enum_entry, GUC_SUPERUSER_ONLY, GUC_UNIT_BYTE, GUC_UNIT_KB, GUC_UNIT_MEMORY, GUC_UNIT_MIN, GUC_UNIT_MS,
    GUC_UNIT_S, GUC_UNIT_TIME, PGC_POSTMASTER, PGC_S_FILE, WARNING,
};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;

/// Where a parameter's value goes in the module.
enum Target {
    Bool(*mut bool),
    Int(*mut c_int),
    Real(*mut f64),
    Str(*mut *mut c_char),
    Enum(*mut c_int, Vec<(String, c_int)>),
}

struct Custom {
    name: String,
    target: Target,
    /// The string the host last allocated for a string parameter (freed when replaced).
    allocated: *mut c_char,
    /// The module's check and assign hooks (typed by the parameter's type), or NULL.
    check: *const c_void,
    assign: *const c_void,
    /// The module's show hook, or NULL.
    show: *const c_void,
    /// The value last written into the variable (a hook runs only when it changes).
    applied: Option<GucValue>,
}

// SAFETY: the raw pointers are addresses of module globals in this process; they are only dereferenced while
// holding the registry's mutex, from the process's main thread of control.
unsafe impl Send for Custom {}

static CUSTOM: Mutex<Vec<Custom>> = Mutex::new(Vec::new());

fn context_of(c: c_int) -> GucContext {
    if c <= PGC_POSTMASTER {
        GucContext::Postmaster
    } else {
        GucContext::Sighup
    }
}

fn unit_of(name: &str, flags: c_int) -> Result<Unit, String> {
    Ok(match (flags & GUC_UNIT_MEMORY, flags & GUC_UNIT_TIME) {
        (0, 0) => Unit::None,
        (GUC_UNIT_KB, 0) => Unit::Kb,
        (GUC_UNIT_BYTE, 0) => Unit::Bytes,
        (0, GUC_UNIT_MS) => Unit::Ms,
        (0, GUC_UNIT_S) => Unit::S,
        (0, GUC_UNIT_MIN) => Unit::Min,
        _ => return Err(format!("parameter \"{name}\": unit flags 0x{flags:x} are not supported by bgw")),
    })
}

type CheckInt = unsafe extern "C" fn(*mut c_int, *mut *mut c_void, c_int) -> bool;
type CheckBool = unsafe extern "C" fn(*mut bool, *mut *mut c_void, c_int) -> bool;
type CheckReal = unsafe extern "C" fn(*mut f64, *mut *mut c_void, c_int) -> bool;
type CheckStr = unsafe extern "C" fn(*mut *mut c_char, *mut *mut c_void, c_int) -> bool;
type AssignInt = unsafe extern "C" fn(c_int, *mut c_void);
type AssignBool = unsafe extern "C" fn(bool, *mut c_void);
type AssignReal = unsafe extern "C" fn(f64, *mut c_void);
type AssignStr = unsafe extern "C" fn(*const c_char, *mut c_void);

/// A malloc'ed copy of `s` (the C side may free or replace it, as PostgreSQL's guc_malloc'ed strings).
fn malloc_text(s: &str) -> *mut c_char {
    let bytes = s.replace('\0', "");
    // SAFETY: malloc of len + 1 bytes, filled and terminated below (NULL on failure is returned as is).
    unsafe {
        let new = libc::malloc(bytes.len() + 1) as *mut c_char;
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(bytes.as_ptr() as *const c_char, new, bytes.len());
            new.add(bytes.len()).write(0);
        }
        new
    }
}

/// Runs the check hook on `value` (adjusting it as the hook does); false if the hook refuses it.
fn check(c: &Custom, value: &mut GucValue, extra: &mut *mut c_void, source: c_int) -> bool {
    if c.check.is_null() {
        return true;
    }
    // SAFETY: the hook is the module's, of the type its DefineCustom*Variable takes for this parameter's type
    // (as in PostgreSQL); its arguments are valid for the call; a string passed in is malloc'ed, and the hook
    // may free and replace it, as PostgreSQL's hooks may.
    unsafe {
        match (&c.target, value) {
            (Target::Int(_) | Target::Enum(..), GucValue::Int(i)) => {
                let mut v = (*i).clamp(c_int::MIN as i64, c_int::MAX as i64) as c_int;
                let ok = std::mem::transmute::<*const c_void, CheckInt>(c.check)(&mut v, extra, source);
                *i = v as i64;
                ok
            }
            (Target::Enum(_, options), GucValue::Enum(name)) => {
                let Some((_, mut v)) = options.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).cloned() else {
                    return false;
                };
                let ok = std::mem::transmute::<*const c_void, CheckInt>(c.check)(&mut v, extra, source);
                if let Some((n, _)) = options.iter().find(|(_, x)| *x == v) {
                    *name = n.clone();
                }
                ok
            }
            (Target::Bool(_), GucValue::Bool(b)) => {
                std::mem::transmute::<*const c_void, CheckBool>(c.check)(b, extra, source)
            }
            (Target::Real(_), GucValue::Real(r)) => {
                std::mem::transmute::<*const c_void, CheckReal>(c.check)(r, extra, source)
            }
            (Target::Str(_), GucValue::String(s)) => {
                let mut p = malloc_text(s);
                let ok = std::mem::transmute::<*const c_void, CheckStr>(c.check)(&mut p, extra, source);
                if !p.is_null() {
                    *s = text(p);
                    libc::free(p as *mut c_void);
                }
                ok
            }
            _ => true,
        }
    }
}

/// Calls the assign hook with the value just written.
fn assign(c: &Custom, extra: *mut c_void) {
    if c.assign.is_null() {
        return;
    }
    // SAFETY: as in `check`: the module's hook of the parameter type's signature; the variable was just written.
    unsafe {
        match &c.target {
            Target::Int(p) | Target::Enum(p, _) => {
                std::mem::transmute::<*const c_void, AssignInt>(c.assign)(p.read(), extra)
            }
            Target::Bool(p) => std::mem::transmute::<*const c_void, AssignBool>(c.assign)(p.read(), extra),
            Target::Real(p) => std::mem::transmute::<*const c_void, AssignReal>(c.assign)(p.read(), extra),
            Target::Str(p) => std::mem::transmute::<*const c_void, AssignStr>(c.assign)(p.read(), extra),
        }
    }
}

/// Writes `value` into the module's variable of `c`, through its hooks. `source` is the GucSource the check hook
/// is told.
fn store(c: &mut Custom, value: &GucValue, source: c_int) {
    if c.applied.as_ref() == Some(value) {
        return;
    }
    let mut candidate = value.clone();
    let mut extra: *mut c_void = std::ptr::null_mut();
    if !check(c, &mut candidate, &mut extra, source) {
        let message = format!("invalid value for parameter \"{}\": \"{value}\"", c.name);
        if super::loader::loading_module().is_some() {
            finish_error(message);
        } else {
            super::abi::finish(WARNING, message, None, None);
        }
        return;
    }
    write(c, &candidate);
    c.applied = Some(value.clone());
    assign(c, extra);
}

/// Writes the value into the module's variable.
fn write(c: &mut Custom, value: &GucValue) {
    // SAFETY: each pointer is the variable address the module passed when defining the parameter, of the type
    // the matching DefineCustom*Variable declares; modules are never unloaded, so it stays valid.
    unsafe {
        match (&c.target, value) {
            (Target::Bool(p), GucValue::Bool(b)) => p.write(*b),
            (Target::Int(p), GucValue::Int(i)) => p.write((*i).clamp(c_int::MIN as i64, c_int::MAX as i64) as c_int),
            (Target::Real(p), GucValue::Real(r)) => p.write(*r),
            (Target::Str(p), GucValue::String(s)) => {
                let new = malloc_text(s);
                if new.is_null() {
                    return;
                }
                p.write(new);
                if !c.allocated.is_null() {
                    libc::free(c.allocated as *mut c_void);
                }
                c.allocated = new;
            }
            (Target::Enum(p, options), GucValue::Enum(s)) => {
                if let Some((_, v)) = options.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
                    p.write(*v);
                }
            }
            _ => {}
        }
    }
}

/// Writes every module parameter's current value into its variable (after loading or reloading settings: a hook
/// of [`crate::process::on_reload`], registered with the first parameter a module defines).
pub fn sync_all() {
    let mut custom = CUSTOM.lock().unwrap_or_else(|e| e.into_inner());
    // The values first: the settings' lock is not held while the modules' hooks run.
    let values: Vec<Option<GucValue>> = {
        let settings = crate::process::settings();
        custom.iter().map(|c| settings.as_ref().and_then(|s| s.get(&c.name).cloned())).collect()
    };
    for (c, v) in custom.iter_mut().zip(values) {
        if let Some(v) = v {
            store(c, &v, PGC_S_FILE);
        }
    }
}

fn define(def: GucDef, target: Target, hooks: [*const c_void; 3]) {
    crate::process::on_reload(sync_all);
    let name = def.name.clone();
    let result = {
        let mut guard = crate::process::settings();
        let settings = guard.get_or_insert_with(|| crate::config::Settings::new(Vec::new()));
        settings.define(def)
    };
    if let Err(e) = result {
        if matches!(e, crate::config::ConfigError::Duplicate { .. }) || super::loader::loading_module().is_some() {
            finish_error(e.to_string());
            return;
        }
        super::abi::finish(WARNING, e.to_string(), None, e.hint().map(str::to_string));
    }
    let mut c = Custom {
        name: name.clone(),
        target,
        allocated: std::ptr::null_mut(),
        check: hooks[0],
        assign: hooks[1],
        show: hooks[2],
        applied: None,
    };
    // Read first: the settings' lock must not be held while the module's hooks run.
    let configured = crate::process::settings().as_ref().and_then(|s| s.get(&name).cloned());
    if let Some(v) = configured {
        store(&mut c, &v, PGC_S_FILE);
    }
    CUSTOM.lock().unwrap_or_else(|e| e.into_inner()).push(c);
}

/// PostgreSQL's `GucShowHook`: the text to display for the parameter.
type ShowHook = unsafe extern "C" fn() -> *const c_char;

/// The text a module's show hook gives for its parameter `name` (None: the parameter has no show hook, or is not
/// a module's; the stored value is shown). The hook runs without the registry's lock held.
pub fn shown_by_hook(name: &str) -> Option<String> {
    let hook = {
        let custom = CUSTOM.lock().unwrap_or_else(|e| e.into_inner());
        let c = custom.iter().find(|c| c.name.eq_ignore_ascii_case(name))?;
        if c.show.is_null() {
            return None;
        }
        c.show
    };
    // SAFETY: the module's GucShowHook (as PostgreSQL's: no arguments, a string it keeps ownership of, typically a
    // static buffer), given at definition and valid for the process's life (modules are never unloaded).
    let shown = unsafe { std::mem::transmute::<*const c_void, ShowHook>(hook)() };
    Some(if shown.is_null() { String::new() } else { text(shown) })
}

/// The checks every definition starts with: a name, and a variable to store the value in.
fn prologue(name: *const c_char, value_addr: *const c_void) -> Option<String> {
    if name.is_null() {
        finish_error("a custom parameter needs a name".into());
        return None;
    }
    let name = text(name);
    if value_addr.is_null() {
        finish_error(format!("parameter \"{name}\": no variable to store its value in"));
        return None;
    }
    Some(name)
}

/// PostgreSQL's `DefineCustomBoolVariable`.
#[no_mangle]
pub extern "C" fn DefineCustomBoolVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut bool,
    boot_value: bool,
    context: c_int,
    flags: c_int,
    check_hook: *const c_void,
    assign_hook: *const c_void,
    show_hook: *const c_void,
) {
    let Some(name) = prologue(name, value_addr as *const c_void) else { return };
    let def = GucDef::bool(&name, boot_value, context_of(context), &text(short_desc))
        .superuser_only(flags & GUC_SUPERUSER_ONLY != 0);
    define(def, Target::Bool(value_addr), [check_hook, assign_hook, show_hook]);
}

/// PostgreSQL's `DefineCustomIntVariable`.
#[no_mangle]
pub extern "C" fn DefineCustomIntVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut c_int,
    boot_value: c_int,
    min_value: c_int,
    max_value: c_int,
    context: c_int,
    flags: c_int,
    check_hook: *const c_void,
    assign_hook: *const c_void,
    show_hook: *const c_void,
) {
    let Some(name) = prologue(name, value_addr as *const c_void) else { return };
    let unit = match unit_of(&name, flags) {
        Ok(u) => u,
        Err(e) => return finish_error(e),
    };
    let def = GucDef::int(
        &name,
        boot_value as i64,
        min_value as i64,
        max_value as i64,
        unit,
        context_of(context),
        &text(short_desc),
    )
    .superuser_only(flags & GUC_SUPERUSER_ONLY != 0);
    define(def, Target::Int(value_addr), [check_hook, assign_hook, show_hook]);
}

/// PostgreSQL's `DefineCustomRealVariable`.
#[no_mangle]
pub extern "C" fn DefineCustomRealVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut f64,
    boot_value: f64,
    min_value: f64,
    max_value: f64,
    context: c_int,
    flags: c_int,
    check_hook: *const c_void,
    assign_hook: *const c_void,
    show_hook: *const c_void,
) {
    let Some(name) = prologue(name, value_addr as *const c_void) else { return };
    let def = GucDef::real(&name, boot_value, min_value, max_value, context_of(context), &text(short_desc))
        .superuser_only(flags & GUC_SUPERUSER_ONLY != 0);
    define(def, Target::Real(value_addr), [check_hook, assign_hook, show_hook]);
}

/// PostgreSQL's `DefineCustomStringVariable`. The host owns the strings it stores (do not free them).
#[no_mangle]
pub extern "C" fn DefineCustomStringVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut *mut c_char,
    boot_value: *const c_char,
    context: c_int,
    flags: c_int,
    check_hook: *const c_void,
    assign_hook: *const c_void,
    show_hook: *const c_void,
) {
    let Some(name) = prologue(name, value_addr as *const c_void) else { return };
    let def = GucDef::string(&name, &text(boot_value), context_of(context), &text(short_desc))
        .superuser_only(flags & GUC_SUPERUSER_ONLY != 0);
    define(def, Target::Str(value_addr), [check_hook, assign_hook, show_hook]);
}

/// PostgreSQL's `DefineCustomEnumVariable`: `options` ends with an entry whose name is NULL.
#[no_mangle]
pub extern "C" fn DefineCustomEnumVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut c_int,
    boot_value: c_int,
    options: *const config_enum_entry,
    context: c_int,
    flags: c_int,
    check_hook: *const c_void,
    assign_hook: *const c_void,
    show_hook: *const c_void,
) {
    let Some(name) = prologue(name, value_addr as *const c_void) else { return };
    if options.is_null() {
        return finish_error(format!("parameter \"{name}\": no options"));
    }
    let mut list = Vec::new();
    for i in 0..1024 {
        // SAFETY: by PostgreSQL's contract `options` is an array terminated by an entry with a NULL name; we
        // stop there (or after 1024 entries, whichever comes first).
        let e = unsafe { &*options.add(i) };
        if e.name.is_null() {
            break;
        }
        list.push((text(e.name), e.val));
    }
    let Some(default) = list.iter().find(|(_, v)| *v == boot_value).map(|(n, _)| n.clone()) else {
        return finish_error(format!("parameter \"{name}\": its default {boot_value} is not one of its options"));
    };
    let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    let def = GucDef::enumeration(&name, &default, &names, context_of(context), &text(short_desc))
        .superuser_only(flags & GUC_SUPERUSER_ONLY != 0);
    define(def, Target::Enum(value_addr, list), [check_hook, assign_hook, show_hook]);
}

/// PostgreSQL's `MarkGUCPrefixReserved`: settings under `prefix.` that the module did not define are mistakes,
/// reported and removed.
#[no_mangle]
pub extern "C" fn MarkGUCPrefixReserved(prefix: *const c_char) {
    let prefix = text(prefix);
    let removed = crate::process::settings().as_mut().map(|s| s.remove_placeholders_with_prefix(&prefix));
    for name in removed.unwrap_or_default() {
        super::abi::finish(
            WARNING,
            format!("invalid configuration parameter name \"{name}\", removing it"),
            None,
            Some(format!("\"{prefix}\" is now a reserved prefix.")),
        );
    }
}
