//! Latches: the `WL_*` events of `WaitLatch`, its wait-event class, and the opaque `Latch` type.

use core::ffi::c_int;

/// `WaitLatch` event: the latch was set.
pub const WL_LATCH_SET: c_int = 1 << 0;
/// The socket is readable.
pub const WL_SOCKET_READABLE: c_int = 1 << 1;
/// The socket is writeable.
pub const WL_SOCKET_WRITEABLE: c_int = 1 << 2;
/// The timeout passed.
pub const WL_TIMEOUT: c_int = 1 << 3;
/// The postmaster died (reported).
pub const WL_POSTMASTER_DEATH: c_int = 1 << 4;
/// The postmaster died: exit at once instead of reporting it.
pub const WL_EXIT_ON_PM_DEATH: c_int = 1 << 5;

/// `PG_WAIT_EXTENSION`: the wait-event class of extension code.
pub const PG_WAIT_EXTENSION: u32 = 0x0700_0000;

/// PostgreSQL's latch, opaque to modules: only `MyLatch` is ever named.
#[repr(C)]
pub struct Latch {
    _private: [u8; 0],
}
