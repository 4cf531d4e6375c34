//! The FUSE wire format (`include/uapi/linux/fuse.h`): opcodes, notify
//! codes, flags and the byte layouts of the structs CUSE uses. Every struct
//! is little-endian and packed as in C on x86-64.

/// `FUSE_KERNEL_VERSION` / `FUSE_KERNEL_MINOR_VERSION` (current Linux).
pub const FUSE_KERNEL_VERSION: u32 = 7;
pub const FUSE_KERNEL_MINOR_VERSION: u32 = 41;

/// `FUSE_MIN_READ_BUFFER`: the smallest buffer a channel read accepts.
pub const FUSE_MIN_READ_BUFFER: usize = 8192;

pub const FUSE_OPEN: u32 = 14;
pub const FUSE_READ: u32 = 15;
pub const FUSE_WRITE: u32 = 16;
pub const FUSE_RELEASE: u32 = 18;
pub const FUSE_FSYNC: u32 = 20;
pub const FUSE_FLUSH: u32 = 25;
pub const FUSE_INTERRUPT: u32 = 36;
pub const FUSE_IOCTL: u32 = 39;
pub const FUSE_POLL: u32 = 40;
pub const CUSE_INIT: u32 = 4096;

/// Notification codes (`enum fuse_notify_code`), in `fuse_out_header.error`
/// of a message with unique 0.
pub const FUSE_NOTIFY_POLL: i32 = 1;

/// `CUSE_UNRESTRICTED_IOCTL`: `cuse_init_out.flags`.
pub const CUSE_UNRESTRICTED_IOCTL: u32 = 1 << 0;
/// `CUSE_INIT_INFO_MAX`: the device-info strings' largest size.
pub const CUSE_INIT_INFO_MAX: usize = 4096;

/// `FUSE_INT_REQ_BIT`: an interrupt's unique is its request's | 1
/// (`fs/fuse/fuse_dev_i.h`; ordinary requests have even ids).
pub const FUSE_INT_REQ_BIT: u64 = 1;
/// `FUSE_REQ_ID_STEP`.
pub const FUSE_REQ_ID_STEP: u64 = 2;

pub const IN_HEADER_LEN: usize = 40;
pub const OUT_HEADER_LEN: usize = 16;
/// `sizeof(struct cuse_init_in)`, `sizeof(struct cuse_init_out)`.
pub const CUSE_INIT_IN_LEN: usize = 16;
pub const CUSE_INIT_OUT_LEN: usize = 72;
/// `sizeof(struct fuse_open_in)`, `fuse_open_out`.
pub const OPEN_IN_LEN: usize = 8;
pub const OPEN_OUT_LEN: usize = 16;
/// `sizeof(struct fuse_read_in)` (= `fuse_write_in`), `fuse_write_out`.
pub const READ_IN_LEN: usize = 40;
pub const WRITE_IN_LEN: usize = 40;
pub const WRITE_OUT_LEN: usize = 8;
/// `sizeof(struct fuse_release_in)`.
pub const RELEASE_IN_LEN: usize = 24;
/// `sizeof(struct fuse_notify_poll_wakeup_out)`.
pub const NOTIFY_POLL_LEN: usize = 8;

/// The constants scenarios may name.
pub const CONSTANTS: &[(&str, u64)] = &[
    ("FUSE_OPEN", FUSE_OPEN as u64),
    ("FUSE_READ", FUSE_READ as u64),
    ("FUSE_WRITE", FUSE_WRITE as u64),
    ("FUSE_RELEASE", FUSE_RELEASE as u64),
    ("FUSE_FSYNC", FUSE_FSYNC as u64),
    ("FUSE_FLUSH", FUSE_FLUSH as u64),
    ("FUSE_INTERRUPT", FUSE_INTERRUPT as u64),
    ("FUSE_IOCTL", FUSE_IOCTL as u64),
    ("FUSE_POLL", FUSE_POLL as u64),
    ("CUSE_INIT", CUSE_INIT as u64),
    ("FUSE_NOTIFY_POLL", FUSE_NOTIFY_POLL as u64),
    ("CUSE_UNRESTRICTED_IOCTL", CUSE_UNRESTRICTED_IOCTL as u64),
    ("FUSE_KERNEL_VERSION", FUSE_KERNEL_VERSION as u64),
    ("FUSE_KERNEL_MINOR_VERSION", FUSE_KERNEL_MINOR_VERSION as u64),
    ("FUSE_MIN_READ_BUFFER", FUSE_MIN_READ_BUFFER as u64),
];

/// A little-endian field writer for the structs above.
#[derive(Default)]
pub struct Le(pub Vec<u8>);

impl Le {
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

/// The little-endian `u32` at `off` of `b` (0 past the end).
pub fn get_u32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The little-endian `u64` at `off` of `b` (0 past the end).
pub fn get_u64(b: &[u8], off: usize) -> u64 {
    (get_u32(b, off) as u64) | (get_u32(b, off + 4) as u64) << 32
}

/// `struct fuse_out_header` of a reply: `len`, `error`, `unique`.
pub fn out_header(len: usize, error: i32, unique: u64) -> Vec<u8> {
    Le::default().u32(len as u32).u32(error as u32).u64(unique).0
}
