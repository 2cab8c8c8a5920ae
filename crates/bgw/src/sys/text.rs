//! Releasing the postmaster's mappings of code and read-only data that only its start-up used.
//!
//! The kernel maps a file's pages around each one a process touches (fault-around: 64 KB at a time), so
//! starting up (parsing the command line and the configuration, opening the catalog, preloading modules) leaves
//! several megabytes of the executable mapped in the postmaster, most of which it never runs again. Those pages
//! stay in the page cache, shared with every child; dropping the postmaster's mappings of them (`MADV_DONTNEED`
//! on its read-only, non-writable mappings of the executable) costs nothing but a minor fault the next time the
//! main loop runs code there, after which it stays mapped. Only mappings that are not writable and hold no
//! anonymous (modified) page are released: their contents are the file's, so reading them again gives the same
//! bytes (relocated read-only data is a modified copy and is kept).
//!
//! Runs in: the postmaster, once, before its main loop.

/// Drops this process's mappings of the executable's read-only pages (code and constants). Returns the bytes
/// released (their extent, not all of it was resident).
pub fn release_startup_text() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return 0 };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return 0 };
    let exe = exe.to_string_lossy().into_owned();
    let mut released = 0;
    // Each mapping: its header line, then "Key: value" lines.
    let mut current: Option<(usize, usize)> = None;
    let mut release = |range: Option<(usize, usize)>| {
        let Some((start, end)) = range else { return };
        // SAFETY: a private, non-writable file mapping of our own executable without anonymous pages (checked by
        // the caller from /proc/self/smaps): every page holds the file's bytes, never modified (relocated
        // read-only data, whose pages are anonymous copies, is excluded), so after MADV_DONTNEED the next access
        // maps the same bytes from the page cache. No Rust reference can be invalidated: the contents do not
        // change.
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } == 0 {
            released += end - start;
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|(a, _)| a.bytes().all(|c| c.is_ascii_hexdigit())) {
            // A new mapping: release the previous one if it qualified to the end.
            release(current.take());
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let read_only_private = perms.as_bytes().get(1) == Some(&b'-') && perms.as_bytes().get(3) == Some(&b'p');
            if path == exe && read_only_private {
                if let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                    current = Some((start, end));
                }
            }
        } else if first == "Anonymous:" && fields.next().is_some_and(|kb| kb != "0") {
            // Modified pages (relocations): they cannot be read back from the file.
            current = None;
        }
    }
    release(current.take());
    released
}
