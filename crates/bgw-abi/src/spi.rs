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
pub const SPI_ERROR_NOATTRIBUTE: c_int = -9;
pub const SPI_ERROR_NOOUTFUNC: c_int = -10;
pub const SPI_ERROR_TYPUNKNOWN: c_int = -11;
pub const SPI_ERROR_REL_DUPLICATE: c_int = -12;
pub const SPI_ERROR_REL_NOT_FOUND: c_int = -13;
/// bgw's own: the statement failed where PostgreSQL would have raised an ERROR (a syntax error, a constraint
/// violation, a write in a read-only execution, a statement in a failed transaction); `bgw_spi_error_message`
/// says why.
pub const BGW_SPI_ERROR_STATEMENT: c_int = -100;

pub const SPI_OK_CONNECT: c_int = 1;
pub const SPI_OK_FINISH: c_int = 2;
pub const SPI_OK_FETCH: c_int = 3;
pub const SPI_OK_UTILITY: c_int = 4;
pub const SPI_OK_SELECT: c_int = 5;
pub const SPI_OK_SELINTO: c_int = 6;
pub const SPI_OK_INSERT: c_int = 7;
pub const SPI_OK_DELETE: c_int = 8;
pub const SPI_OK_UPDATE: c_int = 9;
pub const SPI_OK_INSERT_RETURNING: c_int = 11;
pub const SPI_OK_DELETE_RETURNING: c_int = 12;
pub const SPI_OK_UPDATE_RETURNING: c_int = 13;
pub const SPI_OK_CURSOR: c_int = 10;
pub const SPI_OK_REWRITTEN: c_int = 14;
pub const SPI_OK_REL_REGISTER: c_int = 15;
pub const SPI_OK_REL_UNREGISTER: c_int = 16;
pub const SPI_OK_TD_REGISTER: c_int = 17;
pub const SPI_OK_MERGE: c_int = 18;

/// PostgreSQL's snapshot (`Snapshot` is a pointer to it), opaque: bgw has no snapshots of its own.
#[repr(C)]
pub struct SnapshotData {
    _private: [u8; 0],
}

/// PostgreSQL's `Snapshot`: what `GetTransactionSnapshot` returns and `PushActiveSnapshot` takes (a token).
pub type Snapshot = *mut SnapshotData;
