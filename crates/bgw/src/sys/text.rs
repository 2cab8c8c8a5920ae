//! Releasing the postmaster's mappings of code and read-only data that only its start-up used.
//!
//! The kernel maps a file's pages around each one a process touches (fault-around: 64 KB at a time), so
//! starting up (parsing the command line and the configuration, opening the catalog, preloading modules) leaves
//! several megabytes of the executable mapped in the postmaster, most of which it never runs again. Those pages
//! stay in the page cache, shared with every child; dropping the postmaster's mappings of them (`MADV_DONTNEED`
//! on its read-only, non-writable mappings of the executable) costs nothing but a minor fault the next time the
//! main loop runs code there, after which it stays mapped. Only mappings that are not writable and hold no
//! anonymous (modified) page are released whole: their contents are the file's, so reading them again gives the
//! same bytes. In a read-only mapping that holds modified pages (relocated read-only data: the GOT, `.data.rel.ro`),
//! only the pages `/proc/self/pagemap` shows as still the file's are released, one run at a time; the modified
//! copies are kept. That mapping matters to every child: a fork copies the page table entries of a mapping that
//! holds modified pages, so each page start-up read there was mapped, and counted, in every worker.
//!
//! The heap start-up freed goes back to the kernel too (`malloc_trim`): a fork copies every resident heap page's
//! entry, and each is shared, and counted, in every child until one side writes it.
//!
//! Runs in: the postmaster, once, before its main loop.

/// Drops this process's mappings of the executable's read-only pages (code and constants). Returns the bytes
/// released (their extent, not all of it was resident).
pub fn release_startup_text() -> usize {
    // SAFETY: malloc_trim only returns free memory of the allocator to the kernel; nothing allocated is touched.
    unsafe { libc::malloc_trim(0) };
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return 0 };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return 0 };
    let exe = exe.to_string_lossy().into_owned();
    let mut released = 0;
    // Each mapping: its header line, then "Key: value" lines.
    let mut current: Option<(usize, usize)> = None;
    // Mappings that hold modified pages: released page by page afterwards.
    let mut partial = Vec::new();
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
            // Modified pages (relocations): they cannot be read back from the file; the others can.
            if let Some((start, end)) = current.take() {
                partial.push((start, end));
            }
        }
    }
    release(current.take());
    partial.into_iter().map(|(start, end)| release_file_pages(start, end)).sum::<usize>() + released
}

/// Releases the pages of `start..end` (a private, non-writable mapping of the executable) that are resident and
/// still the file's, per `/proc/self/pagemap` (bit 63: present; bit 61: a file page, not an anonymous copy).
/// Returns the bytes released.
fn release_file_pages(start: usize, end: usize) -> usize {
    use std::os::unix::fs::FileExt;
    const PRESENT: u64 = 1 << 63;
    const FILE_PAGE: u64 = 1 << 61;
    let page = 4096usize;
    let Ok(pagemap) = std::fs::File::open("/proc/self/pagemap") else { return 0 };
    let pages = (end - start) / page;
    let mut entries = vec![0u8; pages * 8];
    if pagemap.read_exact_at(&mut entries, (start / page * 8) as u64).is_err() {
        return 0;
    }
    let file_page = |i: usize| {
        let e = u64::from_le_bytes(entries[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        e & PRESENT != 0 && e & FILE_PAGE != 0
    };
    let mut released = 0;
    let mut i = 0;
    while i < pages {
        if !file_page(i) {
            i += 1;
            continue;
        }
        let first = i;
        while i < pages && file_page(i) {
            i += 1;
        }
        let (a, len) = (start + first * page, (i - first) * page);
        // SAFETY: these pages of a private, non-writable mapping of our executable are mapped from the page cache
        // (pagemap: present, file pages), never modified in this process, so after MADV_DONTNEED the next access
        // maps the same bytes; the modified pages around them are not in the range. No Rust reference can be
        // invalidated: the contents do not change.
        if unsafe { libc::madvise(a as *mut libc::c_void, len, libc::MADV_DONTNEED) } == 0 {
            released += len;
        }
    }
    released
}
