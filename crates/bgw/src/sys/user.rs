//! The name of the OS user this process runs as (what libpq and psql use as the default role name).

/// The effective user's name, or None if the password database has no entry for it.
pub fn os_user_name() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    name_of_uid(unsafe { libc::geteuid() })
}

/// The name of OS user `uid` (for peer authentication), or None if it has no entry.
pub fn name_of_uid(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: getpwuid_r fills `pwd` with pointers into `buf` (sized above) and sets `result` to &pwd on success;
    // we read the name before `buf` goes out of scope.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}
