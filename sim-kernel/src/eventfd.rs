//! eventfd (`fs/eventfd.c`, `man2/eventfd.2`): a 64-bit counter behind an
//! anon-inode file, for userspace and kernel signalling.
//!
//! Key types: [`EventfdCtx`] (Linux's `struct eventfd_ctx`: a kref, the wait
//! queue head whose lock protects `count`, the flags) and [`EventfdFile`],
//! the file's `f_op`/`private_data`. The context is reference counted apart
//! from the file ("eventfd: revised interface and cleanups", 2009): kernel
//! users hold context references ([`eventfd_ctx_fdget`] ...
//! [`eventfd_ctx_put`]), so the context outlives the file, and the last file
//! reference sends POLLHUP to in-kernel waiters (KVM irqfd detaches on it).
//!
//! Semantics are current Linux (6.9+): reads of fewer than 8 bytes and
//! writes of other than 8 bytes are EINVAL. Kernel-internal calls keep the
//! documented pre-6.8 form `eventfd_signal(ctx, n)`, which returns the
//! amount added (see the book's divergences chapter).
//!
//! Lock order: `wqh` is the only lock; wake functions run under it.
//! Race windows named as yield points: `eventfd:before_fd_install` (the file
//! exists, the fd does not) and, with the bug `eventfd_install_before_init`,
//! `eventfd:after_fd_install`.

use crate::abi::{EFD_CLOEXEC, EFD_FLAGS_SET, EFD_NONBLOCK, EFD_SEMAPHORE, O_RDWR};
use crate::abi::{POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::bugs::Bug;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::{self, PollTable, WaitQueueHead, WakeFn};
use crate::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::task::Task;
use crate::vfs::anon_inode::anon_inode_getfile;
use crate::vfs::file::{File, FileOps, FMODE_NOWAIT};
use crate::vfs::Llseek;
use std::any::Any;

/// `struct eventfd_ctx`.
pub struct EventfdCtx {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    kref: AtomicUsize,
    /// `wqh.lock` protects the count.
    wqh: WaitQueueHead<u64>,
    /// EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC as created.
    flags: u32,
}

impl EventfdCtx {
    fn check(&self, op: &'static str) -> bool {
        self.kernel.objs.check(&self.hdr, op)
    }

    /// [`Self::lock`], then [`Self::check`] (whose read the lock's
    /// footprint write covers). The check comes after the acquisition's
    /// scheduling point, in the step that records the lock's key, so a
    /// release of the context before the acquisition is ordered against
    /// it (in Linux the `spin_lock` on freed memory is the use-after-free).
    #[inline]
    fn lock_checked(&self, op: &'static str) -> crate::sched::WqGuard<'_, u64> {
        let g = self.lock();
        self.kernel.objs.check_then_write(&self.hdr, op);
        g
    }

    /// `spin_lock(&ctx->wqh.lock)`, recorded as a change to the context.
    fn lock(&self) -> crate::sched::WqGuard<'_, u64> {
        crate::footprint::access(self.hdr.id(), true);
        self.wqh.lock()
    }

    /// The lock taken only to look (poll).
    fn lock_look(&self) -> crate::sched::WqGuard<'_, u64> {
        crate::footprint::access(self.hdr.id(), false);
        self.wqh.lock()
    }

    /// `eventfd_ctx_do_read`: consume what a read returns. Semaphore mode
    /// takes 1 only if the count is non-zero (the fix for the underflow);
    /// the bug `eventfd_semaphore_underflow` takes 1 regardless.
    fn do_read(&self, count: &mut u64) -> u64 {
        let sem = self.flags & EFD_SEMAPHORE != 0;
        let take = if sem && (*count != 0 || self.kernel.bug(Bug::EventfdSemaphoreUnderflow)) { 1 } else { *count };
        *count = count.wrapping_sub(take);
        take
    }

    /// The counter, for tests and `fdinfo`.
    pub fn count(&self) -> u64 {
        *self.lock_look()
    }

    pub fn is_semaphore(&self) -> bool {
        self.flags & EFD_SEMAPHORE != 0
    }
}

/// The eventfd file's operations and private data.
pub struct EventfdFile {
    ctx: Arc<EventfdCtx>,
}

/// eventfd(2)/eventfd2(2) (`do_eventfd`): flags other than EFD_CLOEXEC,
/// EFD_NONBLOCK, EFD_SEMAPHORE: EINVAL; no free fd: EMFILE (reserved before
/// anything is made). The file is O_RDWR plus O_NONBLOCK if asked.
pub fn do_eventfd(task: &Task, count: u32, flags: u32) -> KResult<i32> {
    if flags & !EFD_FLAGS_SET != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task.proc()?;
    let k = &task.kernel;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & EFD_CLOEXEC != 0)?;
    let hdr = k.objs.register("eventfd_ctx");
    let owner = hdr.id();
    let ctx = Arc::new(EventfdCtx {
        hdr,
        kernel: k.clone(),
        kref: AtomicUsize::new(1),
        wqh: WaitQueueHead::new("eventfd_ctx.wqh", owner, count as u64),
        flags,
    });
    let file = anon_inode_getfile(k, Box::new(EventfdFile { ctx }), O_RDWR | (flags & EFD_NONBLOCK));
    // The fixed and the buggy variant pass the same scheduling points and
    // differ only in where the file is finished: before fd_install, as
    // Linux's do_eventfd does (`file->f_mode |= FMODE_NOWAIT` before
    // `fd_install`), or after it (anon_inode_getfd-style). The C code keeps
    // a plain pointer to the file: no reference is taken, so a close from
    // another thread after the install frees it under the buggy variant.
    let late = k.bug(Bug::EventfdInstallBeforeInit);
    let f = file.uncounted();
    if !late {
        f.add_mode(FMODE_NOWAIT);
    }
    sched::yield_point("eventfd:before_fd_install");
    p.files.fd_install(fd, file);
    sched::yield_point("eventfd:after_fd_install");
    if late && f.check_write("eventfd: f_mode |= FMODE_NOWAIT") {
        f.add_mode(FMODE_NOWAIT);
    }
    Ok(fd)
}

impl FileOps for EventfdFile {
    fn name(&self) -> &'static str {
        "eventfd"
    }

    fn llseek(&self) -> Llseek {
        Llseek::Noop
    }

    /// See [`FileOps::read_into`].
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 8];
        self.read_into(file, &mut b)?;
        Ok(b.to_vec())
    }

    /// `eventfd_read`: fewer than 8 bytes: EINVAL (checked first); count 0:
    /// EAGAIN or sleep; returns the count (semaphore: 1) as 8 bytes and
    /// wakes writers.
    fn read_into(&self, file: &File, buf: &mut [u8]) -> KResult<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let ctx = &*self.ctx;
        let mut g = ctx.lock_checked("eventfd_read");
        if *g == 0 {
            if file.nonblock() {
                return Err(Errno::EAGAIN);
            }
            g = ctx.wqh.wait_locked(g, |g| if **g != 0 { Some(()) } else { None })?.1;
        }
        let v = ctx.do_read(&mut g);
        if g.has_waiters() {
            g.wake_up_locked(POLLOUT);
        }
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }

    /// `eventfd_write`: not exactly 8 bytes: EINVAL (6.9+); ULLONG_MAX:
    /// EINVAL; fits iff `ULLONG_MAX - count > value`, else EAGAIN or sleep.
    fn write(&self, file: &File, data: &[u8], _caller: &Task) -> KResult<usize> {
        if data.len() != 8 {
            return Err(Errno::EINVAL);
        }
        let v = u64::from_le_bytes(data.try_into().expect("8 bytes"));
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        let ctx = &*self.ctx;
        let mut g = ctx.lock_checked("eventfd_write");
        if u64::MAX - *g <= v {
            if file.nonblock() {
                return Err(Errno::EAGAIN);
            }
            g = ctx.wqh.wait_locked(g, |g| if u64::MAX - **g > v { Some(()) } else { None })?.1;
        }
        *g += v;
        if g.has_waiters() {
            g.wake_up_locked(POLLIN);
        }
        Ok(8)
    }

    /// `eventfd_poll`: POLLIN iff count > 0, POLLERR iff count ==
    /// ULLONG_MAX, POLLOUT iff count < ULLONG_MAX - 1. Never POLLHUP.
    fn poll(&self, _file: &File, pt: Option<&mut PollTable>) -> u32 {
        let ctx = &*self.ctx;
        if let Some(pt) = pt {
            pt.wait(&ctx.wqh);
        }
        let count = *ctx.lock_look();
        let mut events = 0;
        if count > 0 {
            events |= POLLIN;
        }
        if count == u64::MAX {
            events |= POLLERR;
        }
        if u64::MAX - 1 > count {
            events |= POLLOUT;
        }
        events
    }

    /// `eventfd_release`: POLLHUP to in-kernel waiters, then drop the
    /// file's context reference.
    fn release(&self, _file: &File) {
        let ctx = &self.ctx;
        crate::footprint::access(ctx.hdr.id(), true);
        ctx.wqh.wake_up(POLLHUP);
        if ctx.kernel.bug(Bug::EventfdCtxFreedWithFile) {
            // Pre-2009 shape: the context dies with the file, whatever
            // in-kernel users still point at it.
            ctx.kernel.objs.release(&ctx.hdr);
        } else {
            eventfd_ctx_put(ctx);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `eventfd_ctx_fileget`: EINVAL unless `file` is an eventfd; takes a
/// context reference.
pub fn eventfd_ctx_fileget(file: &File) -> KResult<Arc<EventfdCtx>> {
    let ef = file.ops_as::<EventfdFile>().ok_or(Errno::EINVAL)?;
    ef.ctx.check("eventfd_ctx_fileget");
    crate::sched::fine_point("atomic");
    crate::footprint::access(ef.ctx.hdr.id(), true);
    ef.ctx.kref.fetch_add(1, Ordering::AcqRel);
    Ok(ef.ctx.clone())
}

/// `eventfd_ctx_fdget`: EBADF for a closed fd, EINVAL for a non-eventfd.
pub fn eventfd_ctx_fdget(task: &Task, fd: i64) -> KResult<Arc<EventfdCtx>> {
    let file = task.proc()?.files.fget(fd)?;
    eventfd_ctx_fileget(&file)
}

/// `eventfd_ctx_put`: drop a context reference; the last frees it.
pub fn eventfd_ctx_put(ctx: &Arc<EventfdCtx>) {
    if !ctx.check("eventfd_ctx_put") {
        return;
    }
    crate::sched::fine_point("atomic");
    crate::footprint::access(ctx.hdr.id(), true);
    if ctx.kref.fetch_sub(1, Ordering::AcqRel) == 1 {
        if ctx.lock().func_count() != 0 {
            ctx.kernel.objs.warn("eventfd_ctx freed with in-kernel wait entries still queued");
        }
        ctx.kernel.objs.release(&ctx.hdr);
    }
}

/// `eventfd_signal(ctx, n)` (the <= 6.7 form): add `n`, saturating at
/// ULLONG_MAX, wake waiters with POLLIN; never blocks; returns the amount
/// added.
pub fn eventfd_signal(ctx: &EventfdCtx, n: u64) -> u64 {
    ctx.check("eventfd_signal");
    let mut g = ctx.lock();
    let n = n.min(u64::MAX - *g);
    *g += n;
    if g.has_waiters() {
        g.wake_up_locked(POLLIN);
    }
    n
}

/// An in-kernel wait entry on an eventfd (what KVM's irqfd and VFIO's
/// virqfd queue with a custom wake function). It records the keys it was
/// woken with.
pub struct EventfdWait {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    keys: AtomicU32,
}

impl WakeFn for EventfdWait {
    fn wake(&self, key: u32) {
        self.kernel.objs.check(&self.hdr, "eventfd wait entry wake-up");
        crate::footprint::access(self.hdr.id(), true);
        self.keys.fetch_or(key, Ordering::Relaxed);
    }
}

impl EventfdWait {
    /// Every key delivered so far, OR'ed.
    pub fn keys(&self) -> u32 {
        self.kernel.objs.check(&self.hdr, "eventfd_wait_keys");
        crate::footprint::access(self.hdr.id(), false);
        self.keys.load(Ordering::Relaxed)
    }
}

/// Queue an in-kernel wait entry on the context (`add_wait_queue`).
pub fn eventfd_wait_add(ctx: &EventfdCtx) -> Arc<EventfdWait> {
    ctx.check("eventfd_wait_add");
    let w = Arc::new(EventfdWait {
        hdr: ctx.kernel.objs.register("eventfd_wait"),
        kernel: ctx.kernel.clone(),
        keys: AtomicU32::new(0),
    });
    ctx.lock().add_func(w.clone());
    w
}

/// `eventfd_ctx_remove_wait_queue`: atomically (under the queue lock)
/// consume the count as a read would and remove the entry; wake writers if
/// something was consumed. Returns the amount consumed, or EAGAIN if it was
/// 0. The entry is freed.
pub fn eventfd_ctx_remove_wait_queue(ctx: &EventfdCtx, w: &Arc<EventfdWait>) -> KResult<u64> {
    ctx.check("eventfd_ctx_remove_wait_queue");
    if !ctx.kernel.objs.check(&w.hdr, "eventfd_ctx_remove_wait_queue") {
        return Err(Errno::EINVAL);
    }
    let mut g = ctx.lock();
    let cnt = ctx.do_read(&mut g);
    let as_fn: Arc<dyn WakeFn> = w.clone();
    if !g.remove_func(&as_fn) {
        drop(g);
        ctx.kernel.objs.warn("eventfd_ctx_remove_wait_queue: entry not queued on this eventfd");
        return Err(Errno::EINVAL);
    }
    if cnt != 0 && g.has_waiters() {
        g.wake_up_locked(POLLOUT);
    }
    drop(g);
    ctx.kernel.objs.release(&w.hdr);
    if cnt != 0 {
        Ok(cnt)
    } else {
        Err(Errno::EAGAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::read_write::{vfs_read, vfs_write};

    fn setup() -> (Arc<Kernel>, Task) {
        Task::single(Default::default())
    }

    #[test]
    fn counter_semantics() {
        let (_k, t) = setup();
        let fd = do_eventfd(&t, 5, EFD_NONBLOCK).unwrap();
        assert_eq!(fd, 3);
        let f = t.proc().unwrap().files.fget(fd as i64).unwrap();
        assert_eq!(vfs_read(&f, 4), Err(Errno::EINVAL));
        assert_eq!(vfs_read(&f, 8).unwrap(), 5u64.to_le_bytes());
        assert_eq!(vfs_read(&f, 8), Err(Errno::EAGAIN));
        assert_eq!(vfs_write(&f, &u64::MAX.to_le_bytes(), &t), Err(Errno::EINVAL));
        assert_eq!(vfs_write(&f, &(u64::MAX - 1).to_le_bytes(), &t), Ok(8));
        assert_eq!(vfs_write(&f, &1u64.to_le_bytes(), &t), Err(Errno::EAGAIN));
        assert_eq!(vfs_write(&f, &0u64.to_le_bytes(), &t), Ok(8));
        assert_eq!(f.ops().poll(&f, None), POLLIN);
    }

    #[test]
    fn signal_saturates_and_ctx_outlives_file() {
        let (k, t) = setup();
        let fd = do_eventfd(&t, 0, 0).unwrap();
        let ctx = eventfd_ctx_fdget(&t, fd as i64).unwrap();
        let w = eventfd_wait_add(&ctx);
        assert_eq!(eventfd_signal(&ctx, u64::MAX - 1), u64::MAX - 1);
        assert_eq!(eventfd_signal(&ctx, 5), 1);
        assert_eq!(ctx.count(), u64::MAX);
        assert_eq!(w.keys(), POLLIN);
        crate::vfs::fcntl::ksys_close(t.proc().unwrap(), fd as i64).unwrap();
        assert_eq!(w.keys(), POLLIN | POLLHUP, "last file reference sends POLLHUP");
        assert!(!ctx.hdr.is_released(), "ctx outlives the file");
        assert_eq!(eventfd_ctx_remove_wait_queue(&ctx, &w), Ok(u64::MAX));
        eventfd_ctx_put(&ctx);
        assert!(ctx.hdr.is_released());
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }

    #[test]
    fn semaphore_remove_wait_queue_does_not_underflow() {
        for bug in [false, true] {
            let (_k, t) = Task::single(if bug {
                crate::bugs::BugSet::NONE.with(Bug::EventfdSemaphoreUnderflow)
            } else {
                Default::default()
            });
            let fd = do_eventfd(&t, 0, EFD_SEMAPHORE).unwrap();
            let ctx = eventfd_ctx_fdget(&t, fd as i64).unwrap();
            let w = eventfd_wait_add(&ctx);
            let r = eventfd_ctx_remove_wait_queue(&ctx, &w);
            if bug {
                assert_eq!(r, Ok(1));
                assert_eq!(ctx.count(), u64::MAX);
            } else {
                assert_eq!(r, Err(Errno::EAGAIN));
                assert_eq!(ctx.count(), 0);
            }
            eventfd_ctx_put(&ctx);
        }
    }
}
