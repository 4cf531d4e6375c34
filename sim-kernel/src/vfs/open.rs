//! open(2) (`fs/open.c` `do_sys_open`, `fs/namei.c` path lookup,
//! `fs/char_dev.c` `chrdev_open`) for the one kind of path ksim has: a
//! device node under `/dev`, as devtmpfs shows it ([`super::char_dev`]).
//! A path with no node does not exist (ENOENT); a node whose cdev is gone
//! is ENXIO. No file system, no permissions, no creation: an `O_CREAT` on
//! an existing node opens it, on another path it is ENOENT too (see the
//! book's divergences).
//!
//! Order: an fd is reserved first (EMFILE), then the path is looked up
//! (ENOENT), then `chrdev_open` (ENXIO) and the device's open run; a
//! failure gives the fd back.

use super::file::File;
use crate::abi::O_CLOEXEC;
use crate::errno::{Errno, KResult};
use crate::task::Task;

/// `do_sys_open(AT_FDCWD, path, flags, 0)`: the new fd.
pub fn do_sys_open(t: &Task, path: &str, flags: u32) -> KResult<i32> {
    let p = t.proc()?;
    let k = &t.kernel;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & O_CLOEXEC != 0)?;
    let opened = match k.chrdevs.lookup(path) {
        None => Err(Errno::ENOENT),
        Some((dev, ino)) => {
            // The path walk is over; the device may go before its cdev is
            // looked up (then ENXIO).
            crate::sched::yield_point("open:chrdev_open");
            k.chrdevs.chrdev_open(k, dev, flags).map(|ops| (ops, ino))
        }
    };
    match opened {
        Ok((ops, ino)) => {
            let file = File::alloc(k, ino, flags, ops);
            p.files.fd_install(fd, file);
            Ok(fd)
        }
        Err(e) => {
            p.files.put_unused_fd(fd);
            Err(e)
        }
    }
}
