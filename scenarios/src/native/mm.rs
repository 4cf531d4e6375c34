//! Native memory calls (the userfaultfd issue's `mmap(LEN[, PROT])`,
//! `munmap`, `mprotect`, `load`, `store`, `memset`) on real memory, so that
//! a userfaultfd fault is a real fault, handled by the scenario's handler
//! thread, and a bad access is a real SIGSEGV or SIGBUS.
//!
//! An access is made by one of three small assembly routines whose one
//! faulting instruction is known (an exception table, as the kernel's
//! `copy_from_user` uses): the child's SIGSEGV/SIGBUS handler, finding the
//! faulting instruction pointer at one of them, moves it to the routine's
//! end and puts the signal number in the routine's second return register.
//! The access then returns the `SIGSEGV` or `SIGBUS` token. A fault anywhere
//! else restores the default action and re-faults (a real crash).
//!
//! So that a scenario cannot scribble over the interpreter, an address is
//! touched only if its page lies in a mapping the scenario made, or is not
//! mapped at all (mincore(2) says ENOMEM: the access faults); an access to
//! any other host memory skips the scenario.

use super::sys::{int, int_or, ret, ret_zero, token};
use super::{NErr, Native};
use crate::value::Value;

pub const CALLS: &[(&str, Native)] = &[
    ("mmap", Native::Run(mmap)),
    ("munmap", Native::Run(munmap)),
    ("mprotect", Native::Run(mprotect)),
    ("load", Native::Run(load)),
    ("store", Native::Run(store)),
    ("memset", Native::Run(memset)),
];

const PAGE: u64 = 4096;

fn mmap(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let len = int("mmap", a, 0)?;
    let prot = int_or("mmap", a, 1, (libc::PROT_READ | libc::PROT_WRITE) as u64)? as i32;
    // SAFETY: an anonymous private mapping at an address the kernel picks.
    let p =
        unsafe { libc::mmap(std::ptr::null_mut(), len as usize, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    let r = if p == libc::MAP_FAILED { -1 } else { p as i64 };
    ret(r, |addr| {
        let addr = addr as u64;
        super::child::host().add_map(addr, addr + len.div_ceil(PAGE) * PAGE);
        Value::Int(addr)
    })
}

fn munmap(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (addr, len) = (int("munmap", a, 0)?, int("munmap", a, 1)?);
    check_ours("munmap", addr, len)?;
    // SAFETY: the range is the scenario's own memory (checked above).
    let r = unsafe { libc::munmap(addr as *mut _, len as usize) };
    if r == 0 {
        super::child::host().remove_map(addr, addr.saturating_add(len.div_ceil(PAGE) * PAGE));
    }
    ret_zero(r as i64)
}

fn mprotect(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (addr, len, prot) = (int("mprotect", a, 0)?, int("mprotect", a, 1)?, int("mprotect", a, 2)? as i32);
    check_ours("mprotect", addr, len)?;
    // SAFETY: the range is the scenario's own memory (checked above).
    ret_zero(unsafe { libc::mprotect(addr as *mut _, len as usize, prot) } as i64)
}

fn load(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let addr = int("load", a, 0)?;
    check_touchable("load", addr, 8)?;
    // SAFETY: the address is the scenario's memory or unmapped; a fault
    // is caught (see the module doc).
    let p = unsafe { ksim_probe_load(addr) };
    fault_or(p, Value::Int(p.value))
}

fn store(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (addr, v) = (int("store", a, 0)?, int("store", a, 1)?);
    check_touchable("store", addr, 8)?;
    // SAFETY: as in load.
    let p = unsafe { ksim_probe_store(addr, v) };
    fault_or(p, Value::Int(0))
}

fn memset(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let (addr, byte, len) = (int("memset", a, 0)?, int("memset", a, 1)?, int("memset", a, 2)?);
    check_touchable("memset", addr, len)?;
    // SAFETY: as in load.
    let p = unsafe { ksim_probe_memset(addr, byte & 0xff, len) };
    fault_or(p, Value::Int(0))
}

fn fault_or(p: Probe, ok: Value) -> Result<Value, NErr> {
    match p.sig as i32 {
        0 => Ok(ok),
        libc::SIGSEGV => token("SIGSEGV"),
        libc::SIGBUS => token("SIGBUS"),
        s => Err(NErr::Skip(format!("the access got signal {s}"))),
    }
}

/// munmap and mprotect act only on the scenario's own mappings (or on
/// nothing mapped at all: then the host gives its errno).
fn check_ours(call: &str, addr: u64, len: u64) -> Result<(), NErr> {
    check_touchable(call, addr & !(PAGE - 1), len)
}

fn check_touchable(call: &str, addr: u64, len: u64) -> Result<(), NErr> {
    let host = super::child::host();
    let end = addr.saturating_add(len.max(1));
    let mut page = addr & !(PAGE - 1);
    // Scan at most the first 64 Ki pages past the scenario's mappings.
    let mut foreign_checks = 0u32;
    while page < end {
        if !host.in_maps(page) {
            foreign_checks += 1;
            if foreign_checks > 65536 || is_mapped(page) {
                return Err(NErr::Skip(format!(
                    "{call} at {addr:#x}: host memory outside the scenario's mappings (the native run will not touch it)"
                )));
            }
        }
        page = match page.checked_add(PAGE) {
            Some(p) => p,
            None => break,
        };
    }
    Ok(())
}

/// Whether any mapping covers the page (mincore(2): ENOMEM when not).
fn is_mapped(page: u64) -> bool {
    let mut v = 0u8;
    // SAFETY: one page, one result byte.
    let r = unsafe { libc::mincore(page as *mut _, PAGE as usize, &mut v) };
    !(r < 0 && super::sys::last_errno() == libc::ENOMEM)
}

/// What a probe returns (in rax:rdx): the loaded value, and 0 or the signal
/// the access raised.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub value: u64,
    pub sig: u64,
}

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".globl ksim_probe_load",
    ".hidden ksim_probe_load",
    "ksim_probe_load:",
    "xor edx, edx",
    ".globl ksim_probe_load_insn",
    ".hidden ksim_probe_load_insn",
    "ksim_probe_load_insn:",
    "mov rax, qword ptr [rdi]",
    ".globl ksim_probe_load_end",
    ".hidden ksim_probe_load_end",
    "ksim_probe_load_end:",
    "ret",
    ".globl ksim_probe_store",
    ".hidden ksim_probe_store",
    "ksim_probe_store:",
    "xor edx, edx",
    "xor eax, eax",
    ".globl ksim_probe_store_insn",
    ".hidden ksim_probe_store_insn",
    "ksim_probe_store_insn:",
    "mov qword ptr [rdi], rsi",
    ".globl ksim_probe_store_end",
    ".hidden ksim_probe_store_end",
    "ksim_probe_store_end:",
    "ret",
    ".globl ksim_probe_memset",
    ".hidden ksim_probe_memset",
    "ksim_probe_memset:",
    "mov rcx, rdx",
    "mov eax, esi",
    "xor edx, edx",
    ".globl ksim_probe_memset_insn",
    ".hidden ksim_probe_memset_insn",
    "ksim_probe_memset_insn:",
    "rep stosb",
    ".globl ksim_probe_memset_end",
    ".hidden ksim_probe_memset_end",
    "ksim_probe_memset_end:",
    "xor eax, eax",
    "ret",
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn ksim_probe_load(addr: u64) -> Probe;
    fn ksim_probe_store(addr: u64, value: u64) -> Probe;
    fn ksim_probe_memset(addr: u64, byte: u64, len: u64) -> Probe;
    static ksim_probe_load_insn: u8;
    static ksim_probe_load_end: u8;
    static ksim_probe_store_insn: u8;
    static ksim_probe_store_end: u8;
    static ksim_probe_memset_insn: u8;
    static ksim_probe_memset_end: u8;
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn ksim_probe_load(_: u64) -> Probe {
    Probe { value: 0, sig: u64::MAX }
}
#[cfg(not(target_arch = "x86_64"))]
unsafe fn ksim_probe_store(_: u64, _: u64) -> Probe {
    Probe { value: 0, sig: u64::MAX }
}
#[cfg(not(target_arch = "x86_64"))]
unsafe fn ksim_probe_memset(_: u64, _: u64, _: u64) -> Probe {
    Probe { value: 0, sig: u64::MAX }
}

/// The (faulting instruction, resume point) pairs.
#[cfg(target_arch = "x86_64")]
fn probe_table() -> [(usize, usize); 3] {
    // Only the symbols' addresses are taken (no read: no unsafe needed).
    [
        (&raw const ksim_probe_load_insn as usize, &raw const ksim_probe_load_end as usize),
        (&raw const ksim_probe_store_insn as usize, &raw const ksim_probe_store_end as usize),
        (&raw const ksim_probe_memset_insn as usize, &raw const ksim_probe_memset_end as usize),
    ]
}

#[cfg(target_arch = "x86_64")]
extern "C" fn on_fault(sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    unsafe {
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let rip = uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize;
        for (insn, end) in probe_table() {
            if rip == insn {
                uc.uc_mcontext.gregs[libc::REG_RIP as usize] = end as i64;
                uc.uc_mcontext.gregs[libc::REG_RDX as usize] = sig as i64;
                return;
            }
        }
        // Not a probe: a real bug. Die of the signal.
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// Install the SIGSEGV/SIGBUS handler that turns a probe's fault into a
/// result (idempotent). On other architectures the memory calls skip.
pub fn install_fault_handler() {
    #[cfg(target_arch = "x86_64")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            for sig in [libc::SIGSEGV, libc::SIGBUS] {
                // SAFETY: a zeroed sigaction filled in with a valid handler.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = on_fault as *const () as usize;
                    sa.sa_flags = libc::SA_SIGINFO;
                    libc::sigemptyset(&mut sa.sa_mask);
                    libc::sigaction(sig, &sa, std::ptr::null_mut());
                }
            }
        });
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn probes_return_values_and_catch_faults() {
        install_fault_handler();
        // SAFETY: a fresh private mapping of two pages, the second made
        // inaccessible, then unmapped.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            ) as u64;
            assert_eq!(ksim_probe_store(p + 8, 0x1122334455667788).sig, 0);
            let r = ksim_probe_load(p + 8);
            assert_eq!((r.value, r.sig), (0x1122334455667788, 0));
            assert_eq!(ksim_probe_memset(p, 0xab, 4096).sig, 0);
            assert_eq!(ksim_probe_load(p + 4088).value, 0xabababababababab);
            libc::mprotect((p + 4096) as *mut _, 4096, libc::PROT_READ);
            assert_eq!(ksim_probe_load(p + 4096).sig, 0, "readable");
            assert_eq!(ksim_probe_store(p + 4096, 1).sig, libc::SIGSEGV as u64, "read-only page");
            // A memset running into the read-only page writes up to it.
            assert_eq!(ksim_probe_memset(p + 4000, 0x11, 200).sig, libc::SIGSEGV as u64);
            assert_eq!(ksim_probe_load(p + 4088).value, 0x1111111111111111);
            libc::munmap(p as *mut _, 8192);
            // Unmapped memory: not `p` itself, which another test thread's
            // mmap (or the allocator's) may take again at once, but a page
            // below vm.mmap_min_addr (64 KiB by default), which no mapping
            // can ever hold.
            let low = 0x1000;
            assert_eq!(ksim_probe_load(low).sig, libc::SIGSEGV as u64, "unmapped");
            assert!(!is_mapped(low));
        }
    }
}
