//! Loom models of userfaultfd's race windows (`fs/userfaultfd.c`,
//! `mm/userfaultfd.c`), on the real kernel code: a fault on a MISSING
//! range (`user_load`, what a scenario's `load(addr)` runs) takes the VMA
//! read lock, queues its message, re-checks the page table, drops the VMA
//! lock and sleeps until a wake-up names its address (COPY, ZEROPAGE, WAKE,
//! UNREGISTER) or the context is released; then it retries. A uffd read is
//! `read(u, 32)`. The models follow the `race_uffd_*.scn` scenarios and
//! `book/src/userfaultfd.md`. A fault left asleep with nothing to wake it
//! is a loom deadlock.
//!
//! The registered bug `uffd_api_init_race` (two racing UFFDIO_API calls
//! both succeed) is re-introduced and must be found.
//!
//! See the crate docs for the command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{assert_no_reports, fields, live, model, model_min_bound, setup, Reached};
use sim_kernel::abi::{
    O_NONBLOCK, PROT_READ, PROT_WRITE, UFFDIO_API, UFFDIO_COPY, UFFDIO_REGISTER, UFFDIO_REGISTER_MODE_MISSING,
    UFFDIO_UNREGISTER, UFFDIO_WAKE, UFFDIO_ZEROPAGE, UFFD_API, UFFD_API_FEATURES, UFFD_FEATURE_SIGBUS,
};
use sim_kernel::bugs::{Bug, BugSet};
use sim_kernel::mm::memory::{Fault, Signal};
use sim_kernel::syscall::mm::{sys_mmap, sys_munmap, sys_userfaultfd, user_load, user_store, AccessError};
use sim_kernel::syscall::{sys_close, sys_ioctl, sys_read};
use sim_kernel::userfaultfd::{userfaultfd_ctx_fileget, UffdMsg, UFFD_MSG_SIZE};
use sim_kernel::vfs::file::IoctlOut;
use sim_kernel::{Errno, KResult, Kernel, Task};
use std::sync::atomic::{AtomicBool, Ordering};

const PAGE: u64 = 4096;
const SIGSEGV: Result<u64, AccessError> = Err(AccessError::Fault(Fault::Signal(Signal::SIGSEGV)));
const SIGBUS: Result<u64, AccessError> = Err(AccessError::Fault(Fault::Signal(Signal::SIGBUS)));

/// `mmap(PAGE_SIZE)`, read-write.
fn mmap_page(t: &Task) -> u64 {
    sys_mmap(t, PAGE, PROT_READ | PROT_WRITE).unwrap()
}

/// A source page holding `v` at offset 0, for UFFDIO_COPY.
fn src_page(t: &Task, v: u64) -> u64 {
    let s = mmap_page(t);
    user_store(t, s, v).unwrap();
    s
}

/// `ioctl(u, cmd, name=value...)`.
fn ioctl(t: &Task, u: i64, cmd: u32, f: &[(&'static str, u64)]) -> KResult<IoctlOut> {
    sys_ioctl(t, u, cmd, &fields(f))
}

/// UFFDIO_API with `features`.
fn api(t: &Task, u: i64, features: u64) -> KResult<IoctlOut> {
    ioctl(t, u, UFFDIO_API, &[("api", UFFD_API), ("features", features)])
}

/// `userfaultfd(flags)`, UFFDIO_API with `features`, and one page
/// registered MISSING: (the uffd, the page).
fn registered(t: &Task, flags: u32, features: u64) -> (i64, u64) {
    let a = mmap_page(t);
    let u = sys_userfaultfd(t, flags).unwrap() as i64;
    api(t, u, features).unwrap();
    ioctl(t, u, UFFDIO_REGISTER, &[("start", a), ("len", PAGE), ("mode", UFFDIO_REGISTER_MODE_MISSING)]).unwrap();
    (u, a)
}

/// UFFDIO_COPY of one page: the bytes copied, or the errno.
fn copy(t: &Task, u: i64, dst: u64, src: u64) -> KResult<u64> {
    match ioctl(t, u, UFFDIO_COPY, &[("dst", dst), ("src", src), ("len", PAGE), ("mode", 0)])? {
        IoctlOut::Record(r) if r[0].0 == "copy" => Ok(r[0].1),
        other => panic!("UFFDIO_COPY returned {other:?}"),
    }
}

/// UFFDIO_ZEROPAGE of one page.
fn zeropage(t: &Task, u: i64, a: u64) -> KResult<IoctlOut> {
    ioctl(t, u, UFFDIO_ZEROPAGE, &[("start", a), ("len", PAGE), ("mode", 0)])
}

/// `uffd_read(u)`: one message, or the errno.
fn uffd_read(t: &Task, u: i64) -> KResult<UffdMsg> {
    sys_read(t, u, UFFD_MSG_SIZE as u64).map(|b| UffdMsg::from_bytes(&b).expect("a 32-byte uffd_msg"))
}

/// A thread running `load(a)`.
fn toucher(t: &Task, a: u64) -> thread::JoinHandle<Result<u64, AccessError>> {
    let t = t.clone();
    thread::spawn(move || user_load(&t, a))
}

/// The end of a model: the uffd closed (if `u` is given), the context
/// freed with no fault still queued, nothing reported.
fn close_and_check(k: &Kernel, t: &Task, u: Option<i64>) {
    if let Some(u) = u {
        assert_eq!(sys_close(t, u), Ok(()));
    }
    assert_eq!(live(k, "userfaultfd_ctx"), 0, "the context outlived its file and its faults");
    assert_no_reports(k);
}

/// A fault against UFFDIO_COPY of its page: the copy always installs the
/// page, and the fault reads it, whether it came first (no fault), while
/// the fault was queuing (window `uffd:fault:queued`: the re-check sees the
/// page) or while it slept (the copy's wake-up must reach it, else
/// deadlock).
#[test]
fn fault_vs_copy() {
    model("fault_vs_copy", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let s = src_page(&t, 5);
        let h = toucher(&t, a);
        assert_eq!(copy(&t, u, a, s), Ok(PAGE));
        assert_eq!(h.join().unwrap(), Ok(5));
        close_and_check(&k, &t, Some(u));
    });
}

/// The same with UFFDIO_ZEROPAGE: the fault reads 0 and is never left
/// asleep.
#[test]
fn fault_vs_zeropage() {
    model("fault_vs_zeropage", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let h = toucher(&t, a + 8);
        assert!(zeropage(&t, u, a).is_ok());
        assert_eq!(h.join().unwrap(), Ok(0));
        close_and_check(&k, &t, Some(u));
    });
}

/// `race_uffd_wake_vs_fault.scn`: the handler reads the fault's message
/// (blocking), wakes the range without resolving it, reads again and
/// answers with ZEROPAGE. The woken fault retries, finds the page still
/// missing and faults again: a second message for the same address. A
/// WAKE between the queueing and the sleep (`uffd:fault:before_schedule`)
/// means the fault does not sleep at all. The toucher reads 0; no
/// interleaving leaves it or the handler asleep.
#[test]
fn wake_vs_fault() {
    model("wake_vs_fault", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, 0, 0);
        let h = toucher(&t, a + 16);
        let m1 = uffd_read(&t, u).unwrap();
        assert_eq!(m1.address, a);
        ioctl(&t, u, UFFDIO_WAKE, &[("start", m1.address), ("len", PAGE)]).unwrap();
        let m2 = uffd_read(&t, u).unwrap();
        assert_eq!(m2.address, a);
        assert!(zeropage(&t, u, m2.address).is_ok());
        assert_eq!(h.join().unwrap(), Ok(0));
        close_and_check(&k, &t, Some(u));
    });
}

/// `race_uffd_close_vs_fault.scn`: the last close of the uffd against a
/// fault on its registered page. The release unregisters the range and
/// wakes every waiting fault, which retries and maps the zero page ("Don't
/// return VM_FAULT_SIGBUS in this case"); a fault that sees `released`
/// before sleeping does not sleep. The toucher reads 0, is never left
/// asleep, and the context is freed by the last of the release and the
/// fault.
///
/// A fault that sees `released` while the range is still registered (the
/// release sets `released` before `userfaultfd_release_all` clears the
/// VMAs) returns `FaultOutcome::NoPage` and faults again at once: a spin
/// until the releasing thread runs, as in Linux (VM_FAULT_NOPAGE, the
/// access re-executes) on another CPU. The retry's `sched::spin_point` is a
/// loom yield, so that loom runs the release instead of the spin.
#[test]
fn release_vs_blocked_fault() {
    model("release_vs_blocked_fault", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let h = toucher(&t, a + 8);
        assert_eq!(sys_close(&t, u), Ok(()));
        assert_eq!(h.join().unwrap(), Ok(0));
        close_and_check(&k, &t, None);
    });
}

/// With UFFD_FEATURE_SIGBUS a fault on a registered page is SIGBUS at
/// once, never queued; against the release it is SIGBUS (the range was
/// still registered) or 0 (already unregistered). Both happen.
#[test]
fn sigbus_fault_vs_release() {
    static SEEN: Reached = Reached::new();
    model("sigbus_fault_vs_release", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, UFFD_FEATURE_SIGBUS);
        let h = toucher(&t, a);
        assert_eq!(sys_close(&t, u), Ok(()));
        match h.join().unwrap() {
            Ok(0) => SEEN.mark("0"),
            r if r == SIGBUS => SEEN.mark("SIGBUS"),
            r => panic!("load returned {r:?}"),
        }
        close_and_check(&k, &t, None);
    });
    SEEN.assert_all("sigbus_fault_vs_release", &["0", "SIGBUS"]);
}

/// `race_uffd_unregister_vs_fault.scn`: the handler reads (non-blocking)
/// and unregisters the page while a fault comes in. The fault misses the
/// registration (zero page at once), or is woken by UNREGISTER and retries
/// into the zero page, or (Linux 6.18; window `uffd:fault:before_queue`)
/// it saw the registration under the VMA read lock but had not queued when
/// UNREGISTER did its wake-up, which comes before `vma_start_write`: it
/// then queues and sleeps with its message pending (`left`), until the
/// close releases the context. In every case the toucher ends with 0.
///
/// `strict` adds the scenario's check that a message left pending is one
/// the handler did not read (`left == EAGAIN || (handler.m == EAGAIN &&
/// left.address == a)`), which holds on Linux (see
/// [`unregister_vs_fault_linux_invariant`]) and is broken in ksim.
fn unregister_vs_fault(strict: bool, seen: &Reached) {
    let (k, t) = setup(BugSet::NONE);
    let (u, a) = registered(&t, O_NONBLOCK, 0);
    let h = toucher(&t, a);
    let m = uffd_read(&t, u);
    assert_eq!(ioctl(&t, u, UFFDIO_UNREGISTER, &[("start", a), ("len", PAGE)]), Ok(IoctlOut::Int(0)));
    let left = uffd_read(&t, u);
    match &m {
        Ok(m) => assert_eq!(m.address, a),
        Err(e) => assert_eq!(*e, Errno::EAGAIN),
    }
    match (&m, &left) {
        (_, Err(Errno::EAGAIN)) => seen.mark("nothing left"),
        (Err(_), Ok(l)) => {
            assert_eq!(l.address, a);
            seen.mark("missed by UNREGISTER, left asleep");
        }
        (Ok(_), Ok(l)) => {
            // The handler read the fault's message, UNREGISTER woke it,
            // and it faulted again on the still-registered VMA (re-queued
            // its message) before UNREGISTER's clearing: it sleeps though
            // UNREGISTER woke it. Linux forbids it (see unregister_vs_fault_linux_invariant).
            assert_eq!(l.address, a);
            assert!(!strict, "a fault UNREGISTER woke was left asleep, its second message pending: {l:?}");
            seen.mark("woken by UNREGISTER, re-queued, left asleep");
        }
        (_, Err(e)) => panic!("read: {e:?}"),
    }
    // The close releases the context and wakes a fault left asleep.
    assert_eq!(sys_close(&t, u), Ok(()));
    assert_eq!(h.join().unwrap(), Ok(0));
    seen.mark(if m.is_ok() { "read the message" } else { "read nothing" });
    close_and_check(&k, &t, None);
}

#[test]
fn unregister_vs_fault_ends() {
    static SEEN: Reached = Reached::new();
    model("unregister_vs_fault_ends", || unregister_vs_fault(false, &SEEN));
    SEEN.assert_all(
        "unregister_vs_fault_ends",
        &["nothing left", "missed by UNREGISTER, left asleep", "read the message", "read nothing"],
    );
}

/// Linux's invariant: a fault that UNREGISTER woke is never left asleep.
/// This model found ksim breaking it (no bug toggle on), now fixed.
///
/// The interleaving (2 preemptions): the toucher faults, queues its
/// message and sleeps; the handler reads it (`m` is the message) and calls
/// UNREGISTER, whose `wake_userfault` wakes the toucher; the handler is
/// preempted before `vma_start_write`. ksim's retry went back to the
/// per-VMA path (`vma_read_trylock`: nothing was marked write-held yet),
/// found the VMA still registered, queued a second message and slept; the
/// clearing came after, and only the close got the toucher out.
///
/// On Linux the retry cannot do that: after `VM_FAULT_RETRY`,
/// `do_user_addr_fault` goes to `lock_mm_and_find_vma` (`mmap_read_lock`),
/// which waits for `userfaultfd_unregister`'s `mmap_write_lock`, held from
/// before the wake-up until after `userfaultfd_clear_vma`; the retry then
/// sees the VMA unregistered and maps the zero page ("Wake any concurrent
/// pending userfault while we unregister, so they will not hang
/// permanently"). ksim now models `mmap_lock` apart from the VMA lock
/// (`MmStruct::mmap_write_lock`, `mmap_read_lock`), and a retried fault
/// takes `mmap_read_lock`.
#[test]
fn unregister_vs_fault_linux_invariant() {
    static SEEN: Reached = Reached::new();
    model("unregister_vs_fault_linux_invariant", || unregister_vs_fault(true, &SEEN));
}

/// `race_uffd_munmap_vs_fault.scn`: munmap against a fault, with the
/// handler copying the page and then waking the range. munmap wakes nobody
/// (no UFFD_FEATURE_EVENT_UNMAP) and write-locks the VMA first, so it
/// cannot unmap under a fault in its window. A fault resolved by the copy
/// reads 77; one after the munmap, or woken into a range that is gone, is
/// SIGSEGV; never 77 when the copy found no range (ENOENT). The WAKE
/// guarantees nobody is left asleep.
fn munmap_vs_fault(seen: &'static Reached) -> impl Fn() + Sync + Send + 'static {
    move || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let s = src_page(&t, 77);
        let h = toucher(&t, a);
        let unmapper = {
            let t = t.clone();
            thread::spawn(move || sys_munmap(&t, a, PAGE))
        };
        let c = copy(&t, u, a, s);
        ioctl(&t, u, UFFDIO_WAKE, &[("start", a), ("len", PAGE)]).unwrap();
        assert_eq!(unmapper.join().unwrap(), Ok(()));
        let v = h.join().unwrap();
        match (v, c) {
            (Ok(77), Ok(PAGE)) => seen.mark("77"),
            (v, Ok(PAGE)) if v == SIGSEGV => seen.mark("SIGSEGV, copied"),
            (v, Err(Errno::ENOENT)) if v == SIGSEGV => seen.mark("SIGSEGV, ENOENT"),
            other => panic!("load, copy: {other:?}"),
        }
        close_and_check(&k, &t, Some(u));
    }
}

#[test]
fn munmap_vs_fault_bound_2() {
    static SEEN: Reached = Reached::new();
    model("munmap_vs_fault_bound_2", munmap_vs_fault(&SEEN));
    SEEN.assert_all("munmap_vs_fault_bound_2", &["77", "SIGSEGV, copied", "SIGSEGV, ENOENT"]);
}

/// A ksim kernel bug this model found at a preemption bound of 3 (no bug
/// toggle on), now fixed: `vma_write_wait` marks the VMAs write-locked
/// always and keeps the mark until the caller's change is done (its
/// `VmaWriteGuard`). Before the fix loom reported a deadlock, the toucher asleep in
/// `handle_userfault` with nothing left to wake it (the handler blocked
/// joining it, the unmapper done).
///
/// The interleaving: `do_munmap` calls `MmStruct::vma_write_wait`, which
/// finds no fault in its window (`readers == 0`) and returns at once
/// without marking the lock write-held; before munmap takes `mm.lock()`,
/// the toucher's fault takes `mm.lock()`, sees the MISSING registration,
/// takes the VMA read lock (`vma_read_trylock`: `writer` is false) and is
/// preempted in `uffd:fault:before_queue`. The handler's COPY (installed, or
/// not) and its UFFDIO_WAKE run now and find nothing queued. munmap then
/// takes `mm.lock()` and removes the VMA and the page *under the fault that
/// holds the VMA read lock*. The fault queues its message, re-checks the
/// page table (empty: `must_wait`), drops the VMA lock and sleeps, for
/// ever: the WAKE has passed, no COPY can fill an unmapped page.
///
/// On Linux `vma_start_write` (under `mmap_write_lock`) marks the VMA
/// write-locked (`vm_lock_seq`) as it waits for its readers, so a fault
/// after it fails `vma_start_read` and falls back to `mmap_read_lock`,
/// which waits for the munmap; there is no gap between the writer's check
/// of the readers and its change. ksim's `vma_write_wait` relies on there
/// being no scheduling point between its return and the caller's
/// `mm.lock()`, which holds in the deterministic executor (nobody holds
/// `inner` across a switch) but not under loom or on plain threads. The
/// same gap is in every `vma_write_wait` caller (REGISTER, UNREGISTER's
/// clearing, the release's unregistering, mprotect). Fix in the kernel:
/// set `writer` (or a sequence count) in `vma_write_wait`'s fast path too
/// and clear it when the caller's change is done, or take the VMA lock's
/// state and `inner` together.
#[test]
fn munmap_vs_fault_bound_3() {
    static SEEN: Reached = Reached::new();
    model_min_bound("munmap_vs_fault_bound_3", 3, munmap_vs_fault(&SEEN));
}

/// `race_uffd_two_copies.scn`: two handlers COPY different pages to the
/// faulting address. Exactly one installs its page (the other gets EEXIST,
/// even from the window `uffd:copy:before_install`: the entry is checked
/// under the page table lock), and the toucher reads the winner's data.
#[test]
fn two_copies_vs_fault() {
    static SEEN: Reached = Reached::new();
    model("two_copies_vs_fault", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let (s1, s2) = (src_page(&t, 0x11), src_page(&t, 0x22));
        let h = toucher(&t, a);
        let h1 = {
            let t = t.clone();
            thread::spawn(move || copy(&t, u, a, s1))
        };
        let c2 = copy(&t, u, a, s2);
        let c1 = h1.join().unwrap();
        let v = h.join().unwrap();
        match (c1, c2, v) {
            (Ok(PAGE), Err(Errno::EEXIST), Ok(0x11)) => SEEN.mark("first"),
            (Err(Errno::EEXIST), Ok(PAGE), Ok(0x22)) => SEEN.mark("second"),
            other => panic!("copy, copy, load: {other:?}"),
        }
        close_and_check(&k, &t, Some(u));
    });
    SEEN.assert_all("two_copies_vs_fault", &["first", "second"]);
}

/// `race_uffd_copy_vs_unregister.scn`: UFFDIO_COPY against UNREGISTER of
/// the page a fault waits on. The copy fails with ENOENT once the range is
/// unregistered (checked again at install); the fault reads the copied 5
/// if the copy won, else 0, and is never left asleep past the close. A
/// copy that wins is visible afterwards.
#[test]
fn copy_vs_unregister() {
    static SEEN: Reached = Reached::new();
    model("copy_vs_unregister", || {
        let (k, t) = setup(BugSet::NONE);
        let (u, a) = registered(&t, O_NONBLOCK, 0);
        let s = src_page(&t, 5);
        let h = toucher(&t, a);
        let copier = {
            let t = t.clone();
            thread::spawn(move || copy(&t, u, a, s))
        };
        assert_eq!(ioctl(&t, u, UFFDIO_UNREGISTER, &[("start", a), ("len", PAGE)]), Ok(IoctlOut::Int(0)));
        let c = copier.join().unwrap();
        // A fault the UNREGISTER missed sleeps until the release.
        assert_eq!(sys_close(&t, u), Ok(()));
        let v = h.join().unwrap();
        let after = user_load(&t, a);
        match (c, v) {
            (Ok(PAGE), Ok(5)) => SEEN.mark("copied, read 5"),
            (Ok(PAGE), Ok(0)) => SEEN.mark("copied, read 0 first"),
            (Err(Errno::ENOENT), Ok(0)) => SEEN.mark("ENOENT"),
            other => panic!("copy, load: {other:?}"),
        }
        assert_eq!(after, Ok(if c.is_ok() { 5 } else { 0 }));
        close_and_check(&k, &t, None);
    });
    SEEN.assert_all("copy_vs_unregister", &["copied, read 5", "ENOENT"]);
}

/// `race_uffd_api.scn`: two threads race UFFDIO_API on a new uffd, one
/// asking for no feature, the other for UFFD_FEATURE_SIGBUS. With the fix
/// (Linux 22e5fe2a2a27 "userfaultfd: prevent concurrent API
/// initialization": the features are set by a cmpxchg) exactly one wins and
/// its features are the context's. Returns whether both succeeded.
fn api_race(bugs: BugSet) -> bool {
    let (k, t) = setup(bugs);
    let u = sys_userfaultfd(&t, O_NONBLOCK).unwrap() as i64;
    let other = {
        let t = t.clone();
        thread::spawn(move || api(&t, u, 0))
    };
    let mine = api(&t, u, UFFD_FEATURE_SIGBUS);
    let theirs = other.join().unwrap();
    let both = mine.is_ok() && theirs.is_ok();
    if !bugs.has(Bug::UffdApiInitRace) {
        let ctx = userfaultfd_ctx_fileget(&t.proc().unwrap().files.fget(u).unwrap()).unwrap();
        // The answer lists every supported feature, whoever wins.
        for r in [&mine, &theirs].into_iter().flatten() {
            let IoctlOut::Record(f) = r else { panic!("UFFDIO_API returned {r:?}") };
            assert!(f.contains(&("features", UFFD_API_FEATURES)));
        }
        let winner_features = match (&mine, &theirs) {
            (Ok(_), Err(Errno::EINVAL)) => UFFD_FEATURE_SIGBUS,
            (Err(Errno::EINVAL), Ok(_)) => 0,
            other => panic!("two UFFDIO_API calls returned {other:?}"),
        };
        assert_eq!(ctx.features(), winner_features, "the loser's features were set");
        drop(ctx);
        assert_eq!(api(&t, u, 0), Err(Errno::EINVAL), "a third UFFDIO_API");
        close_and_check(&k, &t, Some(u));
    }
    both
}

#[test]
fn api_race_one_wins() {
    model("api_race_one_wins", || {
        assert!(!api_race(BugSet::NONE));
    });
}

/// The same model with `uffd_api_init_race` (the pre-5.15 check-then-set):
/// loom must find the interleaving where both calls pass the check before
/// either sets the state, and both succeed.
#[test]
fn api_init_race_bug_is_found() {
    static FOUND: AtomicBool = AtomicBool::new(false);
    model("api_init_race_bug_is_found", || {
        if api_race(BugSet::NONE.with(Bug::UffdApiInitRace)) {
            FOUND.store(true, Ordering::Relaxed);
        }
    });
    assert!(FOUND.load(Ordering::Relaxed), "loom missed two successful UFFDIO_API calls");
}
