//! Entry points: what the [`worker_main!`](crate::worker_main) and [`module_init!`](crate::module_init) macros
//! expand to call, and the main argument type.
//!
//! Purpose: a worker's entry point is a C function `void f(Datum)` that the host looks up by name; `_PG_init` is
//! `void _PG_init(void)`. The macros generate those exported functions in the module's crate; each only calls
//! [`run_worker`] or [`run_init`] here, which run the safe Rust function inside `catch_unwind`, so a panic never
//! unwinds into the host (which would abort): it becomes an ERROR in the server log, with the panic's location as
//! DETAIL, and exit code 1 (in `_PG_init`: the host stops start-up, naming the module).
//!
//! Invariants:
//! - Panics are caught by the SDK's `catch` module, whose hook records the panic's message and location for the
//!   ERROR instead of printing Rust's default report.
//! - Returning from the entry point is exit code 0 (the host unregisters the worker); an entry point that returns
//!   `Err(e)` logs `e` as an ERROR (exit code 1).
//!
//! Layer: above `ffi`, `catch` and `elog`.
//!
//! Runs in: a worker (entry points) or the postmaster during `shared_preload_libraries` (`_PG_init`).

use crate::catch::{catch, CaughtPanic};
use crate::elog::{Level, Report};
use crate::ffi;
use std::fmt::Display;

/// A worker's main argument (the C Datum its registration carried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MainArg(usize);

impl MainArg {
    pub const fn new(value: usize) -> MainArg {
        MainArg(value)
    }
    /// The Datum as given.
    pub const fn value(self) -> usize {
        self.0
    }
    /// As C's `DatumGetInt32`: the low 32 bits, signed.
    pub const fn as_i32(self) -> i32 {
        self.0 as u32 as i32
    }
    /// As C's `DatumGetUInt32`: the low 32 bits.
    pub const fn as_u32(self) -> u32 {
        self.0 as u32
    }
    /// The whole Datum as u64.
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }
}

impl From<MainArg> for usize {
    fn from(a: MainArg) -> usize {
        a.0
    }
}

/// Ends the process at once with `code` (the host's way: `_exit`, no atexit handlers or destructors, which a
/// worker inherited from the postmaster). Exit codes: 0 unregisters the worker, 1 restarts it after its interval
/// (or unregisters a never-restart worker), anything else is a crash of the whole host (for workers with
/// shared-memory access).
pub fn exit(code: i32) -> ! {
    ffi::exit(code)
}

/// Runs `f` with panics caught; on a panic, the ERROR report for it.
fn run_caught<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Report> {
    catch(f).map_err(|CaughtPanic { message, location, .. }| {
        let detail = match location {
            Some(l) => format!("Rust panic in {what} at {l}."),
            None => format!("Rust panic in {what}."),
        };
        Report::new(Level::Error, message).detail(detail)
    })
}

/// How a Rust function can serve as a worker's main function. Implemented for `fn(MainArg)`, `fn(usize)`, and
/// both returning `Result<(), E>` with `E: Display`; the type parameter only tells the implementations apart.
pub trait WorkerFn<Marker> {
    /// Runs the worker; `Err` is the ERROR message to log.
    fn run_worker(self, arg: MainArg) -> Result<(), String>;
}

/// Marker types for [`WorkerFn`] (never constructed).
#[doc(hidden)]
pub mod markers {
    pub struct TakesMainArg;
    pub struct TakesUsize;
    pub struct TakesMainArgFallible<E>(std::marker::PhantomData<E>);
    pub struct TakesUsizeFallible<E>(std::marker::PhantomData<E>);
    pub struct Infallible;
    pub struct Fallible<E>(std::marker::PhantomData<E>);
}

impl<F: FnOnce(MainArg)> WorkerFn<markers::TakesMainArg> for F {
    fn run_worker(self, arg: MainArg) -> Result<(), String> {
        self(arg);
        Ok(())
    }
}

impl<F: FnOnce(usize)> WorkerFn<markers::TakesUsize> for F {
    fn run_worker(self, arg: MainArg) -> Result<(), String> {
        self(arg.value());
        Ok(())
    }
}

impl<E: Display, F: FnOnce(MainArg) -> Result<(), E>> WorkerFn<markers::TakesMainArgFallible<E>> for F {
    fn run_worker(self, arg: MainArg) -> Result<(), String> {
        self(arg).map_err(|e| e.to_string())
    }
}

impl<E: Display, F: FnOnce(usize) -> Result<(), E>> WorkerFn<markers::TakesUsizeFallible<E>> for F {
    fn run_worker(self, arg: MainArg) -> Result<(), String> {
        self(arg.value()).map_err(|e| e.to_string())
    }
}

/// What a `#[worker]` function may return: `()` or `Result<(), E>` with `E: Display` (an `Err` is the ERROR
/// message to log).
pub trait WorkerReturn {
    /// `Err` is the ERROR message to log.
    fn into_worker_result(self) -> Result<(), String>;
}

impl WorkerReturn for () {
    fn into_worker_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> WorkerReturn for Result<(), E> {
    fn into_worker_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// How a Rust function can serve as a module's `_PG_init`: `fn()` or `fn() -> Result<(), E>` with `E: Display`.
pub trait InitFn<Marker> {
    /// Runs the initializer; `Err` is the ERROR message to log.
    fn run_init(self) -> Result<(), String>;
}

impl<F: FnOnce()> InitFn<markers::Infallible> for F {
    fn run_init(self) -> Result<(), String> {
        self();
        Ok(())
    }
}

impl<E: Display, F: FnOnce() -> Result<(), E>> InitFn<markers::Fallible<E>> for F {
    fn run_init(self) -> Result<(), String> {
        self().map_err(|e| e.to_string())
    }
}

/// Called by the function [`worker_main!`](crate::worker_main) exports: runs the worker, turns a panic or an
/// `Err` into an ERROR (exit code 1). Returning is exit code 0.
#[doc(hidden)]
pub fn run_worker<M, F: WorkerFn<M>>(function: &'static str, arg: usize, f: F) {
    let what = format!("background worker function \"{function}\"");
    match run_caught(&what, || f.run_worker(MainArg(arg))) {
        Ok(Ok(())) => {}
        Ok(Err(message)) => crate::elog::error(&message),
        Err(report) => {
            report.emit();
            exit(1)
        }
    }
}

/// Called by the `_PG_init` [`module_init!`](crate::module_init) exports: runs the initializer, turns a panic or
/// an `Err` into an ERROR (in the postmaster's preload: start-up stops, naming the module).
///
/// Outside preload the host runs `_PG_init` inside its error trap, and its ERROR `longjmp`s back over this frame
/// and the exported `_PG_init`: the report is therefore handed over with nothing left to drop in either frame
/// (its strings are leaked, once per failed load).
#[doc(hidden)]
pub fn run_init<M, F: InitFn<M>>(f: F) {
    let report = match run_caught("_PG_init", || f.run_init()) {
        Ok(Ok(())) => return,
        Ok(Err(message)) => Report::new(Level::Error, message),
        Err(report) => report,
    };
    report.emit_leaking()
}

/// Exports a worker entry point: a C function `void name(Datum)` the host can find by name, calling a safe Rust
/// function inside `catch_unwind`.
///
/// - `worker_main!(name)`: exports `name`, calling the Rust function `name` of the same module.
/// - `worker_main!(exported = path::to::function)`: exports `exported`, calling `path::to::function` (which must
///   not be `exported` itself).
/// - Several at once: `worker_main!(a, b, c = other::c)`.
///
/// The Rust function takes a [`MainArg`] or a `usize` and returns `()` or `Result<(), E>` with `E: Display` (an
/// `Err` is logged as an ERROR: exit code 1). Returning is exit code 0; a panic is an ERROR with the panic's
/// message (exit code 1).
///
/// ```no_run
/// use bgw_sdk::MainArg;
///
/// fn hello(arg: MainArg) {
///     bgw_sdk::unblock_signals();
///     bgw_sdk::log!("hello, my argument is {}", arg.value());
/// }
/// bgw_sdk::worker_main!(hello);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! worker_main {
    ($($export:ident $(= $target:path)?),+ $(,)?) => {
        $( $crate::__worker_main_one!($export $(= $target)?); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __worker_main_one {
    ($export:ident) => {
        $crate::__worker_main_one!(@emit $export, self::$export);
    };
    ($export:ident = $target:path) => {
        $crate::__worker_main_one!(@emit $export, $target);
    };
    (@emit $export:ident, $target:path) => {
        // In an anonymous block, so the exported function may share its name with the Rust function it calls.
        const _: () = {
            #[unsafe(no_mangle)]
            pub extern "C" fn $export(main_arg: usize) {
                $crate::entry::run_worker(::core::stringify!($export), main_arg, $target);
            }
        };
    };
}

/// Exports the module's `_PG_init`, which the host calls once when it loads the module through
/// `shared_preload_libraries` (in the postmaster, before any worker starts): the place to register static
/// workers with [`BackgroundWorkerBuilder::register_static`](crate::BackgroundWorkerBuilder::register_static).
///
/// Takes a closure or function returning `()` or `Result<(), E>` with `E: Display`. A panic or an `Err` is an
/// ERROR: the host stops start-up with a message naming the module.
///
/// ```no_run
/// bgw_sdk::module_init!(|| -> Result<(), bgw_sdk::Error> {
///     bgw_sdk::BackgroundWorkerBuilder::new("hello")
///         .library("hello")
///         .function("hello")
///         .register_static()
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! module_init {
    ($init:expr $(,)?) => {
        const _: () = {
            #[unsafe(no_mangle)]
            #[allow(non_snake_case)]
            pub extern "C" fn _PG_init() {
                $crate::entry::run_init($init);
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_args_read_like_datums() {
        let a = MainArg::new(0xffff_ffff);
        assert_eq!(a.as_i32(), -1);
        assert_eq!(a.as_u32(), u32::MAX);
        assert_eq!(MainArg::new(42).as_i32(), 42);
        assert_eq!(usize::from(MainArg::new(7)), 7);
        assert_eq!(MainArg::new(usize::MAX).as_u64(), usize::MAX as u64);
    }

    fn takes_main_arg(a: MainArg) {
        assert_eq!(a.value(), 3);
    }
    fn takes_usize(a: usize) {
        assert_eq!(a, 3);
    }
    fn fails(_: MainArg) -> Result<(), String> {
        Err("nope".into())
    }
    fn fails_usize(a: usize) -> Result<(), std::fmt::Error> {
        if a == 3 {
            Err(std::fmt::Error)
        } else {
            Ok(())
        }
    }

    fn call<M>(f: impl WorkerFn<M>) -> Result<(), String> {
        f.run_worker(MainArg::new(3))
    }

    #[test]
    fn worker_signatures() {
        assert_eq!(call(takes_main_arg), Ok(()));
        assert_eq!(call(takes_usize), Ok(()));
        assert_eq!(call(fails), Err("nope".to_string()));
        assert_eq!(call(fails_usize), Err("an error occurred when formatting an argument".to_string()));
        fn init<M>(f: impl InitFn<M>) -> Result<(), String> {
            f.run_init()
        }
        assert_eq!(init(|| {}), Ok(()));
        assert_eq!(init(|| -> Result<(), String> { Err("bad".into()) }), Err("bad".to_string()));
    }

    #[test]
    fn panics_become_error_reports() {
        let r = run_caught("test", || panic!("boom {}", 7));
        let report = r.unwrap_err();
        let expected_line = line!() - 2;
        let text = format!("{report:?}");
        assert!(text.contains("message: \"boom 7\""), "{text}");
        assert!(text.contains(&format!("Rust panic in test at {}:{expected_line}:", file!())), "{text}");
        assert_eq!(run_caught("test", || 5).unwrap(), 5);
        // The hook only captures while an entry point runs.
        assert!(!crate::catch::IN_ENTRY.with(std::cell::Cell::get));
    }
}
