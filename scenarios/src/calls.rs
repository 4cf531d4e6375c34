//! The call catalog: every call a scenario can make, its signature (for the
//! resolver) and its dispatch to the kernel's `sys_*` entry points and
//! kernel-internal APIs; the value builtins; the constants; the limit on a
//! value's size ([`MAX_VALUE_BYTES`]).
//!
//! Integer arguments are converted as the C prototypes would: fds and flags
//! are `int`/`unsigned int` (truncated), counts `size_t`, offsets `off_t`.

use crate::lang::catalog::{BuiltinId, BuiltinSig, CallCtx, CallId, CallSig, Catalog, Named, Ret};
use crate::lang::ir::{Const, IrExpr};
use crate::value::{Handle, Value};
use crate::verbs;
use sim_kernel::abi;
use sim_kernel::eventfd;
use sim_kernel::mm::memory::Fault;
use sim_kernel::syscall::mm;
use sim_kernel::syscall::*;
use sim_kernel::tutorial::mailbox;
use sim_kernel::userfaultfd::{UffdMsg, UFFD_MSG_SIZE};
use sim_kernel::uverbs::abi::{
    IBV_QPT_RC, IBV_SEND_SIGNALED, IBV_WR_ATOMIC_CMP_AND_SWP, IBV_WR_ATOMIC_FETCH_AND_ADD, IBV_WR_SEND,
    IB_USER_VERBS_CMD_DEALLOC_PD, IB_USER_VERBS_CMD_DEREG_MR, IB_USER_VERBS_CMD_POST_RECV, IB_USER_VERBS_CMD_POST_SEND,
    UVERBS_RECV_WR_SIZE, UVERBS_SEND_WR_SIZE,
};
use sim_kernel::vfs::file::{IoctlArg, IoctlOut};
use sim_kernel::watch_queue;
use sim_kernel::{Errno, KResult, Task};
use std::rc::Rc;

/// What the book says of a call, beside its signature (markdown, `|`
/// unescaped): what it returns, and its notes: the Linux call it follows,
/// its errnos in the order they are checked, where it can block.
#[derive(Clone, Copy, Debug)]
pub struct CallDoc {
    pub returns: &'static str,
    pub notes: &'static str,
}

macro_rules! calls {
    ($( $id:ident = $name:literal, $ctx:ident, $min:literal..$max:literal, $named:expr, $ret:ident, $usage:literal,
        $returns:literal, $notes:literal; )*) => {
        /// Every call, in catalog order (the discriminant is the `CallId`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Sys { $( $id, )* }
        const SYS: &[Sys] = &[ $( Sys::$id, )* ];
        /// Signatures, indexed by `CallId`.
        pub const CALLS: &[CallSig] = &[ $( CallSig {
            name: $name, ctx: CallCtx::$ctx, min: $min, max: $max, named: $named, ret: Ret::$ret, usage: $usage,
        }, )* ];
        /// The book's text for each call, indexed by `CallId`
        /// ([`crate::reference`] prints it).
        pub const CALL_DOCS: &[CallDoc] = &[ $( CallDoc { returns: $returns, notes: $notes }, )* ];
    };
}

calls! {
    Eventfd = "eventfd", User, 1..2, Named::None, One, "eventfd(INITVAL[, FLAGS])",
        "the new fd",
        "`eventfd2(2)`; the one-argument form is `eventfd(2)`, that is flags 0. INITVAL is an `unsigned int`. Flags other than `EFD_CLOEXEC`, `EFD_NONBLOCK`, `EFD_SEMAPHORE`: `EINVAL`; no free fd below `RLIMIT_NOFILE`: `EMFILE`";
    EventfdRead = "eventfd_read", User, 1..1, Named::None, One, "eventfd_read(FD)",
        "the counter value read",
        "glibc's `eventfd_read`: `read(FD, &v, 8)`. Returns `v` instead of storing it ([divergence](divergences.md)); errnos as `read`";
    EventfdWrite = "eventfd_write", User, 2..2, Named::None, One, "eventfd_write(FD, VALUE)",
        "0",
        "glibc's `eventfd_write`: writes VALUE as 8 little-endian bytes; errnos as `write`";
    Read = "read", User, 2..2, Named::None, One, "read(FD, COUNT)",
        "the bytes read",
        "COUNT is the buffer size. Not open: `EBADF`; not opened for reading: `EBADF`; then the file type's read ([eventfd](eventfd.md#counter-semantics), [pipes](pipes.md))";
    Write = "write", User, 2..2, Named::None, One, "write(FD, BYTES)",
        "the count written",
        "not open or not opened for writing: `EBADF`; then the file type's write ([pipes](pipes.md))";
    Pread = "pread", User, 3..3, Named::None, One, "pread(FD, COUNT, OFFSET)",
        "the bytes read",
        "`pread64(2)`. OFFSET < 0: `EINVAL` before the fd is looked up; `EBADF`; no file ksim has supports positional I/O: `ESPIPE`";
    Pwrite = "pwrite", User, 3..3, Named::None, One, "pwrite(FD, BYTES, OFFSET)",
        "the count written",
        "`pwrite64(2)`; as `pread`";
    Close = "close", User, 1..1, Named::None, One, "close(FD)",
        "0",
        "not open: `EBADF`. The file is released only if that was its last reference";
    Dup = "dup", User, 1..1, Named::None, One, "dup(FD)",
        "the new fd",
        "`EBADF`, then `EMFILE`. The new fd has `FD_CLOEXEC` clear";
    Dup2 = "dup2", User, 2..2, Named::None, One, "dup2(OLDFD, NEWFD)",
        "NEWFD",
        "OLDFD == NEWFD: NEWFD if open, else `EBADF`. Otherwise as `dup3` with flags 0";
    Dup3 = "dup3", User, 3..3, Named::None, One, "dup3(OLDFD, NEWFD, FLAGS)",
        "NEWFD",
        "flags other than `O_CLOEXEC`, or OLDFD == NEWFD: `EINVAL`; NEWFD ≥ `RLIMIT_NOFILE`: `EBADF`; OLDFD not open: `EBADF`; NEWFD reserved by an fd-creating call in progress: `EBUSY`. Whatever NEWFD named is closed";
    Fcntl = "fcntl", User, 2..3, Named::None, One, "fcntl(FD, CMD[, ARG])",
        "an integer",
        "`F_DUPFD`, `F_DUPFD_CLOEXEC` (ARG ≥ `RLIMIT_NOFILE`: `EINVAL`), `F_GETFD`, `F_SETFD`, `F_GETFL`, `F_SETFL` (changes `O_APPEND`, `O_NONBLOCK`, `O_DIRECT`, `O_NOATIME`; `O_ASYNC` stays clear as no file has `->fasync`; `O_DIRECT` on a file that is not a pipe: `EINVAL`), `F_SETPIPE_SZ`/`F_GETPIPE_SZ` on a non-pipe: `EBADF`; any other CMD: `EINVAL`";
    Lseek = "lseek", User, 3..3, Named::None, One, "lseek(FD, OFFSET, WHENCE)",
        "the new offset",
        "`EBADF`; WHENCE > `SEEK_HOLE`: `EINVAL`; a file with no llseek: `ESPIPE`; eventfd and the console (`noop_llseek`) return the current position, 0, and change nothing";
    Poll = "poll", User, 3..3, Named::None, One, "poll(FD, EVENTS, TIMEOUT_MS)",
        "the revents of FD",
        "one fd ([divergence](divergences.md)). `POLLERR` and `POLLHUP` are reported whether asked or not; a closed FD gives `POLLNVAL`; a negative FD gives 0; `RLIMIT_NOFILE` below 1 (the one fd): `EINVAL`. TIMEOUT_MS 0 returns at once, negative waits forever, positive is a deadline on the virtual clock; 0 on timeout";
    Ioctl = "ioctl", User, 2..3, Named::Any, One, "ioctl(FD, CMD[, ARG][, FIELD=VALUE...])",
        "an integer or a record",
        "`FIOCLEX`, `FIONCLEX`, `FIONBIO` (ARG non-zero sets `O_NONBLOCK`, zero clears it) on any fd; other commands go to the file type (a pipe has `FIONREAD`, `IOC_WATCH_QUEUE_SET_SIZE` and `IOC_WATCH_QUEUE_SET_FILTER`, [pipes](pipes.md#notification-pipes); a userfaultfd the `UFFDIO_*` ioctls below; eventfd and the console have none: `ENOTTY`). Struct arguments are given as named fields and struct results come back as records";
    Exec = "exec", User, 0..0, Named::None, One, "exec()",
        "0",
        "closes every `FD_CLOEXEC` fd of the caller's process, and nothing else ([divergence](divergences.md))";
    FdPath = "fd_path", User, 1..1, Named::None, One, "fd_path(FD)",
        "a string",
        r#"**ksim**: what `readlink("/proc/self/fd/FD")` shows: `"anon_inode:[eventfd]"`, `"pipe:[INO]"`, `"/dev/null"`. Not open: `ENOENT` (no such /proc entry)"#;
    Setrlimit = "setrlimit", User, 2..2, Named::None, One, "setrlimit(RLIMIT_NOFILE, N)",
        "0",
        "sets the fd limit (soft and hard together); N above 1048576 (`sysctl_nr_open`): `EPERM`; any other resource: `EINVAL`";
    NowNs = "now_ns", Any, 0..0, Named::None, One, "now_ns()",
        "nanoseconds",
        "**ksim**: the virtual clock";
    SleepNs = "sleep_ns", Any, 1..1, Named::None, One, "sleep_ns(NS)",
        "0",
        "**ksim**: block until the virtual clock has advanced by NS";
    EventfdCtxFdget = "eventfd_ctx_fdget", Kernel, 1..1, Named::None, One, "eventfd_ctx_fdget(FD)",
        "`<eventfd_ctx>`",
        "takes a context reference. Not open: `EBADF`; not an eventfd: `EINVAL`";
    EventfdSignal = "eventfd_signal", Kernel, 2..2, Named::None, One, "eventfd_signal(CTX, N)",
        "the amount added",
        "the Linux ≤ 6.7 form: adds N, saturating at `ULLONG_MAX`, never blocks ([divergence](divergences.md))";
    EventfdCtxPut = "eventfd_ctx_put", Kernel, 1..1, Named::None, One, "eventfd_ctx_put(CTX)",
        "0",
        "drops a context reference; the last one frees the context";
    EventfdWaitAdd = "eventfd_wait_add", Kernel, 1..1, Named::None, One, "eventfd_wait_add(CTX)",
        "`<eventfd_wait>`",
        "**ksim**: queues an in-kernel wait entry with a wake function on the context's wait queue, as KVM's irqfd does; the entry records the keys it is woken with";
    EventfdCtxRemoveWaitQueue = "eventfd_ctx_remove_wait_queue", Kernel, 2..2, Named::None, One, "eventfd_ctx_remove_wait_queue(CTX, WAIT)",
        "the count consumed",
        "consumes the count as a read would and removes WAIT, atomically; `EAGAIN` if the count was 0. The entry is freed; using it afterwards is a use-after-free";
    EventfdWaitKeys = "eventfd_wait_keys", Kernel, 1..1, Named::None, One, "eventfd_wait_keys(WAIT)",
        "the keys, OR'ed",
        "**ksim**: every poll key the entry has been woken with (`POLLIN`, `POLLOUT`, `POLLHUP`)";
    Pipe = "pipe", User, 0..0, Named::None, Pair, "(R, W) = pipe()",
        "a pair: the read end's fd and the write end's fd",
        "`pipe(2)`: `pipe2` with flags 0 ([pipes](pipes.md))";
    Pipe2 = "pipe2", User, 1..1, Named::None, Pair, "(R, W) = pipe2(FLAGS)",
        "a pair: the read end's fd and the write end's fd",
        "`pipe2(2)`: flags other than `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT`, `O_NOTIFICATION_PIPE`: `EINVAL`; no two free fds: `EMFILE`, and no fd is left behind. `O_NOTIFICATION_PIPE` makes a notification pipe ([pipes](pipes.md#notification-pipes))";
    Sigcount = "sigcount", User, 1..1, Named::None, One, "sigcount(SIG)",
        "a count",
        "**ksim**: how many times the caller's process has received signal SIG (an integer, e.g. `SIGPIPE`) and ignored it: a write to a pipe with no reader sends `SIGPIPE`";
    WatchAdd = "watch_add", User, 3..3, Named::None, One, "watch_add(SRC, FD, ID)",
        "0",
        "`keyctl_watch_key(SRC, FD, ID)` for ksim's stand-in watchable object: subscribes the notification queue behind FD with the 8-bit ID (-1 removes). ID outside -1..255, or FD not a notification pipe: `EINVAL`; SRC already watched through that queue: `EBUSY` ([pipes](pipes.md#notification-pipes))";
    WatchRemove = "watch_remove", User, 2..2, Named::None, One, "watch_remove(SRC, FD)",
        "0",
        "**ksim**: removes SRC's watch on FD's queue, posting a 16-byte META/REMOVAL note that carries the watch's ID and `u64(src.id)`; no such watch: `EBADSLT`";
    WatchSource = "watch_source", Kernel, 0..0, Named::None, One, "watch_source()",
        "`<watch_source>`",
        "**ksim**: a watchable object (Linux's are keys and mounts) with a non-zero `.id`";
    PostNotification = "post_notification", Kernel, 4..5, Named::None, One, "post_notification(SRC, TYPE, SUBTYPE, PAYLOAD[, INFO_FLAGS])",
        "0",
        "`post_watch_notification`: posts a note to every watch of SRC whose queue's filter takes it, each copy carrying its watch's ID; a queue with no free slot loses it and marks the loss; never blocks. TYPE above 24 bits, SUBTYPE above 8, PAYLOAD above 119 bytes, INFO_FLAGS outside `WATCH_INFO_TYPE_INFO`: `EINVAL`";
    WatchSourceDestroy = "watch_source_destroy", Kernel, 1..1, Named::None, One, "watch_source_destroy(SRC)",
        "0",
        "**ksim**: removes every watch of SRC (each queue gets its removal note) and frees the object";
    Mmap = "mmap", User, 1..2, Named::None, One, "mmap(LEN[, PROT])",
        "the page-aligned address",
        "`mmap(NULL, LEN, PROT, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`; PROT defaults to `PROT_READ|PROT_WRITE`. LEN 0: `EINVAL`; too long: `ENOMEM`. Addresses are allocated top-down below 0x7ffff7fff000 ([userfaultfd](userfaultfd.md#the-address-space))";
    Munmap = "munmap", User, 2..2, Named::None, One, "munmap(ADDR, LEN)",
        "0",
        "unaligned ADDR, LEN 0, beyond the address space: `EINVAL`; nothing mapped: 0";
    Mprotect = "mprotect", User, 3..3, Named::None, One, "mprotect(ADDR, LEN, PROT)",
        "0",
        "unaligned ADDR: `EINVAL`; LEN 0: 0; unknown PROT bits: `EINVAL`; unmapped: `ENOMEM`";
    Load = "load", User, 1..1, Named::None, One, "load(ADDR)",
        "the little-endian u64 at ADDR",
        "**ksim**: a user read of 8 bytes (may straddle pages). `SIGSEGV`, `SIGBUS`; may block in a userfault";
    Store = "store", User, 2..2, Named::None, One, "store(ADDR, VALUE)",
        "0",
        "**ksim**: a user write of VALUE as 8 little-endian bytes. `SIGSEGV`, `SIGBUS`; may block";
    Memset = "memset", User, 3..3, Named::None, One, "memset(ADDR, BYTE, LEN)",
        "0",
        "`memset(3)`: BYTE as `unsigned char`, page by page (bytes before a fault stay written). `SIGSEGV`, `SIGBUS`; may block";
    Userfaultfd = "userfaultfd", User, 1..1, Named::None, One, "userfaultfd(FLAGS)",
        "the new fd",
        "`userfaultfd(2)`: flags other than `O_CLOEXEC`, `O_NONBLOCK`, `UFFD_USER_MODE_ONLY`: `EINVAL` ([userfaultfd](userfaultfd.md))";
    UffdRead = "uffd_read", User, 1..1, Named::None, One, "uffd_read(UFFD)",
        "a record `{event, flags, address}`",
        "**ksim**: `read(UFFD, &msg, 32)` shown as the fields of a `struct uffd_msg` page-fault message; errnos as `read`";
    // ANCHOR: mailbox_calls
    Mailbox = "mailbox", User, 0..1, Named::None, One, "mailbox([FLAGS])",
        "the new fd",
        "**ksim**: the tutorial mailbox of [Modelling your own kernel code](modelling-kernel-code.md), not a Linux call: a one-slot mailbox file, read-only. Flags other than `O_CLOEXEC`, `O_NONBLOCK`: `EINVAL`; `EMFILE`. `read(FD, 8)` takes the posted value as 8 little-endian bytes (fewer: `EINVAL`), sleeping while the slot is empty (`O_NONBLOCK`: `EAGAIN`)";
    MailboxGet = "mailbox_get", Kernel, 1..1, Named::None, One, "mailbox_get(FD)",
        "`<mailbox>`",
        "**ksim** (tutorial): takes a reference to the mailbox behind FD. Not open: `EBADF`; not a mailbox: `EINVAL`";
    MailboxPost = "mailbox_post", Kernel, 2..2, Named::None, One, "mailbox_post(MBOX, VALUE)",
        "0",
        "**ksim** (tutorial): stores VALUE and wakes the readers; never blocks. Full: `EAGAIN`; the file was released: `EPIPE`";
    MailboxPut = "mailbox_put", Kernel, 1..1, Named::None, One, "mailbox_put(MBOX)",
        "0",
        "**ksim** (tutorial): drops a reference; the last one frees the mailbox";
    // ANCHOR_END: mailbox_calls
    Open = "open", User, 2..2, Named::None, One, "open(PATH, FLAGS)",
        "the new fd",
        "`open(2)` of a device node (ksim has no files; the nodes are devtmpfs': `/dev/infiniband/uverbs0` and `uverbs1`, `/dev/cuse`, and each CUSE device's `/dev/NAME` while it is registered): no free fd below `RLIMIT_NOFILE`: `EMFILE` (first); no such node: `ENOENT`; a node whose device is gone: `ENXIO`; then the device's open ([uverbs](uverbs.md), [CUSE](cuse.md))";
    WriteMem = "write_mem", User, 3..3, Named::None, One, "write_mem(FD, ADDR, COUNT)",
        "the count written",
        "**ksim**: `write(FD, ADDR, COUNT)` with the buffer in the process's memory (`write` takes a value instead). `EBADF`; where the file reads a faulting byte: `EFAULT`";
    UverbsCmd = "uverbs_cmd", User, 4..4, Named::None, One, "uverbs_cmd(FD, CMD, IN_BYTES, OUT_WORDS)",
        "the response bytes (`b\"\"` when OUT_WORDS is 0)",
        "**ksim**: one uverbs command as libibverbs writes it, from a buffer in the process's memory: the header (`CMD`, `in_words` counting header and body, OUT_WORDS), then, when OUT_WORDS > 0, the address of a fresh response buffer of OUT_WORDS × 4 bytes, then IN_BYTES. Errnos in `ib_uverbs_write`'s order ([uverbs](uverbs.md#the-command-abi))";
    IbvOpenDevice = "ibv_open_device", User, 1..1, Named::None, One, "ibv_open_device(NAME)",
        "a record `{cmd_fd, async_fd, num_comp_vectors}`",
        "opens `/dev/infiniband/uverbsN` of HCA NAME (`\"hca0\"`, `\"hca1\"`) and sends GET_CONTEXT; `async_fd` is the context's async event file (`O_CLOEXEC`). No such HCA: `ENODEV`; errnos of `open` and GET_CONTEXT (the fd is closed again on failure)";
    IbvCloseDevice = "ibv_close_device", User, 1..1, Named::None, One, "ibv_close_device(CTX)",
        "0",
        "closes the async fd and the command fd; the last close destroys every object of the context";
    IbvAllocPd = "ibv_alloc_pd", User, 1..1, Named::None, One, "ibv_alloc_pd(CTX)",
        "a record `{cmd_fd, handle}`",
        "ALLOC_PD; the handle is the lowest free PD handle, global across processes and HCAs";
    IbvDeallocPd = "ibv_dealloc_pd", User, 1..1, Named::None, One, "ibv_dealloc_pd(PD)",
        "0",
        "DEALLOC_PD: a bad handle, another context's or a destroyed one: `EINVAL`; MRs on it: `EBUSY`";
    IbvRegMr = "ibv_reg_mr", User, 4..4, Named::None, One, "ibv_reg_mr(PD, ADDR, LEN, ACCESS)",
        "a record `{cmd_fd, handle, lkey, rkey}`",
        "REG_MR with `hca_va` = ADDR: `IBV_ACCESS_REMOTE_WRITE` or `_REMOTE_ATOMIC` without `_LOCAL_WRITE`: `EINVAL`; a bad PD: `EINVAL`; a page that cannot be faulted in (for writing, unless ACCESS is at most `IBV_ACCESS_REMOTE_READ`): `EFAULT`";
    IbvDeregMr = "ibv_dereg_mr", User, 1..1, Named::None, One, "ibv_dereg_mr(MR)",
        "0",
        "DEREG_MR: a bad handle: `EINVAL`";
    IbvCreateCompChannel = "ibv_create_comp_channel", User, 1..1, Named::None, One, "ibv_create_comp_channel(CTX)",
        "a record `{fd}`",
        "CREATE_COMP_CHANNEL: a completion event file (`O_CLOEXEC`); no free fd: `EMFILE`";
    IbvCreateCq = "ibv_create_cq", User, 4..4, Named::None, One, "ibv_create_cq(CTX, CQE, CHANNEL, VECTOR)",
        "a record `{cmd_fd, handle, cqe}`",
        "CREATE_CQ; CHANNEL is a completion channel's record or `NULL`. VECTOR not below `num_comp_vectors`: `EINVAL`; CHANNEL not a completion channel: `EINVAL`; CQE outside 1 to 4194303: `EINVAL`; `cqe` is CQE rounded up to a power of two, less one. The CQ's user handle is its handle-to-be in libibverbs; here 0";
    IbvDestroyCq = "ibv_destroy_cq", User, 1..1, Named::None, One, "ibv_destroy_cq(CQ)",
        "0",
        "DESTROY_CQ: a bad handle: `EINVAL`. Its queued events are purged before it returns. (libibverbs then waits until the events already read are acknowledged: no call reads completion events yet, so there is nothing to wait for)";
    IbvPollCq = "ibv_poll_cq", User, 2..2, Named::None, One, "ibv_poll_cq(CQ, N)",
        "a list of records `{wr_id, status, opcode, byte_len, qp_num, imm}`, at most N",
        "POLL_CQ with room for N completions: a bad CQ: `EINVAL`. The HCA model is not wired yet, so a CQ holds no completion and the list is empty";
    IbvReqNotifyCq = "ibv_req_notify_cq", User, 2..2, Named::None, One, "ibv_req_notify_cq(CQ, SOLICITED_ONLY)",
        "0",
        "REQ_NOTIFY_CQ: arms the CQ for its next completion (solicited only if SOLICITED_ONLY is not 0); a bad CQ: `EINVAL`";
    IbvGetAsyncEvent = "ibv_get_async_event", User, 1..1, Named::None, One, "ibv_get_async_event(CTX)",
        "a record `{event_type, element}`",
        "reads one 16-byte event from the async fd: blocks while none is queued (`EAGAIN` if the fd is `O_NONBLOCK`). A port event's element is the port number";
    IbvCreateQp = "ibv_create_qp", User, 1..1, Named::Only(&["send_cq", "recv_cq", "qp_type", "max_send_wr", "max_recv_wr", "max_send_sge", "max_recv_sge", "max_inline_data", "sq_sig_all"]), One,
        "ibv_create_qp(PD, send_cq=CQ[, recv_cq=CQ, qp_type=, max_send_wr=, max_recv_wr=, max_send_sge=, max_recv_sge=, max_inline_data=, sq_sig_all=])",
        "a record `{cmd_fd, handle, qp_num, qp_type, lid, max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline_data}` (the granted sizes)",
        "CREATE_QP in RESET: `qp_type` `IBV_QPT_RC` (the default), `_UC` or `_UD`, any other: `EINVAL`; `recv_cq` defaults to `send_cq`, the sizes to 1, 1, 1, 1, 0; a bad PD or CQ: `EINVAL`; sizes beyond `max_qp_wr` (16351) or `max_sge` (32): `EINVAL`. The PD and the CQs are in use (`EBUSY` to destroy) until the QP is destroyed. `lid` is the port's (QUERY_PORT), for `ibv_connect`";
    IbvModifyQp = "ibv_modify_qp", User, 1..1, Named::Only(&["qp_state", "cur_qp_state", "en_sqd_async_notify", "qp_access_flags", "pkey_index", "port_num", "qkey", "dlid", "path_mtu", "timeout", "retry_cnt", "rnr_retry", "rq_psn", "max_rd_atomic", "min_rnr_timer", "sq_psn", "max_dest_rd_atomic", "dest_qp_num", "attr_mask"]), One,
        "ibv_modify_qp(QP, ATTR=VALUE...[, attr_mask=MASK])",
        "0",
        "MODIFY_QP with the attributes given (`dlid` is the address vector's), the mask being theirs (`IBV_QP_STATE` for `qp_state`, `IBV_QP_AV` for `dlid`, ...) unless `attr_mask` is given. The transition and the mask must be in the state table of `ib_modify_qp_is_ok` for the QP's type (required attributes present, nothing but required and optional ones), `cur_qp_state` (if given) the QP's state and every attribute in range, else `EINVAL`; a bad QP: `EINVAL` ([uverbs](uverbs.md#queue-pairs))";
    IbvQueryQp = "ibv_query_qp", User, 1..1, Named::None, One, "ibv_query_qp(QP)",
        "a record `{qp_state, cur_qp_state, path_mtu, dest_qp_num, sq_psn, rq_psn, qkey, qp_access_flags, timeout, retry_cnt, rnr_retry, min_rnr_timer, max_rd_atomic, max_dest_rd_atomic, port_num, dlid, max_send_wr, max_recv_wr}`",
        "QUERY_QP: a bad QP: `EINVAL`";
    IbvDestroyQp = "ibv_destroy_qp", User, 1..1, Named::None, One, "ibv_destroy_qp(QP)",
        "0",
        "DESTROY_QP: a bad handle: `EINVAL`. Its queued async events are purged before it returns; the response's `events_reported` (read it with `uverbs_cmd`) counts those already read";
    IbvConnect = "ibv_connect", User, 2..2, Named::None, One, "ibv_connect(QP_A, QP_B)",
        "0",
        "**ksim**: perftest's connection of two QPs of one type: each through INIT, RTR and RTS towards the other (port 1, P_Key index 0, every remote access or a UD Q_Key of 0x11111111, MTU 4096, PSNs 0, timeout 14, retry_cnt 7, rnr_retry 7, min_rnr_timer 12, 16 READs and atomics each way), with the masks the state table requires. The first failing MODIFY_QP's errno";
    IbvPostSend = "ibv_post_send", User, 1..1, Named::Only(&["wr_id", "opcode", "mr", "offset", "length", "remote_addr", "rkey", "compare_add", "swap", "imm", "send_flags", "count"]), One,
        "ibv_post_send(QP[, wr_id=, opcode=, mr=MR, offset=, length=, remote_addr=, rkey=, compare_add=, swap=, imm=, send_flags=, count=])",
        "a record `{ret, bad_wr}`: `ret` 0 or the errno, `bad_wr` the 1-based index of the WR the driver refused (0 if none)",
        "POST_SEND of `count` (1) WRs in one command, `wr_id`s counting up from `wr_id`; `opcode` `IBV_WR_SEND` by default, `send_flags` `IBV_SEND_SIGNALED`; one SGE at MR's address + `offset` of `length` bytes when `mr` is given. The QP below RTS, an opcode its type lacks, too many SGEs: `EINVAL`; its send queue full: `ENOMEM`; each with `bad_wr`. A UD QP: `EINVAL` with `bad_wr` 0 (no address handle can be made yet). The posted WRs wait at the HCA: its progress over time is not wired yet ([uverbs](uverbs.md#what-is-wired))";
    IbvPostRecv = "ibv_post_recv", User, 1..1, Named::Only(&["wr_id", "mr", "offset", "length", "count"]), One,
        "ibv_post_recv(QP[, wr_id=, mr=MR, offset=, length=, count=])",
        "a record `{ret, bad_wr}`, as `ibv_post_send`'s",
        "POST_RECV of `count` (1) WRs: the QP in RESET, too many SGEs: `EINVAL`; its receive queue full: `ENOMEM`; each with `bad_wr`";
    IbDispatchQpEvent = "ib_dispatch_qp_event", Kernel, 3..3, Named::None, One, "ib_dispatch_qp_event(HCA, QPN, EVENT)",
        "0",
        "**ksim**: the driver reports an affiliated async event (`IBV_EVENT_COMM_EST`, `IBV_EVENT_SQ_DRAINED`, ...) on QP number QPN of HCA number HCA (the HCA model's interrupt path, until it is wired): queued on the owning context's async event file with the QP's user handle. No such HCA or QP: `EINVAL`";
    IbUnregisterDevice = "ib_unregister_device", Kernel, 1..1, Named::None, One, "ib_unregister_device(HCA)",
        "0",
        "hot removal of HCA number HCA, as Linux before 4.2 does it (`ib_uverbs_remove_one`): the device node goes (a later `open`: `ENOENT`; one that found the node first: `ENXIO`), and the call blocks until every file of the device is released, the async event files included. An unknown or removed HCA: `EINVAL`";
    IbDispatchEvent = "ib_dispatch_event", Kernel, 3..3, Named::None, One, "ib_dispatch_event(HCA, EVENT, PORT)",
        "0",
        "the driver reports a port event (`IBV_EVENT_PORT_ACTIVE`, `IBV_EVENT_PORT_ERR`, ...) on HCA number HCA: every context of the HCA gets it on its async event file (a closed one drops it). No such HCA or port: `EINVAL`";
    // CUSE: the daemon's side of the FUSE channel (cuse.md).
    FuseRead = "fuse_read", User, 1..2, Named::None, One, "fuse_read(CFD[, SIZE])",
        "a record `{opcode, unique, nodeid, len, ...}` with the op's fields",
        "**ksim**: `read(CFD, SIZE)` on `/dev/cuse` (SIZE defaults to libfuse's 135168), decoded: CUSE_INIT adds `major`, `minor`, `flags`; FUSE_OPEN `flags`; FUSE_READ `fh`, `offset`, `size`, `flags`; FUSE_WRITE those and `data`; FUSE_RELEASE `fh`, `flags`; FUSE_POLL `fh`, `kh`, `flags`. SIZE below max(8192, 80 + max_write): `EINVAL` (first); `O_NONBLOCK` and nothing pending: `EAGAIN`; the connection aborted: `ENODEV`. A request longer than SIZE ends with `EIO` for its caller and the read goes on ([CUSE](cuse.md#the-channel))";
    CuseReplyInit = "cuse_reply_init", User, 2..2, Named::Only(&["devname", "dev_major", "dev_minor", "flags", "max_read", "max_write", "major", "minor", "info"]), One, "cuse_reply_init(CFD, REQ[, devname=NAME, dev_major=, dev_minor=, flags=, max_read=, max_write=, major=, minor=, info=BYTES])",
        "the count written",
        "**ksim**: libfuse's CUSE_INIT reply to REQ (a `fuse_read` record): `cuse_init_out` {major 7, minor `FUSE_KERNEL_MINOR_VERSION`, flags 0, max_read and max_write 131072, dev_major and dev_minor 0: a dynamic number} and the strings `DEVNAME=NAME\\0`; `info=` replaces the strings. The kernel processes it inside the write: a failure (version, strings, name taken, device number busy) aborts the connection and the write still returns its count ([CUSE](cuse.md#the-life-cycle))";
    FuseReplyOpen = "fuse_reply_open", User, 2..2, Named::Only(&["fh"]), One, "fuse_reply_open(CFD, REQ[, fh=FH])",
        "the count written",
        "**ksim**: the `fuse_open_out` reply {fh, open_flags 0}; errnos of the channel's write ([CUSE](cuse.md#the-channel))";
    FuseReplyData = "fuse_reply_data", User, 3..3, Named::None, One, "fuse_reply_data(CFD, REQ, BYTES)",
        "the count written",
        "**ksim**: a reply carrying BYTES (FUSE_READ: at most the size asked, fewer ends the caller's read)";
    FuseReplyWrite = "fuse_reply_write", User, 3..3, Named::None, One, "fuse_reply_write(CFD, REQ, SIZE)",
        "the count written",
        "**ksim**: the `fuse_write_out` reply {size}. A SIZE above what was sent: the caller's write fails with `EIO`";
    FuseReplyErr = "fuse_reply_err", User, 3..3, Named::None, One, "fuse_reply_err(CFD, REQ, ERRNO)",
        "the count written",
        "**ksim**: a header-only reply with error −ERRNO (an errno name or a number; 0 is an empty success reply). ERRNO 512 or more: `EINVAL` (\"fuse: reject internal errno\")";
    FuseNotifyPoll = "fuse_notify_poll", User, 2..2, Named::None, One, "fuse_notify_poll(CFD, KH)",
        "the count written",
        "**ksim**: the FUSE_NOTIFY_POLL notification (unique 0, `fuse_notify_poll_wakeup_out` {kh})";
    ReadFile = "read_file", User, 1..1, Named::None, One, "read_file(PATH)",
        "the file's bytes",
        "the whole of a sysfs attribute (ksim has no other files): `/sys/class/cuse/NAME/waiting`, the requests of CUSE device NAME in flight as `N\\n`. Any other path: `ENOENT` ([CUSE](cuse.md#the-life-cycle))";
    WriteFile = "write_file", User, 2..2, Named::None, One, "write_file(PATH, BYTES)",
        "the count written",
        "a write of a sysfs attribute: any write to `/sys/class/cuse/NAME/abort` aborts the connection (requests in flight: `ECONNABORTED`, later ones `ENOTCONN`, the daemon's reads `ENODEV`). Any other path: `ENOENT`";
}

/// Value builtins, indexed by `BuiltinId`.
pub const BUILTINS: &[BuiltinSig] = &[
    BuiltinSig { name: "u16", min: 1, max: 1, usage: "u16(N)" },
    BuiltinSig { name: "u32", min: 1, max: 1, usage: "u32(N)" },
    BuiltinSig { name: "u64", min: 1, max: 1, usage: "u64(N)" },
    BuiltinSig { name: "cat", min: 1, max: u8::MAX, usage: "cat(BYTES, ...)" },
    BuiltinSig { name: "fill", min: 2, max: 2, usage: "fill(LEN, BYTE)" },
    BuiltinSig { name: "len", min: 1, max: 1, usage: "len(X)" },
    BuiltinSig { name: "note", min: 4, max: 5, usage: "note(TYPE, SUBTYPE, ID, PAYLOAD[, FLAGS])" },
    BuiltinSig { name: "filter", min: 2, max: 4, usage: "filter(TYPE, [SUBTYPES...][, INFO_FILTER, INFO_MASK])" },
];

/// What each builtin gives (markdown, `|` unescaped), indexed as
/// [`BUILTINS`], for the book ([`crate::reference`]).
pub const BUILTIN_DOCS: &[&str] = &[
    "N as 2 little-endian bytes; an error if N does not fit",
    "N as 4 little-endian bytes; an error if N does not fit",
    "N as 8 little-endian bytes; an error if N does not fit",
    "the byte strings concatenated",
    "LEN copies of BYTE (BYTE 0 to 255)",
    "the length of a byte string, a string or a list",
    "a notification as a read of a notification pipe returns it: the header of a `struct watch_notification` \
     (TYPE 24 bits, SUBTYPE 8, the watch ID 8, FLAGS in the info word) and PAYLOAD, at most 127 bytes in all \
     ([pipes](pipes.md#notification-pipes))",
    "one `struct watch_notification_type_filter`, as a record (`type`, `info_filter`, `info_mask`, \
     `subtype_filter`: SUBTYPES, each 0 to 255, as 8 words of bits), for the list \
     `ioctl(FD, IOC_WATCH_QUEUE_SET_FILTER, [filter(...), ...])` takes",
];

/// The most bytes one scenario value may hold: a byte string `fill`, `cat`
/// or any builtin builds, or a list's contents together. A larger value is
/// an error when the file is checked (if its size is known then) or when
/// it is evaluated, never an allocation failure: a typo such as
/// `fill(67108864, 1)` must not exhaust memory. 4 MiB is more than any
/// buffer the calls take in Linux: a pipe holds at most 1 MiB by default
/// (`/proc/sys/fs/pipe-max-size`), an eventfd write is 8 bytes, a
/// notification 128.
pub const MAX_VALUE_BYTES: u64 = 4 << 20;

/// The largest read buffer the native runner allocates on the heap (beyond
/// it, lazily mapped memory). Not a limit on scenario values
/// ([`MAX_VALUE_BYTES`] is).
pub const MAX_BYTES: u64 = 64 << 20;

/// The error for a value of `n` bytes (at least) built by `what`.
pub fn too_big(what: &str, n: u64) -> String {
    format!("{what}: {n} bytes, more than the {MAX_VALUE_BYTES} ({} MiB) a value may hold", MAX_VALUE_BYTES >> 20)
}

/// The least number of bytes `e` builds if it evaluates (see
/// [`Catalog::built_len`]), computed without building it.
pub fn built_len(e: &IrExpr) -> u64 {
    match e {
        IrExpr::Const(Const::Bytes(b)) => b.len() as u64,
        IrExpr::Const(Const::Str(s)) => s.len() as u64,
        IrExpr::List(items) => items.iter().fold(0, |n, x| n.saturating_add(built_len(x))),
        IrExpr::Builtin { id, args, .. } => match BUILTINS.get(*id as usize).map(|b| b.name) {
            Some("u16") => 2,
            Some("u32") => 4,
            Some("u64") => 8,
            Some("fill") => match args.first() {
                Some(IrExpr::Const(Const::Int(n))) => *n,
                _ => 0,
            },
            Some("cat") => args.iter().fold(0, |n, x| n.saturating_add(built_len(x))),
            _ => 0,
        },
        _ => 0,
    }
}

/// The bytes a value holds: a byte string's or a string's length, a list's
/// or a record's contents together.
pub fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::Bytes(b) => b.len() as u64,
        Value::Str(s) => s.len() as u64,
        Value::List(items) => items.iter().fold(0, |n, x| n.saturating_add(value_bytes(x))),
        Value::Record(fields) => fields.iter().fold(0, |n, (_, x)| n.saturating_add(value_bytes(x))),
        _ => 0,
    }
}

/// The catalog the resolver uses.
pub struct KsimCatalog;

impl Catalog for KsimCatalog {
    fn call(&self, name: &str) -> Option<(CallId, &CallSig)> {
        CALLS.iter().enumerate().find(|(_, c)| c.name == name).map(|(i, c)| (i as CallId, c))
    }
    fn builtin(&self, name: &str) -> Option<(BuiltinId, &BuiltinSig)> {
        BUILTINS.iter().enumerate().find(|(_, b)| b.name == name).map(|(i, b)| (i as BuiltinId, b))
    }
    fn constant(&self, name: &str) -> Option<Const> {
        thread_local! {
            /// Names already looked up (the tables are searched in order,
            /// one string compare per entry: a name is looked up once per
            /// thread, not once per use in every file compiled).
            static KNOWN: std::cell::RefCell<std::collections::HashMap<String, Option<Const>>> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        if let Some(c) = KNOWN.with(|k| k.borrow().get(name).cloned()) {
            return c;
        }
        let c = constant_uncached(name);
        KNOWN.with(|k| k.borrow_mut().insert(name.to_string(), c.clone()));
        c
    }
    fn is_bug(&self, name: &str) -> bool {
        sim_kernel::bugs::lookup(name).is_some()
    }
    fn call_names(&self) -> Vec<&'static str> {
        CALLS.iter().map(|c| c.name).collect()
    }
    fn constant_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = sim_kernel::abi::CONSTANTS.iter().map(|(n, _)| *n).collect();
        v.extend(Errno::ALL.iter().map(|e| e.name()));
        v.extend(sim_kernel::abi::MM_CONSTANTS.iter().map(|(n, _)| *n));
        v.extend(sim_kernel::uverbs::abi::CONSTANTS.iter().map(|(n, _)| *n));
        v.extend(sim_kernel::fuse::abi::CONSTANTS.iter().map(|(n, _)| *n));
        v.extend(sim_kernel::mm::Signal::ALL.iter().map(|s| s.name()));
        v
    }
    fn bug_names(&self) -> Vec<&'static str> {
        sim_kernel::bugs::BUGS.iter().map(|b| b.name).collect()
    }
    fn fold(&self, e: &IrExpr) -> Option<Const> {
        crate::eval::fold(e)
    }
    fn built_len(&self, e: &IrExpr) -> u64 {
        built_len(e)
    }
    fn max_value_bytes(&self) -> u64 {
        MAX_VALUE_BYTES
    }
}

/// The constant `name` names: an errno, a signal, or an ABI integer.
fn constant_uncached(name: &str) -> Option<Const> {
    if let Some(e) = Errno::from_name(name) {
        return Some(Const::Errno(e));
    }
    if let Some(sig) = sim_kernel::mm::Signal::from_name(name) {
        return Some(Const::Signal(sig));
    }
    sim_kernel::abi::constant(name).map(Const::Int)
}

pub fn call_sig(id: CallId) -> &'static CallSig {
    &CALLS[id as usize]
}

/// A type error in a call's arguments: the execution fails with this
/// message.
pub type ArgError = String;

fn arg<'a>(args: &'a [Value], i: usize, sig: &CallSig) -> Result<&'a Value, ArgError> {
    args.get(i).ok_or_else(|| format!("{} needs argument {}: {}", sig.name, i + 1, sig.usage))
}

#[inline]
fn int(args: &[Value], i: usize, sig: &CallSig) -> Result<u64, ArgError> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(int_error(args, i, sig)),
    }
}

/// Why argument `i` is not an integer (missing, or another kind).
#[cold]
#[inline(never)]
fn int_error(args: &[Value], i: usize, sig: &CallSig) -> ArgError {
    match arg(args, i, sig) {
        Ok(v) => format!("argument {} of {} must be an integer, got {} ({v})", i + 1, sig.name, v.kind()),
        Err(e) => e,
    }
}

/// An `int fd` argument: truncated to 32 bits and sign-extended.
#[inline]
fn fd(args: &[Value], i: usize, sig: &CallSig) -> Result<i64, ArgError> {
    Ok(fd_of(int(args, i, sig)?))
}

/// An `int fd` argument's value: truncated to 32 bits and sign-extended.
#[inline]
fn fd_of(n: u64) -> i64 {
    n as u32 as i32 as i64
}

#[inline]
fn u32_arg(args: &[Value], i: usize, sig: &CallSig) -> Result<u32, ArgError> {
    Ok(int(args, i, sig)? as u32)
}

fn bytes(args: &[Value], i: usize, sig: &CallSig) -> Result<Rc<[u8]>, ArgError> {
    match arg(args, i, sig)? {
        Value::Bytes(b) => Ok(b.clone()),
        v => Err(format!("argument {} of {} must be bytes, got {} ({v})", i + 1, sig.name, v.kind())),
    }
}

fn handle<'a>(args: &'a [Value], i: usize, sig: &CallSig) -> Result<&'a Handle, ArgError> {
    match arg(args, i, sig)? {
        Value::Handle(h) => Ok(h),
        v => Err(format!("argument {} of {} must be a kernel handle, got {} ({v})", i + 1, sig.name, v.kind())),
    }
}

fn ctx<'a>(
    args: &'a [Value],
    i: usize,
    sig: &CallSig,
) -> Result<&'a sim_kernel::sync::Arc<eventfd::EventfdCtx>, ArgError> {
    match handle(args, i, sig)? {
        Handle::EventfdCtx(c) => Ok(c),
        h => Err(format!("argument {} of {} must be an eventfd_ctx, got <{}>", i + 1, sig.name, h.type_name())),
    }
}

fn wait<'a>(
    args: &'a [Value],
    i: usize,
    sig: &CallSig,
) -> Result<&'a sim_kernel::sync::Arc<eventfd::EventfdWait>, ArgError> {
    match handle(args, i, sig)? {
        Handle::EventfdWait(w) => Ok(w),
        h => Err(format!("argument {} of {} must be an eventfd_wait, got <{}>", i + 1, sig.name, h.type_name())),
    }
}

fn mbox<'a>(
    args: &'a [Value],
    i: usize,
    sig: &CallSig,
) -> Result<&'a sim_kernel::sync::Arc<mailbox::Mailbox>, ArgError> {
    match handle(args, i, sig)? {
        Handle::Mailbox(m) => Ok(m),
        h => Err(format!("argument {} of {} must be a mailbox, got <{}>", i + 1, sig.name, h.type_name())),
    }
}

fn source<'a>(
    args: &'a [Value],
    i: usize,
    sig: &CallSig,
) -> Result<&'a sim_kernel::sync::Arc<watch_queue::WatchSource>, ArgError> {
    match handle(args, i, sig)? {
        Handle::WatchSource(s) => Ok(s),
        h => Err(format!("argument {} of {} must be a watch_source, got <{}>", i + 1, sig.name, h.type_name())),
    }
}

/// The `struct watch_notification_filter` of IOC_WATCH_QUEUE_SET_FILTER as
/// named fields, from a list of `filter(...)` records: `nr_filters`, then
/// `filters[I].type`, `.info_filter`, `.info_mask`, `.subtype_filter[J]`.
/// The pointer (`int`) is non-NULL.
fn filter_arg<'a>(items: &[Value]) -> Result<IoctlArg<'a>, ArgError> {
    let mut ia = IoctlArg { int: Some(1), ..Default::default() };
    ia.fields.push(("nr_filters".into(), items.len() as u64));
    for (i, item) in items.iter().enumerate() {
        let Value::Record(fields) = item else {
            return Err(format!(
                "IOC_WATCH_QUEUE_SET_FILTER: element {} must be a filter(...), got {}",
                i + 1,
                item.kind()
            ));
        };
        for (name, val) in fields.iter() {
            match val {
                Value::Int(n) => ia.fields.push((format!("filters[{i}].{name}").into(), *n)),
                Value::List(words) => {
                    for (j, w) in words.iter().enumerate() {
                        if let Value::Int(n) = w {
                            ia.fields.push((format!("filters[{i}].{name}[{j}]").into(), *n));
                        }
                    }
                }
                _ => return Err(format!("IOC_WATCH_QUEUE_SET_FILTER: bad field {name} in element {}", i + 1)),
            }
        }
    }
    Ok(ia)
}

/// Integer field `name` of record argument `i` (a verbs object).
fn field(args: &[Value], i: usize, sig: &CallSig, name: &str) -> Result<u64, ArgError> {
    match arg(args, i, sig)? {
        Value::Record(fs) => match fs.iter().find(|(n, _)| *n == name) {
            Some((_, Value::Int(n))) => Ok(*n),
            _ => Err(format!("argument {} of {} has no integer field `{name}`", i + 1, sig.name)),
        },
        v => Err(format!("argument {} of {} must be a record, got {} ({v})", i + 1, sig.name, v.kind())),
    }
}

/// Named integer argument `name`, if given.
fn named_int(named: &[(&str, Value)], name: &str) -> Result<Option<u64>, ArgError> {
    match named.iter().find(|(n, _)| *n == name) {
        None => Ok(None),
        Some((_, Value::Int(x))) => Ok(Some(*x)),
        Some((_, v)) => Err(format!("{name}= must be an integer, got {} ({v})", v.kind())),
    }
}

/// Integer field `field` of named record argument `name` (a verbs object), if given.
fn named_field(named: &[(&str, Value)], name: &str, field: &str) -> Result<Option<u64>, ArgError> {
    match named.iter().find(|(n, _)| *n == name) {
        None => Ok(None),
        Some((_, Value::Record(fs))) => match fs.iter().find(|(n, _)| *n == field) {
            Some((_, Value::Int(x))) => Ok(Some(*x)),
            _ => Err(format!("{name}= has no integer field `{field}`")),
        },
        Some((_, v)) => Err(format!("{name}= must be a record, got {} ({v})", v.kind())),
    }
}

/// A FUSE request's unique: argument `i` is a `fuse_read` record (its
/// `unique`) or the number itself.
fn req_unique(args: &[Value], i: usize, sig: &CallSig) -> Result<u64, ArgError> {
    match arg(args, i, sig)? {
        Value::Int(n) => Ok(*n),
        _ => field(args, i, sig, "unique"),
    }
}

/// A record of integer fields.
fn record(fields: &[(&'static str, u64)]) -> Value {
    Value::Record(fields.iter().map(|(n, x)| (*n, Value::Int(*x))).collect())
}

fn v<T>(r: KResult<T>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(x) => f(x),
        Err(e) => Value::Errno(e),
    }
}

/// A user memory access: a value, an errno, or the signal it ended in
/// (killed while asleep in a fault: EINTR, never seen by a check).
fn access<T>(r: Result<T, mm::AccessError>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(x) => f(x),
        Err(mm::AccessError::Errno(e)) => Value::Errno(e),
        Err(mm::AccessError::Fault(Fault::Signal(s))) => Value::Signal(s),
        Err(mm::AccessError::Fault(Fault::Killed)) => Value::Errno(Errno::EINTR),
    }
}

fn int_v(n: impl TryInto<u64>) -> Value {
    Value::Int(n.try_into().unwrap_or(u64::MAX))
}

/// A call's arguments as integers: its evaluated values (each checked to be
/// an integer) or, on the runner's fast path, plain integers.
trait IntArgs {
    fn count(&self) -> usize;
    fn int(&self, i: usize, sig: &CallSig) -> Result<u64, ArgError>;
}

impl IntArgs for [Value] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn int(&self, i: usize, sig: &CallSig) -> Result<u64, ArgError> {
        int(self, i, sig)
    }
}

impl IntArgs for [u64] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn int(&self, i: usize, sig: &CallSig) -> Result<u64, ArgError> {
        // The resolver checked the count: only a mistake here misses.
        self.get(i).copied().ok_or_else(|| format!("{} needs argument {}: {}", sig.name, i + 1, sig.usage))
    }
}

/// Whether call `id` takes only integers, all positional (at most 3): the
/// runner may then pass them to [`dispatch_ints`] without building values.
#[inline]
pub fn takes_ints(id: CallId) -> bool {
    int_call(SYS[id as usize])
}

#[inline]
fn int_call(s: Sys) -> bool {
    matches!(
        s,
        Sys::Eventfd
            | Sys::EventfdRead
            | Sys::EventfdWrite
            | Sys::Read
            | Sys::Pread
            | Sys::Close
            | Sys::Dup
            | Sys::Dup2
            | Sys::Dup3
            | Sys::Fcntl
            | Sys::Lseek
            | Sys::Poll
            | Sys::Exec
            | Sys::FdPath
            | Sys::Setrlimit
            | Sys::NowNs
            | Sys::SleepNs
            | Sys::Pipe
            | Sys::Pipe2
            | Sys::Sigcount
            | Sys::Mmap
            | Sys::Munmap
            | Sys::Mprotect
            | Sys::Load
            | Sys::Store
            | Sys::Memset
            | Sys::Userfaultfd
            | Sys::UffdRead
            | Sys::Mailbox
    )
}

/// [`dispatch`] for a resolved call that [`takes_ints`], given its
/// arguments as integers: the same result without building argument
/// values.
#[inline]
pub fn dispatch_ints(id: CallId, t: &Task, a: &[u64]) -> Result<Value, ArgError> {
    dispatch_int_call(SYS[id as usize], t, a, call_sig(id))
}

/// The calls that take only integers, for [`dispatch`] and
/// [`dispatch_ints`] (one implementation each). Arguments are read in the
/// order the type errors are reported.
#[inline(always)]
fn dispatch_int_call<A: IntArgs + ?Sized>(s: Sys, t: &Task, a: &A, sig: &CallSig) -> Result<Value, ArgError> {
    let int = |i: usize| a.int(i, sig);
    let fd = |i: usize| a.int(i, sig).map(fd_of);
    let u32_arg = |i: usize| a.int(i, sig).map(|n| n as u32);
    Ok(match s {
        Sys::Eventfd => {
            let flags = if a.count() > 1 { u32_arg(1)? } else { 0 };
            v(sys_eventfd2(t, u32_arg(0)?, flags), |fd| Value::Int(fd as u64))
        }
        Sys::EventfdRead => {
            // glibc's eventfd_read: read(fd, &value, 8).
            let mut b = [0u8; 8];
            v(sys_read_into(t, fd(0)?, &mut b), |_| Value::Int(u64::from_le_bytes(b)))
        }
        Sys::EventfdWrite => {
            let val = int(1)?;
            v(sys_write(t, fd(0)?, &val.to_le_bytes()), |_| Value::Int(0))
        }
        Sys::Read => v(sys_read(t, fd(0)?, int(1)?), |b| Value::bytes(&b)),
        Sys::Pread => v(sys_pread64(t, fd(0)?, int(1)?, int(2)? as i64), |b| Value::bytes(&b)),
        Sys::Close => v(sys_close(t, fd(0)?), |_| Value::Int(0)),
        Sys::Dup => v(sys_dup(t, fd(0)?), |fd| Value::Int(fd as u64)),
        Sys::Dup2 => v(sys_dup2(t, fd(0)?, u32_arg(1)?), |fd| Value::Int(fd as u64)),
        Sys::Dup3 => v(sys_dup3(t, fd(0)?, u32_arg(1)?, u32_arg(2)?), |fd| Value::Int(fd as u64)),
        Sys::Fcntl => {
            let argv = if a.count() > 2 { int(2)? } else { 0 };
            v(sys_fcntl(t, fd(0)?, u32_arg(1)?, argv), Value::Int)
        }
        Sys::Lseek => v(sys_lseek(t, fd(0)?, int(1)? as i64, u32_arg(2)?), |o| Value::Int(o as u64)),
        Sys::Poll => {
            // struct pollfd.events is a short; the timeout an int.
            let events = int(1)? as u16 as u32;
            v(sys_poll(t, fd(0)?, events, int(2)? as u32 as i32), |m| Value::Int(m as u64))
        }
        Sys::Exec => v(sys_exec(t), |_| Value::Int(0)),
        Sys::FdPath => v(fd_path(t, fd(0)?), |s| Value::Str(Rc::from(s.as_str()))),
        Sys::Setrlimit => v(sys_setrlimit(t, u32_arg(0)?, int(1)?), |_| Value::Int(0)),
        Sys::NowNs => Value::Int(sim_kernel::sched::now_ns()),
        Sys::SleepNs => {
            sim_kernel::sched::sleep_ns(int(0)?);
            Value::Int(0)
        }
        Sys::Pipe | Sys::Pipe2 => {
            let flags = if a.count() == 0 { 0 } else { u32_arg(0)? };
            v(sys_pipe2(t, flags), |(r, w)| Value::List(Rc::from([Value::Int(r as u64), Value::Int(w as u64)])))
        }
        Sys::Sigcount => v(sigcount(t, u32_arg(0)?), Value::Int),
        Sys::Mmap => {
            let prot = if a.count() > 1 { u32_arg(1)? } else { abi::PROT_READ | abi::PROT_WRITE };
            v(mm::sys_mmap(t, int(0)?, prot), Value::Int)
        }
        Sys::Munmap => v(mm::sys_munmap(t, int(0)?, int(1)?), |_| Value::Int(0)),
        Sys::Mprotect => v(mm::sys_mprotect(t, int(0)?, int(1)?, u32_arg(2)?), |_| Value::Int(0)),
        Sys::Load => access(mm::user_load(t, int(0)?), Value::Int),
        Sys::Store => access(mm::user_store(t, int(0)?, int(1)?), |_| Value::Int(0)),
        Sys::Memset => {
            // memset(3) takes the byte as an int and stores (unsigned char)c.
            let byte = int(1)? as u8;
            access(mm::user_memset(t, int(0)?, byte, int(2)?), |_| Value::Int(0))
        }
        Sys::Userfaultfd => v(mm::sys_userfaultfd(t, u32_arg(0)?), |fd| Value::Int(fd as u64)),
        Sys::UffdRead => {
            // read(uffd, &msg, sizeof(struct uffd_msg)), shown as a record.
            v(sys_read(t, fd(0)?, UFFD_MSG_SIZE as u64), |b| match UffdMsg::from_bytes(&b) {
                Some(m) => Value::Record(Rc::from([
                    ("event", Value::Int(m.event as u64)),
                    ("flags", Value::Int(m.flags)),
                    ("address", Value::Int(m.address)),
                ])),
                None => Value::bytes(&b),
            })
        }
        Sys::Mailbox => {
            let flags = if a.count() > 0 { u32_arg(0)? } else { 0 };
            v(sys_mailbox(t, flags), |fd| Value::Int(fd as u64))
        }
        s => unreachable!("{s:?} does not take only integers"),
    })
}

/// Make call `id` as task `t`. Errnos are values; argument type errors are
/// `Err`.
pub fn dispatch(id: CallId, t: &Task, args: &[Value], named: &[(&str, Value)]) -> Result<Value, ArgError> {
    let sig = call_sig(id);
    let a = args;
    let s = SYS[id as usize];
    Ok(match s {
        Sys::Write => v(sys_write(t, fd(a, 0, sig)?, &bytes(a, 1, sig)?), int_v),
        Sys::Pwrite => v(sys_pwrite64(t, fd(a, 0, sig)?, &bytes(a, 1, sig)?, int(a, 2, sig)? as i64), int_v),
        Sys::Ioctl => {
            let mut ia = IoctlArg::default();
            match a.get(2) {
                None => {}
                // A NULL pointer argument (IOC_WATCH_QUEUE_SET_FILTER, NULL).
                Some(Value::Null) => ia.int = Some(0),
                // A struct with an array of entries (a filter list).
                Some(Value::List(items)) => ia = filter_arg(items)?,
                Some(_) => ia.int = Some(int(a, 2, sig)?),
            }
            let cmd = u32_arg(a, 1, sig)?;
            if let Some(known) = sim_kernel::userfaultfd::ioctl_fields(cmd) {
                if let Some((bad, _)) = named.iter().find(|(n, _)| !known.contains(n)) {
                    return Err(format!(
                        "this ioctl's struct has no input field `{bad}` (fields: {})",
                        known.join(", ")
                    ));
                }
            }
            ia.fields.reserve_exact(named.len());
            for (name, val) in named {
                match val {
                    Value::Int(n) => ia.fields.push(((*name).into(), *n)),
                    v => return Err(format!("ioctl field {name} must be an integer, got {} ({v})", v.kind())),
                }
            }
            v(sys_ioctl(t, fd(a, 0, sig)?, u32_arg(a, 1, sig)?, &ia), |o| match o {
                IoctlOut::Int(n) => Value::Int(n),
                // Collected straight into the record (one allocation).
                IoctlOut::Record(fields) => {
                    Value::Record(fields.into_iter().map(|(k, n)| (k, Value::Int(n))).collect())
                }
            })
        }
        Sys::EventfdCtxFdget => {
            v(eventfd::eventfd_ctx_fdget(t, fd(a, 0, sig)?), |c| Value::Handle(Handle::EventfdCtx(c)))
        }
        Sys::EventfdSignal => Value::Int(eventfd::eventfd_signal(ctx(a, 0, sig)?, int(a, 1, sig)?)),
        Sys::EventfdCtxPut => {
            eventfd::eventfd_ctx_put(ctx(a, 0, sig)?);
            Value::Int(0)
        }
        Sys::EventfdWaitAdd => Value::Handle(Handle::EventfdWait(eventfd::eventfd_wait_add(ctx(a, 0, sig)?))),
        Sys::EventfdCtxRemoveWaitQueue => {
            v(eventfd::eventfd_ctx_remove_wait_queue(ctx(a, 0, sig)?, wait(a, 1, sig)?), Value::Int)
        }
        Sys::EventfdWaitKeys => Value::Int(wait(a, 0, sig)?.keys() as u64),
        Sys::WatchAdd => {
            v(sys_watch_add(t, source(a, 0, sig)?, fd(a, 1, sig)?, int(a, 2, sig)? as i64), |_| Value::Int(0))
        }
        Sys::WatchRemove => v(sys_watch_remove(t, source(a, 0, sig)?, fd(a, 1, sig)?), |_| Value::Int(0)),
        Sys::WatchSource => Value::Handle(Handle::WatchSource(watch_queue::watch_source(&t.kernel))),
        Sys::PostNotification => {
            let flags = if a.len() > 4 { int(a, 4, sig)? } else { 0 };
            let r = watch_queue::post_notification(
                source(a, 0, sig)?,
                int(a, 1, sig)?,
                int(a, 2, sig)?,
                &bytes(a, 3, sig)?,
                flags,
            );
            v(r, |_| Value::Int(0))
        }
        Sys::WatchSourceDestroy => {
            watch_queue::watch_source_destroy(source(a, 0, sig)?);
            Value::Int(0)
        }
        // ANCHOR: mailbox_dispatch
        Sys::MailboxGet => v(mailbox::mailbox_get(t, fd(a, 0, sig)?), |m| Value::Handle(Handle::Mailbox(m))),
        Sys::MailboxPost => v(mailbox::mailbox_post(mbox(a, 0, sig)?, int(a, 1, sig)?), |_| Value::Int(0)),
        Sys::MailboxPut => {
            mailbox::mailbox_put(mbox(a, 0, sig)?);
            Value::Int(0)
        }
        // ANCHOR_END: mailbox_dispatch
        Sys::Open => {
            let path = match arg(a, 0, sig)? {
                Value::Str(p) => p.clone(),
                v => return Err(format!("argument 1 of open must be a string, got {} ({v})", v.kind())),
            };
            v(sys_open(t, &path, u32_arg(a, 1, sig)?), |fd| Value::Int(fd as u64))
        }
        Sys::WriteMem => v(sys_write_mem(t, fd(a, 0, sig)?, int(a, 1, sig)?, int(a, 2, sig)?), int_v),
        Sys::UverbsCmd => {
            let out = int(a, 3, sig)?.checked_mul(4).filter(|n| *n <= 0xffff * 4).ok_or("OUT_WORDS is a u16")?;
            v(verbs::command(t, fd(a, 0, sig)?, u32_arg(a, 1, sig)?, &bytes(a, 2, sig)?, out as usize), |r| {
                Value::bytes(&r)
            })
        }
        Sys::IbvOpenDevice => {
            let name = match arg(a, 0, sig)? {
                Value::Str(p) => p.clone(),
                v => return Err(format!("argument 1 of ibv_open_device must be a string, got {} ({v})", v.kind())),
            };
            v(verbs::open_device(t, &name), |(c, af, n)| {
                record(&[("cmd_fd", c as u64), ("async_fd", af as u64), ("num_comp_vectors", n as u64)])
            })
        }
        Sys::IbvCloseDevice => {
            let (c, af) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "async_fd")?);
            v(verbs::close_device(t, fd_of(c), fd_of(af)), |_| Value::Int(0))
        }
        Sys::IbvAllocPd => {
            let c = field(a, 0, sig, "cmd_fd")?;
            v(verbs::alloc_pd(t, fd_of(c)), |h| record(&[("cmd_fd", c), ("handle", h as u64)]))
        }
        Sys::IbvDeallocPd | Sys::IbvDeregMr => {
            let cmd = if s == Sys::IbvDeallocPd { IB_USER_VERBS_CMD_DEALLOC_PD } else { IB_USER_VERBS_CMD_DEREG_MR };
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            v(verbs::destroy(t, fd_of(c), cmd, h as u32), |_| Value::Int(0))
        }
        Sys::IbvRegMr => {
            let (c, pd) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            let r = verbs::reg_mr(t, fd_of(c), pd as u32, int(a, 1, sig)?, int(a, 2, sig)?, u32_arg(a, 3, sig)?);
            let (addr, len) = (int(a, 1, sig)?, int(a, 2, sig)?);
            v(r, |(h, l, r)| {
                record(&[
                    ("cmd_fd", c),
                    ("handle", h as u64),
                    ("lkey", l as u64),
                    ("rkey", r as u64),
                    ("addr", addr),
                    ("length", len),
                ])
            })
        }
        Sys::IbvCreateCompChannel => {
            v(verbs::create_comp_channel(t, fd_of(field(a, 0, sig, "cmd_fd")?)), |f| record(&[("fd", f as u64)]))
        }
        Sys::IbvCreateCq => {
            let c = field(a, 0, sig, "cmd_fd")?;
            let ch = match arg(a, 2, sig)? {
                Value::Null => -1,
                _ => field(a, 2, sig, "fd")? as u32 as i32,
            };
            let r = verbs::create_cq(t, fd_of(c), 0, u32_arg(a, 1, sig)?, ch, u32_arg(a, 3, sig)?);
            v(r, |(h, n)| record(&[("cmd_fd", c), ("handle", h as u64), ("cqe", n as u64)]))
        }
        Sys::IbvDestroyCq => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            v(verbs::destroy_cq(t, fd_of(c), h as u32), |_| Value::Int(0))
        }
        Sys::IbvPollCq => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            let n = u32::try_from(int(a, 1, sig)?).ok().filter(|n| *n <= 4096).ok_or("ibv_poll_cq: N is 0 to 4096")?;
            v(verbs::poll_cq(t, fd_of(c), h as u32, n), |wcs| {
                Value::List(
                    wcs.iter()
                        .map(|w| {
                            Value::Record(Rc::from([
                                ("wr_id", Value::Int(w.wr_id)),
                                ("status", Value::Int(w.status as u64)),
                                ("opcode", Value::Int(w.opcode as u64)),
                                ("byte_len", Value::Int(w.byte_len as u64)),
                                ("qp_num", Value::Int(w.qp_num as u64)),
                                ("imm", Value::Int(w.imm as u64)),
                            ]))
                        })
                        .collect(),
                )
            })
        }
        Sys::IbvReqNotifyCq => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            v(verbs::req_notify_cq(t, fd_of(c), h as u32, int(a, 1, sig)? != 0), |_| Value::Int(0))
        }
        Sys::IbvGetAsyncEvent => v(verbs::get_async_event(t, fd_of(field(a, 0, sig, "async_fd")?)), |(ty, el)| {
            record(&[("event_type", ty as u64), ("element", el)])
        }),
        Sys::IbvCreateQp => {
            let (c, pd) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            let scq = named_field(named, "send_cq", "handle")?.ok_or("ibv_create_qp needs send_cq=")?;
            let n = |k: &str, d: u64| named_int(named, k).map(|x| x.unwrap_or(d) as u32);
            let attr = verbs::QpInitAttr {
                pd: pd as u32,
                send_cq: scq as u32,
                recv_cq: named_field(named, "recv_cq", "handle")?.unwrap_or(scq) as u32,
                qp_type: n("qp_type", IBV_QPT_RC as u64)?,
                cap: [
                    n("max_send_wr", 1)?,
                    n("max_recv_wr", 1)?,
                    n("max_send_sge", 1)?,
                    n("max_recv_sge", 1)?,
                    n("max_inline_data", 0)?,
                ],
                sq_sig_all: n("sq_sig_all", 0)? != 0,
            };
            let r = verbs::create_qp(t, fd_of(c), 0, &attr).and_then(|q| Ok((q, verbs::port_lid(t, fd_of(c))?)));
            v(r, |((h, qpn, cap), lid)| {
                record(&[
                    ("cmd_fd", c),
                    ("handle", h as u64),
                    ("qp_num", qpn as u64),
                    ("qp_type", attr.qp_type as u64),
                    ("lid", lid as u64),
                    ("max_send_wr", cap[0] as u64),
                    ("max_recv_wr", cap[1] as u64),
                    ("max_send_sge", cap[2] as u64),
                    ("max_recv_sge", cap[3] as u64),
                    ("max_inline_data", cap[4] as u64),
                ])
            })
        }
        Sys::IbvModifyQp => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            let mut attrs = Vec::with_capacity(named.len());
            for (name, _) in named.iter().filter(|(n, _)| *n != "attr_mask") {
                attrs.push((*name, named_int(named, name)?.unwrap_or(0)));
            }
            let mask = named_int(named, "attr_mask")?.map(|m| m as u32);
            v(verbs::modify_qp(t, fd_of(c), h as u32, &attrs, mask), |_| Value::Int(0))
        }
        Sys::IbvQueryQp => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            v(verbs::query_qp(t, fd_of(c), h as u32), |fs| record(&fs))
        }
        Sys::IbvDestroyQp => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            v(verbs::destroy_qp(t, fd_of(c), h as u32), |_| Value::Int(0))
        }
        Sys::IbvConnect => {
            let end = |i: usize| -> Result<verbs::QpEnd, ArgError> {
                Ok(verbs::QpEnd {
                    fd: fd_of(field(a, i, sig, "cmd_fd")?),
                    handle: field(a, i, sig, "handle")? as u32,
                    qp_type: field(a, i, sig, "qp_type")? as u32,
                    qpn: field(a, i, sig, "qp_num")? as u32,
                    lid: field(a, i, sig, "lid")? as u16,
                })
            };
            let (qa, qb) = (end(0)?, end(1)?);
            v(verbs::connect_one(t, &qa, &qb).and_then(|_| verbs::connect_one(t, &qb, &qa)), |_| Value::Int(0))
        }
        Sys::IbvPostSend | Sys::IbvPostRecv => {
            let (c, h) = (field(a, 0, sig, "cmd_fd")?, field(a, 0, sig, "handle")?);
            let n = |k: &str, d: u64| named_int(named, k).map(|x| x.unwrap_or(d));
            let count = n("count", 1)?;
            if count > 4096 {
                return Err("count is at most 4096".into());
            }
            let sge = match named_field(named, "mr", "lkey")? {
                Some(lkey) => {
                    let addr = named_field(named, "mr", "addr")?.unwrap_or(0);
                    Some(verbs::sge(addr.wrapping_add(n("offset", 0)?), n("length", 0)? as u32, lkey as u32))
                }
                None => None,
            };
            let wr_id = n("wr_id", 0)?;
            let num_sge = sge.is_some() as u32;
            let sges: Vec<[u8; 16]> = sge.iter().copied().cycle().take(count as usize * num_sge as usize).collect();
            let (cmd, wqe_size, wrs) = if s == Sys::IbvPostSend {
                let (opcode, flags) = (n("opcode", IBV_WR_SEND as u64)?, n("send_flags", IBV_SEND_SIGNALED as u64)?);
                let (raddr, rkey, imm) = (n("remote_addr", 0)?, n("rkey", 0)?, n("imm", 0)?);
                let (cmp, swap) = (n("compare_add", 0)?, n("swap", 0)?);
                let wr = |i: u64| {
                    let mut w = vec![0u8; UVERBS_SEND_WR_SIZE];
                    w[..8].copy_from_slice(&wr_id.wrapping_add(i).to_le_bytes());
                    w[8..12].copy_from_slice(&num_sge.to_le_bytes());
                    w[12..16].copy_from_slice(&(opcode as u32).to_le_bytes());
                    w[16..20].copy_from_slice(&(flags as u32).to_le_bytes());
                    w[20..24].copy_from_slice(&(imm as u32).to_le_bytes());
                    w[24..32].copy_from_slice(&raddr.to_le_bytes());
                    let atomic =
                        opcode as u32 == IBV_WR_ATOMIC_CMP_AND_SWP || opcode as u32 == IBV_WR_ATOMIC_FETCH_AND_ADD;
                    if atomic {
                        w[32..40].copy_from_slice(&cmp.to_le_bytes());
                        w[40..48].copy_from_slice(&swap.to_le_bytes());
                        w[48..52].copy_from_slice(&(rkey as u32).to_le_bytes());
                    } else {
                        w[32..36].copy_from_slice(&(rkey as u32).to_le_bytes());
                    }
                    w
                };
                (IB_USER_VERBS_CMD_POST_SEND, UVERBS_SEND_WR_SIZE, (0..count).map(wr).collect::<Vec<_>>())
            } else {
                let wr = |i: u64| {
                    let mut w = vec![0u8; UVERBS_RECV_WR_SIZE];
                    w[..8].copy_from_slice(&wr_id.wrapping_add(i).to_le_bytes());
                    w[8..12].copy_from_slice(&num_sge.to_le_bytes());
                    w
                };
                (IB_USER_VERBS_CMD_POST_RECV, UVERBS_RECV_WR_SIZE, (0..count).map(wr).collect::<Vec<_>>())
            };
            let (r, bad) = verbs::post(t, fd_of(c), cmd, h as u32, wqe_size as u32, &wrs, &sges);
            let ret = match r {
                Ok(()) => Value::Int(0),
                Err(e) => Value::Errno(e),
            };
            Value::Record(Rc::from([("ret", ret), ("bad_wr", Value::Int(bad as u64))]))
        }
        Sys::IbDispatchQpEvent => v(
            sim_kernel::uverbs::ib_dispatch_qp_event(
                &t.kernel,
                u32_arg(a, 0, sig)?,
                u32_arg(a, 1, sig)?,
                u32_arg(a, 2, sig)?,
            ),
            |_| Value::Int(0),
        ),
        Sys::IbUnregisterDevice => {
            v(sim_kernel::uverbs::ib_unregister_device(&t.kernel, u32_arg(a, 0, sig)?), |_| Value::Int(0))
        }
        Sys::IbDispatchEvent => {
            let port = u8::try_from(int(a, 2, sig)?).unwrap_or(0);
            v(
                sim_kernel::uverbs::ib_dispatch_port_event(&t.kernel, u32_arg(a, 0, sig)?, u32_arg(a, 1, sig)?, port),
                |_| Value::Int(0),
            )
        }
        Sys::FuseRead => {
            let size = if a.len() > 1 { int(a, 1, sig)? } else { crate::cuse_daemon::DEFAULT_BUFSIZE };
            v(crate::cuse_daemon::fuse_read(t, fd(a, 0, sig)?, size), |r| r)
        }
        Sys::CuseReplyInit => {
            let mut r = crate::cuse_daemon::InitReply::default();
            let mut devname = None;
            for (name, val) in named {
                let n = |val: &Value| match val {
                    Value::Int(n) => Ok(*n as u32),
                    v => Err(format!("cuse_reply_init: {name} must be an integer, got {} ({v})", v.kind())),
                };
                match *name {
                    "devname" => match val {
                        Value::Str(s) => devname = Some(s.clone()),
                        v => return Err(format!("cuse_reply_init: devname must be a string, got {} ({v})", v.kind())),
                    },
                    "info" => match val {
                        Value::Bytes(b) => r.info = b.to_vec(),
                        v => return Err(format!("cuse_reply_init: info must be bytes, got {} ({v})", v.kind())),
                    },
                    "dev_major" => r.dev_major = n(val)?,
                    "dev_minor" => r.dev_minor = n(val)?,
                    "flags" => r.flags = n(val)?,
                    "max_read" => r.max_read = n(val)?,
                    "max_write" => r.max_write = n(val)?,
                    "major" => r.major = n(val)?,
                    _ => r.minor = n(val)?,
                }
            }
            if !named.iter().any(|(n, _)| *n == "info") {
                if let Some(d) = devname {
                    r.info = format!("DEVNAME={d}\0").into_bytes();
                }
            }
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, req_unique(a, 1, sig)?, 0, &r.body()), int_v)
        }
        Sys::FuseReplyOpen => {
            let fh = match named.iter().find(|(n, _)| *n == "fh") {
                Some((_, Value::Int(n))) => *n,
                Some((_, v)) => return Err(format!("fuse_reply_open: fh must be an integer, got {} ({v})", v.kind())),
                None => 0,
            };
            let body = sim_kernel::fuse::abi::Le::default().u64(fh).u32(0).u32(0).0;
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, req_unique(a, 1, sig)?, 0, &body), int_v)
        }
        Sys::FuseReplyData => {
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, req_unique(a, 1, sig)?, 0, &bytes(a, 2, sig)?), int_v)
        }
        Sys::FuseReplyWrite => {
            let body = sim_kernel::fuse::abi::Le::default().u32(u32_arg(a, 2, sig)?).u32(0).0;
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, req_unique(a, 1, sig)?, 0, &body), int_v)
        }
        Sys::FuseReplyErr => {
            let code = match arg(a, 2, sig)? {
                Value::Errno(e) => e.code(),
                Value::Int(n) => *n as u32 as i32,
                v => {
                    return Err(format!(
                        "argument 3 of fuse_reply_err must be an errno or an integer, got {} ({v})",
                        v.kind()
                    ))
                }
            };
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, req_unique(a, 1, sig)?, code.wrapping_neg(), &[]), int_v)
        }
        Sys::FuseNotifyPoll => {
            let body = int(a, 1, sig)?.to_le_bytes();
            v(crate::cuse_daemon::reply(t, fd(a, 0, sig)?, 0, sim_kernel::fuse::abi::FUSE_NOTIFY_POLL, &body), int_v)
        }
        Sys::ReadFile | Sys::WriteFile => {
            let path = match arg(a, 0, sig)? {
                Value::Str(p) => p.clone(),
                v => return Err(format!("argument 1 of {} must be a string, got {} ({v})", sig.name, v.kind())),
            };
            if s == Sys::ReadFile {
                v(sim_kernel::fuse::cuse::class_attr_read(&t.kernel, &path), |b| Value::bytes(&b))
            } else {
                v(sim_kernel::fuse::cuse::class_attr_write(&t.kernel, &path, &bytes(a, 1, sig)?), int_v)
            }
        }
        // The calls that take only integers.
        _ => return dispatch_int_call(s, t, a, sig),
    })
}

/// Evaluate value builtin `id` on evaluated arguments.
pub fn builtin(id: BuiltinId, args: &[Value]) -> Result<Value, String> {
    let b = &BUILTINS[id as usize];
    let int_at = |i: usize| match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(v) => Err(format!("argument {} of {} must be an integer, got {} ({v})", i + 1, b.name, v.kind())),
        None => Err(format!("{} needs {}", b.name, b.usage)),
    };
    let fixed = |bits: u32| -> Result<Value, String> {
        let n = int_at(0)?;
        if bits < 64 && n >> bits != 0 {
            return Err(format!("{}({n}): the value does not fit in {bits} bits", b.name));
        }
        Ok(Value::bytes(&n.to_le_bytes()[..(bits / 8) as usize]))
    };
    match b.name {
        "u16" => fixed(16),
        "u32" => fixed(32),
        "u64" => fixed(64),
        "cat" => {
            let mut n = 0u64;
            for (i, a) in args.iter().enumerate() {
                match a {
                    Value::Bytes(x) => n += x.len() as u64,
                    v => return Err(format!("argument {} of cat must be bytes, got {} ({v})", i + 1, v.kind())),
                }
            }
            if n > MAX_VALUE_BYTES {
                return Err(too_big("cat(...)", n));
            }
            let mut out = Vec::with_capacity(n as usize);
            for a in args {
                if let Value::Bytes(x) = a {
                    out.extend_from_slice(x);
                }
            }
            Ok(Value::Bytes(out.into()))
        }
        "fill" => {
            let n = int_at(0)?;
            let byte = int_at(1)?;
            if n > MAX_VALUE_BYTES {
                return Err(too_big(&format!("fill({n}, ...)"), n));
            }
            if byte > 255 {
                return Err(format!("fill(..., {byte}): a byte is 0..255"));
            }
            // Written once, in place (no buffer to copy from).
            Ok(Value::Bytes(std::iter::repeat_n(byte as u8, n as usize).collect()))
        }
        "len" => match args.first() {
            Some(Value::Bytes(x)) => Ok(Value::Int(x.len() as u64)),
            Some(Value::List(x)) => Ok(Value::Int(x.len() as u64)),
            Some(Value::Str(x)) => Ok(Value::Int(x.len() as u64)),
            Some(v) => Err(format!("len of {} ({v}): expected bytes, a string or a list", v.kind())),
            None => Err("len needs an argument".into()),
        },
        "note" => {
            // include/uapi/linux/watch_queue.h: struct watch_notification.
            let (ty, subtype, id) = (int_at(0)?, int_at(1)?, int_at(2)?);
            let payload = match args.get(3) {
                Some(Value::Bytes(x)) => x.clone(),
                Some(v) => return Err(format!("argument 4 of note must be bytes, got {} ({v})", v.kind())),
                None => return Err(format!("note needs {}", b.usage)),
            };
            let flags = if args.len() > 4 { int_at(4)? } else { 0 };
            if ty > 0xff_ffff || subtype > 0xff || id > 0xff || flags > u32::MAX as u64 {
                return Err(format!("note({ty}, {subtype}, {id}, ...): type is 24 bits, subtype and id 8 bits"));
            }
            let len = 8 + payload.len() as u64;
            if len > sim_kernel::abi::WATCH_INFO_LENGTH as u64 {
                return Err(format!("note: {len} bytes is more than the 127 a note can hold"));
            }
            let info = (len | id << 8 | flags) as u32;
            Ok(Value::bytes(&watch_queue::note_bytes(ty as u32, subtype as u32, info, &payload)))
        }
        "filter" => {
            // struct watch_notification_type_filter.
            let ty = int_at(0)?;
            let subs = match args.get(1) {
                Some(Value::List(x)) => x.clone(),
                Some(v) => {
                    return Err(format!("argument 2 of filter must be a list of subtypes, got {} ({v})", v.kind()))
                }
                None => return Err(format!("filter needs {}", b.usage)),
            };
            let mut words = [0u64; 8];
            for s in subs.iter() {
                match s {
                    Value::Int(n) if *n < 256 => words[(*n / 32) as usize] |= 1 << (n % 32),
                    v => return Err(format!("filter: a subtype is 0..255, got {v}")),
                }
            }
            let (info_filter, info_mask) = match args.len() {
                2 => (0, 0),
                4 => (int_at(2)?, int_at(3)?),
                _ => return Err(format!("filter takes INFO_FILTER and INFO_MASK together: {}", b.usage)),
            };
            for (what, n) in [("type", ty), ("info_filter", info_filter), ("info_mask", info_mask)] {
                if n > u32::MAX as u64 {
                    return Err(format!("filter: {what} {n} does not fit in 32 bits"));
                }
            }
            Ok(Value::Record(Rc::from(vec![
                ("type", Value::Int(ty)),
                ("info_filter", Value::Int(info_filter)),
                ("info_mask", Value::Int(info_mask)),
                ("subtype_filter", Value::List(Rc::from(words.iter().map(|w| Value::Int(*w)).collect::<Vec<_>>()))),
            ])))
        }
        other => Err(format!("builtin {other} has no evaluator")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_only_calls_fit_the_fast_path() {
        // The runner passes at most 4 positional integers to
        // `dispatch_ints`, never a named argument.
        let mut n = 0;
        for (id, sig) in CALLS.iter().enumerate() {
            if takes_ints(id as CallId) {
                assert!(sig.max <= 4, "{}", sig.name);
                assert!(matches!(sig.named, Named::None), "{}", sig.name);
                n += 1;
            }
        }
        assert!(n > 0);
    }

    #[test]
    fn constant_operands_are_folded_at_lowering() {
        let src = "scenario \"fold\"\nsetup:\n  (r, w) = pipe()\n  write(w, fill(3, 1)) => 3\n  \
                   write(w, fill(2, 300)) => 2\n  x = poll(r, POLLIN|POLLOUT, 0)\n\
                   check:\n  assert x in {POLLIN, u32(7)}\n  assert x == 1 + 0\n";
        let prog = crate::lang::compile("fold.scn", src, &KsimCatalog).expect("compiles");
        let arg = |i: usize, j: usize| match &prog.setup[i] {
            crate::lang::ir::Op::Call(c) => c.args[j].clone(),
            _ => unreachable!(),
        };
        assert!(matches!(arg(1, 1), IrExpr::Const(Const::Bytes(b)) if b == [1, 1, 1]));
        // An evaluation that fails is left to run time, to fail there.
        assert!(matches!(arg(2, 1), IrExpr::Builtin { .. }));
        assert!(matches!(arg(3, 1), IrExpr::Const(Const::Int(n)) if n == (abi::POLLIN | abi::POLLOUT) as u64));
        let IrExpr::In(_, set, _) = &prog.checks[0].expr else { panic!("{:?}", prog.checks[0].expr) };
        assert!(matches!(&set[1], IrExpr::Const(Const::Bytes(b)) if b == &7u32.to_le_bytes()));
        let IrExpr::Binary(_, _, one, _) = &prog.checks[1].expr else { panic!() };
        assert!(matches!(**one, IrExpr::Const(Const::Int(1))));
    }
    #[test]
    fn values_larger_than_the_limit_are_refused_before_they_are_built() {
        let err = |src: &str| crate::lang::compile("big.scn", src, &KsimCatalog).err().unwrap_or_default();
        let head = "setup:\n  (r, w) = pipe()\n";
        // The limit itself is fine.
        assert!(crate::lang::compile("ok.scn", &format!("{head}  write(w, fill(4194304, 1)) => ok\n"), &KsimCatalog)
            .is_ok());
        let e = err(&format!("{head}  write(w, fill(4194305, 1))\n"));
        assert!(e.contains("big.scn:3:12\n") && e.contains("`fill(...)` would be 4194305 bytes"), "{e}");
        // Each operand fits; together they do not (the error is at `cat`).
        let e = err(&format!("{head}  write(w, cat(fill(3145728, 1), b\"x\", fill(1048576, 2)))\n"));
        assert!(e.contains("big.scn:3:12\n") && e.contains("`cat(...)` would be 4194305 bytes"), "{e}");
        let e = err(&format!("{head}  ioctl(w, 1, [fill(3145728, 1), fill(1048577, 2)])\n"));
        assert!(e.contains("big.scn:3:15\n") && e.contains("the list would be 4194305 bytes"), "{e}");
        // At run time: an evaluation error, not an allocation.
        let big = [Value::Int(MAX_VALUE_BYTES + 1), Value::Int(1)];
        let fill = BUILTINS.iter().position(|b| b.name == "fill").unwrap() as BuiltinId;
        assert_eq!(builtin(fill, &big).err(), Some(too_big("fill(4194305, ...)", MAX_VALUE_BYTES + 1)));
        let cat = BUILTINS.iter().position(|b| b.name == "cat").unwrap() as BuiltinId;
        let half = Value::Bytes(vec![0; (MAX_VALUE_BYTES / 2) as usize].into());
        assert!(builtin(cat, &[half.clone(), half.clone()]).is_ok());
        assert_eq!(
            builtin(cat, &[half.clone(), half, Value::bytes(b"x")]).err(),
            Some(too_big("cat(...)", MAX_VALUE_BYTES + 1))
        );
    }
}
