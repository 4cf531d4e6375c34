//! The memory side of userfaultfd (`mm/userfaultfd.c`, and the range
//! registration that current Linux keeps there): registering and
//! unregistering VMAs, resolving faults by filling pages (`mfill_atomic`:
//! UFFDIO_COPY, ZEROPAGE, CONTINUE, POISON), UFFDIO_MOVE and
//! `mwriteprotect_range`.
//!
//! Each ioctl checks its arguments in Linux's order, fills page by page,
//! and reports `copied` bytes if any page was done, else the errno; the
//! `fs/userfaultfd.c` wrapper turns a short count into EAGAIN and wakes the
//! faults in the filled range unless asked not to.
//!
//! Anonymous private memory only: MINOR registration and CONTINUE (which
//! need shmem or hugetlbfs) fail with EINVAL, as on such memory in Linux.

use super::{MmInner, MmStruct, Pte, Vma, VmaUffd, PAGE_MASK, PAGE_SIZE, VM_UFFD_MINOR, VM_UFFD_MISSING, VM_UFFD_WP};
use crate::abi::{
    _UFFDIO_CONTINUE, _UFFDIO_WRITEPROTECT, UFFDIO_COPY_MODE_DONTWAKE, UFFDIO_COPY_MODE_WP,
    UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, UFFDIO_MOVE_MODE_DONTWAKE, UFFDIO_REGISTER_MODE_MINOR,
    UFFDIO_REGISTER_MODE_MISSING, UFFDIO_REGISTER_MODE_WP, UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
    UFFDIO_WRITEPROTECT_MODE_WP, UFFDIO_ZEROPAGE_MODE_DONTWAKE, UFFD_API_RANGE_IOCTLS,
};
use crate::errno::{Errno, KResult};
use crate::sched;
use crate::sync::Arc;
use crate::userfaultfd::{validate_range, validate_unaligned_range, wake_userfault, UserfaultfdCtx};

fn same_ctx(u: &Option<VmaUffd>, ctx: &Arc<UserfaultfdCtx>) -> bool {
    u.as_ref().is_some_and(|u| Arc::ptr_eq(&u.ctx, ctx))
}

/// `userfaultfd_register` (`fs/userfaultfd.c`) with
/// `userfaultfd_register_range`: returns the `ioctls` mask of the range.
pub fn userfaultfd_register(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, mode: u64) -> KResult<u64> {
    if mode == 0 || mode & !(UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MINOR) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut vm_flags = 0;
    if mode & UFFDIO_REGISTER_MODE_MISSING != 0 {
        vm_flags |= VM_UFFD_MISSING;
    }
    if mode & UFFDIO_REGISTER_MODE_WP != 0 {
        vm_flags |= VM_UFFD_WP;
    }
    if mode & UFFDIO_REGISTER_MODE_MINOR != 0 {
        vm_flags |= VM_UFFD_MINOR;
    }
    validate_range(start, len)?;
    let end = start + len;
    let mm = &ctx.mm;
    // mmap_write_lock + vma_start_write: wait for faults in their window.
    let Ok(_vmas_locked) = mm.vma_write_wait() else {
        return Err(Errno::EINTR);
    };
    let mut g = mm.lock();
    if g.exited {
        return Err(Errno::ENOMEM);
    }
    mm.touch_vmas(true);
    let vmas = g.vmas_in(start, end);
    if vmas.is_empty() {
        return Err(Errno::EINVAL);
    }
    for s in &vmas {
        let cur = &g.vmas[s];
        // vma_can_userfault: MINOR needs shmem or hugetlbfs; anonymous
        // memory takes MISSING and WP.
        if vm_flags & VM_UFFD_MINOR != 0 {
            return Err(Errno::EINVAL);
        }
        // Anonymous private mappings always have VM_MAYWRITE: no EPERM.
        if cur.uffd.is_some() && !same_ctx(&cur.uffd, ctx) {
            return Err(Errno::EBUSY);
        }
    }
    g.split_at(start);
    g.split_at(end);
    for s in g.vmas_in(start, end) {
        let v = g.vmas.get_mut(&s).expect("vma in range");
        // userfaultfd_register_range: "Nothing to do: this vma is already
        // registered into this userfaultfd and with the right tracking mode
        // too" -- a VMA whose modes include the requested ones keeps them
        // all (registering MISSING over MISSING|WP leaves WP on, as on the
        // host); otherwise the requested modes replace the old ones.
        if same_ctx(&v.uffd, ctx) && v.uffd.as_ref().is_some_and(|u| u.flags & vm_flags == vm_flags) {
            continue;
        }
        v.uffd = Some(VmaUffd { ctx: ctx.clone(), flags: vm_flags });
    }
    g.merge_all();
    let mut ioctls = UFFD_API_RANGE_IOCTLS;
    if mode & UFFDIO_REGISTER_MODE_MINOR == 0 {
        ioctls &= !(1 << _UFFDIO_CONTINUE);
    }
    if mode & UFFDIO_REGISTER_MODE_WP == 0 {
        ioctls &= !(1 << _UFFDIO_WRITEPROTECT);
    }
    Ok(ioctls)
}

/// `userfaultfd_clear_vma` on `[start, end)` of the VMA starting at `s`:
/// the uffd-wp bits and markers go, then the registration.
fn clear_range(mm: &MmStruct, g: &mut MmInner, start: u64, end: u64) {
    let pages: Vec<u64> = g.ptes.range(start..end).map(|(&p, _)| p).collect();
    for p in pages {
        let drop_marker = matches!(g.ptes.get(&p), Some(Pte::WpMarker));
        if drop_marker {
            mm.touch_pte(p, true);
            g.ptes.remove(&p);
        } else if let Some(pte) = g.ptes.get_mut(&p) {
            if pte.uffd_wp() {
                mm.touch_pte(p, true);
                pte.set_uffd_wp(false);
            }
        }
    }
    for s in g.vmas_in(start, end) {
        if let Some(v) = g.vmas.get_mut(&s) {
            v.uffd = None;
        }
    }
}

/// `userfaultfd_unregister`: a bad range: EINVAL; the mm gone: ENOMEM; no
/// VMA in the range, or a VMA registered to another context: EINVAL.
/// Unregistered VMAs are skipped; faults waiting in MISSING ranges are
/// woken first "so they will not hang permanently".
///
/// As in Linux, the wake-up comes before `userfaultfd_clear_vma`
/// write-locks the VMAs (`vma_start_write`, which waits for the faults
/// holding them for reading): a fault that has seen the registration but
/// not queued yet is not woken, queues after the wake-up and sleeps (the
/// entry is still empty) until a later wake-up, fill or release.
pub fn userfaultfd_unregister(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64) -> KResult<()> {
    validate_range(start, len)?;
    let end = start + len;
    let mm = &ctx.mm;
    // mmap_write_lock, held until the range is cleared: another writer
    // goes first, and a fault woken below that faults again takes
    // mmap_read_lock and waits for the clearing (it then finds the range
    // unregistered). Faults that hold only the VMA lock go on.
    let Ok(mmap_locked) = mm.mmap_write_lock() else {
        return Err(Errno::EINTR);
    };
    let mut wakes = Vec::new();
    {
        let g = mm.lock();
        if g.exited {
            return Err(Errno::ENOMEM);
        }
        mm.touch_vmas(true);
        let vmas = g.vmas_in(start, end);
        if vmas.is_empty() {
            return Err(Errno::EINVAL);
        }
        for s in &vmas {
            let cur = &g.vmas[s];
            if cur.uffd.is_some() && !same_ctx(&cur.uffd, ctx) {
                return Err(Errno::EINVAL);
            }
        }
        for s in vmas {
            let v = &g.vmas[&s];
            let Some(u) = &v.uffd else { continue };
            let (a, b) = (start.max(v.start), end.min(v.end));
            if u.flags & VM_UFFD_MISSING != 0 {
                wakes.push((a, b - a));
            }
        }
    }
    for (a, l) in wakes {
        wake_userfault(ctx, a, l);
    }
    // vma_start_write: wait for the faults that hold the VMA lock. While
    // this sleeps no other VMA writer, fault or fill can get in (mmap_lock
    // is held for writing, the VMAs are marked write-locked), so the VMAs
    // seen above are still there.
    if mmap_locked.vma_start_write().is_err() {
        return Err(Errno::EINTR);
    }
    let mut g = mm.lock();
    mm.touch_vmas(true);
    g.split_at(start);
    g.split_at(end);
    clear_range(mm, &mut g, start, end);
    g.merge_all();
    Ok(())
}

/// `userfaultfd_release_all`: unregister every VMA of the context (if the
/// address space still exists).
pub fn userfaultfd_release_all(ctx: &Arc<UserfaultfdCtx>) {
    let mm = &ctx.mm;
    // mmap_write_lock + vma_start_write of each VMA (userfaultfd_clear_vma):
    // wait for faults in their window. Killed (teardown): nothing to clear
    // that the exit will not drop.
    let Ok(_vmas_locked) = mm.vma_write_wait() else {
        return;
    };
    let mut g = mm.lock();
    if g.exited {
        return;
    }
    mm.touch_vmas(true);
    let ranges: Vec<(u64, u64)> =
        g.vmas.values().filter(|v| same_ctx(&v.uffd, ctx)).map(|v| (v.start, v.end)).collect();
    for (a, b) in ranges {
        clear_range(mm, &mut g, a, b);
    }
    g.merge_all();
}

/// What `mfill_atomic` installs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    Copy { src: u64, wp: bool },
    Zeropage,
    Continue { wp: bool },
    Poison,
}

/// Read one source page for UFFDIO_COPY without faulting it in: an
/// unmapped or inaccessible source is EFAULT (what the retried
/// `copy_from_user` gives), an empty entry reads zeros.
fn peek_page(mm: &MmStruct, g: &MmInner, src: u64) -> KResult<Vec<u8>> {
    let mut out = Vec::with_capacity(PAGE_SIZE as usize);
    let mut a = src;
    let end = src + PAGE_SIZE;
    while a < end {
        let v = g.vma_at(a).ok_or(Errno::EFAULT)?;
        if !v.readable() {
            return Err(Errno::EFAULT);
        }
        let page = a & PAGE_MASK;
        let off = (a - page) as usize;
        let n = ((page + PAGE_SIZE).min(end) - a) as usize;
        mm.touch_pte(page, false);
        match g.ptes.get(&page) {
            Some(Pte::Page { data, .. }) => out.extend_from_slice(&data[off..off + n]),
            Some(Pte::Poison) => return Err(Errno::EFAULT),
            _ => out.resize(out.len() + n, 0),
        }
        a += n as u64;
    }
    Ok(out)
}

/// Check the destination VMA (`uffd_mfill_lock` + `validate_dst_vma` and
/// the mode checks of `mfill_atomic`).
fn mfill_dst_vma(g: &MmInner, dst: u64, len: u64, fill: Fill) -> KResult<()> {
    let v: &Vma = g.vma_at(dst).ok_or(Errno::ENOENT)?;
    if dst + len > v.end || v.uffd.is_none() {
        return Err(Errno::ENOENT);
    }
    let wp = matches!(fill, Fill::Copy { wp: true, .. } | Fill::Continue { wp: true });
    if wp && v.uffd.as_ref().is_some_and(|u| u.flags & VM_UFFD_WP == 0) {
        return Err(Errno::EINVAL);
    }
    if matches!(fill, Fill::Continue { .. }) {
        // CONTINUE needs shmem or hugetlbfs.
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `mfill_atomic`: fill `[dst, dst + len)` page by page. Returns the bytes
/// filled if any, else the errno (as `copied ? copied : err`).
fn mfill_atomic(ctx: &UserfaultfdCtx, dst: u64, len: u64, fill: Fill) -> Result<u64, Errno> {
    let mm = &ctx.mm;
    // uffd_mfill_lock: the VMA is read-locked; while an UNREGISTER holds it
    // write-locked the fill falls back to mmap_read_lock and waits.
    if mm.vma_wait_writer().is_err() {
        return Err(Errno::EINTR);
    }
    {
        let g = mm.lock();
        if g.exited {
            return Err(Errno::ESRCH);
        }
        mm.touch_vmas(false);
        mfill_dst_vma(&g, dst, len, fill)?;
    }
    let mut copied = 0;
    let mut err = None;
    while copied < len {
        let d = dst + copied;
        let data = match fill {
            Fill::Copy { src, .. } => {
                let g = mm.lock();
                mm.touch_vmas(false);
                match peek_page(mm, &g, src + copied) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            _ => None,
        };
        // The folio is allocated and filled outside the page table lock.
        match fill {
            Fill::Copy { .. } => sched::yield_point("uffd:copy:before_install"),
            Fill::Zeropage => sched::yield_point("uffd:zeropage:before_install"),
            _ => {}
        }
        if mm.vma_wait_writer().is_err() {
            err = Some(Errno::EINTR);
            break;
        }
        let mut g = mm.lock();
        mm.touch_vmas(false);
        // The VMA cannot change under Linux's mmap_lock; here another actor
        // may have run: check it again.
        if let Err(e) = mfill_dst_vma(&g, d, PAGE_SIZE, fill) {
            err = Some(e);
            break;
        }
        mm.touch_pte(d, true);
        // mfill_atomic_install_pte (COPY): -EEXIST unless pte_none_mostly, so
        // a copy may replace a uffd-wp marker; mfill_atomic_pte_zeropage and
        // mfill_atomic_pte_poison test pte_none: a marker is EEXIST there
        // (both checked on the host).
        let busy = match g.ptes.get(&d) {
            None => false,
            Some(p) => !p.none_mostly() || matches!(fill, Fill::Zeropage | Fill::Poison),
        };
        if busy {
            err = Some(Errno::EEXIST);
            break;
        }
        if !g.ptes.contains_key(&d) && g.ptes.len() >= super::MAX_PTES {
            // The page allocation fails (a simulator limit: see MAX_PTES).
            super::hit_limit();
            err = Some(Errno::ENOMEM);
            break;
        }
        let pte = match fill {
            Fill::Copy { wp, .. } => Pte::Page { data: data.unwrap_or_default().into_boxed_slice(), uffd_wp: wp },
            Fill::Zeropage => Pte::Zero { uffd_wp: false },
            Fill::Poison => Pte::Poison,
            Fill::Continue { .. } => unreachable!("CONTINUE fails before filling"),
        };
        g.ptes.insert(d, pte);
        copied += PAGE_SIZE;
    }
    match (copied, err) {
        (0, Some(e)) => Err(e),
        _ => Ok(copied),
    }
}

/// The `fs/userfaultfd.c` tail of COPY/ZEROPAGE/POISON/CONTINUE/MOVE: an
/// error is returned as is; else wake the filled range (unless
/// `dontwake`), and a short count is EAGAIN.
fn finish(ctx: &UserfaultfdCtx, dst: u64, len: u64, r: Result<u64, Errno>, dontwake: bool) -> KResult<u64> {
    let n = r?;
    if !dontwake && n > 0 {
        wake_userfault(ctx, dst, n);
    }
    if n == len {
        Ok(n)
    } else {
        Err(Errno::EAGAIN)
    }
}

/// The common shape of the fill ioctls (`userfaultfd_copy`,
/// `_zeropage`, `_continue`, `_poison` in fs/userfaultfd.c): the range,
/// then mode bits outside `allowed`: EINVAL; then `mfill_atomic` and the
/// wake-up unless the `dontwake` bit is set.
fn fill_ioctl(
    ctx: &UserfaultfdCtx,
    start: u64,
    len: u64,
    mode: u64,
    allowed: u64,
    dontwake: u64,
    fill: Fill,
) -> KResult<u64> {
    validate_range(start, len)?;
    if mode & !allowed != 0 {
        return Err(Errno::EINVAL);
    }
    let r = mfill_atomic(ctx, start, len, fill);
    finish(ctx, start, len, r, mode & dontwake != 0)
}

/// UFFDIO_COPY: source range, destination range, mode bits other than
/// DONTWAKE|WP: EINVAL; the mm gone: ESRCH; then `mfill_atomic`.
pub fn userfaultfd_copy(ctx: &Arc<UserfaultfdCtx>, dst: u64, src: u64, len: u64, mode: u64) -> KResult<u64> {
    validate_unaligned_range(src, len)?;
    let fill = Fill::Copy { src, wp: mode & UFFDIO_COPY_MODE_WP != 0 };
    fill_ioctl(ctx, dst, len, mode, UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP, UFFDIO_COPY_MODE_DONTWAKE, fill)
}

/// UFFDIO_ZEROPAGE: range, then mode bits other than DONTWAKE: EINVAL.
pub fn userfaultfd_zeropage(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, mode: u64) -> KResult<u64> {
    let dw = UFFDIO_ZEROPAGE_MODE_DONTWAKE;
    fill_ioctl(ctx, start, len, mode, dw, dw, Fill::Zeropage)
}

/// UFFDIO_CONTINUE: range, mode bits other than DONTWAKE|WP: EINVAL; on
/// anonymous memory the destination checks give ENOENT or EINVAL.
pub fn userfaultfd_continue(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, mode: u64) -> KResult<u64> {
    use crate::abi::{UFFDIO_CONTINUE_MODE_DONTWAKE as DW, UFFDIO_CONTINUE_MODE_WP as WP};
    fill_ioctl(ctx, start, len, mode, DW | WP, DW, Fill::Continue { wp: mode & WP != 0 })
}

/// UFFDIO_POISON: range, mode bits other than DONTWAKE: EINVAL; installs
/// poison markers (later accesses: SIGBUS).
pub fn userfaultfd_poison(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, mode: u64) -> KResult<u64> {
    let dw = crate::abi::UFFDIO_POISON_MODE_DONTWAKE;
    fill_ioctl(ctx, start, len, mode, dw, dw, Fill::Poison)
}

/// UFFDIO_WRITEPROTECT: range; mode bits other than WP|DONTWAKE, or both:
/// EINVAL; the mm gone: ESRCH; no VMA in the range or one not registered
/// WP: ENOENT (`mwriteprotect_range`). Un-protecting wakes the range unless
/// DONTWAKE.
pub fn userfaultfd_writeprotect(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, mode: u64) -> KResult<()> {
    validate_range(start, len)?;
    if mode & !(UFFDIO_WRITEPROTECT_MODE_DONTWAKE | UFFDIO_WRITEPROTECT_MODE_WP) != 0 {
        return Err(Errno::EINVAL);
    }
    let enable = mode & UFFDIO_WRITEPROTECT_MODE_WP != 0;
    let dontwake = mode & UFFDIO_WRITEPROTECT_MODE_DONTWAKE != 0;
    if enable && dontwake {
        return Err(Errno::EINVAL);
    }
    mwriteprotect_range(ctx, start, len, enable)?;
    if !enable && !dontwake {
        wake_userfault(ctx, start, len);
    }
    Ok(())
}

/// `mwriteprotect_range`: set or clear the uffd-wp bit of the present
/// entries (and, with UFFD_FEATURE_WP_UNPOPULATED, put markers on empty
/// ones), VMA by VMA; a VMA without WP registration stops it with ENOENT.
fn mwriteprotect_range(ctx: &Arc<UserfaultfdCtx>, start: u64, len: u64, enable: bool) -> KResult<()> {
    let markers = ctx.wp_use_markers();
    let mm = &ctx.mm;
    // mmap_read_lock: an UNREGISTER holding it for writing goes first.
    if mm.vma_wait_writer().is_err() {
        return Err(Errno::EINTR);
    }
    let mut g = mm.lock();
    if g.exited {
        return Err(Errno::ESRCH);
    }
    mm.touch_vmas(false);
    let end = start + len;
    let vmas = g.vmas_in(start, end);
    if vmas.is_empty() {
        return Err(Errno::ENOENT);
    }
    for s in vmas {
        let v = &g.vmas[&s];
        if v.uffd_with(VM_UFFD_WP).is_none() {
            return Err(Errno::ENOENT);
        }
        let (a, b) = (start.max(v.start), end.min(v.end));
        if (b - a) / PAGE_SIZE > super::MAX_PTES as u64 {
            // A range too long to walk page by page (a simulator limit:
            // see MAX_PTES): markers cannot fit; otherwise only populated
            // entries change, and the whole address space is touched (a
            // superset of the pages' keys) so that the explorer orders it
            // against every fault.
            if enable && markers {
                super::hit_limit();
                return Err(Errno::ENOMEM);
            }
            mm.touch_vmas(true);
            let pages: Vec<u64> = g.ptes.range(a..b).map(|(&p, _)| p).collect();
            for p in pages {
                match g.ptes.get_mut(&p) {
                    Some(Pte::WpMarker) if !enable => {
                        g.ptes.remove(&p);
                    }
                    Some(pte) => pte.set_uffd_wp(enable),
                    None => {}
                }
            }
            continue;
        }
        let mut p = a;
        while p < b {
            mm.touch_pte(p, true);
            match g.ptes.get_mut(&p) {
                Some(Pte::WpMarker) if !enable => {
                    g.ptes.remove(&p);
                }
                Some(pte) => pte.set_uffd_wp(enable),
                None if enable && markers => {
                    g.ptes.insert(p, Pte::WpMarker);
                }
                None => {}
            }
            p += PAGE_SIZE;
        }
    }
    Ok(())
}

/// UFFDIO_MOVE (`move_pages`): destination and source ranges, mode bits
/// other than DONTWAKE|ALLOW_SRC_HOLES: EINVAL; no VMA at either end:
/// ENOENT; a range beyond its VMA, different protections, a read-only
/// source, a destination not registered with this context: EINVAL; per
/// page, a populated destination: EEXIST, an empty source: ENOENT (skipped
/// with ALLOW_SRC_HOLES). The source entry moves to the destination.
pub fn userfaultfd_move(ctx: &Arc<UserfaultfdCtx>, dst: u64, src: u64, len: u64, mode: u64) -> KResult<u64> {
    validate_range(dst, len)?;
    validate_range(src, len)?;
    if mode & !(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES | UFFDIO_MOVE_MODE_DONTWAKE) != 0 {
        return Err(Errno::EINVAL);
    }
    let mm = &ctx.mm;
    let r = (|| {
        // uffd_move_lock: as for the fills.
        if mm.vma_wait_writer().is_err() {
            return Err(Errno::EINTR);
        }
        let mut g = mm.lock();
        if g.exited {
            return Err(Errno::ESRCH);
        }
        mm.touch_vmas(false);
        let dv = g.vma_at(dst).ok_or(Errno::ENOENT)?.clone();
        let sv = g.vma_at(src).ok_or(Errno::ENOENT)?.clone();
        if src + len > sv.end || dst + len > dv.end {
            return Err(Errno::EINVAL);
        }
        if sv.prot != dv.prot || !sv.writable() || !same_ctx(&dv.uffd, ctx) {
            return Err(Errno::EINVAL);
        }
        let mut moved = 0;
        let long = len / PAGE_SIZE > super::MAX_PTES as u64 && mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES != 0;
        if long {
            // Too long to walk page by page (a simulator limit: see
            // MAX_PTES): visit only offsets where either side has an entry
            // (a hole on both sides moves nothing), touching the whole
            // address space so that the explorer orders it against every
            // fault.
            mm.touch_vmas(true);
        }
        while moved < len {
            if long {
                let next = |base: u64| g.ptes.range(base + moved..base + len).next().map(|(&p, _)| p - base);
                match (next(dst), next(src)) {
                    (None, None) => {
                        moved = len;
                        break;
                    }
                    (x, y) => moved = x.unwrap_or(u64::MAX).min(y.unwrap_or(u64::MAX)),
                }
            }
            let (d, s) = (dst + moved, src + moved);
            mm.touch_pte(d, true);
            mm.touch_pte(s, true);
            if g.ptes.contains_key(&d) {
                return if moved > 0 { Ok(moved) } else { Err(Errno::EEXIST) };
            }
            match g.ptes.remove(&s) {
                None if mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES == 0 => {
                    return if moved > 0 { Ok(moved) } else { Err(Errno::ENOENT) };
                }
                None => {}
                Some(pte) => {
                    let pte = match pte {
                        Pte::Page { data, .. } => Pte::Page { data, uffd_wp: false },
                        Pte::Zero { .. } => Pte::Zero { uffd_wp: false },
                        other => other,
                    };
                    g.ptes.insert(d, pte);
                }
            }
            moved += PAGE_SIZE;
        }
        Ok(moved)
    })();
    finish(ctx, dst, len, r, mode & UFFDIO_MOVE_MODE_DONTWAKE != 0)
}
