//! Per-process fd tables (`fs/file.c`: `struct files_struct`,
//! `get_unused_fd_flags`, `fd_install`, `put_unused_fd`, `close_fd`,
//! `do_dup2`, `do_close_on_exec`).
//!
//! Allocation is lowest-free. Creating an fd is two steps, as in Linux:
//! *reserve* a slot (EMFILE is decided here, before any object is made),
//! then *install* a finished file in it. A reserved slot is not yet a valid
//! fd (EBADF for every call) but is taken (dup2 onto it: EBUSY).
//!
//! FD_CLOEXEC lives here, per fd; status flags live in the file.
//!
//! Lock order: the table lock is a leaf; files removed from the table are
//! put after it is dropped.

use super::file::FileRef;
use crate::errno::{Errno, KResult};
use crate::sync::Mutex;

enum Slot {
    Free,
    Reserved { cloexec: bool },
    Open { file: FileRef, cloexec: bool },
}

#[derive(Default)]
struct FdTable {
    slots: Vec<Slot>,
    /// Lowest index that may be free (`next_fd`).
    next_fd: usize,
}

/// `struct files_struct`.
#[derive(Default)]
pub struct FilesStruct {
    t: Mutex<FdTable>,
    /// Footprint key ([`crate::footprint::files_key`]).
    key: u64,
}

impl FdTable {
    /// Lowest free slot at or above `start`, below `limit`.
    fn find_free(&self, start: usize, limit: usize) -> Option<usize> {
        // Every slot below next_fd is taken (fs/file.c: find_next_fd).
        (start.max(self.next_fd)..limit).find(|&i| matches!(self.slots.get(i), None | Some(Slot::Free)))
    }

    fn set(&mut self, fd: usize, s: Slot) -> Slot {
        if fd >= self.slots.len() {
            self.slots.resize_with(fd + 1, || Slot::Free);
        }
        std::mem::replace(&mut self.slots[fd], s)
    }

    fn free(&mut self, fd: usize) -> Slot {
        let old = self.set(fd, Slot::Free);
        if fd < self.next_fd {
            self.next_fd = fd;
        }
        old
    }
}

fn to_index(fd: i64) -> Option<usize> {
    if fd < 0 || fd > i32::MAX as i64 {
        None
    } else {
        Some(fd as usize)
    }
}

impl FilesStruct {
    pub fn new() -> Self {
        Self::with_key(0)
    }

    /// A table whose accesses are reported under footprint `key`.
    pub fn with_key(key: u64) -> Self {
        FilesStruct { t: Mutex::new(FdTable::default()), key }
    }

    /// Lock the table, recording a look (`write` false) or a change.
    fn lock(&self, write: bool) -> crate::sync::MutexGuard<'_, FdTable> {
        crate::footprint::access(self.key, write);
        self.t.lock()
    }

    /// `get_unused_fd_flags`/`alloc_fd(start, rlimit, flags)`: reserve the
    /// lowest free fd >= `start` below `limit`; EMFILE if none.
    pub fn alloc_fd(&self, start: u64, limit: u64, cloexec: bool) -> KResult<i32> {
        let limit = limit.min(i32::MAX as u64) as usize;
        let start = start.min(usize::MAX as u64) as usize;
        let mut t = self.lock(true);
        let fd = t.find_free(start, limit).ok_or(Errno::EMFILE)?;
        t.set(fd, Slot::Reserved { cloexec });
        if start <= t.next_fd {
            t.next_fd = fd + 1;
        }
        Ok(fd as i32)
    }

    /// `put_unused_fd`: give back a reserved, never-installed fd.
    pub fn put_unused_fd(&self, fd: i32) {
        let mut t = self.lock(true);
        let i = fd as usize;
        assert!(
            matches!(t.slots.get(i), Some(Slot::Reserved { .. })),
            "put_unused_fd({fd}) on a slot that is not reserved"
        );
        t.free(i);
    }

    /// `fd_install`: publish a file in a reserved slot. From here on any
    /// thread of the process can use or close the fd.
    pub fn fd_install(&self, fd: i32, file: FileRef) {
        let mut t = self.lock(true);
        let i = fd as usize;
        let cloexec = match t.slots.get(i) {
            Some(Slot::Reserved { cloexec }) => *cloexec,
            _ => panic!("fd_install({fd}) on a slot that is not reserved"),
        };
        t.set(i, Slot::Open { file, cloexec });
    }

    /// `fdget`: a counted reference to the file behind `fd`, or EBADF.
    pub fn fget(&self, fd: i64) -> KResult<FileRef> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        let t = self.lock(false);
        match t.slots.get(i) {
            Some(Slot::Open { file, .. }) => Ok(file.clone()),
            _ => Err(Errno::EBADF),
        }
    }

    /// `close_fd`: remove `fd` from the table and return its reference for
    /// the caller to put (after the lock is dropped). EBADF if not open.
    pub fn close_fd(&self, fd: i64) -> KResult<FileRef> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        let mut t = self.lock(true);
        match t.slots.get(i) {
            Some(Slot::Open { .. }) => match t.free(i) {
                Slot::Open { file, .. } => Ok(file),
                _ => unreachable!(),
            },
            _ => Err(Errno::EBADF),
        }
    }

    /// FD_CLOEXEC of an open fd.
    pub fn get_cloexec(&self, fd: i64) -> KResult<bool> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        match self.lock(false).slots.get(i) {
            Some(Slot::Open { cloexec, .. }) => Ok(*cloexec),
            _ => Err(Errno::EBADF),
        }
    }

    pub fn set_cloexec(&self, fd: i64, on: bool) -> KResult<()> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        match self.lock(true).slots.get_mut(i) {
            Some(Slot::Open { cloexec, .. }) => {
                *cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// `do_dup2`: make `newfd` name `file`, closing what it named. A
    /// reserved (allocated, not installed) `newfd` gives EBUSY. Returns the
    /// replaced file for the caller to put.
    pub fn dup_to(&self, newfd: i32, file: FileRef, cloexec: bool) -> KResult<Option<FileRef>> {
        let i = newfd as usize;
        let mut t = self.lock(true);
        if let Some(Slot::Reserved { .. }) = t.slots.get(i) {
            return Err(Errno::EBUSY);
        }
        let old = t.set(i, Slot::Open { file, cloexec });
        Ok(match old {
            Slot::Open { file, .. } => Some(file),
            _ => None,
        })
    }

    /// `do_close_on_exec`: remove every FD_CLOEXEC fd; returns the files to
    /// put.
    pub fn take_cloexec(&self) -> Vec<FileRef> {
        let mut t = self.lock(true);
        let mut out = Vec::new();
        for i in 0..t.slots.len() {
            if matches!(t.slots[i], Slot::Open { cloexec: true, .. }) {
                if let Slot::Open { file, .. } = t.free(i) {
                    out.push(file);
                }
            }
        }
        out
    }

    /// Close every fd (process exit), in fd order.
    pub fn close_all(&self) {
        let files: Vec<FileRef> = {
            let mut t = self.lock(true);
            let n = t.slots.len();
            (0..n).filter_map(|i| if let Slot::Open { file, .. } = t.free(i) { Some(file) } else { None }).collect()
        };
        drop(files);
    }

    /// Open fds, ascending (for reports and tests).
    pub fn open_fds(&self) -> Vec<i32> {
        let t = self.lock(false);
        (0..t.slots.len()).filter(|&i| matches!(t.slots[i], Slot::Open { .. })).map(|i| i as i32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;
    use crate::vfs::console::NullConsole;
    use crate::vfs::File;

    fn file(k: &std::sync::Arc<Kernel>) -> FileRef {
        File::alloc(k, 9, crate::abi::O_RDWR, Box::new(NullConsole))
    }

    #[test]
    fn lowest_free_and_emfile() {
        let k = Kernel::new(Default::default());
        let fs = FilesStruct::new();
        for want in 0..4 {
            let fd = fs.alloc_fd(0, 4, false).unwrap();
            assert_eq!(fd, want);
            fs.fd_install(fd, file(&k));
        }
        assert_eq!(fs.alloc_fd(0, 4, false), Err(Errno::EMFILE));
        drop(fs.close_fd(1).unwrap());
        assert_eq!(fs.alloc_fd(0, 4, false), Ok(1));
        fs.put_unused_fd(1);
        assert_eq!(fs.alloc_fd(2, 4, false), Err(Errno::EMFILE), "start above the hole");
        assert_eq!(fs.alloc_fd(0, 4, false), Ok(1));
    }

    #[test]
    fn reserved_slot_is_not_an_fd_but_is_taken() {
        let k = Kernel::new(Default::default());
        let fs = FilesStruct::new();
        let fd = fs.alloc_fd(0, 10, false).unwrap();
        assert_eq!(fs.fget(fd as i64).err(), Some(Errno::EBADF));
        assert_eq!(fs.close_fd(fd as i64).err(), Some(Errno::EBADF));
        assert_eq!(fs.dup_to(fd, file(&k), false).err(), Some(Errno::EBUSY));
        assert_eq!(fs.alloc_fd(0, 10, false), Ok(1));
    }

    #[test]
    fn file_released_when_last_reference_goes() {
        let k = Kernel::new(Default::default());
        let fs = FilesStruct::new();
        let fd = fs.alloc_fd(0, 10, false).unwrap();
        fs.fd_install(fd, file(&k));
        let inflight = fs.fget(fd as i64).unwrap();
        assert_eq!(inflight.count(), 2);
        drop(fs.close_fd(fd as i64).unwrap());
        assert_eq!(inflight.count(), 1);
        assert!(!inflight.hdr.is_released(), "an in-flight reference keeps the file");
        let id = inflight.hdr.id();
        drop(inflight);
        assert!(k.objs.record(id).released.is_some());
        assert!(k.objs.reports().is_empty());
    }

    #[test]
    fn cloexec_is_per_fd() {
        let k = Kernel::new(Default::default());
        let fs = FilesStruct::new();
        let a = fs.alloc_fd(0, 10, true).unwrap();
        let f = file(&k);
        fs.fd_install(a, f.clone());
        let b = fs.alloc_fd(0, 10, false).unwrap();
        fs.fd_install(b, f);
        assert_eq!(fs.get_cloexec(a as i64), Ok(true));
        assert_eq!(fs.get_cloexec(b as i64), Ok(false));
        let gone = fs.take_cloexec();
        assert_eq!(gone.len(), 1);
        assert_eq!(fs.open_fds(), vec![b]);
    }
}
