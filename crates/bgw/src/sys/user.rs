//! Users: the name of the OS user this process runs as (what libpq and psql use as the default role name), and
//! the user at the other end of a Unix socket.
//!
//! Runs in the postmaster and the `bgw` command (the default superuser's name) and backends (peer authentication).

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

/// The user id of the peer of Unix socket `fd` (for peer authentication), from the kernel.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(fd: std::os::fd::RawFd) -> std::io::Result<u32> {
    let mut credentials = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `credentials` and `len` are valid for writes of the sizes given; `fd` is the caller's open socket.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut credentials as *mut libc::ucred).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(credentials.uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The user id of the peer of Unix socket `fd` (for peer authentication), from the kernel.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_uid(fd: std::os::fd::RawFd) -> std::io::Result<u32> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: `uid` and `gid` are valid for writes; `fd` is the caller's open socket.
    if unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } == 0 {
        Ok(uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}
