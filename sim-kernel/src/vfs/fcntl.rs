//! close, dup, dup2, dup3, fcntl, the generic ioctls and exec's
//! close-on-exec (`fs/open.c`, `fs/file.c`, `fs/fcntl.c`, `fs/ioctl.c`,
//! `fs/exec.c`).

use super::file::IoctlArg;
use super::file::IoctlOut;
use crate::abi::*;
use crate::errno::{Errno, KResult};
use crate::task::Process;

/// close(2): EBADF if `fd` is not open. The file is put after the table
/// lock is dropped; it is released only if that was its last reference.
pub fn ksys_close(p: &Process, fd: i64) -> KResult<()> {
    let file = p.files.close_fd(fd)?;
    drop(file);
    Ok(())
}

/// dup(2): EBADF first, then EMFILE; the new fd has FD_CLOEXEC clear.
pub fn ksys_dup(p: &Process, old: i64) -> KResult<i32> {
    let file = p.files.fget(old)?;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), false)?;
    p.files.fd_install(fd, file);
    Ok(fd)
}

/// dup2(2): `old == new` returns `new` if `old` is open (EBADF if not);
/// otherwise dup3 with no flags.
pub fn ksys_dup2(p: &Process, old: i64, new: u32) -> KResult<i32> {
    if old == new as i64 {
        p.files.fget(old)?;
        return Ok(new as i32);
    }
    ksys_dup3(p, old, new, 0)
}

/// dup3(2): flags other than O_CLOEXEC or `old == new`: EINVAL; `new` at or
/// above RLIMIT_NOFILE: EBADF; `old` not open: EBADF; `new` reserved by a
/// racing open: EBUSY. Whatever `new` named is closed.
pub fn ksys_dup3(p: &Process, old: i64, new: u32, flags: u32) -> KResult<i32> {
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    if old == new as i64 {
        return Err(Errno::EINVAL);
    }
    if new as u64 >= p.rlimit_nofile() || new > i32::MAX as u32 {
        return Err(Errno::EBADF);
    }
    let file = p.files.fget(old)?;
    let replaced = p.files.dup_to(new as i32, file, flags & O_CLOEXEC != 0)?;
    drop(replaced);
    Ok(new as i32)
}

/// fcntl(2) (`do_fcntl`).
pub fn do_fcntl(p: &Process, fd: i64, cmd: u32, arg: u64) -> KResult<u64> {
    let file = p.files.fget(fd)?;
    let argi = arg as i32;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            // f_dupfd: `from` is unsigned; at or above the limit: EINVAL.
            let from = argi as u32 as u64;
            if from >= p.rlimit_nofile() {
                return Err(Errno::EINVAL);
            }
            let nfd = p.files.alloc_fd(from, p.rlimit_nofile(), cmd == F_DUPFD_CLOEXEC)?;
            p.files.fd_install(nfd, file);
            Ok(nfd as u64)
        }
        F_GETFD => Ok(if p.files.get_cloexec(fd)? { FD_CLOEXEC as u64 } else { 0 }),
        F_SETFD => {
            p.files.set_cloexec(fd, argi as u32 & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(file.flags() as u64),
        F_SETFL => {
            let arg = argi as u32;
            // Pipe packet mode is O_DIRECT; elsewhere it needs direct I/O,
            // which no simulated file type has.
            if !file.ops().is_fifo() && arg & O_DIRECT != 0 {
                return Err(Errno::EINVAL);
            }
            let flags = (arg & SETFL_MASK) | (file.flags() & !SETFL_MASK);
            file.set_flags(flags);
            Ok(0)
        }
        F_SETPIPE_SZ | F_GETPIPE_SZ => match file.ops().fcntl(&file, cmd, arg) {
            Some(r) => r,
            // pipe_fcntl on a file that is not a pipe.
            None => Err(Errno::EBADF),
        },
        _ => match file.ops().fcntl(&file, cmd, arg) {
            Some(r) => r,
            None => Err(Errno::EINVAL),
        },
    }
}

/// ioctl(2): the generic commands of `do_vfs_ioctl`, then the type's.
pub fn do_ioctl(p: &Process, fd: i64, cmd: u32, arg: &IoctlArg) -> KResult<IoctlOut> {
    let file = p.files.fget(fd)?;
    match cmd {
        FIOCLEX => {
            p.files.set_cloexec(fd, true)?;
            Ok(IoctlOut::Int(0))
        }
        FIONCLEX => {
            p.files.set_cloexec(fd, false)?;
            Ok(IoctlOut::Int(0))
        }
        FIONBIO => {
            // ioctl_fionbio (fs/ioctl.c): get_user(on, argp) faults on a
            // missing argument.
            let on = arg.int.ok_or(Errno::EFAULT)? as i32 != 0;
            let fl = file.flags();
            file.set_flags(if on { fl | O_NONBLOCK } else { fl & !O_NONBLOCK });
            Ok(IoctlOut::Int(0))
        }
        // FIONREAD is answered here only for regular files (none are
        // simulated); otherwise it falls through to the type.
        _ => file.ops().ioctl(&file, cmd, arg),
    }
}

/// exec(2)'s `do_close_on_exec`: close every FD_CLOEXEC fd of the process.
pub fn do_close_on_exec(p: &Process) {
    drop(p.files.take_cloexec());
}

/// readlink of /proc/self/fd/N.
pub fn fd_path(p: &Process, fd: i64) -> KResult<String> {
    let file = p.files.fget(fd)?;
    Ok(file.ops().path(&file))
}
