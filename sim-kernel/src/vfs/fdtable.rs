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
use smallvec::SmallVec;

/// What a slot holds, as the accessors below see it.
enum Slot {
    Free,
    Reserved { cloexec: bool },
    Open { file: FileRef, cloexec: bool },
}

/// The table in Linux's own shape (`struct fdtable`): the file pointers,
/// and bitmaps of the taken fds (`open_fds`: reserved or installed) and of
/// FD_CLOEXEC (`close_on_exec`). A reserved fd is taken with no file. Eight
/// bytes per fd plus two bits.
/// The first eight fds and one bitmap word are inline: a process that
/// stays below them (every shipped scenario) allocates nothing for its
/// table.
#[derive(Default)]
struct FdTable {
    fd: SmallVec<[Option<FileRef>; 8]>,
    open_fds: SmallVec<[u64; 1]>,
    close_on_exec: SmallVec<[u64; 1]>,
    /// Lowest index that may be free (`next_fd`).
    next_fd: usize,
}

fn bit(map: &[u64], i: usize) -> bool {
    map.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0)
}

fn set_bit(map: &mut SmallVec<[u64; 1]>, i: usize, on: bool) {
    if i / 64 >= map.len() {
        if !on {
            return;
        }
        map.resize(i / 64 + 1, 0);
    }
    if on {
        map[i / 64] |= 1 << (i % 64);
    } else {
        map[i / 64] &= !(1 << (i % 64));
    }
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
        // Every slot below next_fd is taken (fs/file.c: find_next_fd), so
        // the search starts there, a bitmap word at a time.
        let mut i = start.max(self.next_fd);
        while i < limit {
            let w = self.open_fds.get(i / 64).copied().unwrap_or(0) | ((1u64 << (i % 64)) - 1);
            if w != u64::MAX {
                let fd = (i / 64) * 64 + (!w).trailing_zeros() as usize;
                return (fd < limit).then_some(fd);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    fn is_open(&self, fd: usize) -> bool {
        matches!(self.fd.get(fd), Some(Some(_)))
    }

    fn is_reserved(&self, fd: usize) -> bool {
        bit(&self.open_fds, fd) && !self.is_open(fd)
    }

    fn set(&mut self, fd: usize, s: Slot) -> Slot {
        let old = self.take(fd);
        match s {
            Slot::Free => {}
            Slot::Reserved { cloexec } => {
                set_bit(&mut self.open_fds, fd, true);
                set_bit(&mut self.close_on_exec, fd, cloexec);
            }
            Slot::Open { file, cloexec } => {
                if fd < self.fd.len() {
                    self.fd[fd] = Some(file);
                } else {
                    while self.fd.len() < fd {
                        self.fd.push(None);
                    }
                    self.fd.push(Some(file));
                }
                set_bit(&mut self.open_fds, fd, true);
                set_bit(&mut self.close_on_exec, fd, cloexec);
            }
        }
        old
    }

    /// Empty the slot, returning what it held.
    fn take(&mut self, fd: usize) -> Slot {
        if !bit(&self.open_fds, fd) {
            return Slot::Free;
        }
        let cloexec = bit(&self.close_on_exec, fd);
        set_bit(&mut self.open_fds, fd, false);
        set_bit(&mut self.close_on_exec, fd, false);
        match self.fd.get_mut(fd).and_then(Option::take) {
            Some(file) => Slot::Open { file, cloexec },
            None => Slot::Reserved { cloexec },
        }
    }

    fn free(&mut self, fd: usize) -> Slot {
        let old = self.take(fd);
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

    /// A new process's fds 0, 1 and 2, all on `file` (`open_std_fds`).
    /// Nothing else can see the table yet: no footprint.
    pub fn install_std(&self, file: &FileRef) {
        let mut t = self.t.lock();
        assert!(t.fd.is_empty() && t.next_fd == 0, "install_std on a table in use");
        for i in 0..3 {
            t.fd.push(Some(file.clone()));
            set_bit(&mut t.open_fds, i, true);
        }
        t.next_fd = 3;
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
        assert!(t.is_reserved(i), "put_unused_fd({fd}) on a slot that is not reserved");
        t.free(i);
    }

    /// `fd_install`: publish a file in a reserved slot. From here on any
    /// thread of the process can use or close the fd.
    pub fn fd_install(&self, fd: i32, file: FileRef) {
        let mut t = self.lock(true);
        let i = fd as usize;
        assert!(t.is_reserved(i), "fd_install({fd}) on a slot that is not reserved");
        let cloexec = bit(&t.close_on_exec, i);
        t.set(i, Slot::Open { file, cloexec });
    }

    /// `fdget`: a counted reference to the file behind `fd`, or EBADF.
    ///
    /// Linux looks the fd up without `file_lock` (`__fget_files_rcu`, under
    /// `rcu_read_lock`), takes the reference with `get_file_rcu` (an
    /// atomic increment) and re-checks that the fd still names the file,
    /// retrying otherwise: the lookup takes effect at the increment. So at
    /// lock granularity it is one step after the increment's scheduling
    /// point, and no lock acquisition: the table lock here is the
    /// simulator's stand-in for RCU (no other actor holds it across a
    /// scheduling point), and the step only looks at the table, so two
    /// lookups commute.
    pub fn fget(&self, fd: i64) -> KResult<FileRef> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        crate::sched::fine_point("atomic");
        crate::footprint::access(self.key, false);
        let t = self.t.lock_quiet();
        match t.fd.get(i) {
            Some(Some(file)) => Ok(file.get_here()),
            _ => Err(Errno::EBADF),
        }
    }

    /// `close_fd`: remove `fd` from the table and return its reference for
    /// the caller to put (after the lock is dropped). EBADF if not open.
    pub fn close_fd(&self, fd: i64) -> KResult<FileRef> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        let mut t = self.lock(true);
        if !t.is_open(i) {
            return Err(Errno::EBADF);
        }
        match t.free(i) {
            Slot::Open { file, .. } => Ok(file),
            _ => unreachable!("an open slot holds a file"),
        }
    }

    /// FD_CLOEXEC of an open fd.
    pub fn get_cloexec(&self, fd: i64) -> KResult<bool> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        let t = self.lock(false);
        if !t.is_open(i) {
            return Err(Errno::EBADF);
        }
        Ok(bit(&t.close_on_exec, i))
    }

    pub fn set_cloexec(&self, fd: i64, on: bool) -> KResult<()> {
        let i = to_index(fd).ok_or(Errno::EBADF)?;
        let mut t = self.lock(true);
        if !t.is_open(i) {
            return Err(Errno::EBADF);
        }
        set_bit(&mut t.close_on_exec, i, on);
        Ok(())
    }

    /// `do_dup2`: make `newfd` name `file`, closing what it named. A
    /// reserved (allocated, not installed) `newfd` gives EBUSY. Returns the
    /// replaced file for the caller to put.
    pub fn dup_to(&self, newfd: i32, file: FileRef, cloexec: bool) -> KResult<Option<FileRef>> {
        let i = newfd as usize;
        let mut t = self.lock(true);
        if t.is_reserved(i) {
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
        for i in 0..t.fd.len() {
            if t.is_open(i) && bit(&t.close_on_exec, i) {
                if let Slot::Open { file, .. } = t.free(i) {
                    out.push(file);
                }
            }
        }
        out
    }

    /// Close every fd (process exit), in fd order.
    pub fn close_all(&self) {
        let files: SmallVec<[FileRef; 8]> = {
            let mut t = self.lock(true);
            let n = t.fd.len();
            (0..n).filter_map(|i| if let Slot::Open { file, .. } = t.free(i) { Some(file) } else { None }).collect()
        };
        drop(files);
    }

    /// Open fds, ascending (for reports and tests).
    pub fn open_fds(&self) -> Vec<i32> {
        let t = self.lock(false);
        (0..t.fd.len()).filter(|&i| t.is_open(i)).map(|i| i as i32).collect()
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

    /// At lock granularity two lookups of one fd commute (the lookup takes
    /// no lock at a scheduling point, and `get_file`'s increment is a look
    /// at the file), while a close is ordered against each of them.
    #[test]
    fn lookups_commute_and_a_close_does_not() {
        use crate::sched::exec::{Executor, RunEnd, RunToBlock, Step};
        use crate::sched::Granularity;
        let k = Kernel::new(Default::default());
        let fs = std::sync::Arc::new(FilesStruct::with_key(crate::footprint::files_key(1)));
        let fd = fs.alloc_fd(0, 8, false).unwrap();
        fs.fd_install(fd, file(&k));
        let mut ex = Executor::new();
        ex.set_granularity(Granularity::Lock);
        ex.record_steps();
        // The references are kept (a put is a write: it decides the release).
        for _ in 0..2 {
            let fs = fs.clone();
            ex.spawn("lookup", move || std::mem::forget(fs.fget(fd as i64).unwrap()));
        }
        let closer = fs.clone();
        ex.spawn("close", move || drop(closer.close_fd(fd as i64)));
        assert_eq!(ex.run(&mut RunToBlock), RunEnd::AllDone);
        let steps = ex.steps();
        let of = |a: usize| steps.iter().filter(move |s| s.actor == a).collect::<Vec<&Step>>();
        let dependent = |x: &[&Step], y: &[&Step]| x.iter().any(|s| y.iter().any(|t| s.dependent(t)));
        let (a, b, c) = (of(0), of(1), of(2));
        assert!(!dependent(&a, &b), "two lookups: {a:?} {b:?}");
        assert!(dependent(&a, &c) && dependent(&b, &c), "lookups and a close: {a:?} {c:?}");
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
    fn lowest_free_across_bitmap_words() {
        let k = Kernel::new(Default::default());
        let fs = FilesStruct::new();
        for want in 0..130 {
            let fd = fs.alloc_fd(0, 1000, want % 3 == 0).unwrap();
            assert_eq!(fd, want);
            fs.fd_install(fd, file(&k));
        }
        assert_eq!(fs.alloc_fd(0, 130, false), Err(Errno::EMFILE));
        drop(fs.close_fd(70).unwrap());
        drop(fs.close_fd(64).unwrap());
        assert_eq!(fs.alloc_fd(65, 1000, false), Ok(70), "start above a hole");
        assert_eq!(fs.alloc_fd(0, 1000, false), Ok(64));
        assert_eq!(fs.alloc_fd(0, 1000, false), Ok(130));
        assert_eq!(fs.get_cloexec(129), Ok(true));
        assert_eq!(fs.get_cloexec(128), Ok(false));
        assert_eq!(fs.take_cloexec().len(), 44, "fds 0, 3, ..., 129");
        assert_eq!(fs.open_fds().len(), 130 - 2 - 44, "reserved fds are not open");
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
