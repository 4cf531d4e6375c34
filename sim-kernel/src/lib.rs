//! The simulated kernel: a miniature Linux with an fd table, anon inodes and
//! eventfd, run by a deterministic scheduler.
//!
//! Modules take the Linux source names: [`abi`] (UAPI constants),
//! [`errno`], [`sync`] (the only place naming std or loom primitives),
//! [`sched`] (actors, wait queues, yield points, virtual clock), [`vfs`]
//! (`fs/`: file, fd table, anon inodes, read/write, fcntl, poll),
//! [`eventfd`] (`fs/eventfd.c`), [`pipe`] (`fs/pipe.c`), [`watch_queue`]
//! (`kernel/watch_queue.c`: notification pipes), [`mm`] (`mm/`: address
//! spaces, page faults), [`userfaultfd`] (`fs/userfaultfd.c`), [`task`]
//! (processes and tasks), [`uverbs`] (`drivers/infiniband/core/uverbs*`:
//! the InfiniBand user-verbs device), [`machine`] (the CPU features and privileges
//! that change results),
//! [`objtrack`] (object accounting: leaks and use-after-free), [`bugs`] (the
//! historical-bug registry), [`syscall`] (one entry point per syscall) and
//! [`tutorial`] (the book's worked example, not a Linux object).

pub mod abi;
pub mod bugs;
pub mod errno;
pub mod eventfd;
pub mod footprint;
pub mod fuse;
pub mod kernel;
pub mod machine;
pub mod mm;
pub mod objtrack;
pub mod pipe;
pub mod sched;
pub mod sync;
pub mod syscall;
pub mod task;
pub mod tutorial;
pub mod userfaultfd;
pub mod uverbs;
pub mod vfs;
pub mod watch_queue;

pub use errno::{Errno, KResult};
pub use kernel::Kernel;
pub use machine::Machine;
pub use task::{Process, Task};
