//! read, write, pread, pwrite and lseek (`fs/read_write.c`).

use super::file::{File, Llseek, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE};
use crate::abi::{SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_MAX, SEEK_SET};
use crate::errno::{Errno, KResult};
use crate::task::Task;

/// `MAX_RW_COUNT` = `INT_MAX & PAGE_MASK`: larger requests are truncated.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// `vfs_read`: EBADF unless opened for reading, then the type's `->read`.
pub fn vfs_read(f: &File, len: u64) -> KResult<Vec<u8>> {
    if f.mode() & FMODE_READ == 0 {
        return Err(Errno::EBADF);
    }
    let len = len.min(MAX_RW_COUNT as u64) as usize;
    f.ops().read(f, len)
}

/// [`vfs_read`] into the caller's buffer: the number of bytes read.
pub fn vfs_read_into(f: &File, buf: &mut [u8]) -> KResult<usize> {
    if f.mode() & FMODE_READ == 0 {
        return Err(Errno::EBADF);
    }
    let len = buf.len().min(MAX_RW_COUNT);
    f.ops().read_into(f, &mut buf[..len])
}

/// `vfs_write` by `caller`: EBADF unless opened for writing, then `->write`.
pub fn vfs_write(f: &File, data: &[u8], caller: &Task) -> KResult<usize> {
    if f.mode() & FMODE_WRITE == 0 {
        return Err(Errno::EBADF);
    }
    let data = &data[..data.len().min(MAX_RW_COUNT)];
    f.ops().write(f, data, caller)
}

/// [`vfs_write`] of `count` bytes at `addr` of the caller's memory.
pub fn vfs_write_user(f: &File, addr: u64, count: u64, caller: &Task) -> KResult<usize> {
    if f.mode() & FMODE_WRITE == 0 {
        return Err(Errno::EBADF);
    }
    let mm = &caller.proc()?.mm;
    f.ops().write_user(f, mm, addr, count.min(MAX_RW_COUNT as u64) as usize, caller)
}

/// The lseek syscall after the fd lookup: `whence > SEEK_MAX` is EINVAL
/// before the file is asked (so even a pipe gives EINVAL there), then
/// `vfs_llseek`.
pub fn ksys_lseek(f: &File, offset: i64, whence: u32) -> KResult<i64> {
    if whence > SEEK_MAX {
        return Err(Errno::EINVAL);
    }
    vfs_llseek(f, offset, whence)
}

/// `vfs_llseek`: ESPIPE without FMODE_LSEEK, else the type's llseek.
pub fn vfs_llseek(f: &File, offset: i64, whence: u32) -> KResult<i64> {
    if f.mode() & FMODE_LSEEK == 0 {
        return Err(Errno::ESPIPE);
    }
    match f.ops().llseek() {
        Llseek::None => Err(Errno::ESPIPE),
        // noop_llseek: "returns the current position, never changes it".
        Llseek::Noop => Ok(*f.pos().lock()),
        Llseek::Default => default_llseek(f, offset, whence),
    }
}

/// `default_llseek` against the type's `i_size`.
fn default_llseek(f: &File, offset: i64, whence: u32) -> KResult<i64> {
    let size = f.ops().size();
    let mut pos = f.pos().lock();
    let off = match whence {
        SEEK_SET => offset,
        SEEK_END => offset.checked_add(size).ok_or(Errno::EINVAL)?,
        SEEK_CUR => {
            if offset == 0 {
                return Ok(*pos);
            }
            offset.checked_add(*pos).ok_or(Errno::EINVAL)?
        }
        SEEK_DATA => {
            if offset >= size {
                return Err(Errno::ENXIO);
            }
            offset
        }
        SEEK_HOLE => {
            if offset >= size {
                return Err(Errno::ENXIO);
            }
            size
        }
        _ => return Err(Errno::EINVAL),
    };
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    *pos = off;
    Ok(off)
}

/// pread64 after `pos >= 0` and the fd lookup: ESPIPE without FMODE_PREAD.
pub fn ksys_pread(f: &File, len: u64) -> KResult<Vec<u8>> {
    if f.mode() & FMODE_PREAD == 0 {
        return Err(Errno::ESPIPE);
    }
    vfs_read(f, len)
}

/// pwrite64 after `pos >= 0` and the fd lookup: ESPIPE without
/// FMODE_PWRITE.
pub fn ksys_pwrite(f: &File, data: &[u8], caller: &Task) -> KResult<usize> {
    if f.mode() & FMODE_PWRITE == 0 {
        return Err(Errno::ESPIPE);
    }
    vfs_write(f, data, caller)
}
