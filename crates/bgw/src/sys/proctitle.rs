//! The process title `ps` shows: `bgw: <worker name>`, in full.
//!
//! `ps` prints a process's argument area, so setting a title means overwriting it. The area is only as long as the
//! original arguments, so, as PostgreSQL does, the environment strings that follow it are first moved to the heap
//! and the two areas are used together. The kernel's 15-character command name is set too (`PR_SET_NAME`).
//!
//! [`init`] must run in the postmaster while it is single-threaded, before anything reads the environment through
//! saved pointers. `std::env::args` must not be used afterwards in a process that set a title.

use bgw_macros::hot;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(std::ptr::null_mut());
static ARGC: AtomicUsize = AtomicUsize::new(0);
static AREA_START: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());
static AREA_LEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn capture_argv(argc: c_int, argv: *mut *mut c_char, _envp: *mut *mut c_char) {
    ARGC.store(argc.max(0) as usize, Ordering::Relaxed);
    ARGV.store(argv, Ordering::Relaxed);
}

/// glibc calls `.init_array` functions with (argc, argv, envp) before `main`; this is how we learn where argv is.
#[used]
#[link_section = ".init_array"]
static CAPTURE_ARGV: extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) = capture_argv;

extern "C" {
    static mut environ: *mut *mut c_char;
}

/// Claims the argument and environment areas for titles. Call once, single-threaded, early in the postmaster.
pub fn init() {
    let argv = ARGV.load(Ordering::Relaxed);
    let argc = ARGC.load(Ordering::Relaxed);
    if argv.is_null() || argc == 0 {
        return;
    }
    // SAFETY: argv[0..argc] are the NUL-terminated strings the kernel laid out contiguously, followed by the
    // environment strings; we only read them and compute the contiguous span. The process is single-threaded
    // (postmaster start), so replacing `environ` races with no one.
    unsafe {
        let start = *argv;
        if start.is_null() {
            return;
        }
        let mut end = start;
        for i in 0..argc {
            let p = *argv.add(i);
            if p != end && i > 0 {
                break;
            }
            end = p.add(CStr::from_ptr(p).to_bytes().len() + 1);
        }
        // Extend over the environment strings that follow contiguously, after moving them to the heap.
        let env = environ;
        if !env.is_null() {
            let mut copies: Vec<*mut c_char> = Vec::new();
            let mut i = 0;
            loop {
                let p = *env.add(i);
                if p.is_null() {
                    break;
                }
                if p == end {
                    end = p.add(CStr::from_ptr(p).to_bytes().len() + 1);
                }
                copies.push(CString::from(CStr::from_ptr(p)).into_raw());
                i += 1;
            }
            copies.push(std::ptr::null_mut());
            let leaked: &'static mut [*mut c_char] = Box::leak(copies.into_boxed_slice());
            environ = leaked.as_mut_ptr();
        }
        AREA_START.store(start, Ordering::Relaxed);
        AREA_LEN.store(end.offset_from(start) as usize, Ordering::Relaxed);
    }
}

/// Sets the title. Longer titles are cut to the available area (never written past it).
pub fn set(title: &str) {
    set_bytes(title.as_bytes());
}

/// [`set`] for a title that is not a `str` (a worker's, assembled from its registration without allocating).
#[hot]
pub fn set_bytes(title: &[u8]) {
    let start = AREA_START.load(Ordering::Relaxed);
    let len = AREA_LEN.load(Ordering::Relaxed);
    if !start.is_null() && len > 1 {
        let n = title.len().min(len - 1);
        // SAFETY: [start, start+len) is the argument+environment area claimed in `init`, which nothing else uses
        // any more (the environment was moved); we write at most len bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(title.as_ptr(), start as *mut u8, n);
            std::ptr::write_bytes(start.add(n), 0, len - n);
        }
    }
    let mut comm = [0u8; 16];
    let n = title.len().min(15);
    comm[..n].copy_from_slice(&title[..n]);
    super::raw::set_thread_name(&comm);
}
