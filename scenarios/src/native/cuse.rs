//! The CUSE daemon's calls on the host: all skip for now. The host has
//! FUSE (`/dev/fuse`, the same channel code, `fs/fuse/dev.c`) but not
//! CUSE; running the channel scenarios against `/dev/fuse` under a FUSE
//! mount is not built yet.

use super::Native;

const NO_CUSE: &str =
    "ksim-only for now: the host oracle for the FUSE channel (/dev/fuse under a FUSE mount) is not built";

pub const CALLS: &[(&str, Native)] = &[
    ("fuse_read", Native::Skip(NO_CUSE)),
    ("cuse_reply_init", Native::Skip(NO_CUSE)),
    ("fuse_reply_open", Native::Skip(NO_CUSE)),
    ("fuse_reply_data", Native::Skip(NO_CUSE)),
    ("fuse_reply_write", Native::Skip(NO_CUSE)),
    ("fuse_reply_err", Native::Skip(NO_CUSE)),
    ("fuse_notify_poll", Native::Skip(NO_CUSE)),
    (
        "read_file",
        Native::Skip("ksim-only for now: the paths are CUSE's sysfs attributes, which the host has no device for"),
    ),
    (
        "write_file",
        Native::Skip("ksim-only for now: the paths are CUSE's sysfs attributes, which the host has no device for"),
    ),
];
