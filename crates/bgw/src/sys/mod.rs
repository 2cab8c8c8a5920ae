//! The only place where the host talks to the operating system through `unsafe` code.
//!
//! Each submodule wraps one facility behind a safe interface, and every `unsafe` block carries a `// SAFETY:`
//! comment. The rest of the crate makes no system call through `unsafe` code: the crate root denies `unsafe_code`,
//! and the few other modules allowed it (shared memory, the C ABI, SQLite's FFI; listed in the crate's docs) use it
//! for memory shared with C or with other processes, not for the operating system.
//!
//! - [`fork`]: the one function that forks, and the reset every child goes through.
//! - [`shm`]: the shared anonymous mapping that holds the host's shared memory.
//! - [`robust_mutex`]: a process-shared lock that survives its holder being killed.
//! - [`signals`]: signal masks, dispositions and async-signal-safe writes.
//! - [`proctitle`]: the process title that `ps` shows.
//! - [`pidfd`]: waiting for a process that is not our child to exit.
//! - [`alloc`]: the global allocator, and what a failed allocation does in each process.
//! - [`exit_watch`]: which of the postmaster's children exited (a pidfd per child in an epoll set).
//! - [`fd`]: pipes, `poll`, the byte-sized reads and writes of self-pipes.
//! - [`message_pipe`]: one fixed-size message from the postmaster to a child (a spare's assignment).
//! - [`private_memory`]: memory a fork does not copy, for the postmaster's own tables.
//! - [`raw`]: a new child's first system calls, without glibc's wrappers.
//! - [`rseq`]: taking the postmaster out of glibc's restartable-sequences registration.
//! - [`process`]: whether a pid exists; leaving this process at once.
//! - [`user`]: the OS user's name.
//! - [`text`]: releasing the postmaster's mappings of code only its start-up ran.

pub mod alloc;
pub mod exit_watch;
pub mod fd;
pub mod fork;
pub mod message_pipe;
pub mod pidfd;
pub mod private_memory;
pub mod process;
pub mod proctitle;
pub mod raw;
pub mod robust_mutex;
pub mod rseq;
pub mod sd_notify;
pub mod shm;
pub mod signals;
pub mod text;
pub mod user;
