//! `mmap` and `munmap` of anonymous private memory (`mm/mmap.c`,
//! `mm/vma.c`, `mm/util.c`): argument checks in Linux's order, the
//! top-down address allocator (`unmapped_area_topdown`), VMA split and
//! merge, and the page-table teardown of `munmap`.
//!
//! Only `MAP_PRIVATE | MAP_ANONYMOUS` without a hint exists (the scenario
//! call is `mmap(LEN[, PROT])`). Unmapping a registered range sends no
//! `UFFD_EVENT_UNMAP` (that feature's events are not modelled): a fault
//! waiting in it stays queued until woken and then retries into SIGSEGV,
//! as in Linux without `UFFD_FEATURE_EVENT_UNMAP`.

use super::{page_align, MmStruct, Vma, MMAP_BASE, MMAP_MIN_ADDR, PAGE_MASK, PAGE_SIZE, TASK_SIZE};
use crate::errno::{Errno, KResult};

/// `mmap(NULL, len, prot, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`: `len == 0`:
/// EINVAL; `PAGE_ALIGN(len)` overflowing or above TASK_SIZE, or no gap
/// left: ENOMEM. Unknown `prot` bits are ignored, as `do_mmap` does.
/// Returns the page-aligned start.
pub fn do_mmap(mm: &MmStruct, len: u64, prot: u32) -> KResult<u64> {
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_align(len).ok_or(Errno::ENOMEM)?;
    if len == 0 || len > TASK_SIZE {
        return Err(Errno::ENOMEM);
    }
    // mmap_write_lock: another writer (an UNREGISTER, a munmap) and the
    // faults holding it for reading go first. A new VMA has no VMA readers:
    // no vma_start_write.
    let Ok(_mmap_locked) = mm.mmap_write_lock() else {
        return Err(Errno::EINTR);
    };
    let mut g = mm.lock();
    if g.exited {
        return Err(Errno::ENOMEM);
    }
    mm.touch_vmas(true);
    // unmapped_area_topdown: the highest gap below mmap_base that fits.
    let mut top = MMAP_BASE;
    let mut addr = None;
    for (_, v) in g.vmas.range(..MMAP_BASE).rev() {
        if v.end <= top && top - v.end >= len {
            addr = Some(top - len);
            break;
        }
        top = top.min(v.start);
    }
    let addr = match addr {
        Some(a) => a,
        None if top >= MMAP_MIN_ADDR + len => top - len,
        None => return Err(Errno::ENOMEM),
    };
    let exec_only = super::exec_only(prot, &mm.kernel.machine);
    g.vmas
        .insert(addr, Vma { start: addr, end: addr + len, prot: prot & crate::abi::PROT_MASK, exec_only, uffd: None });
    g.merge_all();
    Ok(addr)
}

/// `munmap(addr, len)` (`__vm_munmap`): unaligned `addr`, a range beyond
/// TASK_SIZE, or `len` 0: EINVAL. Unmapping nothing is 0. The pages go
/// with the VMAs.
pub fn do_munmap(mm: &MmStruct, addr: u64, len: u64) -> KResult<()> {
    if addr & !PAGE_MASK != 0 || addr > TASK_SIZE || len > TASK_SIZE - addr {
        return Err(Errno::EINVAL);
    }
    let len = page_align(len).ok_or(Errno::EINVAL)?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr + len;
    // mmap_write_lock + vma_start_write: wait for faults in their window.
    let Ok(_vmas_locked) = mm.vma_write_wait() else {
        return Err(Errno::EINTR);
    };
    let mut g = mm.lock();
    mm.touch_vmas(true);
    if g.vmas_in(addr, end).is_empty() {
        return Ok(());
    }
    g.split_at(addr);
    g.split_at(end);
    for s in g.vmas_in(addr, end) {
        g.vmas.remove(&s);
    }
    let pages: Vec<u64> = g.ptes.range(addr..end).map(|(&p, _)| p).collect();
    for p in pages {
        mm.touch_pte(p, true);
        g.ptes.remove(&p);
    }
    g.merge_all();
    Ok(())
}

/// The page addresses of `[addr, addr + len)`.
pub fn pages(addr: u64, len: u64) -> impl Iterator<Item = u64> {
    let first = addr & PAGE_MASK;
    let end = addr.saturating_add(len);
    (0..).map(move |i| first + i * PAGE_SIZE).take_while(move |&p| p < end)
}
