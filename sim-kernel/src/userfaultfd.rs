//! userfaultfd (`fs/userfaultfd.c`, `include/uapi/linux/userfaultfd.h`,
//! `man2/userfaultfd.2`, `man2/ioctl_userfaultfd.2`): page faults of a
//! process delivered to userspace through a file.
//!
//! Key types: [`UserfaultfdCtx`] (Linux's `struct userfaultfd_ctx`: a
//! refcount, the creation flags, the enabled features with
//! `UFFD_FEATURE_INITIALIZED`, `released`, the mm it serves, the queue of
//! faults not yet read (`fault_pending_wqh`) and of faults read but not
//! woken (`fault_wqh`)) and [`UserfaultfdFile`], the file's `f_op`.
//!
//! The fault path ([`handle_userfault`], called from
//! [`crate::mm::memory`]): the faulting task queues a 32-byte `uffd_msg`
//! on the pending list, re-checks the page table
//! (`userfaultfd_must_wait`), wakes readers and pollers, and sleeps until a
//! wake-up names its address (COPY, ZEROPAGE, POISON, MOVE, WRITEPROTECT
//! clearing WP, WAKE, UNREGISTER of a MISSING range) or the context is
//! released; then the access starts over. `read` moves the oldest pending
//! message to the read list: it is never returned again, but its task stays
//! asleep until woken. The ioctls that change memory are in
//! [`crate::mm::userfaultfd`] (`mm/userfaultfd.c`).
//!
//! Release (the last file reference): `released` is set, every VMA
//! registered to the context is unregistered, every waiting fault is woken
//! (it retries and faults in normally, reading zeros), pollers get
//! POLLHUP. Waiting faults hold context references, so the context is
//! freed by the last of them.
//!
//! Lock order (as Linux's): `fd_wqh` before the context's state lock
//! (`fault_pending_wqh.lock`); an mm's lock is never held while either is
//! taken by the fault path; the fault holds the mm's VMA read lock
//! ([`crate::mm::MmStruct::vma_read_trylock`]) from its registration check
//! until it has queued and re-checked. Race windows named as yield points:
//! `uffd:fault:before_queue` (the registration is seen, the message not
//! yet queued: a wake-up now finds nothing), `uffd:fault:queued` (the
//! message is queued, the page table not yet re-checked), `uffd:fault:before_schedule` (the fault decided to sleep),
//! `uffd:copy:before_install` / `uffd:zeropage:before_install` (the
//! source is copied, the entry not yet installed),
//! `uffd:release:before_wake` (the ranges are unregistered, the waiters not
//! yet woken) and `uffd:api:before_init` (the answer is written, the
//! features not yet set).

use crate::abi::{
    O_CLOEXEC, O_NONBLOCK, O_RDONLY, POLLERR, POLLHUP, POLLIN, UFFDIO_API, UFFDIO_CONTINUE, UFFDIO_COPY, UFFDIO_MOVE,
    UFFDIO_POISON, UFFDIO_REGISTER, UFFDIO_UNREGISTER, UFFDIO_WAKE, UFFDIO_WRITEPROTECT, UFFDIO_ZEROPAGE, UFFD_API,
    UFFD_API_FEATURES, UFFD_API_IOCTLS, UFFD_EVENT_PAGEFAULT, UFFD_FEATURE_EXACT_ADDRESS, UFFD_FEATURE_SIGBUS,
    UFFD_FEATURE_THREAD_ID, UFFD_FEATURE_WP_ASYNC, UFFD_FEATURE_WP_UNPOPULATED, UFFD_PAGEFAULT_FLAG_WP,
    UFFD_PAGEFAULT_FLAG_WRITE, UFFD_USER_MODE_ONLY,
};
use crate::bugs::Bug;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::mm::{self, FaultLock, MmStruct, PAGE_MASK, VM_UFFD_WP};
use crate::objtrack::ObjHeader;
use crate::sched::{self, PollTable, WaitQueueHead, WqGuard};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::task::Task;
use crate::vfs::file::{File, FileOps, IoctlArg, IoctlOut, FMODE_NOWAIT};
use crate::vfs::Llseek;
use std::any::Any;
use std::collections::VecDeque;

/// `sizeof(struct uffd_msg)`.
pub const UFFD_MSG_SIZE: usize = 32;
/// Kernel-internal: set in `ctx->features` by the first successful
/// UFFDIO_API (`fs/userfaultfd.c`, since "userfaultfd: prevent concurrent
/// API initialization", 5.15).
pub const UFFD_FEATURE_INITIALIZED: u64 = 1 << 31;
/// `UFFD_SHARED_FCNTL_FLAGS`.
const UFFD_SHARED_FCNTL_FLAGS: u32 = O_CLOEXEC | O_NONBLOCK;

/// A `struct uffd_msg` of event UFFD_EVENT_PAGEFAULT (the only event
/// generated: fork, mremap, madvise and munmap events are not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UffdMsg {
    pub event: u8,
    pub flags: u64,
    pub address: u64,
    /// `arg.pagefault.feat.ptid`, with UFFD_FEATURE_THREAD_ID.
    pub ptid: u32,
}

impl UffdMsg {
    /// The 32 bytes userspace reads (`__packed`, zero padding).
    pub fn to_bytes(&self) -> [u8; UFFD_MSG_SIZE] {
        let mut b = [0u8; UFFD_MSG_SIZE];
        b[0] = self.event;
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.address.to_le_bytes());
        b[24..28].copy_from_slice(&self.ptid.to_le_bytes());
        b
    }

    /// Parse 32 bytes back (what `uffd_read` shows as a record).
    pub fn from_bytes(b: &[u8]) -> Option<UffdMsg> {
        if b.len() < UFFD_MSG_SIZE {
            return None;
        }
        Some(UffdMsg {
            event: b[0],
            flags: u64::from_le_bytes(b[8..16].try_into().ok()?),
            address: u64::from_le_bytes(b[16..24].try_into().ok()?),
            ptid: u32::from_le_bytes(b[24..28].try_into().ok()?),
        })
    }
}

/// A waiting fault (`struct userfaultfd_wait_queue`): its message, and the
/// id its task waits on. Being on neither list means "woken".
struct Uwq {
    id: u64,
    msg: UffdMsg,
}

/// What `fault_pending_wqh.lock` protects.
#[derive(Default)]
pub struct CtxState {
    /// `ctx->features`: 0 until UFFDIO_API, then the requested features
    /// with UFFD_FEATURE_INITIALIZED.
    features: u64,
    released: bool,
    /// `fault_pending_wqh`: not read yet, oldest first.
    pending: VecDeque<Uwq>,
    /// `fault_wqh`: read, not woken.
    read: Vec<Uwq>,
    next_id: u64,
}

impl CtxState {
    fn queued(&self, id: u64) -> bool {
        self.pending.iter().any(|u| u.id == id) || self.read.iter().any(|u| u.id == id)
    }

    fn remove(&mut self, id: u64) {
        self.pending.retain(|u| u.id != id);
        self.read.retain(|u| u.id != id);
    }

    fn initialized(&self) -> bool {
        self.features & UFFD_FEATURE_INITIALIZED != 0
    }
}

/// `struct userfaultfd_ctx`.
pub struct UserfaultfdCtx {
    pub hdr: ObjHeader,
    kernel: Arc<Kernel>,
    kref: AtomicUsize,
    /// The `userfaultfd(2)` flags.
    flags: u32,
    /// The mm whose faults this context serves (`mmgrab`ed).
    pub mm: Arc<MmStruct>,
    /// The state under `fault_pending_wqh.lock`; faulting tasks sleep here.
    state: WaitQueueHead<CtxState>,
    /// `fd_wqh`: readers and pollers.
    fd_wqh: WaitQueueHead<()>,
}

impl UserfaultfdCtx {
    fn check(&self, op: &'static str) -> bool {
        self.kernel.objs.check(&self.hdr, op)
    }

    /// `spin_lock(&ctx->fault_pending_wqh.lock)`, recorded as a change.
    fn lock(&self) -> WqGuard<'_, CtxState> {
        crate::footprint::access(self.hdr.id(), true);
        self.state.lock()
    }

    /// The lock taken only to look.
    fn lock_look(&self) -> WqGuard<'_, CtxState> {
        crate::footprint::access(self.hdr.id(), false);
        self.state.lock()
    }

    /// The enabled features (without UFFD_FEATURE_INITIALIZED).
    pub fn features(&self) -> u64 {
        self.lock_look().features & !UFFD_FEATURE_INITIALIZED
    }

    /// `userfaultfd_wp_async`.
    pub fn wp_async(&self) -> bool {
        self.features() & UFFD_FEATURE_WP_ASYNC != 0
    }

    /// `userfaultfd_wp_use_markers` on anonymous memory.
    pub fn wp_use_markers(&self) -> bool {
        self.features() & UFFD_FEATURE_WP_UNPOPULATED != 0
    }

    /// `userfaultfd_ctx_get`.
    fn get(&self) {
        crate::sched::fine_point("atomic");
        crate::footprint::access(self.hdr.id(), true);
        self.kref.fetch_add(1, Ordering::AcqRel);
    }

    /// Number of faults queued (pending and read), for tests.
    pub fn waiting(&self) -> usize {
        let g = self.lock_look();
        g.pending.len() + g.read.len()
    }
}

/// `userfaultfd_ctx_put`: the last reference drops the mm and frees the
/// context.
fn userfaultfd_ctx_put(ctx: &UserfaultfdCtx) {
    if !ctx.check("userfaultfd_ctx_put") {
        return;
    }
    crate::sched::fine_point("atomic");
    crate::footprint::access(ctx.hdr.id(), true);
    if ctx.kref.fetch_sub(1, Ordering::AcqRel) == 1 {
        let busy = {
            let g = ctx.lock();
            !g.pending.is_empty() || !g.read.is_empty() || g.has_waiters()
        };
        if busy {
            ctx.kernel.objs.warn("userfaultfd_ctx freed with faults still queued");
        }
        ctx.mm.drop_ref();
        ctx.kernel.objs.release(&ctx.hdr);
    }
}

/// The file's operations and private data.
pub struct UserfaultfdFile {
    pub ctx: Arc<UserfaultfdCtx>,
}

/// `userfaultfd(flags)` (`new_userfaultfd`): flags beyond O_CLOEXEC,
/// O_NONBLOCK and UFFD_USER_MODE_ONLY: EINVAL; then EMFILE. The file is
/// O_RDONLY plus O_NONBLOCK if asked, on a fresh anon inode
/// (`anon_inode_create_getfile`), `anon_inode:[userfaultfd]`. The caller
/// is privileged (root), so the `vm.unprivileged_userfaultfd` EPERM does
/// not arise.
pub fn do_userfaultfd(task: &Task, flags: u32) -> KResult<i32> {
    if flags & !(UFFD_SHARED_FCNTL_FLAGS | UFFD_USER_MODE_ONLY) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = task.proc()?;
    let k = &task.kernel;
    let fd = p.files.alloc_fd(0, p.rlimit_nofile(), flags & O_CLOEXEC != 0)?;
    let hdr = k.objs.register("userfaultfd_ctx");
    let owner = hdr.id();
    let mm = p.mm.clone();
    // mmgrab: the context keeps the mm_struct (not the address space).
    mm.grab();
    let ctx = Arc::new(UserfaultfdCtx {
        hdr,
        kernel: k.clone(),
        kref: AtomicUsize::new(1),
        flags,
        mm,
        state: WaitQueueHead::new("userfaultfd_ctx.fault_wqh", owner, CtxState::default()),
        fd_wqh: WaitQueueHead::new("userfaultfd_ctx.fd_wqh", owner, ()),
    });
    let file =
        File::alloc(k, k.next_ino(), O_RDONLY | (flags & UFFD_SHARED_FCNTL_FLAGS), Box::new(UserfaultfdFile { ctx }));
    file.add_mode(FMODE_NOWAIT);
    sched::yield_point("uffd:before_fd_install");
    p.files.fd_install(fd, file);
    Ok(fd)
}

/// What a fault comes back with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// `VM_FAULT_SIGBUS`.
    Sigbus,
    /// `VM_FAULT_RETRY`: the fault runs again, under `mmap_read_lock`.
    Retry,
    /// `VM_FAULT_NOPAGE` (the context is released): the fault ends with no
    /// page, the access runs again in user space and faults anew, under the
    /// VMA lock first.
    NoPage,
    /// Killed while asleep.
    Killed,
}

/// `userfault_msg`: the page-aligned address unless
/// UFFD_FEATURE_EXACT_ADDRESS; WRITE for a write; WP for a WP fault.
fn userfault_msg(addr: u64, write: bool, reason: u32, features: u64) -> UffdMsg {
    let mut flags = 0;
    if write {
        flags |= UFFD_PAGEFAULT_FLAG_WRITE;
    }
    if reason & VM_UFFD_WP != 0 {
        flags |= UFFD_PAGEFAULT_FLAG_WP;
    }
    let address = if features & UFFD_FEATURE_EXACT_ADDRESS != 0 { addr } else { addr & PAGE_MASK };
    // task_pid_vnr(current): the simulated tasks have no thread ids; the
    // actor number plus one stands in for it.
    let ptid = if features & UFFD_FEATURE_THREAD_ID != 0 { sched::current().map_or(0, |a| a as u32 + 1) } else { 0 };
    UffdMsg { event: UFFD_EVENT_PAGEFAULT, flags, address, ptid }
}

/// `handle_userfault(vmf, reason)`, entered without the mm lock but with
/// the (per-mm) VMA read lock the fault took when it saw the registration
/// (`lock_vma_under_rcu`), which it drops (`release_fault_lock`): SIGBUS
/// with UFFD_FEATURE_SIGBUS; retry at once if the context is released;
/// else queue the message, re-check the page table, drop the VMA lock,
/// re-check `released`, wake readers and sleep until woken.
///
/// Between the registration check and the queueing (yield point
/// `uffd:fault:before_queue`) a lockless UFFDIO_WAKE, or the wake-up
/// UNREGISTER does before it write-locks the VMAs, finds nothing to wake;
/// the fault then queues and sleeps until a later wake-up, COPY or release
/// (as on Linux 6.18, see the book's "UNREGISTER can miss a fault").
pub fn handle_userfault(
    ctx: &Arc<UserfaultfdCtx>,
    mm: &MmStruct,
    addr: u64,
    write: bool,
    reason: u32,
    lock: FaultLock,
) -> FaultOutcome {
    ctx.check("handle_userfault");
    let g = ctx.lock();
    let features = g.features;
    if features & UFFD_FEATURE_SIGBUS != 0 {
        drop(g);
        mm.release_fault_lock(lock);
        return FaultOutcome::Sigbus;
    }
    if g.released {
        // "Don't return VM_FAULT_SIGBUS in this case": VM_FAULT_NOPAGE.
        drop(g);
        mm.release_fault_lock(lock);
        return FaultOutcome::NoPage;
    }
    // "take the reference before dropping the mmap_lock": the VMA lock
    // held since the registration check pins the context until here.
    ctx.get();
    drop(g);
    sched::yield_point("uffd:fault:before_queue");
    let mut g = ctx.lock();
    let id = g.next_id;
    g.next_id += 1;
    g.pending.push_back(Uwq { id, msg: userfault_msg(addr, write, reason, features) });
    drop(g);
    sched::yield_point("uffd:fault:queued");
    let must_wait = mm::memory::userfaultfd_must_wait(mm, addr, reason);
    // release_fault_lock: VMA writers may go on from here.
    mm.release_fault_lock(lock);
    let released = ctx.lock_look().released;
    let mut outcome = FaultOutcome::Retry;
    if must_wait && !released {
        // Waking readers and pollers changes what they see: a write.
        crate::footprint::access(ctx.hdr.id(), true);
        ctx.fd_wqh.wake_up(POLLIN);
        sched::yield_point("uffd:fault:before_schedule");
        let g = ctx.lock();
        if ctx.state.wait_locked(g, |g| if g.queued(id) { None } else { Some(()) }).is_err() {
            outcome = FaultOutcome::Killed;
        }
    }
    ctx.lock().remove(id);
    userfaultfd_ctx_put(ctx);
    outcome
}

/// `wake_userfault`/`__wake_userfault`: wake every waiting fault whose
/// address is in `[start, start + len)` (`len` 0: all), pending or read.
pub fn wake_userfault(ctx: &UserfaultfdCtx, start: u64, len: u64) {
    let mut g = ctx.lock();
    let hit = |u: &Uwq| len == 0 || (u.msg.address >= start && u.msg.address - start < len);
    let before = g.pending.len() + g.read.len();
    g.pending.retain(|u| !hit(u));
    g.read.retain(|u| !hit(u));
    if g.pending.len() + g.read.len() != before {
        g.wake_up_locked(POLLIN);
    }
}

/// `validate_range`: a page-aligned start, then
/// [`validate_unaligned_range`].
pub fn validate_range(start: u64, len: u64) -> KResult<()> {
    if start & !PAGE_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    validate_unaligned_range(start, len)
}

/// `validate_unaligned_range` (UFFDIO_COPY's source): a non-empty
/// page-multiple length, a range inside `[0, TASK_SIZE)`. Current Linux
/// (and the 6.18 host) no longer refuses a start below `mmap_min_addr`: such
/// a range gets as far as the VMA lookup (REGISTER: EINVAL, ZEROPAGE:
/// ENOENT, WAKE: 0, a COPY source: EFAULT).
pub fn validate_unaligned_range(start: u64, len: u64) -> KResult<()> {
    if len & !PAGE_MASK != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    if start >= mm::TASK_SIZE || len > mm::TASK_SIZE - start {
        return Err(Errno::EINVAL);
    }
    if start.checked_add(len).is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// The named fields each ioctl's struct has (input fields; the rest are
/// output only). Unknown names are a scenario error, caught by the caller.
pub fn ioctl_fields(cmd: u32) -> Option<&'static [&'static str]> {
    Some(match cmd {
        UFFDIO_API => &["api", "features"],
        UFFDIO_REGISTER => &["start", "len", "mode"],
        UFFDIO_UNREGISTER | UFFDIO_WAKE => &["start", "len"],
        UFFDIO_COPY | UFFDIO_MOVE => &["dst", "src", "len", "mode"],
        UFFDIO_ZEROPAGE | UFFDIO_WRITEPROTECT | UFFDIO_CONTINUE | UFFDIO_POISON => &["start", "len", "mode"],
        _ => return None,
    })
}

fn field(arg: &IoctlArg, name: &str) -> u64 {
    arg.fields.iter().rev().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
}

impl UserfaultfdFile {
    /// `userfaultfd_api`: api != UFFD_API or unsupported features: EINVAL;
    /// the answer lists every supported feature and the API ioctls; then
    /// the features are set only if none were (`cmpxchg`), so a second
    /// call (or the loser of two racing calls) gets EINVAL.
    fn api(&self, arg: &IoctlArg) -> KResult<IoctlOut> {
        let ctx = &self.ctx;
        let api = field(arg, "api");
        let mut features = field(arg, "features");
        let racy = ctx.kernel.bug(Bug::UffdApiInitRace);
        if racy && ctx.lock_look().initialized() {
            // Before 5.15: `if (ctx->state != UFFD_STATE_WAIT_API)`, checked
            // first and set only at the end.
            return Err(Errno::EINVAL);
        }
        if api != UFFD_API {
            return Err(Errno::EINVAL);
        }
        // EVENT_FORK needs CAP_SYS_PTRACE: the simulated caller has it.
        if features & UFFD_FEATURE_WP_ASYNC != 0 {
            features |= UFFD_FEATURE_WP_UNPOPULATED;
        }
        // The machine's features: a kernel clears those its build or CPU
        // lacks from what it reports and accepts (`userfaultfd_api`).
        let supported = UFFD_API_FEATURES & ctx.kernel.machine.uffd_features;
        if features & !supported != 0 {
            return Err(Errno::EINVAL);
        }
        let out = IoctlOut::Record(vec![("api", UFFD_API), ("features", supported), ("ioctls", UFFD_API_IOCTLS)]);
        sched::yield_point("uffd:api:before_init");
        let mut g = ctx.lock();
        if g.features != 0 && !racy {
            return Err(Errno::EINVAL);
        }
        g.features = features | UFFD_FEATURE_INITIALIZED;
        Ok(out)
    }

    /// `userfaultfd_register`: mode 0 or unknown bits, MINOR on anonymous
    /// memory, a bad range, no VMA in it: EINVAL; the mm gone: ENOMEM; a
    /// VMA registered to another context: EBUSY. Returns the range ioctls.
    fn register(&self, arg: &IoctlArg) -> KResult<IoctlOut> {
        let (start, len, mode) = (field(arg, "start"), field(arg, "len"), field(arg, "mode"));
        let ioctls = mm::userfaultfd::userfaultfd_register(&self.ctx, start, len, mode)?;
        Ok(IoctlOut::Record(vec![("ioctls", ioctls)]))
    }

    fn unregister(&self, arg: &IoctlArg) -> KResult<IoctlOut> {
        mm::userfaultfd::userfaultfd_unregister(&self.ctx, field(arg, "start"), field(arg, "len"))?;
        Ok(IoctlOut::Int(0))
    }

    /// `userfaultfd_wake`: a bad range: EINVAL; else wake, 0.
    fn wake(&self, arg: &IoctlArg) -> KResult<IoctlOut> {
        let (start, len) = (field(arg, "start"), field(arg, "len"));
        validate_range(start, len)?;
        wake_userfault(&self.ctx, start, len);
        Ok(IoctlOut::Int(0))
    }
}

impl FileOps for UserfaultfdFile {
    fn name(&self) -> &'static str {
        "userfaultfd"
    }

    fn llseek(&self) -> Llseek {
        Llseek::Noop
    }

    /// `userfaultfd_read`: before UFFDIO_API: EINVAL; fewer than 32 bytes:
    /// EINVAL; as many whole messages as fit, blocking (without O_NONBLOCK)
    /// only for the first.
    fn read(&self, file: &File, len: usize) -> KResult<Vec<u8>> {
        let ctx = &*self.ctx;
        ctx.check("userfaultfd_read");
        if !ctx.lock_look().initialized() {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::new();
        let mut no_wait = file.nonblock();
        loop {
            if len - out.len() < UFFD_MSG_SIZE {
                return if out.is_empty() { Err(Errno::EINVAL) } else { Ok(out) };
            }
            match userfaultfd_ctx_read(ctx, no_wait) {
                Ok(msg) => out.extend_from_slice(&msg.to_bytes()),
                Err(e) => return if out.is_empty() { Err(e) } else { Ok(out) },
            }
            no_wait = true;
        }
    }

    /// `userfaultfd_poll`: before UFFDIO_API, or without O_NONBLOCK:
    /// POLLERR; POLLIN while a fault is pending (not yet read).
    fn poll(&self, file: &File, pt: Option<&mut PollTable>) -> u32 {
        let ctx = &*self.ctx;
        if let Some(pt) = pt {
            // Queueing on fd_wqh is a change a fault's wake-up must see.
            crate::footprint::access(ctx.hdr.id(), true);
            pt.wait(&ctx.fd_wqh);
        }
        let g = ctx.lock_look();
        if !g.initialized() {
            return POLLERR;
        }
        if !file.nonblock() {
            return POLLERR;
        }
        if g.pending.is_empty() {
            0
        } else {
            POLLIN
        }
    }

    /// `userfaultfd_ioctl`: every command but UFFDIO_API needs the API
    /// handshake first; unknown commands are EINVAL.
    fn ioctl(&self, _file: &File, cmd: u32, arg: &IoctlArg) -> KResult<IoctlOut> {
        let ctx = &self.ctx;
        ctx.check("userfaultfd_ioctl");
        if cmd != UFFDIO_API && !ctx.lock_look().initialized() {
            return Err(Errno::EINVAL);
        }
        let f = |n| field(arg, n);
        match cmd {
            UFFDIO_API => self.api(arg),
            UFFDIO_REGISTER => self.register(arg),
            UFFDIO_UNREGISTER => self.unregister(arg),
            UFFDIO_WAKE => self.wake(arg),
            UFFDIO_COPY => {
                mm::userfaultfd::userfaultfd_copy(ctx, f("dst"), f("src"), f("len"), f("mode")).map(|n| rec("copy", n))
            }
            UFFDIO_ZEROPAGE => {
                mm::userfaultfd::userfaultfd_zeropage(ctx, f("start"), f("len"), f("mode")).map(|n| rec("zeropage", n))
            }
            UFFDIO_WRITEPROTECT => mm::userfaultfd::userfaultfd_writeprotect(ctx, f("start"), f("len"), f("mode"))
                .map(|_| IoctlOut::Int(0)),
            UFFDIO_CONTINUE => {
                mm::userfaultfd::userfaultfd_continue(ctx, f("start"), f("len"), f("mode")).map(|n| rec("mapped", n))
            }
            UFFDIO_POISON => {
                mm::userfaultfd::userfaultfd_poison(ctx, f("start"), f("len"), f("mode")).map(|n| rec("updated", n))
            }
            UFFDIO_MOVE => {
                mm::userfaultfd::userfaultfd_move(ctx, f("dst"), f("src"), f("len"), f("mode")).map(|n| rec("move", n))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `userfaultfd_release`.
    fn release(&self, _file: &File) {
        let ctx = &self.ctx;
        if !ctx.check("userfaultfd_release") {
            return;
        }
        ctx.lock().released = true;
        mm::userfaultfd::userfaultfd_release_all(ctx);
        sched::yield_point("uffd:release:before_wake");
        {
            // Flush the faults that were already waiting: they retry.
            let mut g = ctx.lock();
            g.pending.clear();
            g.read.clear();
            g.wake_up_locked(POLLIN);
        }
        ctx.fd_wqh.wake_up(POLLHUP);
        userfaultfd_ctx_put(ctx);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn rec(name: &'static str, n: u64) -> IoctlOut {
    IoctlOut::Record(vec![(name, n)])
}

/// `userfaultfd_ctx_read` for one message: the oldest pending fault moves
/// to the read list; none: EAGAIN if `no_wait`, else sleep on `fd_wqh`.
fn userfaultfd_ctx_read(ctx: &UserfaultfdCtx, no_wait: bool) -> KResult<UffdMsg> {
    crate::footprint::access(ctx.hdr.id(), true);
    let g = ctx.fd_wqh.lock();
    let mut got = None;
    let res = ctx.fd_wqh.wait_locked(g, |_| {
        let mut s = ctx.lock();
        if let Some(u) = s.pending.pop_front() {
            let msg = u.msg;
            s.read.push(u);
            got = Some(Ok(msg));
        } else if no_wait {
            got = Some(Err(Errno::EAGAIN));
        }
        got
    });
    match res {
        Ok((r, _)) => r,
        Err(e) => Err(e),
    }
}

/// The context behind a userfaultfd file (for tests and kernel users).
pub fn userfaultfd_ctx_fileget(file: &File) -> KResult<Arc<UserfaultfdCtx>> {
    let f = file.ops_as::<UserfaultfdFile>().ok_or(Errno::EINVAL)?;
    Ok(f.ctx.clone())
}

impl UserfaultfdCtx {
    /// The creation flags.
    pub fn flags(&self) -> u32 {
        self.flags
    }
}
