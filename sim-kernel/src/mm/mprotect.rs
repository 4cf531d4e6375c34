//! `mprotect` (`mm/mprotect.c`: `do_mprotect_pkey`).
//!
//! A userfaultfd registration survives a protection change (the VMA keeps
//! `vm_userfaultfd_ctx`); pages keep their contents and uffd-wp bits. With
//! protection keys, exactly `PROT_EXEC` makes the range execute-only and
//! any other protection makes it ordinary again
//! (`__arch_override_mprotect_pkey`).

use super::{page_align, MmStruct, PAGE_MASK};
use crate::abi::{PROT_EXEC, PROT_READ, PROT_SEM, PROT_WRITE};
use crate::errno::{Errno, KResult};

/// `PROT_GROWSDOWN`/`PROT_GROWSUP` (stripped before validation).
const PROT_GROWSDOWN: u32 = 0x0100_0000;
const PROT_GROWSUP: u32 = 0x0200_0000;

/// `mprotect(start, len, prot)`, checks in Linux's order: both GROWS bits:
/// EINVAL; unaligned `start`: EINVAL; `len` 0: 0; wrap: ENOMEM; `prot`
/// bits beyond READ|WRITE|EXEC|SEM (`arch_validate_prot`): EINVAL; `start`
/// not mapped: ENOMEM; a hole in the range: ENOMEM after changing the VMAs
/// before it (Linux applies the change VMA by VMA).
pub fn do_mprotect(mm: &MmStruct, start: u64, len: u64, prot: u32) -> KResult<()> {
    let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    let prot = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
    if grows == (PROT_GROWSDOWN | PROT_GROWSUP) {
        return Err(Errno::EINVAL);
    }
    if start & !PAGE_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(());
    }
    let len = page_align(len).ok_or(Errno::ENOMEM)?;
    let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end <= start {
        return Err(Errno::ENOMEM);
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
        return Err(Errno::EINVAL);
    }
    // mmap_write_lock + vma_start_write: wait for faults in their window.
    let Ok(_vmas_locked) = mm.vma_write_wait() else {
        return Err(Errno::EINTR);
    };
    let mut g = mm.lock();
    mm.touch_vmas(true);
    let first = match g.vma_at(start) {
        Some(v) => v.start,
        None => return Err(Errno::ENOMEM),
    };
    let _ = first;
    g.split_at(start);
    g.split_at(end);
    let exec_only = super::exec_only(prot, &mm.kernel.machine);
    let mut tmp = start;
    let mut err = Ok(());
    for s in g.vmas_in(start, end) {
        if s != tmp {
            err = Err(Errno::ENOMEM);
            break;
        }
        let v = g.vmas.get_mut(&s).expect("vma in range");
        v.prot = prot & crate::abi::PROT_MASK;
        v.exec_only = exec_only;
        tmp = v.end;
    }
    if err.is_ok() && tmp < end {
        err = Err(Errno::ENOMEM);
    }
    g.merge_all();
    err
}
