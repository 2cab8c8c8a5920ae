//! SPI: PostgreSQL's result codes (`executor/spi.h`), bgw's own statement-failure code, and the opaque snapshot
//! type.

use core::ffi::c_int;

pub const SPI_ERROR_CONNECT: c_int = -1;
pub const SPI_ERROR_COPY: c_int = -2;
pub const SPI_ERROR_OPUNKNOWN: c_int = -3;
pub const SPI_ERROR_UNCONNECTED: c_int = -4;
pub const SPI_ERROR_ARGUMENT: c_int = -6;
pub const SPI_ERROR_PARAM: c_int = -7;
pub const SPI_ERROR_TRANSACTION: c_int = -8;
/// bgw's own: the statement failed where PostgreSQL would have raised an ERROR (a syntax error, a constraint
/// violation, a write in a read-only execution, a statement in a failed transaction); `bgw_spi_error_message`
/// says why.
pub const BGW_SPI_ERROR_STATEMENT: c_int = -100;

pub const SPI_OK_CONNECT: c_int = 1;
pub const SPI_OK_FINISH: c_int = 2;
pub const SPI_OK_UTILITY: c_int = 4;
pub const SPI_OK_SELECT: c_int = 5;
pub const SPI_OK_INSERT: c_int = 7;
pub const SPI_OK_DELETE: c_int = 8;
pub const SPI_OK_UPDATE: c_int = 9;
pub const SPI_OK_INSERT_RETURNING: c_int = 11;
pub const SPI_OK_DELETE_RETURNING: c_int = 12;
pub const SPI_OK_UPDATE_RETURNING: c_int = 13;

/// PostgreSQL's snapshot (`Snapshot` is a pointer to it), opaque: bgw has no snapshots of its own.
#[repr(C)]
pub struct SnapshotData {
    _private: [u8; 0],
}

/// PostgreSQL's `Snapshot`: what `GetTransactionSnapshot` returns and `PushActiveSnapshot` takes (a token).
pub type Snapshot = *mut SnapshotData;
