//! Anonymous inodes (`fs/anon_inodes.c`): files with no path, all sharing
//! one inode, for eventfd, userfaultfd, uverbs event files.
//!
//! The discipline the eventfd/anonfd history teaches (seed 004, "anonfd:
//! split interface into file creation and install"): create the file with
//! [`anon_inode_getfile`], finish initialising everything that refers to it,
//! then [`fd_install`](crate::vfs::fdtable::FilesStruct::fd_install). Once
//! installed, another thread can close the fd at once, so the kernel must
//! not touch the file after that. [`anon_inode_getfd`] does reserve, create
//! and install in one step for callers with nothing left to initialise.

use super::file::{File, FileOps, FileRef};
use crate::errno::KResult;
use crate::kernel::{Kernel, ANON_INODE_INO};
use crate::sync::Arc;
use crate::task::Process;

/// `anon_inode_getfile(name, fops, priv, flags)`: a new file on the shared
/// anon inode, not in any fd table. `flags` carry the access mode
/// (O_RDONLY makes a read-only file) and O_NONBLOCK; O_CLOEXEC belongs to
/// the fd and is ignored here.
pub fn anon_inode_getfile(kernel: &Arc<Kernel>, ops: Box<dyn FileOps>, flags: u32) -> FileRef {
    use crate::abi::{O_ACCMODE, O_NONBLOCK};
    File::alloc(kernel, ANON_INODE_INO, flags & (O_ACCMODE | O_NONBLOCK), ops)
}

/// `anon_inode_getfd`: reserve an fd (EMFILE first), create the file,
/// install it, return the fd. The caller must not touch the file afterwards.
pub fn anon_inode_getfd(kernel: &Arc<Kernel>, p: &Process, ops: Box<dyn FileOps>, flags: u32) -> KResult<i32> {
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & crate::abi::O_CLOEXEC != 0)?;
    let file = anon_inode_getfile(kernel, ops, flags);
    p.files.fd_install(fd, file);
    Ok(fd)
}
