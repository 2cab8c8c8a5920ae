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
/// The other wait-event classes (`utils/wait_event.h`; accepted, not shown).
pub const PG_WAIT_LWLOCK: u32 = 0x0100_0000;
pub const PG_WAIT_LOCK: u32 = 0x0300_0000;
pub const PG_WAIT_BUFFER_PIN: u32 = 0x0400_0000;
pub const PG_WAIT_ACTIVITY: u32 = 0x0500_0000;
pub const PG_WAIT_CLIENT: u32 = 0x0600_0000;
pub const PG_WAIT_IPC: u32 = 0x0800_0000;
pub const PG_WAIT_TIMEOUT: u32 = 0x0900_0000;
pub const PG_WAIT_IO: u32 = 0x0A00_0000;

/// `pgsocket`: a socket descriptor for `WaitLatchOrSocket`, and its "none" value.
#[allow(non_camel_case_types)]
pub type pgsocket = c_int;
pub const PGINVALID_SOCKET: pgsocket = -1;

/// PostgreSQL's latch, opaque to modules: only `MyLatch` is ever named.
#[repr(C)]
pub struct Latch {
    _private: [u8; 0],
}
