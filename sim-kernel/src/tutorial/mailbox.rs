//! The tutorial mailbox: a one-slot mailbox behind an anon-inode file, the
//! worked example of the book's chapter "Modelling your own kernel code".
//! Not a Linux object: it is built from the same parts as eventfd
//! (`fs/eventfd.c`), so that each part can be shown on its own.
//!
//! Kernel code (a kthread in a scenario) takes a reference with
//! [`mailbox_get`] (from an fd, as `eventfd_ctx_fdget` does), posts a
//! 64-bit value with [`mailbox_post`], and drops the reference with
//! [`mailbox_put`]. User space creates the mailbox with [`do_mailbox`]
//! (the scenario call `mailbox(FLAGS)`) and reads the value with
//! `read(fd, 8)`, sleeping while the slot is empty.
//!
//! Key types: [`Mailbox`] (the reference count, a kref; the wait queue head
//! whose lock protects the [`Slot`]) and [`MailboxFile`], the file's
//! `f_op`/`private_data`, which holds one reference. The last
//! [`mailbox_put`] frees the mailbox; the file's release marks it closed
//! first, so that a post no reader can ever see fails with EPIPE.
//!
//! Lock order: `wq`'s lock is the only lock; wake-ups run under it. No named
//! yield point: at lock granularity every acquisition of `wq`'s lock, every
//! change of `refs` and every wake-up that woke a reader is a scheduling
//! point already.
//!
//! The tutorial toggle `tutorial_mailbox_lost_wakeup` (a deliberate
//! mistake, not a Linux bug) makes the read drop the lock between finding
//! the slot empty and queueing itself: the race Linux removed
//! `sleep_on()` for (3.15), and that `wait_event_interruptible_locked`
//! (`include/linux/wait.h`) closes by checking and queueing under one lock.

use crate::abi::{O_CLOEXEC, O_NONBLOCK, O_RDONLY, POLLIN};
use crate::bugs::Bug;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::{PollTable, WaitQueueHead, WqGuard};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::task::Task;
use crate::vfs::anon_inode::anon_inode_getfile;
use crate::vfs::file::{File, FileOps};
use crate::vfs::Llseek;
use std::any::Any;

// ANCHOR: state
/// The mailbox (what a Linux driver would call its context).
pub struct Mailbox {
    /// Its entry in the object table: a use after the last put, or a
    /// mailbox never freed, is reported.
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    /// The reference count (a `kref`): the file's reference and every
    /// kernel user's.
    refs: AtomicUsize,
    /// Readers sleep here; its lock protects the slot.
    wq: WaitQueueHead<Slot>,
}

/// What `wq`'s lock protects.
#[derive(Default)]
pub struct Slot {
    /// The posted value, until a read takes it.
    msg: Option<u64>,
    /// The file was released: nobody can read a post any more.
    closed: bool,
}
// ANCHOR_END: state

impl Mailbox {
    // ANCHOR: lock
    /// `spin_lock(&mb->wq.lock)`, recorded as a change to the mailbox (its
    /// footprint key is the object id) so that the explorer orders two
    /// actors' sections.
    fn lock(&self) -> WqGuard<'_, Slot> {
        crate::footprint::access(self.hdr.id(), true);
        self.wq.lock()
    }
    // ANCHOR_END: lock

    // ANCHOR: get
    /// `kref_get`: the caller already holds a reference (here, the file's
    /// through the fd it looked up).
    fn get(&self) {
        self.kernel.objs.check(&self.hdr, "mailbox_get");
        crate::sched::fine_point("atomic");
        crate::footprint::access(self.hdr.id(), true);
        self.refs.fetch_add(1, Ordering::AcqRel);
    }
    // ANCHOR_END: get

    /// The value waiting in the slot, if any (tests and loom models).
    pub fn peek(&self) -> Option<u64> {
        self.lock().msg
    }
}

// ANCHOR: create
/// The file's operations and private data: one reference to the mailbox.
pub struct MailboxFile {
    mb: Arc<Mailbox>,
}

/// `mailbox(flags)`: a new, empty mailbox and a read-only file for it.
/// Flags other than O_CLOEXEC and O_NONBLOCK: EINVAL; no free fd: EMFILE
/// (reserved before anything is made). The file is finished before the fd
/// is installed (the discipline of `fs/anon_inodes.c`).
pub fn do_mailbox(task: &Task, flags: u32) -> KResult<i32> {
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task.proc()?;
    let k = &task.kernel;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & O_CLOEXEC != 0)?;
    let hdr = k.objs.register("mailbox");
    let owner = hdr.id();
    let mb = Arc::new(Mailbox {
        hdr,
        kernel: k.clone(),
        refs: AtomicUsize::new(1),
        wq: WaitQueueHead::new("mailbox.wq", owner, Slot::default()),
    });
    let file = anon_inode_getfile(k, Box::new(MailboxFile { mb }), O_RDONLY | (flags & O_NONBLOCK));
    p.files.fd_install(fd, file);
    Ok(fd)
}
// ANCHOR_END: create

impl FileOps for MailboxFile {
    fn name(&self) -> &'static str {
        "mailbox"
    }

    fn llseek(&self) -> Llseek {
        Llseek::None
    }

    /// See [`FileOps::read_into`].
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        let mut b = [0u8; 8];
        let n = self.read_into(file, &mut b[..len.min(8)])?;
        Ok(b[..n].to_vec())
    }

    // ANCHOR: read
    /// `read(fd, buf, 8)`: fewer than 8 bytes: EINVAL; an empty slot:
    /// EAGAIN (O_NONBLOCK) or sleep until a post; takes the value and
    /// returns it as 8 little-endian bytes.
    fn read_into(&self, file: &File, buf: &mut [u8]) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let mb = &*self.mb;
        let mut g = mb.lock();
        while g.msg.is_none() {
            if file.nonblock() {
                return Err(Errno::EAGAIN);
            }
            // ANCHOR: bug
            if mb.kernel.bug(Bug::TutorialMailboxLostWakeup) {
                // Wrong (tutorial toggle): the emptiness was checked in
                // one section of the lock and the reader queues itself in
                // another, as `while (empty(mb)) sleep_on(&mb->wq);` did.
                // A post in between finds no sleeper to wake.
                drop(g);
                g = mb.lock();
            }
            // ANCHOR_END: bug
            // Queue, drop the lock, sleep, retake it; then look again.
            g = mb.wq.sleep(g, None)?.1;
        }
        let v = g.msg.take().unwrap_or_default();
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }
    // ANCHOR_END: read

    /// `poll`: POLLIN iff a value waits.
    fn poll(&self, _file: &File, pt: Option<&mut PollTable>) -> u32 {
        if let Some(pt) = pt {
            pt.wait(&self.mb.wq);
        }
        crate::footprint::access(self.mb.hdr.id(), false);
        if self.mb.wq.lock().msg.is_some() {
            POLLIN
        } else {
            0
        }
    }

    // ANCHOR: release
    /// The last file reference is gone: no read can come any more. Mark the
    /// mailbox closed, then drop the file's reference.
    fn release(&self, _file: &File) {
        self.mb.lock().closed = true;
        mailbox_put(&self.mb);
    }
    // ANCHOR_END: release

    fn as_any(&self) -> &dyn Any {
        self
    }
}

// ANCHOR: api
/// `mailbox_get(fd)`: a reference to the mailbox behind `fd`, for kernel
/// code. Not open: EBADF; not a mailbox: EINVAL. The reference is taken
/// while the file reference from the lookup still holds the mailbox.
pub fn mailbox_get(task: &Task, fd: i64) -> KResult<Arc<Mailbox>> {
    let file = task.proc()?.files.fget(fd)?;
    let mf = file.ops_as::<MailboxFile>().ok_or(Errno::EINVAL)?;
    mf.mb.get();
    Ok(mf.mb.clone())
    // `file` drops here: fput, after the mailbox reference is taken.
}

/// `mailbox_post(mb, v)`: store `v` and wake the readers. Full: EAGAIN;
/// the file was released (nobody can read it): EPIPE. Never sleeps.
pub fn mailbox_post(mb: &Mailbox, v: u64) -> KResult<()> {
    mb.kernel.objs.check(&mb.hdr, "mailbox_post");
    let mut g = mb.lock();
    if g.closed {
        return Err(Errno::EPIPE);
    }
    if g.msg.is_some() {
        return Err(Errno::EAGAIN);
    }
    g.msg = Some(v);
    g.wake_up_locked(POLLIN);
    Ok(())
}

/// `mailbox_put(mb)`: drop a reference; the last one frees the mailbox
/// (a value still in the slot goes with it).
pub fn mailbox_put(mb: &Mailbox) {
    if !mb.kernel.objs.check(&mb.hdr, "mailbox_put") {
        return;
    }
    crate::sched::fine_point("atomic");
    crate::footprint::access(mb.hdr.id(), true);
    if mb.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        mb.kernel.objs.release(&mb.hdr);
    }
}
// ANCHOR_END: api

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugs::BugSet;
    use crate::vfs::read_write::vfs_read;

    #[test]
    fn post_read_and_lifetime() {
        let (k, t) = Task::single(BugSet::NONE);
        assert_eq!(do_mailbox(&t, crate::abi::O_WRONLY), Err(Errno::EINVAL), "O_WRONLY is not a mailbox flag");
        let fd = do_mailbox(&t, O_NONBLOCK).unwrap() as i64;
        let f = t.proc().unwrap().files.fget(fd).unwrap();
        assert_eq!(vfs_read(&f, 8), Err(Errno::EAGAIN));
        let mb = mailbox_get(&t, fd).unwrap();
        assert_eq!(mailbox_post(&mb, 7), Ok(()));
        assert_eq!(mailbox_post(&mb, 8), Err(Errno::EAGAIN), "one slot");
        assert_eq!(f.ops().poll(&f, None), POLLIN);
        assert_eq!(vfs_read(&f, 4), Err(Errno::EINVAL));
        assert_eq!(vfs_read(&f, 8).unwrap(), 7u64.to_le_bytes());
        assert_eq!(mb.peek(), None);
        drop(f);
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), fd).unwrap();
        assert!(!mb.hdr.is_released(), "the kernel's reference keeps it");
        assert_eq!(mailbox_post(&mb, 9), Err(Errno::EPIPE), "the file is gone");
        mailbox_put(&mb);
        assert!(mb.hdr.is_released());
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }

    #[test]
    fn get_needs_a_mailbox() {
        let (_k, t) = Task::single(BugSet::NONE);
        assert_eq!(mailbox_get(&t, 9).err(), Some(Errno::EBADF));
        let efd = crate::eventfd::do_eventfd(&t, 0, 0).unwrap() as i64;
        assert_eq!(mailbox_get(&t, efd).err(), Some(Errno::EINVAL));
    }
}
