//! The VFS core (analogous to Linux's `fs/`): [`file`] (`struct file`,
//! `f_op`, reference counting, llseek kinds), [`fdtable`] (`fs/file.c`:
//! per-process fd tables), [`anon_inode`] (`fs/anon_inodes.c`),
//! [`read_write`] (`fs/read_write.c`: read/write/pread/pwrite/lseek),
//! [`open`] (`fs/open.c`, `fs/namei.c`: open of a device node),
//! [`char_dev`] (`fs/char_dev.c`, misc devices, devtmpfs nodes),
//! [`fcntl`] (`fs/fcntl.c`, `fs/ioctl.c`), [`poll`] (`fs/select.c`) and the
//! null [`console`] behind fds 0, 1 and 2.
//!
//! Lock order: the character-device namespace's lock is a leaf. A process's fd table lock is never held while a file's
//! own locks are taken or while a file is released; files are put after the
//! table lock is dropped.

pub mod anon_inode;
pub mod char_dev;
pub mod console;
pub mod fcntl;
pub mod fdtable;
pub mod file;
pub mod open;
pub mod poll;
pub mod read_write;

pub use file::{File, FileOps, FileRef, Llseek};
