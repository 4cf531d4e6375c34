//! Native userfaultfd calls (`fs/userfaultfd.c` on the host; a host that
//! refuses userfaultfd(2) to this process skips the scenario, with the
//! reason [`super::host`] gives): `userfaultfd(FLAGS)`,
//! `uffd_read(U)` (one 32-byte `struct uffd_msg` as the record `{event,
//! flags, address}`), and the UFFDIO_* ioctls with the struct's fields as
//! named arguments (the book's scenario-language chapter, "Calls"), returning the struct's
//! output fields as a record, as the userfaultfd issue specifies.
//!
//! Results are records named by the struct's output field (`copy`,
//! `zeropage`, `move`, `mapped`, `updated`). Command numbers are
//! `include/uapi/linux/userfaultfd.h`'s `_IOWR(0xAA,
//! ...)`/`_IOR(0xAA, ...)` values for x86_64.

use super::sys::{errno_value, fd, field, int, last_errno, ret, ret_int};
use super::{NErr, Native};
use crate::value::Value;
use std::rc::Rc;

pub const CALLS: &[(&str, Native)] =
    &[("userfaultfd", Native::Run(userfaultfd)), ("uffd_read", Native::Run(uffd_read))];

pub const UFFDIO_API: u32 = 0xc018_aa3f;
pub const UFFDIO_REGISTER: u32 = 0xc020_aa00;
pub const UFFDIO_UNREGISTER: u32 = 0x8010_aa01;
pub const UFFDIO_WAKE: u32 = 0x8010_aa02;
pub const UFFDIO_COPY: u32 = 0xc028_aa03;
pub const UFFDIO_ZEROPAGE: u32 = 0xc020_aa04;
pub const UFFDIO_MOVE: u32 = 0xc028_aa05;
pub const UFFDIO_WRITEPROTECT: u32 = 0xc018_aa06;
pub const UFFDIO_CONTINUE: u32 = 0xc020_aa07;
pub const UFFDIO_POISON: u32 = 0xc020_aa08;

fn userfaultfd(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let flags = int("userfaultfd", a, 0)? as u32 as libc::c_int;
    // SAFETY: one integer argument.
    let r = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
    let e = super::sys::last_errno();
    // A host that forbids userfaultfd to this caller (no CAP_SYS_PTRACE with
    // vm.unprivileged_userfaultfd=0) or lacks it cannot check the scenario:
    // a skip, not a disagreement (the planner, `host::plan`, usually skips
    // it before it runs). ksim models a privileged caller.
    if r < 0 && (e == libc::EPERM || e == libc::ENOSYS) {
        let caps = if super::host::detected().cap_sys_ptrace { 1 << 19 } else { 0 };
        return Err(NErr::Skip(super::host::userfaultfd_refusal(e, caps)));
    }
    ret_int(r)
}

fn uffd_read(a: &[Value], _: &[(String, Value)]) -> Result<Value, NErr> {
    let f = fd("uffd_read", a, 0)?;
    let mut m = [0u8; 32];
    // SAFETY: m is 32 writable bytes.
    let r = unsafe { libc::read(f, m.as_mut_ptr().cast(), 32) };
    if r < 0 {
        return errno_value(last_errno());
    }
    let word = |o: usize| u64::from_le_bytes(m[o..o + 8].try_into().expect("8 bytes"));
    Ok(record(&[("event", m[0] as u64), ("flags", word(8)), ("address", word(16))]))
}

fn record(fields: &[(&'static str, u64)]) -> Value {
    Value::Record(Rc::from(fields.iter().map(|(k, v)| (*k, Value::Int(*v))).collect::<Vec<_>>()))
}

/// Make the ioctl with `words` as the struct (u64 fields); on success,
/// `out` builds the result from the struct as the kernel left it.
fn struct_ioctl(f: i32, cmd: u32, mut words: Vec<u64>, out: impl FnOnce(&[u64]) -> Value) -> Result<Value, NErr> {
    // SAFETY: words is the whole struct the command reads and writes.
    let r = unsafe { libc::ioctl(f, cmd as _, words.as_mut_ptr()) };
    ret(r as i64, |_| out(&words))
}

/// The UFFDIO_* commands; `None` for other commands.
pub fn ioctl(f: i32, cmd: u32, _a: &[Value], named: &[(String, Value)]) -> Result<Option<Value>, NErr> {
    let g = |k: &str| field("ioctl", named, k);
    let r = match cmd {
        UFFDIO_API => struct_ioctl(f, cmd, vec![g("api")?, g("features")?, 0], |w| {
            record(&[("api", w[0]), ("features", w[1]), ("ioctls", w[2])])
        }),
        UFFDIO_REGISTER => {
            struct_ioctl(f, cmd, vec![g("start")?, g("len")?, g("mode")?, 0], |w| record(&[("ioctls", w[3])]))
        }
        UFFDIO_UNREGISTER | UFFDIO_WAKE => struct_ioctl(f, cmd, vec![g("start")?, g("len")?], |_| Value::Int(0)),
        UFFDIO_COPY => {
            struct_ioctl(f, cmd, vec![g("dst")?, g("src")?, g("len")?, g("mode")?, 0], |w| record(&[("copy", w[4])]))
        }
        UFFDIO_ZEROPAGE => {
            struct_ioctl(f, cmd, vec![g("start")?, g("len")?, g("mode")?, 0], |w| record(&[("zeropage", w[3])]))
        }
        UFFDIO_WRITEPROTECT => struct_ioctl(f, cmd, vec![g("start")?, g("len")?, g("mode")?], |_| Value::Int(0)),
        UFFDIO_MOVE => {
            struct_ioctl(f, cmd, vec![g("dst")?, g("src")?, g("len")?, g("mode")?, 0], |w| record(&[("move", w[4])]))
        }
        UFFDIO_CONTINUE => {
            struct_ioctl(f, cmd, vec![g("start")?, g("len")?, g("mode")?, 0], |w| record(&[("mapped", w[3])]))
        }
        UFFDIO_POISON => {
            struct_ioctl(f, cmd, vec![g("start")?, g("len")?, g("mode")?, 0], |w| record(&[("updated", w[3])]))
        }
        _ => return Ok(None),
    };
    r.map(Some)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn call(table: &[(&str, Native)], name: &str, a: &[Value], named: &[(&str, u64)]) -> Value {
        let named: Vec<(String, Value)> = named.iter().map(|(k, v)| (k.to_string(), Value::Int(*v))).collect();
        let f = match table.iter().find(|(n, _)| *n == name) {
            Some((_, Native::Run(f))) => *f,
            _ => panic!("no native {name}"),
        };
        f(a, &named).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    fn int(v: &Value) -> u64 {
        match v {
            Value::Int(n) => *n,
            v => panic!("expected an integer, got {v}"),
        }
    }

    fn field(v: &Value, k: &str) -> u64 {
        match v {
            Value::Record(f) => int(&f.iter().find(|(n, _)| *n == k).expect("field").1),
            v => panic!("expected a record, got {v}"),
        }
    }

    /// The userfaultfd(2) man-page example, natively: a thread's load of a
    /// missing page in a MISSING range blocks until the handler's
    /// UFFDIO_COPY; the handler reads the fault's message first.
    #[test]
    fn a_real_fault_is_handled_by_uffdio_copy() {
        super::super::mm::install_fault_handler();
        let mm = super::super::mm::CALLS;
        let u = call(CALLS, "userfaultfd", &[Value::Int(libc::O_CLOEXEC as u64)], &[]);
        if u == Value::Errno(sim_kernel::Errno::EPERM) || u == Value::Errno(sim_kernel::Errno::ENOSYS) {
            eprintln!("userfaultfd is not available here: {u}");
            return;
        }
        let u = int(&u);
        let ioctl = |cmd: u32, named: &[(&str, u64)]| {
            ioctl(u as i32, cmd, &[], &named.iter().map(|(k, v)| (k.to_string(), Value::Int(*v))).collect::<Vec<_>>())
                .expect("a UFFDIO command")
                .expect("handled here")
        };
        let api = ioctl(UFFDIO_API, &[("api", 0xaa), ("features", 0)]);
        assert_eq!(field(&api, "api"), 0xaa);
        assert_eq!(field(&api, "ioctls"), 0x8000_0000_0000_0003);
        assert_eq!(ioctl(UFFDIO_API, &[("api", 0xaa)]), Value::Errno(sim_kernel::Errno::EINVAL), "only once");
        let area = int(&call(mm, "mmap", &[Value::Int(2 * 4096)], &[]));
        let src = int(&call(mm, "mmap", &[Value::Int(4096)], &[]));
        call(mm, "store", &[Value::Int(src), Value::Int(0x4242)], &[]);
        let reg = ioctl(UFFDIO_REGISTER, &[("start", area), ("len", 2 * 4096), ("mode", 1)]);
        assert_ne!(field(&reg, "ioctls"), 0);
        let toucher = std::thread::spawn(move || {
            let f = match mm.iter().find(|(n, _)| *n == "load") {
                Some((_, Native::Run(f))) => *f,
                _ => unreachable!(),
            };
            match f(&[Value::Int(area + 4096)], &[]) {
                Ok(Value::Int(n)) => n,
                r => panic!("load: {r:?}"),
            }
        });
        let msg = call(CALLS, "uffd_read", &[Value::Int(u)], &[]);
        assert_eq!(field(&msg, "event"), 0x12, "UFFD_EVENT_PAGEFAULT");
        assert_eq!(field(&msg, "address"), area + 4096);
        let copy = ioctl(UFFDIO_COPY, &[("dst", area + 4096), ("src", src), ("len", 4096), ("mode", 0)]);
        assert_eq!(field(&copy, "copy"), 4096);
        assert_eq!(toucher.join().expect("toucher"), 0x4242, "the load sees the copied page");
        let again = ioctl(UFFDIO_COPY, &[("dst", area + 4096), ("src", src), ("len", 4096), ("mode", 0)]);
        assert_eq!(again, Value::Errno(sim_kernel::Errno::EEXIST));
        assert_eq!(ioctl(UFFDIO_UNREGISTER, &[("start", area), ("len", 2 * 4096)]), Value::Int(0));
        // SAFETY: closing the uffd this test made.
        unsafe { libc::close(u as i32) };
    }
}
