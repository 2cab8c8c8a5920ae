//! Typed arguments larger than `bgw_extra`: [`BackgroundWorkerBuilder::arg`](crate::BackgroundWorkerBuilder::arg)
//! attaches any `serde::Serialize` value to a registration, and the worker reads it back with [`arg()`] (or takes
//! it as the parameter of a `#[bgw_sdk::worker]` function).
//!
//! Encoding: postcard (serde's compact binary format), at most [`MAX_ARG_BYTES`] encoded bytes. Where the bytes
//! live:
//! - a dynamic registration: the host keeps them in shared memory, one entry per worker slot, freed with the slot
//!   (`bgw_register_dynamic_with_arg`, read with `bgw_worker_arg`); the worker needs shared-memory access
//!   ([`Flags::SHMEM`](crate::Flags::SHMEM), the default) to read them;
//! - a static registration (`_PG_init` while preloading): this module's memory in the postmaster, which every
//!   worker process inherits when the postmaster forks it.
//!
//! Invariants: an argument is decoded as the type the worker asks for; bytes that do not decode as that type are
//! an [`ArgError::Decode`] naming the type, never a value made up. Encoding errors and oversize arguments are
//! refused at registration ([`Error::ArgTooLarge`], [`Error::ArgEncode`]), before the host is called.
//!
//! Runs in: registrants (encoding) and workers (decoding).

use crate::error::Error;
use crate::ffi;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Mutex;

/// The most encoded bytes an argument may hold (`BGW_MAX_ARG_BYTES`).
pub const MAX_ARG_BYTES: usize = ffi::BGW_MAX_ARG_BYTES;

/// Why a worker could not read its argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// The registration carries no argument.
    #[error("background worker \"{worker}\" was registered without an argument")]
    Missing { worker: String },
    /// The worker has no shared-memory access, where a dynamic registration's argument is.
    #[error("background worker \"{worker}\" cannot read its argument without shared-memory access (Flags::SHMEM)")]
    NoShmemAccess { worker: String },
    /// Not a background worker.
    #[error("only a background worker has an argument")]
    NotAWorker,
    /// The bytes are not an encoded value of the type.
    #[error("the argument of background worker \"{worker}\" is not a {ty}: {reason}")]
    Decode { worker: String, ty: &'static str, reason: String },
}

/// Encodes `value` for a registration.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let bytes = postcard::to_allocvec(value).map_err(|e| Error::ArgEncode(e.to_string()))?;
    if bytes.len() > MAX_ARG_BYTES {
        return Err(Error::ArgTooLarge { len: bytes.len(), max: MAX_ARG_BYTES });
    }
    Ok(bytes)
}

/// Static registrations' arguments, by registration name (in the postmaster while preloading; inherited by the
/// workers it forks).
static STATIC_ARGS: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());

/// Keeps a static registration's argument (the last registration of a name wins, as the host's do).
pub(crate) fn keep_static(name: &str, bytes: Vec<u8>) {
    let mut args = STATIC_ARGS.lock().unwrap_or_else(|e| e.into_inner());
    args.retain(|(n, _)| n != name);
    args.push((name.to_string(), bytes));
}

fn decode<T: DeserializeOwned>(worker: &str, bytes: &[u8]) -> Result<T, ArgError> {
    postcard::from_bytes(bytes).map_err(|e| ArgError::Decode {
        worker: worker.to_string(),
        ty: std::any::type_name::<T>(),
        reason: e.to_string(),
    })
}

/// This worker's typed argument, decoded as `T`.
pub fn arg<T: DeserializeOwned>() -> Result<T, ArgError> {
    let me = crate::my_registration().ok_or(ArgError::NotAWorker)?;
    let bytes = if me.flags.contains(crate::Flags::SHMEM) { ffi::worker_arg() } else { None };
    if let Some(bytes) = bytes {
        return decode(&me.name, &bytes);
    }
    let kept = STATIC_ARGS.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(n, _)| *n == me.name).cloned();
    match kept {
        Some((_, bytes)) => decode(&me.name, &bytes),
        None if !me.flags.contains(crate::Flags::SHMEM) => Err(ArgError::NoShmemAccess { worker: me.name }),
        None => Err(ArgError::Missing { worker: me.name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Job {
        id: u64,
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn arguments_round_trip_and_are_bounded() {
        let job = Job { id: 7, name: "x".repeat(4000), tags: vec!["a".into(), "b".into()] };
        let bytes = encode(&job).unwrap();
        assert!(bytes.len() > 4000 && bytes.len() <= MAX_ARG_BYTES);
        assert_eq!(decode::<Job>("w", &bytes), Ok(job));
        let big = "y".repeat(MAX_ARG_BYTES);
        assert_eq!(encode(&big), Err(Error::ArgTooLarge { len: MAX_ARG_BYTES + 2, max: MAX_ARG_BYTES }));
        let e = decode::<Job>("w", &[1]).unwrap_err();
        assert!(matches!(e, ArgError::Decode { ty, .. } if ty.ends_with("Job")), "{e}");
    }
}
