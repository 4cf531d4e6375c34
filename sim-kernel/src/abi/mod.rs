//! UAPI constants, Linux names verbatim (x86_64 / asm-generic values).
//!
//! Sources: `include/uapi/asm-generic/fcntl.h`, `include/uapi/linux/eventfd.h`
//! (`EFD_*` = the `O_*` values), `include/uapi/asm-generic/poll.h`,
//! `include/uapi/linux/fs.h` (`SEEK_*`), `include/uapi/asm-generic/ioctls.h`
//! (`FIONREAD`), `include/uapi/asm-generic/resource.h` (`RLIMIT_NOFILE`),
//! `include/uapi/linux/watch_queue.h` (notification pipes).
//! [`CONSTANTS`] is the table the scenario language resolves names against.

// fcntl.h: access modes and status flags (octal in the header).
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_ACCMODE: u32 = 0o3;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DSYNC: u32 = 0o10000;
pub const O_ASYNC: u32 = 0o20000; // FASYNC
pub const O_DIRECT: u32 = 0o40000;
pub const O_LARGEFILE: u32 = 0o100000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;
/// `include/uapi/linux/watch_queue.h`: `#define O_NOTIFICATION_PIPE O_EXCL`.
pub const O_NOTIFICATION_PIPE: u32 = O_EXCL;

/// Status flags `F_SETFL` may change (`fs/fcntl.c`: `SETFL_MASK`). FASYNC
/// is not in it: it changes only through a file's `->fasync`, which no
/// simulated file type has, so it stays clear.
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

// fcntl commands.
pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const F_SETPIPE_SZ: u32 = 1031;
pub const F_GETPIPE_SZ: u32 = 1032;
pub const FD_CLOEXEC: u32 = 1;

// eventfd.h
pub const EFD_SEMAPHORE: u32 = 1;
pub const EFD_CLOEXEC: u32 = O_CLOEXEC;
pub const EFD_NONBLOCK: u32 = O_NONBLOCK;
/// `fs/eventfd.c`: `EFD_SHARED_FCNTL_FLAGS | EFD_SEMAPHORE`.
pub const EFD_FLAGS_SET: u32 = EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE;

// poll.h
pub const POLLIN: u32 = 0x0001;
pub const POLLPRI: u32 = 0x0002;
pub const POLLOUT: u32 = 0x0004;
pub const POLLERR: u32 = 0x0008;
pub const POLLHUP: u32 = 0x0010;
pub const POLLNVAL: u32 = 0x0020;
pub const POLLRDNORM: u32 = 0x0040;
pub const POLLRDBAND: u32 = 0x0080;
pub const POLLWRNORM: u32 = 0x0100;
pub const POLLWRBAND: u32 = 0x0200;
pub const POLLMSG: u32 = 0x0400;
pub const POLLRDHUP: u32 = 0x2000;

// fs.h
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;
pub const SEEK_MAX: u32 = SEEK_HOLE;

// ioctls.h
pub const FIONREAD: u32 = 0x541B;
pub const FIONBIO: u32 = 0x5421;
pub const FIOCLEX: u32 = 0x5451;
pub const FIONCLEX: u32 = 0x5450;

// resource.h
pub const RLIMIT_NOFILE: u32 = 7;
/// `include/asm-generic/resource.h`: `INR_OPEN_CUR`, the default soft limit.
pub const INR_OPEN_CUR: u64 = 1024;
/// `include/uapi/linux/fs.h`: `INR_OPEN_MAX`, the default hard limit
/// (`INIT_RLIMITS` in `include/asm-generic/resource.h`).
pub const INR_OPEN_MAX: u64 = 4096;
/// `fs/file.c`: `sysctl_nr_open` default (`1024 * 1024`), the hard ceiling.
pub const NR_OPEN_MAX: u64 = 1024 * 1024;

pub const PAGE_SIZE: u64 = 4096;

// include/uapi/linux/limits.h: the atomic-write size of a pipe.
pub const PIPE_BUF: u64 = 4096;

// include/uapi/asm-generic/signal.h (x86_64 numbers).
pub const SIGPIPE: u32 = 13;

// include/uapi/linux/watch_queue.h: notification pipes.
/// `_IO('W', 0x60)`.
pub const IOC_WATCH_QUEUE_SET_SIZE: u32 = 0x5760;
/// `_IO('W', 0x61)`.
pub const IOC_WATCH_QUEUE_SET_FILTER: u32 = 0x5761;
pub const WATCH_TYPE_META: u32 = 0;
pub const WATCH_TYPE_KEY_NOTIFY: u32 = 1;
pub const WATCH_TYPE__NR: u32 = 2;
pub const WATCH_META_REMOVAL_NOTIFICATION: u32 = 0;
pub const WATCH_META_LOSS_NOTIFICATION: u32 = 1;
pub const WATCH_INFO_LENGTH: u32 = 0x0000_007f;
pub const WATCH_INFO_ID: u32 = 0x0000_ff00;
pub const WATCH_INFO_ID__SHIFT: u32 = 8;
pub const WATCH_INFO_TYPE_INFO: u32 = 0xffff_0000;
pub const WATCH_INFO_FLAG_0: u32 = 0x0001_0000;
pub const WATCH_INFO_FLAG_7: u32 = 0x0080_0000;

/// Every constant the scenario language knows by name, with its value.
/// Errno names are separate ([`crate::errno::Errno::from_name`]).
pub const CONSTANTS: &[(&str, u64)] = &[
    ("O_RDONLY", O_RDONLY as u64),
    ("O_WRONLY", O_WRONLY as u64),
    ("O_RDWR", O_RDWR as u64),
    ("O_ACCMODE", O_ACCMODE as u64),
    ("O_CREAT", O_CREAT as u64),
    ("O_EXCL", O_EXCL as u64),
    ("O_NOCTTY", O_NOCTTY as u64),
    ("O_TRUNC", O_TRUNC as u64),
    ("O_APPEND", O_APPEND as u64),
    ("O_NONBLOCK", O_NONBLOCK as u64),
    ("O_DSYNC", O_DSYNC as u64),
    ("O_ASYNC", O_ASYNC as u64),
    ("FASYNC", O_ASYNC as u64),
    ("O_DIRECT", O_DIRECT as u64),
    ("O_LARGEFILE", O_LARGEFILE as u64),
    ("O_DIRECTORY", O_DIRECTORY as u64),
    ("O_NOFOLLOW", O_NOFOLLOW as u64),
    ("O_NOATIME", O_NOATIME as u64),
    ("O_CLOEXEC", O_CLOEXEC as u64),
    ("O_NOTIFICATION_PIPE", O_NOTIFICATION_PIPE as u64),
    ("F_DUPFD", F_DUPFD as u64),
    ("F_GETFD", F_GETFD as u64),
    ("F_SETFD", F_SETFD as u64),
    ("F_GETFL", F_GETFL as u64),
    ("F_SETFL", F_SETFL as u64),
    ("F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC as u64),
    ("F_SETPIPE_SZ", F_SETPIPE_SZ as u64),
    ("F_GETPIPE_SZ", F_GETPIPE_SZ as u64),
    ("FD_CLOEXEC", FD_CLOEXEC as u64),
    ("EFD_SEMAPHORE", EFD_SEMAPHORE as u64),
    ("EFD_CLOEXEC", EFD_CLOEXEC as u64),
    ("EFD_NONBLOCK", EFD_NONBLOCK as u64),
    ("POLLIN", POLLIN as u64),
    ("POLLPRI", POLLPRI as u64),
    ("POLLOUT", POLLOUT as u64),
    ("POLLERR", POLLERR as u64),
    ("POLLHUP", POLLHUP as u64),
    ("POLLNVAL", POLLNVAL as u64),
    ("POLLRDNORM", POLLRDNORM as u64),
    ("POLLRDBAND", POLLRDBAND as u64),
    ("POLLWRNORM", POLLWRNORM as u64),
    ("POLLWRBAND", POLLWRBAND as u64),
    ("POLLMSG", POLLMSG as u64),
    ("POLLRDHUP", POLLRDHUP as u64),
    ("SEEK_SET", SEEK_SET as u64),
    ("SEEK_CUR", SEEK_CUR as u64),
    ("SEEK_END", SEEK_END as u64),
    ("SEEK_DATA", SEEK_DATA as u64),
    ("SEEK_HOLE", SEEK_HOLE as u64),
    ("FIONREAD", FIONREAD as u64),
    ("FIONBIO", FIONBIO as u64),
    ("FIOCLEX", FIOCLEX as u64),
    ("FIONCLEX", FIONCLEX as u64),
    ("RLIMIT_NOFILE", RLIMIT_NOFILE as u64),
    ("PAGE_SIZE", PAGE_SIZE),
    ("ULLONG_MAX", u64::MAX),
    ("PIPE_BUF", PIPE_BUF),
    ("SIGPIPE", SIGPIPE as u64),
    ("IOC_WATCH_QUEUE_SET_SIZE", IOC_WATCH_QUEUE_SET_SIZE as u64),
    ("IOC_WATCH_QUEUE_SET_FILTER", IOC_WATCH_QUEUE_SET_FILTER as u64),
    ("WATCH_TYPE_META", WATCH_TYPE_META as u64),
    ("WATCH_TYPE_KEY_NOTIFY", WATCH_TYPE_KEY_NOTIFY as u64),
    ("WATCH_TYPE__NR", WATCH_TYPE__NR as u64),
    ("WATCH_META_REMOVAL_NOTIFICATION", WATCH_META_REMOVAL_NOTIFICATION as u64),
    ("WATCH_META_LOSS_NOTIFICATION", WATCH_META_LOSS_NOTIFICATION as u64),
    ("WATCH_INFO_LENGTH", WATCH_INFO_LENGTH as u64),
    ("WATCH_INFO_ID", WATCH_INFO_ID as u64),
    ("WATCH_INFO_TYPE_INFO", WATCH_INFO_TYPE_INFO as u64),
    ("WATCH_INFO_FLAG_0", WATCH_INFO_FLAG_0 as u64),
    ("WATCH_INFO_FLAG_7", WATCH_INFO_FLAG_7 as u64),
];

/// Looks a constant up by name.
pub fn constant(name: &str) -> Option<u64> {
    CONSTANTS
        .iter()
        .chain(MM_CONSTANTS)
        .chain(crate::uverbs::abi::CONSTANTS)
        .chain(crate::fuse::abi::CONSTANTS)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

// mman-common.h
pub const PROT_NONE: u32 = 0x0;
pub const PROT_READ: u32 = 0x1;
pub const PROT_WRITE: u32 = 0x2;
pub const PROT_EXEC: u32 = 0x4;
pub const PROT_SEM: u32 = 0x8;
/// The protection bits a VMA keeps (`calc_vm_prot_bits`).
pub const PROT_MASK: u32 = PROT_READ | PROT_WRITE | PROT_EXEC;

// include/uapi/linux/userfaultfd.h (6.x): the API number, the ioctl
// numbers (`_IOWR(0xAA, nr, struct)`), their bit numbers in `ioctls`
// masks, the modes, the features, the events and the fault flags.
pub const UFFD_API: u64 = 0xAA;
/// `userfaultfd(2)` flag (since 5.11).
pub const UFFD_USER_MODE_ONLY: u32 = 1;
pub const _UFFDIO_REGISTER: u32 = 0x00;
pub const _UFFDIO_UNREGISTER: u32 = 0x01;
pub const _UFFDIO_WAKE: u32 = 0x02;
pub const _UFFDIO_COPY: u32 = 0x03;
pub const _UFFDIO_ZEROPAGE: u32 = 0x04;
pub const _UFFDIO_MOVE: u32 = 0x05;
pub const _UFFDIO_WRITEPROTECT: u32 = 0x06;
pub const _UFFDIO_CONTINUE: u32 = 0x07;
pub const _UFFDIO_POISON: u32 = 0x08;
pub const _UFFDIO_API: u32 = 0x3F;
pub const UFFDIO_API: u32 = 0xC018_AA3F;
pub const UFFDIO_REGISTER: u32 = 0xC020_AA00;
pub const UFFDIO_UNREGISTER: u32 = 0x8010_AA01;
pub const UFFDIO_WAKE: u32 = 0x8010_AA02;
pub const UFFDIO_COPY: u32 = 0xC028_AA03;
pub const UFFDIO_ZEROPAGE: u32 = 0xC020_AA04;
pub const UFFDIO_MOVE: u32 = 0xC028_AA05;
pub const UFFDIO_WRITEPROTECT: u32 = 0xC018_AA06;
pub const UFFDIO_CONTINUE: u32 = 0xC020_AA07;
pub const UFFDIO_POISON: u32 = 0xC020_AA08;
/// `UFFD_API_IOCTLS`: REGISTER, UNREGISTER, API.
pub const UFFD_API_IOCTLS: u64 = 1 << _UFFDIO_REGISTER | 1 << _UFFDIO_UNREGISTER | 1 << _UFFDIO_API;
/// `UFFD_API_RANGE_IOCTLS`: WAKE, COPY, ZEROPAGE, MOVE, WRITEPROTECT,
/// CONTINUE, POISON (REGISTER drops WRITEPROTECT and CONTINUE for ranges
/// not registered WP or MINOR).
pub const UFFD_API_RANGE_IOCTLS: u64 = 1 << _UFFDIO_WAKE
    | 1 << _UFFDIO_COPY
    | 1 << _UFFDIO_ZEROPAGE
    | 1 << _UFFDIO_MOVE
    | 1 << _UFFDIO_WRITEPROTECT
    | 1 << _UFFDIO_CONTINUE
    | 1 << _UFFDIO_POISON;
pub const UFFDIO_REGISTER_MODE_MISSING: u64 = 1 << 0;
pub const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
pub const UFFDIO_REGISTER_MODE_MINOR: u64 = 1 << 2;
pub const UFFDIO_COPY_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_COPY_MODE_WP: u64 = 1 << 1;
pub const UFFDIO_ZEROPAGE_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;
pub const UFFDIO_WRITEPROTECT_MODE_DONTWAKE: u64 = 1 << 1;
pub const UFFDIO_CONTINUE_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_CONTINUE_MODE_WP: u64 = 1 << 1;
pub const UFFDIO_POISON_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_MOVE_MODE_DONTWAKE: u64 = 1 << 0;
pub const UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES: u64 = 1 << 1;
pub const UFFD_FEATURE_PAGEFAULT_FLAG_WP: u64 = 1 << 0;
pub const UFFD_FEATURE_EVENT_FORK: u64 = 1 << 1;
pub const UFFD_FEATURE_EVENT_REMAP: u64 = 1 << 2;
pub const UFFD_FEATURE_EVENT_REMOVE: u64 = 1 << 3;
pub const UFFD_FEATURE_MISSING_HUGETLBFS: u64 = 1 << 4;
pub const UFFD_FEATURE_MISSING_SHMEM: u64 = 1 << 5;
pub const UFFD_FEATURE_EVENT_UNMAP: u64 = 1 << 6;
pub const UFFD_FEATURE_SIGBUS: u64 = 1 << 7;
pub const UFFD_FEATURE_THREAD_ID: u64 = 1 << 8;
pub const UFFD_FEATURE_MINOR_HUGETLBFS: u64 = 1 << 9;
pub const UFFD_FEATURE_MINOR_SHMEM: u64 = 1 << 10;
pub const UFFD_FEATURE_EXACT_ADDRESS: u64 = 1 << 11;
pub const UFFD_FEATURE_WP_HUGETLBFS_SHMEM: u64 = 1 << 12;
pub const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
pub const UFFD_FEATURE_POISON: u64 = 1 << 14;
pub const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
pub const UFFD_FEATURE_MOVE: u64 = 1 << 16;
/// `UFFD_API_FEATURES` as an x86_64 6.8+ kernel reports it (0x1ffff, what
/// the host kernel answers).
pub const UFFD_API_FEATURES: u64 = (1 << 17) - 1;
pub const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
pub const UFFD_EVENT_FORK: u8 = 0x13;
pub const UFFD_EVENT_REMAP: u8 = 0x14;
pub const UFFD_EVENT_REMOVE: u8 = 0x15;
pub const UFFD_EVENT_UNMAP: u8 = 0x16;
pub const UFFD_PAGEFAULT_FLAG_WRITE: u64 = 1 << 0;
pub const UFFD_PAGEFAULT_FLAG_WP: u64 = 1 << 1;
pub const UFFD_PAGEFAULT_FLAG_MINOR: u64 = 1 << 2;

/// The memory and userfaultfd constants by name (appended to the language's
/// table by [`constant`]).
pub const MM_CONSTANTS: &[(&str, u64)] = &[
    ("PROT_NONE", PROT_NONE as u64),
    ("PROT_READ", PROT_READ as u64),
    ("PROT_WRITE", PROT_WRITE as u64),
    ("PROT_EXEC", PROT_EXEC as u64),
    ("PROT_SEM", PROT_SEM as u64),
    ("UFFD_API", UFFD_API),
    ("UFFD_USER_MODE_ONLY", UFFD_USER_MODE_ONLY as u64),
    ("_UFFDIO_REGISTER", _UFFDIO_REGISTER as u64),
    ("_UFFDIO_UNREGISTER", _UFFDIO_UNREGISTER as u64),
    ("_UFFDIO_WAKE", _UFFDIO_WAKE as u64),
    ("_UFFDIO_COPY", _UFFDIO_COPY as u64),
    ("_UFFDIO_ZEROPAGE", _UFFDIO_ZEROPAGE as u64),
    ("_UFFDIO_MOVE", _UFFDIO_MOVE as u64),
    ("_UFFDIO_WRITEPROTECT", _UFFDIO_WRITEPROTECT as u64),
    ("_UFFDIO_CONTINUE", _UFFDIO_CONTINUE as u64),
    ("_UFFDIO_POISON", _UFFDIO_POISON as u64),
    ("_UFFDIO_API", _UFFDIO_API as u64),
    ("UFFDIO_API", UFFDIO_API as u64),
    ("UFFDIO_REGISTER", UFFDIO_REGISTER as u64),
    ("UFFDIO_UNREGISTER", UFFDIO_UNREGISTER as u64),
    ("UFFDIO_WAKE", UFFDIO_WAKE as u64),
    ("UFFDIO_COPY", UFFDIO_COPY as u64),
    ("UFFDIO_ZEROPAGE", UFFDIO_ZEROPAGE as u64),
    ("UFFDIO_MOVE", UFFDIO_MOVE as u64),
    ("UFFDIO_WRITEPROTECT", UFFDIO_WRITEPROTECT as u64),
    ("UFFDIO_CONTINUE", UFFDIO_CONTINUE as u64),
    ("UFFDIO_POISON", UFFDIO_POISON as u64),
    ("UFFD_API_IOCTLS", UFFD_API_IOCTLS),
    ("UFFD_API_RANGE_IOCTLS", UFFD_API_RANGE_IOCTLS),
    ("UFFD_API_FEATURES", UFFD_API_FEATURES),
    ("UFFDIO_REGISTER_MODE_MISSING", UFFDIO_REGISTER_MODE_MISSING),
    ("UFFDIO_REGISTER_MODE_WP", UFFDIO_REGISTER_MODE_WP),
    ("UFFDIO_REGISTER_MODE_MINOR", UFFDIO_REGISTER_MODE_MINOR),
    ("UFFDIO_COPY_MODE_DONTWAKE", UFFDIO_COPY_MODE_DONTWAKE),
    ("UFFDIO_COPY_MODE_WP", UFFDIO_COPY_MODE_WP),
    ("UFFDIO_ZEROPAGE_MODE_DONTWAKE", UFFDIO_ZEROPAGE_MODE_DONTWAKE),
    ("UFFDIO_WRITEPROTECT_MODE_WP", UFFDIO_WRITEPROTECT_MODE_WP),
    ("UFFDIO_WRITEPROTECT_MODE_DONTWAKE", UFFDIO_WRITEPROTECT_MODE_DONTWAKE),
    ("UFFDIO_CONTINUE_MODE_DONTWAKE", UFFDIO_CONTINUE_MODE_DONTWAKE),
    ("UFFDIO_CONTINUE_MODE_WP", UFFDIO_CONTINUE_MODE_WP),
    ("UFFDIO_POISON_MODE_DONTWAKE", UFFDIO_POISON_MODE_DONTWAKE),
    ("UFFDIO_MOVE_MODE_DONTWAKE", UFFDIO_MOVE_MODE_DONTWAKE),
    ("UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES", UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES),
    ("UFFD_FEATURE_PAGEFAULT_FLAG_WP", UFFD_FEATURE_PAGEFAULT_FLAG_WP),
    ("UFFD_FEATURE_EVENT_FORK", UFFD_FEATURE_EVENT_FORK),
    ("UFFD_FEATURE_EVENT_REMAP", UFFD_FEATURE_EVENT_REMAP),
    ("UFFD_FEATURE_EVENT_REMOVE", UFFD_FEATURE_EVENT_REMOVE),
    ("UFFD_FEATURE_MISSING_HUGETLBFS", UFFD_FEATURE_MISSING_HUGETLBFS),
    ("UFFD_FEATURE_MISSING_SHMEM", UFFD_FEATURE_MISSING_SHMEM),
    ("UFFD_FEATURE_EVENT_UNMAP", UFFD_FEATURE_EVENT_UNMAP),
    ("UFFD_FEATURE_SIGBUS", UFFD_FEATURE_SIGBUS),
    ("UFFD_FEATURE_THREAD_ID", UFFD_FEATURE_THREAD_ID),
    ("UFFD_FEATURE_MINOR_HUGETLBFS", UFFD_FEATURE_MINOR_HUGETLBFS),
    ("UFFD_FEATURE_MINOR_SHMEM", UFFD_FEATURE_MINOR_SHMEM),
    ("UFFD_FEATURE_EXACT_ADDRESS", UFFD_FEATURE_EXACT_ADDRESS),
    ("UFFD_FEATURE_WP_HUGETLBFS_SHMEM", UFFD_FEATURE_WP_HUGETLBFS_SHMEM),
    ("UFFD_FEATURE_WP_UNPOPULATED", UFFD_FEATURE_WP_UNPOPULATED),
    ("UFFD_FEATURE_POISON", UFFD_FEATURE_POISON),
    ("UFFD_FEATURE_WP_ASYNC", UFFD_FEATURE_WP_ASYNC),
    ("UFFD_FEATURE_MOVE", UFFD_FEATURE_MOVE),
    ("UFFD_EVENT_PAGEFAULT", UFFD_EVENT_PAGEFAULT as u64),
    ("UFFD_EVENT_FORK", UFFD_EVENT_FORK as u64),
    ("UFFD_EVENT_REMAP", UFFD_EVENT_REMAP as u64),
    ("UFFD_EVENT_REMOVE", UFFD_EVENT_REMOVE as u64),
    ("UFFD_EVENT_UNMAP", UFFD_EVENT_UNMAP as u64),
    ("UFFD_PAGEFAULT_FLAG_WRITE", UFFD_PAGEFAULT_FLAG_WRITE),
    ("UFFD_PAGEFAULT_FLAG_WP", UFFD_PAGEFAULT_FLAG_WP),
    ("UFFD_PAGEFAULT_FLAG_MINOR", UFFD_PAGEFAULT_FLAG_MINOR),
];
