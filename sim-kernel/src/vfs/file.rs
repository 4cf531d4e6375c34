//! `struct file` and `struct file_operations` (`include/linux/fs.h`,
//! `fs/file_table.c`).
//!
//! A [`File`] has its own reference count (`f_count`), separate from the fd
//! that names it: the fd table holds one reference, every syscall in flight
//! holds one ([`FileRef`], taken by `fdget`), and `f_op->release` runs when
//! the last one goes (`__fput`). So `close()` in one thread neither wakes nor
//! releases a file another thread is blocked on.
//!
//! Memory: the `File` lives in an `Arc`. The counted references
//! ([`FileRef`]) together own one strong count of it, taken at `alloc` and
//! given back by the last put, so taking or putting a reference is one
//! atomic operation (`f_count`), as `get_file`/`fput` are in Linux; an
//! [`UncountedFile`] owns a strong count of its own, so the memory of a
//! released file stays valid for the use-after-free report.

use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::PollTable;
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::{Arc, Mutex};
use crate::task::Task;
use std::any::Any;
use std::ptr::NonNull;

// f_mode bits (include/linux/fs.h). Kernel-internal: never shown to users.
pub const FMODE_READ: u32 = 0x1;
pub const FMODE_WRITE: u32 = 0x2;
pub const FMODE_LSEEK: u32 = 0x4;
pub const FMODE_PREAD: u32 = 0x8;
pub const FMODE_PWRITE: u32 = 0x10;
pub const FMODE_ATOMIC_POS: u32 = 0x8000;
pub const FMODE_STREAM: u32 = 0x200000;
pub const FMODE_NOWAIT: u32 = 0x8000000;

/// Which llseek a file type has (`fs/read_write.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Llseek {
    /// `no_llseek` (since 6.0: a NULL `->llseek`): the file is opened
    /// without FMODE_LSEEK and lseek fails with ESPIPE.
    None,
    /// `noop_llseek`: returns the current position, changes nothing.
    Noop,
    /// `default_llseek`: SEEK_SET/CUR/END against `i_size`.
    Default,
}

/// Extra data an ioctl takes: a plain integer argument or a struct's fields
/// as named values.
///
/// Field names are borrowed where the caller has them (a scenario's own
/// names), owned where it builds them (`filters[0].type`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IoctlArg<'a> {
    pub int: Option<u64>,
    pub fields: smallvec::SmallVec<[(std::borrow::Cow<'a, str>, u64); 4]>,
}

/// What an ioctl returns: an integer, or a struct's output fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoctlOut {
    Int(u64),
    Record(Vec<(&'static str, u64)>),
}

/// `struct file_operations`: what a file type implements. Defaults are
/// what Linux does for a missing op.
pub trait FileOps: Send + Sync + 'static {
    /// Short type name (`"eventfd"`), also the anon inode name.
    fn name(&self) -> &'static str;

    /// What `readlink /proc/self/fd/N` shows.
    fn path(&self, _file: &File) -> String {
        format!("anon_inode:[{}]", self.name())
    }

    fn llseek(&self) -> Llseek {
        Llseek::None
    }

    /// Whether the inode is a FIFO/pipe (`S_ISFIFO`): `F_SETFL` accepts
    /// O_DIRECT there (packet mode) and `F_{GET,SET}PIPE_SZ` apply.
    fn is_fifo(&self) -> bool {
        false
    }

    /// Type-specific fcntl commands (`pipe_fcntl`); `None` if the type has
    /// none for `cmd`.
    fn fcntl(&self, _file: &File, _cmd: u32, _arg: u64) -> Option<KResult<u64>> {
        None
    }

    /// `i_size`, for `default_llseek`.
    fn size(&self) -> i64 {
        0
    }

    /// `->read`: at most `len` bytes. Missing op: EINVAL (`vfs_read`).
    fn read(&self, _file: &File, _len: usize) -> KResult<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// `->read` into the caller's buffer (at most `buf.len()` bytes):
    /// the number of bytes read. The default reads through [`FileOps::read`];
    /// a type on a hot path implements this one and makes `read` call it,
    /// so a read needs no allocation (issue 7).
    fn read_into(&self, file: &File, buf: &mut [u8]) -> KResult<usize> {
        let v = self.read(file, buf.len())?;
        let n = v.len().min(buf.len());
        buf[..n].copy_from_slice(&v[..n]);
        Ok(n)
    }

    /// `->write`, by `caller` (Linux's `current`: a pipe sends it SIGPIPE).
    /// Missing op: EINVAL.
    fn write(&self, _file: &File, _data: &[u8], _caller: &Task) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    /// `->write` of `count` bytes at `addr` in `mm` (a `write(2)` whose
    /// buffer is in the process's simulated memory). The default copies
    /// them first (`copy_from_user`: a fault anywhere is EFAULT) and calls
    /// [`FileOps::write`]; a type that reads user memory piecewise (uverbs:
    /// the header, then the command's struct) implements it.
    fn write_user(
        &self,
        file: &File,
        mm: &crate::mm::MmStruct,
        addr: u64,
        count: usize,
        caller: &Task,
    ) -> KResult<usize> {
        let data = crate::mm::memory::copy_from_user(mm, addr, count as u64).map_err(|_| Errno::EFAULT)?;
        self.write(file, &data, caller)
    }

    /// `->poll`: the ready mask; with a table, queue the caller on the
    /// file's wait queues. Missing op: DEFAULT_POLLMASK.
    fn poll(&self, _file: &File, _pt: Option<&mut PollTable>) -> u32 {
        crate::vfs::poll::DEFAULT_POLLMASK
    }

    /// `->unlocked_ioctl`. Missing op: ENOTTY.
    fn ioctl(&self, _file: &File, _cmd: u32, _arg: &IoctlArg) -> KResult<IoctlOut> {
        Err(Errno::ENOTTY)
    }

    /// `->release`, run once when the last reference goes.
    fn release(&self, _file: &File) {}

    fn as_any(&self) -> &dyn Any;
}

/// `struct file`.
pub struct File {
    pub hdr: ObjHeader,
    f_count: AtomicU32,
    f_flags: AtomicU32,
    pub kernel: Arc<Kernel>,
    pub ino: u64,
    ops: Box<dyn FileOps>,
    f_mode: AtomicU32,
    f_pos: Mutex<i64>,
}

impl File {
    /// `alloc_file`: a new file with one reference. `flags` are the open
    /// flags (access mode and status flags; O_CLOEXEC is not a file flag
    /// and is dropped). FMODE_LSEEK is set iff the type has an llseek
    /// (since e7478158e137 "fs: clear or set FMODE_LSEEK based on llseek
    /// function", 6.0); pseudo files never get FMODE_PREAD/PWRITE.
    pub fn alloc(kernel: &Arc<Kernel>, ino: u64, flags: u32, ops: Box<dyn FileOps>) -> FileRef {
        use crate::abi::{O_ACCMODE, O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY};
        let mut mode = match flags & O_ACCMODE {
            O_RDONLY => FMODE_READ,
            O_WRONLY => FMODE_WRITE,
            O_RDWR => FMODE_READ | FMODE_WRITE,
            _ => 0,
        };
        if ops.llseek() != Llseek::None {
            mode |= FMODE_LSEEK;
        }
        let hdr = kernel.objs.register("file");
        let file = Arc::new(File {
            hdr,
            kernel: kernel.clone(),
            f_count: AtomicU32::new(1),
            f_flags: AtomicU32::new(flags & !O_CLOEXEC),
            f_mode: AtomicU32::new(mode),
            f_pos: Mutex::new(0),
            ino,
            ops,
        });
        // The references' shared strong count (see the module docs).
        let p = Arc::into_raw(file) as *mut File;
        FileRef(NonNull::new(p).expect("Arc::into_raw is never null"))
    }

    pub fn ops(&self) -> &dyn FileOps {
        &*self.ops
    }

    /// The file's ops as a concrete type, if it is one (`f_op == &X_fops`).
    pub fn ops_as<T: 'static>(&self) -> Option<&T> {
        self.ops.as_any().downcast_ref::<T>()
    }

    pub fn flags(&self) -> u32 {
        crate::footprint::access(self.hdr.id(), false);
        self.f_flags.load(Ordering::Relaxed)
    }

    pub fn set_flags(&self, flags: u32) {
        crate::footprint::access(self.hdr.id(), true);
        self.f_flags.store(flags, Ordering::Relaxed);
    }

    pub fn nonblock(&self) -> bool {
        self.flags() & crate::abi::O_NONBLOCK != 0
    }

    pub fn mode(&self) -> u32 {
        self.f_mode.load(Ordering::Relaxed)
    }

    pub fn add_mode(&self, bits: u32) {
        self.f_mode.fetch_or(bits, Ordering::Relaxed);
    }

    pub fn clear_mode(&self, bits: u32) {
        self.f_mode.fetch_and(!bits, Ordering::Relaxed);
    }

    pub fn pos(&self) -> &Mutex<i64> {
        crate::footprint::access(self.hdr.id(), true);
        &self.f_pos
    }

    /// Check that the file is still live before touching it (reports a
    /// use-after-free otherwise).
    #[inline]
    pub fn check(&self, op: &'static str) -> bool {
        self.kernel.objs.check(&self.hdr, op)
    }

    /// [`File::check`] for a write to the file ([`ObjTable::check_write`]).
    ///
    /// [`ObjTable::check_write`]: crate::objtrack::ObjTable::check_write
    #[inline]
    pub fn check_write(&self, op: &'static str) -> bool {
        self.kernel.objs.check_write(&self.hdr, op)
    }

    /// `nonseekable_open` / `stream_open`: no lseek, pread or pwrite.
    pub fn stream_open(&self) {
        self.clear_mode(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE | FMODE_ATOMIC_POS);
        self.add_mode(FMODE_STREAM);
    }

    pub fn count(&self) -> usize {
        self.f_count.load(Ordering::Acquire) as usize
    }
}

/// One counted reference to a [`File`] (`get_file` / `fput`): cloning takes
/// a reference, dropping puts it, and the last put releases the file.
///
/// Points at an `Arc<File>`'s contents; all `FileRef`s of a file together
/// own one strong count of that `Arc` (given back by the last put), so
/// while a `FileRef` exists, `f_count >= 1` and the memory is valid.
pub struct FileRef(NonNull<File>);

// SAFETY: a FileRef is a counted pointer to a `File`, which is Send + Sync
// (its fields are atomics, locks and Send + Sync trait objects); the count
// is atomic, exactly as for `Arc<File>`.
unsafe impl Send for FileRef {}
// SAFETY: as above.
unsafe impl Sync for FileRef {}

impl FileRef {
    pub fn file(&self) -> &File {
        self
    }

    /// A pointer that holds no reference (a C `struct file *` kept without
    /// `get_file`): the file may be released under it, and
    /// [`File::check`] then reports the use-after-free.
    pub fn uncounted(&self) -> UncountedFile {
        let p = self.0.as_ptr() as *const File;
        // SAFETY: `p` came from `Arc::into_raw` and the references' shared
        // strong count keeps it alive here; this adds one more for the
        // returned `Arc`.
        unsafe {
            Arc::increment_strong_count(p);
            UncountedFile(Arc::from_raw(p))
        }
    }

    /// Whether two references name the same file.
    pub fn same(&self, other: &FileRef) -> bool {
        self.0 == other.0
    }
}

impl Clone for FileRef {
    /// `get_file`: a scheduling point at lock granularity (an atomic
    /// read-modify-write), then the increment ([`FileRef::get_here`]).
    #[inline]
    fn clone(&self) -> Self {
        crate::sched::fine_point("atomic");
        self.get_here()
    }
}

impl FileRef {
    /// `get_file` with no scheduling point of its own, for a caller that
    /// made the point before the step the increment belongs to (`fdget`:
    /// see [`crate::vfs::fdtable::FilesStruct::fget`]).
    ///
    /// Footprint: a look at the file. An increment whose result nobody
    /// reads commutes with every other increment and with every look; the
    /// operations that observe the count write the file's key (a put,
    /// which decides the release on it, and the release itself), so the
    /// order of an increment and those is still explored.
    #[inline]
    pub fn get_here(&self) -> Self {
        self.kernel.objs.check(&self.hdr, "get_file");
        self.f_count.fetch_add(1, Ordering::AcqRel);
        FileRef(self.0)
    }
}

impl std::ops::Deref for FileRef {
    type Target = File;
    fn deref(&self) -> &File {
        // SAFETY: see the type's docs: this reference is counted, so the
        // shared strong count is held and the `File` is alive.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for FileRef {
    #[inline]
    fn drop(&mut self) {
        let f: &File = self;
        crate::sched::fine_point("atomic");
        crate::footprint::access(f.hdr.id(), true);
        let prev = f.f_count.fetch_sub(1, Ordering::AcqRel);
        if prev <= 1 {
            self.last_put(prev);
        }
    }
}

impl FileRef {
    /// The put that dropped the count to 0 (or found it at 0).
    #[cold]
    #[inline(never)]
    fn last_put(&mut self, prev: u32) {
        let f: &File = self;
        if prev == 1 {
            // __fput: the type's release, then the file is gone.
            if f.check("__fput") {
                f.ops.release(f);
                f.kernel.objs.release(&f.hdr);
            }
            // SAFETY: this was the last counted reference: give back the
            // shared strong count taken in `File::alloc`. `f` is not used
            // after this.
            unsafe { drop(Arc::from_raw(self.0.as_ptr() as *const File)) };
        } else if prev == 0 {
            f.kernel.objs.warn("fput on a file with no references");
        }
    }
}

/// See [`FileRef::uncounted`].
pub struct UncountedFile(Arc<File>);

impl std::ops::Deref for UncountedFile {
    type Target = File;
    fn deref(&self) -> &File {
        &self.0
    }
}
