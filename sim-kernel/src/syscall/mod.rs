//! One entry point per syscall (`sys_<name>`), as in Linux's
//! `SYSCALL_DEFINE`s: argument checks in Linux's order, the fd lookup (which
//! takes the in-flight file reference), then the work in the subsystem's
//! `do_*`/`vfs_*` function.
//!
//! Integer arguments arrive as the C ABI would pass them: the caller
//! truncates to `int`/`unsigned int` where the prototype says so.

pub mod mm;

use crate::abi::RLIMIT_NOFILE;
use crate::errno::{Errno, KResult};
use crate::task::Task;
use crate::vfs::fcntl;
use crate::vfs::file::{IoctlArg, IoctlOut};
use crate::vfs::poll::do_poll;
use crate::vfs::read_write;

/// eventfd2(count, flags); `eventfd(count)` is `eventfd2(count, 0)`.
pub fn sys_eventfd2(t: &Task, count: u32, flags: u32) -> KResult<i32> {
    crate::eventfd::do_eventfd(t, count, flags)
}

/// pipe2(fds, flags); `pipe(fds)` is `pipe2(fds, 0)`. Returns (read fd,
/// write fd).
pub fn sys_pipe2(t: &Task, flags: u32) -> KResult<(i32, i32)> {
    crate::pipe::do_pipe2(t, flags)
}

pub use crate::watch_queue::{sys_watch_add, sys_watch_remove};

/// mailbox(flags): the book's tutorial object (`crate::tutorial::mailbox`),
/// not a Linux system call.
pub fn sys_mailbox(t: &Task, flags: u32) -> KResult<i32> {
    crate::tutorial::mailbox::do_mailbox(t, flags)
}

/// The count of signal `sig` the caller's process received (and ignored).
pub fn sigcount(t: &Task, sig: u32) -> KResult<u64> {
    Ok(t.proc()?.sigcount(sig as usize))
}

/// read(fd, buf, count): the bytes read.
pub fn sys_read(t: &Task, fd: i64, count: u64) -> KResult<Vec<u8>> {
    let f = t.proc()?.files.fget(fd)?;
    read_write::vfs_read(&f, count)
}

/// read(fd, buf, buf.len()) into the caller's buffer: the number of bytes
/// read (no allocation on the way for types that implement
/// `FileOps::read_into`).
pub fn sys_read_into(t: &Task, fd: i64, buf: &mut [u8]) -> KResult<usize> {
    let f = t.proc()?.files.fget(fd)?;
    read_write::vfs_read_into(&f, buf)
}

/// write(fd, buf, count): the count written.
pub fn sys_write(t: &Task, fd: i64, data: &[u8]) -> KResult<usize> {
    let p = t.proc()?;
    let f = p.files.fget(fd)?;
    read_write::vfs_write(&f, data, t)
}

/// pread64: `pos < 0` is EINVAL before the fd is looked up.
pub fn sys_pread64(t: &Task, fd: i64, count: u64, pos: i64) -> KResult<Vec<u8>> {
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.proc()?.files.fget(fd)?;
    read_write::ksys_pread(&f, count)
}

/// pwrite64: `pos < 0` is EINVAL before the fd is looked up.
pub fn sys_pwrite64(t: &Task, fd: i64, data: &[u8], pos: i64) -> KResult<usize> {
    if pos < 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.proc()?.files.fget(fd)?;
    read_write::ksys_pwrite(&f, data, t)
}

/// lseek: EBADF, then `whence > SEEK_MAX` EINVAL, then the file's llseek.
pub fn sys_lseek(t: &Task, fd: i64, offset: i64, whence: u32) -> KResult<i64> {
    let f = t.proc()?.files.fget(fd)?;
    read_write::ksys_lseek(&f, offset, whence)
}

pub fn sys_close(t: &Task, fd: i64) -> KResult<()> {
    fcntl::ksys_close(t.proc()?, fd)
}

pub fn sys_dup(t: &Task, old: i64) -> KResult<i32> {
    fcntl::ksys_dup(t.proc()?, old)
}

pub fn sys_dup2(t: &Task, old: i64, new: u32) -> KResult<i32> {
    fcntl::ksys_dup2(t.proc()?, old, new)
}

pub fn sys_dup3(t: &Task, old: i64, new: u32, flags: u32) -> KResult<i32> {
    fcntl::ksys_dup3(t.proc()?, old, new, flags)
}

pub fn sys_fcntl(t: &Task, fd: i64, cmd: u32, arg: u64) -> KResult<u64> {
    fcntl::do_fcntl(t.proc()?, fd, cmd, arg)
}

pub fn sys_ioctl(t: &Task, fd: i64, cmd: u32, arg: &IoctlArg) -> KResult<IoctlOut> {
    fcntl::do_ioctl(t.proc()?, fd, cmd, arg)
}

/// poll on one fd: the revents.
pub fn sys_poll(t: &Task, fd: i64, events: u32, timeout_ms: i32) -> KResult<u32> {
    let p = t.proc()?;
    // fs/select.c: `if (nfds > rlimit(RLIMIT_NOFILE)) return -EINVAL;` (one fd).
    if p.rlimit_nofile() < 1 {
        return Err(Errno::EINVAL);
    }
    do_poll(&p.files, fd, events, timeout_ms)
}

/// execve's effect on the fd table: the FD_CLOEXEC fds are closed.
pub fn sys_exec(t: &Task) -> KResult<()> {
    fcntl::do_close_on_exec(t.proc()?);
    Ok(())
}

/// setrlimit(resource, {n, max(n, hard)}): only RLIMIT_NOFILE is
/// modelled; other resources are EINVAL. Raising the hard limit needs the
/// machine's `CAP_SYS_RESOURCE` ([`crate::machine::Machine`]).
pub fn sys_setrlimit(t: &Task, resource: u32, n: u64) -> KResult<()> {
    if resource != RLIMIT_NOFILE {
        return Err(Errno::EINVAL);
    }
    t.proc()?.set_rlimit_nofile(n, t.kernel.machine.cap_sys_resource)
}

/// readlink("/proc/self/fd/N"): a closed fd has no such entry, ENOENT.
pub fn fd_path(t: &Task, fd: i64) -> KResult<String> {
    fcntl::fd_path(t.proc()?, fd).map_err(|e| if e == Errno::EBADF { Errno::ENOENT } else { e })
}

/// open(path, flags): the new fd ([`crate::vfs::open`]).
pub fn sys_open(t: &Task, path: &str, flags: u32) -> KResult<i32> {
    crate::vfs::open::do_sys_open(t, path, flags)
}

/// write(fd, addr, count) with the buffer in the caller's memory: the
/// count written. `EBADF`, then the file's write from user memory (EFAULT
/// where it faults).
pub fn sys_write_mem(t: &Task, fd: i64, addr: u64, count: u64) -> KResult<usize> {
    let f = t.proc()?.files.fget(fd)?;
    read_write::vfs_write_user(&f, addr, count, t)
}
