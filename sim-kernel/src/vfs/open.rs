//! open(2) (`fs/open.c` `do_sys_open`, `fs/namei.c` path lookup,
//! `fs/char_dev.c` `chrdev_open`) for the one kind of path ksim has: a
//! device node under `/dev`, as devtmpfs shows it. Each subsystem that
//! registers character devices answers for its own nodes; a path that
//! none knows does not exist (ENOENT). No file system, no permissions, no
//! creation: an `O_CREAT` on an existing node opens it, on another path
//! it is ENOENT too (see the book's divergences).
//!
//! Order: an fd is reserved first (EMFILE), then the path is looked up
//! (ENOENT), then the device's open runs; its failure gives the fd back.

use super::file::File;
use crate::abi::O_CLOEXEC;
use crate::errno::{Errno, KResult};
use crate::task::Task;

/// `do_sys_open(AT_FDCWD, path, flags, 0)`: the new fd.
pub fn do_sys_open(t: &Task, path: &str, flags: u32) -> KResult<i32> {
    let p = t.proc()?;
    let k = &t.kernel;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & O_CLOEXEC != 0)?;
    // The device namespace: /dev/infiniband/uverbsN (uverbs_devnode).
    let Some((ino, dev)) = crate::uverbs::uverbs_main::lookup_dev(k, path) else {
        p.files.put_unused_fd(fd);
        return Err(Errno::ENOENT);
    };
    // chrdev_open -> ib_uverbs_open (nonseekable: the file has no llseek).
    let ops = match crate::uverbs::uverbs_main::ib_uverbs_open(k, dev) {
        Ok(ops) => ops,
        Err(e) => {
            p.files.put_unused_fd(fd);
            return Err(e);
        }
    };
    let file = File::alloc(k, ino, flags, ops);
    p.files.fd_install(fd, file);
    Ok(fd)
}
