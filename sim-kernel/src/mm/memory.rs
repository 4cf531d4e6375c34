//! The page-fault path and user memory accesses (`mm/memory.c`:
//! `handle_mm_fault`, `do_anonymous_page`, `do_wp_page`,
//! `handle_pte_marker`; `arch/x86/mm/fault.c`: `access_error`).
//!
//! A user access ([`load`], [`store`], [`memset_user`]) goes page by page.
//! For each page it runs [`fault_page`] until the page table lets the access
//! through, then does it under the same lock:
//!
//! - no VMA, or the VMA's protection forbids the access: SIGSEGV;
//! - a poison marker: SIGBUS;
//! - an empty entry (or a uffd-wp marker) in a range registered MISSING:
//!   `handle_userfault(VM_UFFD_MISSING)`; otherwise a read maps the zero page
//!   and a write a new zeroed page;
//! - a write to a present entry with the uffd-wp bit in a range registered
//!   WP: `handle_userfault(VM_UFFD_WP)` (or, with `UFFD_FEATURE_WP_ASYNC`,
//!   the bit is cleared and the write goes on); a write to the zero page
//!   copies it.
//!
//! `handle_userfault` ([`crate::userfaultfd::handle_userfault`]) either
//! answers SIGBUS (`UFFD_FEATURE_SIGBUS`) or sleeps until the fault is
//! resolved or woken, and the access then starts over, as the CPU re-runs
//! the faulting instruction after `VM_FAULT_RETRY`.

use super::{FaultLock, MmInner, MmStruct, Pte, Vma, PAGE_MASK, PAGE_SIZE, VM_UFFD_MISSING, VM_UFFD_WP};
use crate::sync::Arc;
use crate::userfaultfd::UserfaultfdCtx;
use crate::userfaultfd::{handle_userfault, FaultOutcome};

/// A signal an access ends in: a result token like an errno, with the
/// Linux signal number (`include/uapi/asm-generic/signal.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Signal {
    SIGBUS = 7,
    SIGSEGV = 11,
}

impl Signal {
    pub const ALL: &'static [Signal] = &[Signal::SIGBUS, Signal::SIGSEGV];

    pub const fn name(self) -> &'static str {
        match self {
            Signal::SIGBUS => "SIGBUS",
            Signal::SIGSEGV => "SIGSEGV",
        }
    }

    pub fn from_name(name: &str) -> Option<Signal> {
        Signal::ALL.iter().copied().find(|s| s.name() == name)
    }

    pub const fn number(self) -> u32 {
        self as u32
    }
}

/// How an access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Signal(Signal),
    /// The task was killed while it slept in the fault (teardown).
    Killed,
}

pub type FaultResult<T> = Result<T, Fault>;

/// What the page table says about one access.
enum Step {
    /// The access can go through now.
    Ready,
    Segv,
    Bus,
    /// Hand the fault to userspace.
    Userfault(Arc<UserfaultfdCtx>, u32),
}

/// `access_error`: reads need any access, writes need PROT_WRITE.
fn access_ok(v: &Vma, write: bool) -> bool {
    if write {
        v.writable()
    } else {
        v.readable()
    }
}

/// One pass of `handle_mm_fault` for the page of `addr`, under the lock:
/// fill in what needs no userspace, say what is left.
fn resolve(mm: &MmStruct, g: &mut MmInner, addr: u64, write: bool) -> Step {
    mm.touch_vmas(false);
    let page = addr & PAGE_MASK;
    let Some(vma) = g.vma_at(addr) else { return Step::Segv };
    if !access_ok(vma, write) {
        return Step::Segv;
    }
    let missing = vma.uffd_with(VM_UFFD_MISSING).map(|u| u.ctx.clone());
    let wp = vma.uffd_with(VM_UFFD_WP).map(|u| u.ctx.clone());
    mm.touch_pte(page, false);
    match g.ptes.get_mut(&page) {
        None | Some(Pte::WpMarker) => {
            let marker = g.ptes.contains_key(&page);
            // do_anonymous_page: "Deliver the page fault to userland".
            if let Some(ctx) = missing {
                return Step::Userfault(ctx, VM_UFFD_MISSING);
            }
            // A leftover marker outside a WP range is simply cleared
            // (pte_marker_handle_uffd_wp); inside one the new entry keeps
            // the uffd-wp bit.
            let keep_wp = marker && wp.is_some();
            if !marker && g.ptes.len() >= super::MAX_PTES {
                // VM_FAULT_OOM (a simulator limit: see MAX_PTES).
                super::hit_limit();
                return Step::Bus;
            }
            mm.touch_pte(page, true);
            let pte = if write {
                Pte::Page { data: vec![0u8; PAGE_SIZE as usize].into_boxed_slice(), uffd_wp: keep_wp }
            } else {
                Pte::Zero { uffd_wp: keep_wp }
            };
            g.ptes.insert(page, pte);
            if keep_wp && write {
                // The new page is write-protected: the write faults again.
                return resolve(mm, g, addr, write);
            }
            Step::Ready
        }
        Some(Pte::Poison) => Step::Bus,
        Some(pte) => {
            if !write {
                return Step::Ready;
            }
            if pte.uffd_wp() {
                if let Some(ctx) = wp {
                    if ctx.wp_async() {
                        // UFFD_FEATURE_WP_ASYNC: resolved in the kernel.
                        mm.touch_pte(page, true);
                        pte.set_uffd_wp(false);
                    } else {
                        return Step::Userfault(ctx, VM_UFFD_WP);
                    }
                } else {
                    // The range was unregistered: the bit is stale.
                    mm.touch_pte(page, true);
                    pte.set_uffd_wp(false);
                }
            }
            if matches!(pte, Pte::Zero { .. }) {
                // do_wp_page on the zero page: copy on write.
                mm.touch_pte(page, true);
                *pte = Pte::Page { data: vec![0u8; PAGE_SIZE as usize].into_boxed_slice(), uffd_wp: false };
            }
            Step::Ready
        }
    }
}

/// Fault the page of `addr` in for a read or a write and run `op` on its
/// bytes (`None`: the zero page, for reads) under the same lock.
pub fn fault_page<R>(
    mm: &MmStruct,
    addr: u64,
    write: bool,
    mut op: impl FnMut(Option<&mut [u8]>) -> R,
) -> FaultResult<R> {
    let page = addr & PAGE_MASK;
    // arch/x86/mm/fault.c do_user_addr_fault: the first attempt runs under
    // the VMA lock (lock_vma_under_rcu); a retry (VM_FAULT_RETRY from
    // handle_userfault), or the fallback when the VMA is write-locked,
    // runs under mmap_read_lock, which waits for a writer holding
    // mmap_lock (an UNREGISTER from before its wake-up until its clearing).
    let mut mmap_path = false;
    loop {
        if mmap_path && mm.mmap_read_lock().is_err() {
            return Err(Fault::Killed);
        }
        let mut g = mm.lock();
        let step = resolve(mm, &mut g, addr, write);
        let done = match step {
            Step::Ready => {
                mm.touch_pte(page, write);
                Ok(match g.ptes.get_mut(&page) {
                    Some(Pte::Page { data, .. }) => op(Some(data)),
                    _ => op(None),
                })
            }
            Step::Segv => Err(Fault::Signal(Signal::SIGSEGV)),
            Step::Bus => Err(Fault::Signal(Signal::SIGBUS)),
            Step::Userfault(ctx, reason) => {
                let lock = if mmap_path {
                    FaultLock::Mmap
                } else if mm.vma_read_trylock() {
                    // The VMA lock, taken with the registration seen.
                    FaultLock::Vma
                } else {
                    // Write-locked: fall back to mmap_read_lock.
                    drop(g);
                    mmap_path = true;
                    continue;
                };
                drop(g);
                // handle_userfault drops the lock (release_fault_lock).
                match handle_userfault(&ctx, mm, addr, write, reason, lock) {
                    FaultOutcome::Sigbus => return Err(Fault::Signal(Signal::SIGBUS)),
                    FaultOutcome::Retry => {
                        mmap_path = true;
                        continue;
                    }
                    FaultOutcome::NoPage => {
                        // Back to user space and faulting anew, until the
                        // release clears the range: a spin, which at lock
                        // granularity lets the (preempted) release run.
                        crate::sched::spin_point("fault:retry");
                        mmap_path = false;
                        continue;
                    }
                    FaultOutcome::Killed => return Err(Fault::Killed),
                }
            }
        };
        drop(g);
        if mmap_path {
            mm.mmap_read_unlock();
        }
        return done;
    }
}

/// Read `len` bytes at `addr`, page by page.
pub fn copy_from_user(mm: &MmStruct, addr: u64, len: u64) -> FaultResult<Vec<u8>> {
    let mut out = Vec::with_capacity(len as usize);
    let end = addr.checked_add(len).ok_or(Fault::Signal(Signal::SIGSEGV))?;
    let mut a = addr;
    while a < end {
        let off = (a & !PAGE_MASK) as usize;
        let n = ((PAGE_SIZE - (a & !PAGE_MASK)).min(end - a)) as usize;
        fault_page(mm, a, false, |d| match d {
            Some(d) => out.extend_from_slice(&d[off..off + n]),
            None => out.resize(out.len() + n, 0),
        })?;
        a += n as u64;
    }
    Ok(out)
}

/// Write `data` at `addr`, page by page (the pages before a fault keep what
/// was written).
pub fn copy_to_user(mm: &MmStruct, addr: u64, data: &[u8]) -> FaultResult<()> {
    let end = addr.checked_add(data.len() as u64).ok_or(Fault::Signal(Signal::SIGSEGV))?;
    let mut a = addr;
    while a < end {
        let off = (a & !PAGE_MASK) as usize;
        let n = ((PAGE_SIZE - (a & !PAGE_MASK)).min(end - a)) as usize;
        let from = (a - addr) as usize;
        fault_page(mm, a, true, |d| {
            if let Some(d) = d {
                d[off..off + n].copy_from_slice(&data[from..from + n]);
            }
        })?;
        a += n as u64;
    }
    Ok(())
}

/// `load(addr)`: the little-endian u64 at `addr`.
pub fn load(mm: &MmStruct, addr: u64) -> FaultResult<u64> {
    let b = copy_from_user(mm, addr, 8)?;
    Ok(u64::from_le_bytes(b[..8].try_into().expect("8 bytes")))
}

/// `store(addr, value)`: the little-endian u64 at `addr`.
pub fn store(mm: &MmStruct, addr: u64, value: u64) -> FaultResult<()> {
    copy_to_user(mm, addr, &value.to_le_bytes())
}

/// `memset(addr, byte, len)`, page by page.
pub fn memset_user(mm: &MmStruct, addr: u64, byte: u8, len: u64) -> FaultResult<()> {
    let end = addr.checked_add(len).ok_or(Fault::Signal(Signal::SIGSEGV))?;
    let mut a = addr;
    while a < end {
        let off = (a & !PAGE_MASK) as usize;
        let n = ((PAGE_SIZE - (a & !PAGE_MASK)).min(end - a)) as usize;
        fault_page(mm, a, true, |d| {
            if let Some(d) = d {
                d[off..off + n].fill(byte);
            }
        })?;
        a += n as u64;
    }
    Ok(())
}

/// Whether a fault for `reason` at `addr` must still wait
/// (`userfaultfd_must_wait`): MISSING while the entry is empty (or only a
/// marker), WP while the entry is write-protected or empty.
pub fn userfaultfd_must_wait(mm: &MmStruct, addr: u64, reason: u32) -> bool {
    let g = mm.lock();
    let page = addr & PAGE_MASK;
    mm.touch_pte(page, false);
    match g.ptes.get(&page) {
        None => true,
        Some(p) if p.none_mostly() => true,
        Some(p) => reason & VM_UFFD_WP != 0 && p.uffd_wp(),
    }
}
