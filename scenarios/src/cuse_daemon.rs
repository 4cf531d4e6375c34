//! What a libfuse CUSE daemon does on `/dev/cuse` (`lib/fuse_lowlevel.c`,
//! `lib/cuse_lowlevel.c`): read one request into a buffer and decode it,
//! write one reply (a `fuse_out_header` and the op's reply struct).
//! Nothing crosses into the kernel but those bytes, through read(2) and
//! write(2) on the channel.

use crate::value::Value;
use sim_kernel::fuse::abi::*;
use sim_kernel::syscall::{sys_read, sys_write};
use sim_kernel::{KResult, Task};
use std::rc::Rc;

/// libfuse's default buffer: a page more than the 128 KiB max_write.
pub const DEFAULT_BUFSIZE: u64 = 4096 + 131_072;

/// Read one request from the channel `cfd` with a buffer of `size` bytes,
/// decoded as a record: `opcode`, `unique`, `nodeid`, `len`, and the op's
/// fields (CUSE_INIT: `major`, `minor`, `flags`; FUSE_OPEN: `flags`;
/// FUSE_READ: `fh`, `offset`, `size`, `flags`; FUSE_WRITE: those and
/// `data`; FUSE_RELEASE: `fh`, `flags`; FUSE_POLL: `fh`, `kh`, `flags`).
pub fn fuse_read(t: &Task, cfd: i64, size: u64) -> KResult<Value> {
    let b = sys_read(t, cfd, size)?;
    Ok(decode(&b))
}

fn decode(b: &[u8]) -> Value {
    if b.len() < IN_HEADER_LEN {
        return Value::bytes(b);
    }
    let int = |n: u64| Value::Int(n);
    let opcode = get_u32(b, 4);
    let mut f: Vec<(&'static str, Value)> = vec![
        ("opcode", int(opcode as u64)),
        ("unique", int(get_u64(b, 8))),
        ("nodeid", int(get_u64(b, 16))),
        ("len", int(get_u32(b, 0) as u64)),
    ];
    let a = &b[IN_HEADER_LEN..];
    let u32_at = |o: usize| int(get_u32(a, o) as u64);
    let u64_at = |o: usize| int(get_u64(a, o));
    match opcode {
        CUSE_INIT => f.extend([("major", u32_at(0)), ("minor", u32_at(4)), ("flags", u32_at(12))]),
        FUSE_OPEN => f.push(("flags", u32_at(0))),
        FUSE_READ => f.extend([("fh", u64_at(0)), ("offset", u64_at(8)), ("size", u32_at(16)), ("flags", u32_at(32))]),
        FUSE_WRITE => f.extend([
            ("fh", u64_at(0)),
            ("offset", u64_at(8)),
            ("size", u32_at(16)),
            ("flags", u32_at(32)),
            ("data", Value::bytes(a.get(WRITE_IN_LEN..).unwrap_or(&[]))),
        ]),
        FUSE_RELEASE => f.extend([("fh", u64_at(0)), ("flags", u32_at(8))]),
        FUSE_POLL => f.extend([("fh", u64_at(0)), ("kh", u64_at(8)), ("flags", u32_at(16))]),
        _ => {}
    }
    Value::Record(Rc::from(f))
}

/// Write one reply to `unique`: the header (`len`, `error`, `unique`)
/// and `body`. The count written.
pub fn reply(t: &Task, cfd: i64, unique: u64, error: i32, body: &[u8]) -> KResult<usize> {
    let mut b = out_header(OUT_HEADER_LEN + body.len(), error, unique);
    b.extend_from_slice(body);
    sys_write(t, cfd, &b)
}

/// The CUSE_INIT reply's fields (`cuse_lowlevel_init`'s defaults: major
/// 7, the kernel's minor, flags 0, max_read and max_write 131072, a
/// dynamic device number) and its device-info strings.
pub struct InitReply {
    pub major: u32,
    pub minor: u32,
    pub flags: u32,
    pub max_read: u32,
    pub max_write: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub info: Vec<u8>,
}

impl Default for InitReply {
    fn default() -> Self {
        InitReply {
            major: FUSE_KERNEL_VERSION,
            minor: FUSE_KERNEL_MINOR_VERSION,
            flags: 0,
            max_read: 131_072,
            max_write: 131_072,
            dev_major: 0,
            dev_minor: 0,
            info: Vec::new(),
        }
    }
}

impl InitReply {
    /// `struct cuse_init_out` (72 bytes) then the strings.
    pub fn body(&self) -> Vec<u8> {
        let mut b = Le::default()
            .u32(self.major)
            .u32(self.minor)
            .u32(0)
            .u32(self.flags)
            .u32(self.max_read)
            .u32(self.max_write)
            .u32(self.dev_major)
            .u32(self.dev_minor)
            .bytes(&[0; 40])
            .0;
        b.extend_from_slice(&self.info);
        b
    }
}
