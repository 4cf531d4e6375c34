//! Address spaces (Linux's `mm/`): one [`MmStruct`] per process
//! (`struct mm_struct`) with its VMAs and its page table, anonymous private
//! memory whose pages are allocated lazily and zero-filled, and the hooks
//! userfaultfd hangs on them.
//!
//! - [`mmap`] (`mm/mmap.c`, `mm/vma.c`): `mmap`, `munmap`, VMA lookup,
//!   split and merge, the top-down address allocator.
//! - [`mprotect`] (`mm/mprotect.c`).
//! - [`memory`] (`mm/memory.c`): the page-fault path (`handle_mm_fault`,
//!   `do_anonymous_page`, `do_wp_page`) and the user accesses built on it
//!   (`load`, `store`, `memset`), which end in SIGSEGV or SIGBUS.
//! - [`userfaultfd`] (`mm/userfaultfd.c`): `UFFDIO_COPY`, `ZEROPAGE`,
//!   `POISON`, `CONTINUE`, `MOVE` (the `mfill_atomic` family) and
//!   `mwriteprotect_range`.
//!
//! The model: a VMA is `[start, end)` with its protection, whether it is
//! execute-only (exactly `PROT_EXEC` on a machine with protection keys,
//! [`crate::machine::Machine::pkeys`]; without them `PROT_EXEC` alone is
//! readable, as on Linux) and, when registered, the userfaultfd context and
//! the `VM_UFFD_*` modes. The page
//! table maps a page address to a [`Pte`]: the shared zero page (read-only,
//! copied on the first write), a private page, a uffd-wp marker, or a poison
//! marker; each present entry carries the uffd-wp bit.
//!
//! Locking: `MmStruct::inner` stands for the page table locks and for the
//! data `mmap_lock` protects; it is never held across a yield point or a
//! sleep, so every step between two scheduling points sees the address
//! space atomically. Lock order: `inner` before a userfaultfd context's
//! locks (the fault path drops `inner` before it queues on the context).
//!
//! `mmap_lock` and the per-VMA lock (`include/linux/mmap_lock.h`) are
//! modelled apart, as states in one [`VmaLock`] per mm (a simplification:
//! it stands for the VMA locks of all the mm's VMAs), so that who waits for
//! whom is Linux's:
//! - a fault that will be handed to userfaultfd first takes the VMA lock
//!   for reading (`lock_vma_under_rcu`), from its registration check until
//!   it has queued and re-checked the page table (`release_fault_lock` in
//!   `handle_userfault`), across yield points; a fault that retries
//!   (`VM_FAULT_RETRY`), or whose VMA is write-locked, takes `mmap_lock` for
//!   reading instead ([`MmStruct::mmap_read_lock`], arch/x86/mm/fault.c);
//! - a writer takes `mmap_lock` for writing ([`MmStruct::mmap_write_lock`],
//!   which waits for the `mmap_lock` readers but not for the VMA readers),
//!   then, before it changes anything visible (munmap, mprotect,
//!   REGISTER, UNREGISTER's clearing, the release's unregistering), marks
//!   the VMAs write-locked and waits until no fault holds the VMA lock
//!   ([`VmaWriteGuard::vma_start_write`]; [`MmStruct::vma_write_wait`] does
//!   both). Both are held until its change is done (the guard's drop is
//!   `mmap_write_unlock`). UNREGISTER does its wake-up between the two, as
//!   Linux does: a fault it wakes retries under `mmap_read_lock` and waits
//!   for the clearing; a fault that holds the VMA lock and has not queued
//!   yet is not woken (the book's "UNREGISTER can miss a fault").
//!
//! The lock's state is the footprint key [`vma_lock_key`]; it is taken
//! before `inner` and never held with it.
//!
//! Footprints: the VMA tree is one key (the mm's object id; lookups read,
//! changes write), each page table entry its own key
//! ([`crate::footprint::pte_key`]), so accesses to different pages commute.

pub mod memory;
pub mod mmap;
pub mod mprotect;
pub mod userfaultfd;

use crate::errno::KResult;
use crate::kernel::Kernel;
use crate::objtrack::ObjHeader;
use crate::sched::WaitQueueHead;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::userfaultfd::UserfaultfdCtx;
use std::collections::BTreeMap;

pub use memory::Signal;

/// `PAGE_SIZE` (x86_64).
pub const PAGE_SIZE: u64 = crate::abi::PAGE_SIZE;
/// `PAGE_MASK`.
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
/// `TASK_SIZE` on x86_64 with 4-level paging: `(1 << 47) - PAGE_SIZE`.
pub const TASK_SIZE: u64 = (1 << 47) - PAGE_SIZE;
/// A simulator limit, not Linux's: an address space holds at most this
/// many page-table entries (256 MiB of pages). Past it a fault that needs
/// a new page is VM_FAULT_OOM, answered with SIGBUS, and the UFFDIO fills
/// return ENOMEM (as mfill_atomic does when an allocation fails); ranges
/// longer than this many pages are walked by their populated entries.
/// Recorded in the book's divergences chapter.
pub const MAX_PTES: usize = 1 << 16;

thread_local! {
    /// How many times [`MAX_PTES`] decided a result on this thread.
    static LIMIT_HITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many times the simulator's page limit ([`MAX_PTES`]) decided a
/// result on this thread: `ksim compare` reads it around a run to label a
/// difference it explains as a documented divergence, not a bug.
pub fn limit_hits() -> u64 {
    LIMIT_HITS.with(|c| c.get())
}

fn hit_limit() {
    LIMIT_HITS.with(|c| c.set(c.get() + 1));
}
/// `vm.mmap_min_addr` (`CONFIG_DEFAULT_MMAP_MIN_ADDR`): 4096, as on the
/// host oracle (Debian's kernels; the x86 Kconfig suggests 65536).
pub const MMAP_MIN_ADDR: u64 = 4096;
/// Where the top-down allocator starts (`mm->mmap_base` without ASLR: below
/// the stack gap; the address a non-randomised x86_64 process gets).
pub const MMAP_BASE: u64 = 0x7fff_f7ff_f000;

// VMA flags for userfaultfd registration (include/linux/mm.h).
pub const VM_UFFD_MISSING: u32 = 1 << 0;
pub const VM_UFFD_WP: u32 = 1 << 1;
pub const VM_UFFD_MINOR: u32 = 1 << 2;

/// `PAGE_ALIGN`, `None` on overflow.
pub fn page_align(len: u64) -> Option<u64> {
    len.checked_add(PAGE_SIZE - 1).map(|l| l & PAGE_MASK)
}

/// A VMA's userfaultfd registration (`vma->vm_userfaultfd_ctx` and the
/// `VM_UFFD_*` bits of `vm_flags`). The pointer holds no context reference,
/// as in Linux: the context's release clears every registration first.
#[derive(Clone)]
pub struct VmaUffd {
    pub ctx: Arc<UserfaultfdCtx>,
    pub flags: u32,
}

impl VmaUffd {
    fn same(&self, other: &VmaUffd) -> bool {
        Arc::ptr_eq(&self.ctx, &other.ctx) && self.flags == other.flags
    }
}

/// `struct vm_area_struct` of an anonymous private mapping.
#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// Execute-only: made by `mmap`/`mprotect` with exactly `PROT_EXEC` on
    /// a machine with protection keys, so the VMA carries the execute-only
    /// pkey (`arch/x86/mm/pkeys.c`, `__arch_override_mprotect_pkey`). A VMA
    /// with a different pkey never merges with it (the pkey is in
    /// `vm_flags`).
    pub exec_only: bool,
    pub uffd: Option<VmaUffd>,
}

/// Whether `mmap`/`mprotect` with `prot` (as the caller passed it) makes an
/// execute-only mapping: only exactly `PROT_EXEC`, and only with
/// protection keys (`mm/mmap.c`, `do_mmap`: `if (prot == PROT_EXEC)`;
/// `arch/x86/mm/pkeys.c`, `execute_only_pkey`).
pub fn exec_only(prot: u32, machine: &crate::machine::Machine) -> bool {
    machine.pkeys && prot == crate::abi::PROT_EXEC
}

impl Vma {
    /// Whether a read may go through (`arch/x86/mm/fault.c`,
    /// `access_error`): any of `PROT_READ`, `PROT_WRITE`, `PROT_EXEC`
    /// allows it (`vma_is_accessible`), unless the VMA is execute-only
    /// under a protection key, whose access-disable bit faults every
    /// data access (`arch_vma_access_permitted`). So `PROT_EXEC` alone is
    /// readable on a machine without protection keys, as Linux does there.
    pub fn readable(&self) -> bool {
        self.prot & crate::abi::PROT_MASK != 0 && !self.exec_only
    }

    pub fn writable(&self) -> bool {
        self.prot & crate::abi::PROT_WRITE != 0
    }

    /// The registration, if it includes any of `flags`.
    pub fn uffd_with(&self, flags: u32) -> Option<&VmaUffd> {
        self.uffd.as_ref().filter(|u| u.flags & flags != 0)
    }

    fn mergeable(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.prot == next.prot
            && self.exec_only == next.exec_only
            && match (&self.uffd, &next.uffd) {
                (None, None) => true,
                (Some(a), Some(b)) => a.same(b),
                _ => false,
            }
    }
}

/// A page table entry.
pub enum Pte {
    /// The shared zero page, mapped read-only; a write copies it.
    Zero { uffd_wp: bool },
    /// A private anonymous page.
    Page { data: Box<[u8]>, uffd_wp: bool },
    /// A uffd-wp marker on an empty entry (`PTE_MARKER_UFFD_WP`, installed
    /// by `UFFDIO_WRITEPROTECT` with `UFFD_FEATURE_WP_UNPOPULATED`).
    WpMarker,
    /// A poison marker (`UFFDIO_POISON`): any access is SIGBUS.
    Poison,
}

impl Pte {
    /// `pte_none_mostly`: empty or only a uffd-wp marker.
    pub fn none_mostly(&self) -> bool {
        matches!(self, Pte::WpMarker)
    }

    pub fn uffd_wp(&self) -> bool {
        match self {
            Pte::Zero { uffd_wp } | Pte::Page { uffd_wp, .. } => *uffd_wp,
            Pte::WpMarker => true,
            Pte::Poison => false,
        }
    }

    pub fn set_uffd_wp(&mut self, on: bool) {
        if let Pte::Zero { uffd_wp } | Pte::Page { uffd_wp, .. } = self {
            *uffd_wp = on;
        }
    }
}

/// Footprint key of an mm's [`VmaLock`].
pub fn vma_lock_key(mm_id: u64) -> u64 {
    (1 << 59) | mm_id
}

/// The state of `mmap_lock` and of the (per-mm) VMA lock.
#[derive(Default)]
pub struct VmaLock {
    /// Faults that hold the VMA lock for reading (`lock_vma_under_rcu`),
    /// between their registration check and their queueing.
    pub readers: usize,
    /// The VMAs are write-locked (`vma_start_write`): a writer holding
    /// `mmap_lock` for writing has marked them, from before it waits for
    /// the VMA readers until its change is done ([`VmaWriteGuard`]).
    pub writer: bool,
    /// Faults that hold `mmap_lock` for reading: a fault's retry after
    /// `VM_FAULT_RETRY`, or its fallback when the VMA lock was
    /// write-locked, takes `mmap_read_lock` (arch/x86/mm/fault.c:
    /// `do_user_addr_fault`, `lock_mmap:`).
    pub mmap_readers: usize,
    /// `mmap_lock` is held for writing ([`MmStruct::mmap_write_lock`]).
    pub mmap_writer: bool,
}

/// The lock a fault holds while `handle_userfault` runs, which that
/// function drops (`release_fault_lock`) before the fault sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultLock {
    /// The VMA lock, for reading (`FAULT_FLAG_VMA_LOCK`).
    Vma,
    /// `mmap_lock`, for reading.
    Mmap,
}

/// `mmap_lock` held for writing ([`MmStruct::mmap_write_lock`]), and the
/// VMAs write-locked once [`VmaWriteGuard::vma_start_write`] has run.
/// Dropping it is `mmap_write_unlock` (which ends every VMA write lock,
/// `vma_end_write_all`): both marks go and the faults and writers waiting
/// for them are woken.
#[must_use = "mmap_lock is held for writing only while the guard lives"]
pub struct VmaWriteGuard<'a> {
    mm: &'a MmStruct,
}

impl VmaWriteGuard<'_> {
    /// `vma_start_write`: mark the VMAs write-locked (a new fault's
    /// `lock_vma_under_rcu` fails and falls back to `mmap_read_lock`, which
    /// waits for this writer) and sleep until no fault holds the VMA lock
    /// for reading. EINTR if killed (teardown); the caller's guard then
    /// drops both marks.
    pub fn vma_start_write(&self) -> KResult<()> {
        let mm = self.mm;
        let key = vma_lock_key(mm.hdr.id());
        let mut g = mm.vma_lock_state();
        g.writer = true;
        if g.readers != 0 {
            mm.vma_lock.wait_locked(g, |g| {
                crate::footprint::access(key, true);
                if g.readers != 0 {
                    None
                } else {
                    Some(())
                }
            })?;
        }
        Ok(())
    }
}

impl Drop for VmaWriteGuard<'_> {
    fn drop(&mut self) {
        let mut g = self.mm.vma_lock_state();
        g.writer = false;
        g.mmap_writer = false;
        g.wake_up_locked(0);
    }
}

/// What `mmap_lock` and the page table locks protect.
#[derive(Default)]
pub struct MmInner {
    /// VMAs by start address; never overlapping.
    pub vmas: BTreeMap<u64, Vma>,
    /// Page table: page address to entry. An absent key is `pte_none`.
    pub ptes: BTreeMap<u64, Pte>,
    /// `exit_mmap` ran: the address space is gone (`mmget_not_zero` fails).
    pub exited: bool,
}

/// `struct mm_struct`.
pub struct MmStruct {
    pub hdr: ObjHeader,
    pub kernel: Arc<Kernel>,
    inner: Mutex<MmInner>,
    /// `mm_count` (`mmgrab`/`mmdrop`): the process holds one, every
    /// userfaultfd context one. The last drop frees the structure.
    mm_count: AtomicUsize,
    /// The VMA lock; writers and faults that must wait sleep here.
    vma_lock: WaitQueueHead<VmaLock>,
}

impl MmStruct {
    pub fn new(kernel: &Arc<Kernel>) -> Arc<MmStruct> {
        let hdr = kernel.objs.register("mm_struct");
        let id = hdr.id();
        Arc::new(MmStruct {
            hdr,
            kernel: kernel.clone(),
            inner: Mutex::new(MmInner::default()),
            mm_count: AtomicUsize::new(1),
            vma_lock: WaitQueueHead::new("mm_struct.vma_lock", id, VmaLock::default()),
        })
    }

    fn vma_lock_state(&self) -> crate::sched::WqGuard<'_, VmaLock> {
        crate::footprint::access(vma_lock_key(self.hdr.id()), true);
        self.vma_lock.lock()
    }

    /// `lock_vma_under_rcu` for a fault about to be handed to userfaultfd:
    /// false if a writer has the VMAs write-locked (the fault then falls
    /// back to [`MmStruct::mmap_read_lock`], which waits for the writer,
    /// and starts over).
    pub fn vma_read_trylock(&self) -> bool {
        let mut g = self.vma_lock_state();
        if g.writer {
            return false;
        }
        g.readers += 1;
        true
    }

    /// `vma_end_read` (`release_fault_lock`): wakes a waiting writer.
    pub fn vma_read_unlock(&self) {
        let mut g = self.vma_lock_state();
        g.readers -= 1;
        if g.readers == 0 {
            g.wake_up_locked(0);
        }
    }

    /// The fallback of a fill (`uffd_mfill_lock`) whose VMA is
    /// write-locked: sleep until no writer holds the VMAs write-locked.
    /// Only a look at the lock when nobody does. EINTR if killed
    /// (teardown).
    pub fn vma_wait_writer(&self) -> KResult<()> {
        let key = vma_lock_key(self.hdr.id());
        crate::footprint::access(key, false);
        let g = self.vma_lock.lock();
        if !g.writer {
            return Ok(());
        }
        crate::footprint::access(key, true);
        // Every re-check after a wake-up looks at (and queues on) the lock.
        self.vma_lock
            .wait_locked(g, |g| {
                crate::footprint::access(key, true);
                if g.writer {
                    None
                } else {
                    Some(())
                }
            })
            .map(|_| ())
    }

    /// `mmap_read_lock` of a fault that retries, or falls back from the
    /// VMA lock: sleep while a writer holds `mmap_lock`, then hold it for
    /// reading (writers wait for it). EINTR if killed (teardown).
    pub fn mmap_read_lock(&self) -> KResult<()> {
        let key = vma_lock_key(self.hdr.id());
        let g = self.vma_lock_state();
        let (_, mut g) = self.vma_lock.wait_locked(g, |g| {
            crate::footprint::access(key, true);
            if g.mmap_writer {
                None
            } else {
                Some(())
            }
        })?;
        g.mmap_readers += 1;
        Ok(())
    }

    /// `mmap_read_unlock`: wakes a waiting writer.
    pub fn mmap_read_unlock(&self) {
        let mut g = self.vma_lock_state();
        g.mmap_readers -= 1;
        if g.mmap_readers == 0 {
            g.wake_up_locked(0);
        }
    }

    /// `release_fault_lock`: drop the lock a fault holds, whichever it is.
    pub fn release_fault_lock(&self, lock: FaultLock) {
        match lock {
            FaultLock::Vma => self.vma_read_unlock(),
            FaultLock::Mmap => self.mmap_read_unlock(),
        }
    }

    /// `mmap_write_lock`: sleep until no other writer holds `mmap_lock`
    /// and no fault holds it for reading, then hold it for writing until
    /// the returned guard is dropped. A fault that holds only the VMA lock
    /// does not stop it (Linux's per-VMA locks are apart from
    /// `mmap_lock`); [`VmaWriteGuard::vma_start_write`] waits for those.
    /// EINTR if killed (teardown).
    pub fn mmap_write_lock(&self) -> KResult<VmaWriteGuard<'_>> {
        let key = vma_lock_key(self.hdr.id());
        let g = self.vma_lock_state();
        let (_, mut g) = self.vma_lock.wait_locked(g, |g| {
            crate::footprint::access(key, true);
            if g.mmap_writer || g.mmap_readers != 0 {
                None
            } else {
                Some(())
            }
        })?;
        g.mmap_writer = true;
        Ok(VmaWriteGuard { mm: self })
    }

    /// `mmap_write_lock` + `vma_start_write` of an operation that changes
    /// VMAs (munmap, mprotect, REGISTER, the release): hold `mmap_lock` for
    /// writing, mark the VMAs write-locked (new faults and fills fall back
    /// and wait), and sleep until no fault is in its window. Both stay
    /// until the returned guard is dropped, after the caller's change
    /// (`mmap_write_unlock`): a fault can never take the VMA lock between
    /// the wait and the change, on any runtime, whatever scheduling points
    /// the change has. EINTR if killed (teardown).
    pub fn vma_write_wait(&self) -> KResult<VmaWriteGuard<'_>> {
        let w = self.mmap_write_lock()?;
        w.vma_start_write()?;
        Ok(w)
    }

    pub fn id(&self) -> u64 {
        self.hdr.id()
    }

    /// Take `mmap_lock`; the caller reports what it touches.
    pub fn lock(&self) -> MutexGuard<'_, MmInner> {
        self.kernel.objs.check(&self.hdr, "mmap_lock");
        self.inner.lock()
    }

    /// The VMA tree is looked at (`write` false) or changed.
    pub fn touch_vmas(&self, write: bool) {
        crate::footprint::access(self.hdr.id(), write);
    }

    /// The page table entry of `page` is looked at or changed.
    pub fn touch_pte(&self, page: u64, write: bool) {
        crate::footprint::access(crate::footprint::pte_key(self.hdr.id(), page), write);
    }

    /// `mmgrab`.
    pub fn grab(&self) {
        crate::sched::fine_point("atomic");
        crate::footprint::access(self.hdr.id(), true);
        self.mm_count.fetch_add(1, Ordering::AcqRel);
    }

    /// `mmdrop`: the last reference frees the structure.
    pub fn drop_ref(&self) {
        crate::sched::fine_point("atomic");
        crate::footprint::access(self.hdr.id(), true);
        if self.mm_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.kernel.objs.release(&self.hdr);
        }
    }

    /// `exit_mm` of the owning process: `mmput` (the last user tears the
    /// address space down, `exit_mmap`) then the process's `mmdrop`.
    pub fn exit(&self) {
        {
            let mut g = self.lock();
            self.touch_vmas(true);
            let pages: Vec<u64> = g.ptes.keys().copied().collect();
            for p in pages {
                self.touch_pte(p, true);
            }
            g.exited = true;
            g.ptes.clear();
            // Registrations hold no context reference: dropping the VMAs
            // only forgets the pointers.
            g.vmas.clear();
        }
        self.drop_ref();
    }
}

impl MmInner {
    /// `find_vma` for an address inside a VMA (`vma_lookup`).
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas.range(..=addr).next_back().map(|(_, v)| v).filter(|v| v.end > addr)
    }

    /// Start addresses of the VMAs intersecting `[start, end)`, in order.
    pub fn vmas_in(&self, start: u64, end: u64) -> smallvec::SmallVec<[u64; 4]> {
        let mut out = smallvec::SmallVec::new();
        if let Some(v) = self.vma_at(start) {
            out.push(v.start);
        }
        for (&s, _) in self.vmas.range(start..end) {
            if out.last() != Some(&s) {
                out.push(s);
            }
        }
        out
    }

    /// Make `addr` a VMA boundary if it falls inside one (`split_vma`).
    pub fn split_at(&mut self, addr: u64) {
        let Some(v) = self.vma_at(addr) else { return };
        if v.start == addr {
            return;
        }
        let mut right = v.clone();
        let left_start = v.start;
        right.start = addr;
        if let Some(l) = self.vmas.get_mut(&left_start) {
            l.end = addr;
        }
        self.vmas.insert(addr, right);
    }

    /// Merge neighbouring VMAs with the same protection and registration
    /// (`vma_merge`).
    pub fn merge_all(&mut self) {
        let Some(mut cur) = self.vmas.keys().next().copied() else { return };
        // Walk the neighbours in address order: absorb the next VMA into
        // the current one while they merge, else move on to it.
        while let Some((&k, b)) = self.vmas.range(cur + 1..).next() {
            if !self.vmas[&cur].mergeable(b) {
                cur = k;
                continue;
            }
            let b = self.vmas.remove(&k).expect("vma");
            if let Some(a) = self.vmas.get_mut(&cur) {
                a.end = b.end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{PROT_READ, PROT_WRITE, UFFDIO_API, UFFDIO_REGISTER};
    use crate::task::Task;
    use crate::vfs::file::IoctlArg;

    fn setup() -> (Arc<Kernel>, Task) {
        Task::single(Default::default())
    }

    fn vmas(mm: &MmStruct) -> Vec<(u64, u64, u32, bool)> {
        mm.lock().vmas.values().map(|v| (v.start, v.end, v.prot, v.uffd.is_some())).collect()
    }

    /// A memset far beyond the simulator's page limit ends in SIGBUS (the
    /// VM_FAULT_OOM stand-in) after MAX_PTES pages instead of exhausting
    /// the host's memory; the pages written so far stay written.
    #[test]
    fn page_limit_is_sigbus_not_host_oom() {
        let (_k, t) = setup();
        let mm = &t.proc().unwrap().mm;
        let len = 1u64 << 44;
        let a = mmap::do_mmap(mm, len, PROT_READ | PROT_WRITE).unwrap();
        assert_eq!(memory::memset_user(mm, a, 1, len), Err(memory::Fault::Signal(Signal::SIGBUS)));
        assert_eq!(mm.lock().ptes.len(), MAX_PTES);
        assert_eq!(memory::memset_user(mm, a, 2, 8), Ok(()), "a populated page is still writable");
    }

    /// `PROT_EXEC` alone: with protection keys an execute-only VMA (loads
    /// fault, and it does not merge with a readable neighbour), without
    /// them readable; a store faults either way. Exactly `PROT_EXEC` only:
    /// `PROT_EXEC | PROT_SEM` is readable even with protection keys.
    #[test]
    fn prot_exec_alone_follows_the_machine() {
        use crate::abi::{PROT_EXEC, PROT_SEM};
        let fault: Result<u64, _> = Err(memory::Fault::Signal(Signal::SIGSEGV));
        for pkeys in [false, true] {
            let k = Kernel::on(Default::default(), crate::Machine { pkeys, ..crate::Machine::DEFAULT });
            let p = crate::Process::new(&k, "main");
            let mm = &p.mm;
            let x = mmap::do_mmap(mm, PAGE_SIZE, PROT_EXEC).unwrap();
            assert_eq!(memory::load(mm, x), if pkeys { fault } else { Ok(0) }, "pkeys={pkeys}");
            assert_eq!(memory::memset_user(mm, x, 1, 1), Err(memory::Fault::Signal(Signal::SIGSEGV)));
            // Only exactly PROT_EXEC is execute-only: with PROT_SEM the
            // same protection is readable, and a different pkey keeps the
            // two VMAs apart.
            let a = mmap::do_mmap(mm, PAGE_SIZE, PROT_EXEC | PROT_SEM).unwrap();
            assert_eq!(a + PAGE_SIZE, x);
            assert_eq!(memory::load(mm, a), Ok(0));
            assert_eq!(vmas(mm).len(), if pkeys { 2 } else { 1 }, "pkeys={pkeys}");
            mprotect::do_mprotect(mm, x, PAGE_SIZE, PROT_READ | PROT_EXEC).unwrap();
            assert_eq!(memory::load(mm, x), Ok(0), "PROT_READ | PROT_EXEC is readable again");
            mprotect::do_mprotect(mm, a, 2 * PAGE_SIZE, PROT_EXEC).unwrap();
            assert_eq!(memory::load(mm, a), if pkeys { fault } else { Ok(0) });
        }
    }

    #[test]
    fn top_down_allocation_and_merge() {
        let (_k, t) = setup();
        let mm = &t.proc().unwrap().mm;
        let a = mmap::do_mmap(mm, PAGE_SIZE, PROT_READ | PROT_WRITE).unwrap();
        let b = mmap::do_mmap(mm, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE).unwrap();
        assert_eq!(a, MMAP_BASE - PAGE_SIZE);
        assert_eq!(b, a - 2 * PAGE_SIZE, "the next mapping goes right below");
        assert_eq!(vmas(mm), vec![(b, MMAP_BASE, 3, false)], "same protection: one VMA");
        mprotect::do_mprotect(mm, b + PAGE_SIZE, PAGE_SIZE, PROT_READ).unwrap();
        assert_eq!(vmas(mm).len(), 3, "mprotect of the middle page splits in three");
        mprotect::do_mprotect(mm, b + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE).unwrap();
        assert_eq!(vmas(mm).len(), 1, "and restoring it merges them back");
        mmap::do_munmap(mm, b + PAGE_SIZE, PAGE_SIZE).unwrap();
        assert_eq!(vmas(mm).len(), 2);
        // The hole is the highest gap that fits one page.
        assert_eq!(mmap::do_mmap(mm, PAGE_SIZE, PROT_READ).unwrap(), b + PAGE_SIZE);
    }

    #[test]
    fn registration_splits_and_merges_vmas() {
        let (k, t) = setup();
        let p = t.proc().unwrap().clone();
        let a = mmap::do_mmap(&p.mm, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE).unwrap();
        let fd = crate::userfaultfd::do_userfaultfd(&t, crate::abi::O_NONBLOCK).unwrap();
        let f = p.files.fget(fd as i64).unwrap();
        let arg = |fields: &[(&str, u64)]| IoctlArg {
            int: None,
            fields: fields.iter().map(|(n, v)| (n.to_string().into(), *v)).collect(),
        };
        f.ops().ioctl(&f, UFFDIO_API, &arg(&[("api", 0xaa)])).unwrap();
        let reg =
            |start| f.ops().ioctl(&f, UFFDIO_REGISTER, &arg(&[("start", start), ("len", PAGE_SIZE), ("mode", 1)]));
        reg(a).unwrap();
        assert_eq!(vmas(&p.mm), vec![(a, a + PAGE_SIZE, 3, true), (a + PAGE_SIZE, a + 2 * PAGE_SIZE, 3, false)]);
        reg(a + PAGE_SIZE).unwrap();
        assert_eq!(vmas(&p.mm), vec![(a, a + 2 * PAGE_SIZE, 3, true)]);
        drop(f);
        // The process exits: the address space goes first; the context
        // still holds the mm_struct until the fd is closed.
        p.mm.exit();
        assert!(!p.mm.hdr.is_released(), "the userfaultfd context holds an mm_count reference");
        p.files.close_all();
        assert!(p.mm.hdr.is_released());
        assert!(k.objs.live().is_empty(), "{:?}", k.objs.live());
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    }

    #[test]
    fn faults_without_userfaultfd() {
        let (_k, t) = setup();
        let mm = &t.proc().unwrap().mm;
        let a = mmap::do_mmap(mm, PAGE_SIZE, PROT_READ).unwrap();
        assert_eq!(memory::load(mm, a), Ok(0));
        assert!(matches!(mm.lock().ptes.get(&a), Some(Pte::Zero { uffd_wp: false })), "a read maps the zero page");
        assert_eq!(memory::store(mm, a, 1), Err(memory::Fault::Signal(Signal::SIGSEGV)));
        mprotect::do_mprotect(mm, a, PAGE_SIZE, PROT_READ | PROT_WRITE).unwrap();
        assert_eq!(memory::store(mm, a, 1), Ok(()));
        assert!(matches!(mm.lock().ptes.get(&a), Some(Pte::Page { .. })), "a write copies the zero page");
        assert_eq!(memory::load(mm, a + PAGE_SIZE), Err(memory::Fault::Signal(Signal::SIGSEGV)));
    }
}
