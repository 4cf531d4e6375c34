//! The memory syscalls (`mmap`, `munmap`, `mprotect`, `userfaultfd`) and
//! the user accesses a scenario makes (`load`, `store`, `memset`: what an
//! instruction touching memory does, page faults included).
//!
//! Accesses return [`Fault`] when they end in a signal (SIGSEGV, SIGBUS)
//! or when the task is killed while a fault sleeps.

use crate::errno::KResult;
use crate::mm::memory::{self, Fault};
use crate::mm::{mmap, mprotect};
use crate::task::Task;

/// `mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`.
pub fn sys_mmap(t: &Task, len: u64, prot: u32) -> KResult<u64> {
    mmap::do_mmap(&t.proc()?.mm, len, prot)
}

pub fn sys_munmap(t: &Task, addr: u64, len: u64) -> KResult<()> {
    mmap::do_munmap(&t.proc()?.mm, addr, len)
}

pub fn sys_mprotect(t: &Task, addr: u64, len: u64, prot: u32) -> KResult<()> {
    mprotect::do_mprotect(&t.proc()?.mm, addr, len, prot)
}

/// userfaultfd(flags).
pub fn sys_userfaultfd(t: &Task, flags: u32) -> KResult<i32> {
    crate::userfaultfd::do_userfaultfd(t, flags)
}

/// A user access failed to start (no process) or faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    Errno(crate::Errno),
    Fault(Fault),
}

impl From<crate::Errno> for AccessError {
    fn from(e: crate::Errno) -> Self {
        AccessError::Errno(e)
    }
}

impl From<Fault> for AccessError {
    fn from(f: Fault) -> Self {
        AccessError::Fault(f)
    }
}

/// Read the little-endian u64 at `addr`.
pub fn user_load(t: &Task, addr: u64) -> Result<u64, AccessError> {
    Ok(memory::load(&t.proc()?.mm, addr)?)
}

/// Write the little-endian u64 `value` at `addr`.
pub fn user_store(t: &Task, addr: u64, value: u64) -> Result<(), AccessError> {
    Ok(memory::store(&t.proc()?.mm, addr, value)?)
}

/// `memset(addr, byte, len)`.
pub fn user_memset(t: &Task, addr: u64, byte: u8, len: u64) -> Result<(), AccessError> {
    Ok(memory::memset_user(&t.proc()?.mm, addr, byte, len)?)
}
