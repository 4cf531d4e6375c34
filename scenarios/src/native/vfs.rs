//! Native VFS calls: read(2), write(2), pread(2), pwrite(2), close(2),
//! dup(2)/dup2/dup3, fcntl(2), lseek(2), poll(2) on one fd, ioctl(2),
//! `exec()` (a real execve of the child, see [`super::interp`]),
//! `fd_path(FD)` (readlink of /proc/self/fd/FD) and
//! `setrlimit(RLIMIT_NOFILE, N)` (the soft limit N; see [`setrlimit`]).
//!
//! ioctl commands with an argument form other than an integer go to the
//! subsystem that owns them ([`super::watch_queue::ioctl`],
//! [`super::userfaultfd::ioctl`]); the generic ones are here.

use super::sys::{bytes, fd, int, int_or, ret, ret_int, ret_zero};
use super::{NErr, Native};
use crate::value::Value;
use sim_kernel::abi;

pub const CALLS: &[(&str, Native)] = &[
    ("read", Native::Run(read)),
    ("write", Native::Run(write)),
    ("pread", Native::Run(pread)),
    ("pwrite", Native::Run(pwrite)),
    ("close", Native::Run(close)),
    ("dup", Native::Run(dup)),
    ("dup2", Native::Run(dup2)),
    ("dup3", Native::Run(dup3)),
    ("fcntl", Native::Run(fcntl)),
    ("lseek", Native::Run(lseek)),
    ("poll", Native::Run(poll)),
    ("ioctl", Native::Run(ioctl)),
    ("exec", Native::Run(exec)),
    ("fd_path", Native::Run(fd_path)),
    ("setrlimit", Native::Run(setrlimit)),
    ("mailbox", Native::Skip("the tutorial mailbox is ksim's own object, not a Linux system call")),
];

/// A buffer of `count` bytes for the kernel to fill: a Vec up to 64 MiB,
/// beyond that lazily allocated memory (a huge count must reach the kernel
/// as it is: it decides the result, often without touching the buffer).
pub enum Buf {
    Vec(Vec<u8>),
    Map(*mut u8, usize),
}

impl Buf {
    pub fn new(count: u64) -> Result<Buf, NErr> {
        if count <= crate::calls::MAX_BYTES {
            return Ok(Buf::Vec(vec![0; count as usize]));
        }
        let len = usize::try_from(count).map_err(|_| NErr::Skip(format!("a {count}-byte buffer")))?;
        // SAFETY: an anonymous private mapping; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(NErr::Skip(format!("the host cannot make a {count}-byte buffer for the call")));
        }
        Ok(Buf::Map(p.cast(), len))
    }

    pub fn ptr(&mut self) -> *mut u8 {
        match self {
            Buf::Vec(v) => v.as_mut_ptr(),
            Buf::Map(p, _) => *p,
        }
    }

    /// The first `n` bytes.
    pub fn value(&mut self, n: usize) -> Value {
        let p = self.ptr();
        // SAFETY: the kernel wrote n <= len bytes at p.
        Value::bytes(unsafe { std::slice::from_raw_parts(p, n) })
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let Buf::Map(p, len) = *self {
            // SAFETY: the mapping made in new().
            unsafe { libc::munmap(p.cast(), len) };
        }
    }
}

fn read(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("read", a, 0)?;
    let count = int("read", a, 1)?;
    let mut b = Buf::new(count)?;
    // SAFETY: b has count writable bytes.
    let r = unsafe { libc::read(f, b.ptr().cast(), count as usize) };
    ret(r as i64, |n| b.value(n as usize))
}

fn write(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("write", a, 0)?;
    let data = bytes("write", a, 1)?;
    // SAFETY: data is readable for its length.
    ret_int(unsafe { libc::write(f, data.as_ptr().cast(), data.len()) } as i64)
}

fn pread(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("pread", a, 0)?;
    let count = int("pread", a, 1)?;
    let off = int("pread", a, 2)? as i64;
    let mut b = Buf::new(count)?;
    // SAFETY: b has count writable bytes.
    let r = unsafe { libc::pread64(f, b.ptr().cast(), count as usize, off) };
    ret(r as i64, |n| b.value(n as usize))
}

fn pwrite(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("pwrite", a, 0)?;
    let data = bytes("pwrite", a, 1)?;
    let off = int("pwrite", a, 2)? as i64;
    // SAFETY: data is readable for its length.
    ret_int(unsafe { libc::pwrite64(f, data.as_ptr().cast(), data.len(), off) } as i64)
}

fn close(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    // SAFETY: closing an fd number the scenario names.
    ret_zero(unsafe { libc::close(fd("close", a, 0)?) } as i64)
}

fn dup(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    // SAFETY: integer arguments only.
    ret_int(unsafe { libc::dup(fd("dup", a, 0)?) } as i64)
}

fn dup2(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (old, new) = (fd("dup2", a, 0)?, int("dup2", a, 1)? as u32);
    // SAFETY: integer arguments only; the raw syscall, as the simulator's
    // sys_dup2 takes `unsigned int newfd`.
    ret_int(unsafe { libc::syscall(libc::SYS_dup2, old, new) })
}

fn dup3(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (old, new, flags) = (fd("dup3", a, 0)?, int("dup3", a, 1)? as u32, int("dup3", a, 2)? as u32);
    // SAFETY: integer arguments only.
    ret_int(unsafe { libc::syscall(libc::SYS_dup3, old, new, flags) })
}

fn fcntl(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("fcntl", a, 0)?;
    let cmd = int("fcntl", a, 1)? as u32;
    let arg = int_or("fcntl", a, 2, 0)?;
    // SAFETY: the commands the catalog passes take an integer argument
    // (F_DUPFD*, F_SETFD, F_SETFL, F_SETPIPE_SZ) or none; the raw syscall
    // passes `unsigned long arg` as the simulator's sys_fcntl takes it.
    ret_int(unsafe { libc::syscall(libc::SYS_fcntl, f, cmd, arg) })
}

fn lseek(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("lseek", a, 0)?;
    let off = int("lseek", a, 1)? as i64;
    let whence = int("lseek", a, 2)? as u32;
    // SAFETY: integer arguments only.
    ret_int(unsafe { libc::syscall(libc::SYS_lseek, f, off, whence) })
}

fn poll(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("poll", a, 0)?;
    // struct pollfd.events is a short; the timeout an int.
    let events = int("poll", a, 1)? as u16 as i16;
    let timeout = int("poll", a, 2)? as u32 as i32;
    let mut p = libc::pollfd { fd: f, events, revents: 0 };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout) };
    ret(r as i64, |n| Value::Int(if n == 0 { 0 } else { p.revents as u16 as u64 }))
}

/// ioctl(2): the generic commands of `do_vfs_ioctl` (FIOCLEX, FIONCLEX,
/// FIONBIO with `int *`, FIONREAD's `int` out), then the subsystems'
/// commands; any other command passes its integer argument by pointer
/// (`int *`, as FIONBIO and FIOASYNC take it), or NULL without one.
fn ioctl(a: &[Value], named: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("ioctl", a, 0)?;
    let cmd = int("ioctl", a, 1)? as u32;
    if let Some(r) = super::userfaultfd::ioctl(f, cmd, a, named)? {
        return Ok(r);
    }
    if let Some(r) = super::watch_queue::ioctl(f, cmd, a, named)? {
        return Ok(r);
    }
    if !named.is_empty() {
        return Err(NErr::Skip(format!("ioctl command {cmd:#x} with named fields has no native form")));
    }
    match cmd {
        abi::FIOCLEX | abi::FIONCLEX => {
            // SAFETY: these commands take no argument.
            ret_int(unsafe { libc::ioctl(f, cmd as _, 0usize) } as i64)
        }
        abi::FIONREAD => {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int.
            let r = unsafe { libc::ioctl(f, cmd as _, &mut n) };
            ret(r as i64, |_| Value::Int(n as u32 as u64))
        }
        _ => match a.get(2) {
            None => {
                // SAFETY: a NULL argument: the kernel checks it.
                ret_int(unsafe { libc::ioctl(f, cmd as _, 0usize) } as i64)
            }
            Some(_) => {
                let mut v: u64 = int("ioctl", a, 2)?;
                // SAFETY: 8 bytes holding the value (an `int *` reads the
                // low 4, little-endian).
                ret_int(unsafe { libc::ioctl(f, cmd as _, &mut v) } as i64)
            }
        },
    }
}

fn exec(_: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    Err(NErr::Exec)
}

fn fd_path(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("fd_path", a, 0)?;
    let path = std::ffi::CString::new(format!("/proc/self/fd/{f}")).expect("no NUL");
    let mut buf = [0u8; 4096];
    // SAFETY: buf is writable for its length; readlink opens no fd.
    let r = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    ret(r as i64, |n| Value::Str(String::from_utf8_lossy(&buf[..n as usize]).as_ref().into()))
}

fn setrlimit(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let res = int("setrlimit", a, 0)? as u32;
    let n = int("setrlimit", a, 1)?;
    if res != abi::RLIMIT_NOFILE {
        return Err(NErr::Skip(format!("setrlimit of resource {res}: only RLIMIT_NOFILE is modelled")));
    }
    // The scenario's call means setrlimit(RLIMIT_NOFILE, {N, max(N,
    // hard)}), as in ksim (sim-kernel/src/task.rs): the hard limit is only
    // ever raised, never lowered. The child started with the hard limit at
    // ksim's 4096 (child::configure), so raising it needs CAP_SYS_RESOURCE
    // here as there, and above fs.nr_open it is EPERM (kernel/sys.c,
    // do_prlimit).
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid rlimit pointers.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) };
    let l = libc::rlimit { rlim_cur: n, rlim_max: n.max(l.rlim_max) };
    // SAFETY: a valid rlimit.
    ret_zero(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } as i64)
}
