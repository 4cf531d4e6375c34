//! The FUSE request channel (`fs/fuse/dev.c`, current Linux): the part
//! CUSE needs. A connection ([`FuseConn`]: `struct fuse_conn` with its
//! input queue `fuse_iqueue` and processing queue `fuse_pqueue`) carries
//! requests from callers to the daemon as bytes in the exact ABI layouts
//! (`fuse_in_header` + the op's struct + data) and replies back
//! (`fuse_out_header` + the op's reply).
//!
//! - [`fuse_simple_request`]: a caller queues a request and sleeps until it
//!   ends (`request_wait_answer`; interrupts are not built yet: the wait
//!   is uninterruptible except for teardown).
//! - [`fuse_dev_read`] (`fuse_dev_do_read`): the buffer size rule first
//!   (EINVAL), then wait for a request (O_NONBLOCK: EAGAIN; disconnected:
//!   ENODEV); a request longer than the buffer ends with EIO for its caller
//!   and the read restarts.
//! - [`fuse_dev_write`] (`fuse_dev_do_write`): header rules, unique-0
//!   notifications, the error range, the lookup on the processing list
//!   (ENOENT), the body size (EINVAL, and the request ends with EIO).
//! - [`fuse_dev_poll`], [`fuse_abort_conn`].
//!
//! Lock order: the connection's one lock ([`FuseConn::wq`]: `fiq->lock`,
//! `fpq->lock` and `fc->lock` together, with the wait queue every sleeper
//! of the connection is on) is a leaf. A background request's end hook
//! (CUSE_INIT's `cuse_process_init_reply`) runs after it is dropped, as
//! `fuse_request_end` runs without `fpq->lock`.

use super::abi::*;
use crate::abi::{POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::errno::{Errno, KResult};
use crate::sched::{PollTable, WaitQueueHead};
use std::collections::{BTreeMap, VecDeque};

/// What a request's reply may carry after the `fuse_out_header`: `size`
/// bytes, or, if `argvar` (the last argument may shrink), as few as `min`
/// (the size of the arguments before the last).
#[derive(Clone, Copy, Debug)]
pub struct OutArgs {
    pub size: usize,
    pub argvar: bool,
    pub min: usize,
}

impl OutArgs {
    /// Exactly `size` bytes.
    pub const fn fixed(size: usize) -> OutArgs {
        OutArgs { size, argvar: false, min: size }
    }

    /// `min` bytes and a last argument of up to `size - min`.
    pub const fn var(size: usize, min: usize) -> OutArgs {
        OutArgs { size, argvar: true, min }
    }
}

#[derive(Debug)]
enum ReqState {
    /// On `fiq->pending`: the daemon has not read it (FR_PENDING).
    Pending,
    /// On the processing list: read, awaiting its reply (FR_SENT).
    Sent,
    /// Ended: the reply body or the error the caller gets (FR_FINISHED).
    Done(KResult<Vec<u8>>),
}

struct FuseReq {
    opcode: u32,
    bytes: Vec<u8>,
    out: OutArgs,
    state: ReqState,
    /// A background request (no caller waits: CUSE_INIT): its end is
    /// handed to the connection owner's hook.
    background: bool,
}

/// The connection state under its lock.
pub struct ConnState {
    /// `fc->connected` (and `fiq->connected`, `fpq->connected`).
    pub connected: bool,
    /// `fiq->reqctr`.
    reqctr: u64,
    /// `fiq->pending`, by unique.
    pending: VecDeque<u64>,
    /// Every request not yet collected by its caller, by unique.
    reqs: BTreeMap<u64, FuseReq>,
    pub max_read: u32,
    pub max_write: u32,
    /// `fc->num_waiting`: requests allocated and not yet put.
    pub num_waiting: u32,
    /// `fc->no_open`: the daemon answered FUSE_OPEN with ENOSYS.
    pub no_open: bool,
    /// `fc->no_interrupt`.
    pub no_interrupt: bool,
    /// Poll wake-ups received (`fuse_notify_poll_wakeup`), by `kh`.
    pub poll_wakeups: BTreeMap<u64, u32>,
}

/// A FUSE connection (`struct fuse_conn`).
pub struct FuseConn {
    /// The lock and the wait queue of everything that sleeps on the
    /// connection: the daemon's reads (`fiq->waitq`), callers awaiting a
    /// reply (`req->waitq`) and pollers. Wake-ups are non-exclusive.
    pub wq: WaitQueueHead<ConnState>,
}

/// A background request that ended in a write: its opcode and result.
pub struct Ended {
    pub opcode: u32,
    pub result: KResult<Vec<u8>>,
}

impl FuseConn {
    /// `fuse_conn_init` for a connection of object `owner` (its footprint
    /// key): connected and, as CUSE sets `fc->initialized` at once, open
    /// to requests.
    pub fn new(owner: u64) -> FuseConn {
        FuseConn {
            wq: WaitQueueHead::new(
                "fuse_conn.iq",
                owner,
                ConnState {
                    connected: true,
                    reqctr: 0,
                    pending: VecDeque::new(),
                    reqs: BTreeMap::new(),
                    max_read: 0,
                    max_write: 0,
                    num_waiting: 0,
                    no_open: false,
                    no_interrupt: false,
                    poll_wakeups: BTreeMap::new(),
                },
            ),
        }
    }

    /// The connection's lock, reported to the footprint as a write.
    pub fn lock(&self) -> crate::sched::WqGuard<'_, ConnState> {
        crate::footprint::access(self.wq.owner(), true);
        self.wq.lock()
    }
}

/// The request bytes: `fuse_in_header` then `args`.
fn in_bytes(opcode: u32, unique: u64, nodeid: u64, pid: u32, args: &[u8]) -> Vec<u8> {
    let len = IN_HEADER_LEN + args.len();
    // len, opcode, unique, nodeid, uid, gid, pid, total_extlen + padding.
    Le(Vec::with_capacity(len))
        .u32(len as u32)
        .u32(opcode)
        .u64(unique)
        .u64(nodeid)
        .u32(0)
        .u32(0)
        .u32(pid)
        .u32(0)
        .bytes(args)
        .0
}

/// `queue_request_and_unlock`: a fresh unique (`fuse_get_unique`), onto
/// the pending list, daemons woken.
fn queue(g: &mut ConnState, opcode: u32, pid: u32, args: &[u8], out: OutArgs, background: bool) -> u64 {
    g.reqctr += FUSE_REQ_ID_STEP;
    let unique = g.reqctr;
    let bytes = in_bytes(opcode, unique, 0, pid, args);
    g.reqs.insert(unique, FuseReq { opcode, bytes, out, state: ReqState::Pending, background });
    g.pending.push_back(unique);
    unique
}

/// `fuse_request_queue_background` for CUSE_INIT (`cuse_send_init`).
pub fn fuse_queue_background(fc: &FuseConn, opcode: u32, args: &[u8], out: OutArgs) {
    let mut g = fc.lock();
    g.num_waiting += 1;
    queue(&mut g, opcode, 0, args, out, true);
    g.wake_up_locked(POLLIN);
}

/// `fuse_simple_request`: send `args` as `opcode` (nodeid 0, as CUSE's
/// are) and wait for the reply body. Not connected: ENOTCONN
/// (`fuse_get_req`, and `fuse_send_one` for forced requests). The reply's
/// error is the result.
pub fn fuse_simple_request(fc: &FuseConn, opcode: u32, pid: u32, args: &[u8], out: OutArgs) -> KResult<Vec<u8>> {
    let mut g = fc.lock();
    if !g.connected {
        return Err(Errno::ENOTCONN);
    }
    g.num_waiting += 1;
    let unique = queue(&mut g, opcode, pid, args, out, false);
    g.wake_up_locked(POLLIN);
    // request_wait_answer: under the same lock, so a reply cannot slip
    // between the queueing and the first check.
    let waited = fc.wq.wait_locked(g, |g| {
        matches!(g.reqs.get(&unique).map(|r| &r.state), Some(ReqState::Done(_)) | None).then_some(())
    });
    let mut g = match waited {
        Ok((_, g)) => g,
        // Killed (teardown): the request is left to the abort.
        Err(e) => return Err(e),
    };
    g.num_waiting = g.num_waiting.saturating_sub(1);
    match g.reqs.remove(&unique).map(|r| r.state) {
        Some(ReqState::Done(r)) => r,
        _ => Err(Errno::EIO),
    }
}

/// End request `unique` with `result` (`fuse_request_end`): a caller's is
/// left for it to collect; a background one is removed and returned.
fn request_end(g: &mut ConnState, unique: u64, result: KResult<Vec<u8>>) -> Option<Ended> {
    let r = g.reqs.get_mut(&unique)?;
    if r.background {
        let r = g.reqs.remove(&unique)?;
        g.num_waiting = g.num_waiting.saturating_sub(1);
        return Some(Ended { opcode: r.opcode, result });
    }
    r.state = ReqState::Done(result);
    None
}

/// `fuse_dev_do_read` with a buffer of `size` bytes: one request's bytes.
pub fn fuse_dev_read(fc: &FuseConn, size: usize, nonblock: bool) -> KResult<Vec<u8>> {
    let mut g = fc.lock();
    // "nbytes < max_t(size_t, FUSE_MIN_READ_BUFFER, sizeof(struct
    // fuse_in_header) + sizeof(struct fuse_write_in) + fc->max_write)":
    // EINVAL before anything else.
    if size < FUSE_MIN_READ_BUFFER.max(IN_HEADER_LEN + WRITE_IN_LEN + g.max_write as usize) {
        return Err(Errno::EINVAL);
    }
    loop {
        if !g.connected || g.pending.is_empty() {
            if g.connected && nonblock {
                return Err(Errno::EAGAIN);
            }
            g = fc.wq.wait_locked(g, |g| (!g.connected || !g.pending.is_empty()).then_some(()))?.1;
        }
        if !g.connected {
            // `fc->aborted ? -ECONNABORTED : -ENODEV`: only the fusectl
            // abort file sets `aborted`; CUSE's own abort does not.
            return Err(Errno::ENODEV);
        }
        let Some(unique) = g.pending.pop_front() else { continue };
        let Some(r) = g.reqs.get_mut(&unique) else { continue };
        if size < r.bytes.len() {
            // "If request is too large, reply with an error and restart
            // the read".
            let ended = request_end(&mut g, unique, Err(Errno::EIO));
            g.wake_up_locked(POLLIN);
            drop(ended);
            continue;
        }
        r.state = ReqState::Sent;
        return Ok(r.bytes.clone());
    }
}

/// `fuse_dev_do_write` of `data`: the count written. A background request
/// the reply ends is passed to `end` after the lock is dropped (CUSE_INIT
/// is processed inside the write, and the write still returns its count).
pub fn fuse_dev_write(fc: &FuseConn, data: &[u8], end: impl FnOnce(Ended)) -> KResult<usize> {
    let n = data.len();
    if n < OUT_HEADER_LEN {
        return Err(Errno::EINVAL);
    }
    let len = get_u32(data, 0) as usize;
    let error = get_u32(data, 4) as i32;
    let unique = get_u64(data, 8);
    if len != n {
        return Err(Errno::EINVAL);
    }
    // "Zero oh.unique indicates unsolicited notification message and
    // error contains notification code", before the error check.
    if unique == 0 {
        return fuse_notify(fc, error, &data[OUT_HEADER_LEN..]).map(|()| n);
    }
    // "fuse: reject internal errno": -512 and below are kernel-internal.
    if error <= -512 || error > 0 {
        return Err(Errno::EINVAL);
    }
    let mut g = fc.lock();
    let req = if g.connected { g.reqs.get(&(unique & !FUSE_INT_REQ_BIT)) } else { None };
    let Some(req) = req.filter(|r| matches!(r.state, ReqState::Sent)) else {
        return Err(Errno::ENOENT);
    };
    if unique & FUSE_INT_REQ_BIT != 0 {
        // An interrupt reply: exactly a header. ENOSYS stops interrupts;
        // EAGAIN requeues one, but no request is ever interrupted yet, so
        // `queue_interrupt` finds FR_INTERRUPTED clear: EINVAL.
        if n != OUT_HEADER_LEN {
            return Err(Errno::EINVAL);
        }
        if error == -(Errno::ENOSYS.code()) {
            g.no_interrupt = true;
        } else if error == -(Errno::EAGAIN.code()) {
            return Err(Errno::EINVAL);
        }
        return Ok(n);
    }
    let body = &data[OUT_HEADER_LEN..];
    let out = req.out;
    // copy_out_args.
    let (err, result) = if error != 0 {
        let e = Errno::from_code(-error).unwrap_or(Errno::EIO);
        if n != OUT_HEADER_LEN {
            (Some(Errno::EINVAL), Err(Errno::EIO))
        } else {
            (None, Err(e))
        }
    } else if body.len() > out.size || (body.len() < out.size && !out.argvar) || body.len() < out.min {
        // copy_out_args: longer than the arguments, shorter without
        // argvar, or shorter by more than the last argument's size.
        (Some(Errno::EINVAL), Err(Errno::EIO))
    } else {
        (None, Ok(body.to_vec()))
    };
    let ended = request_end(&mut g, unique, result);
    g.wake_up_locked(POLLIN);
    drop(g);
    if let Some(e) = ended {
        end(e);
    }
    match err {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// `fuse_notify`: only FUSE_NOTIFY_POLL is built; an unknown code is
/// EINVAL.
fn fuse_notify(fc: &FuseConn, code: i32, body: &[u8]) -> KResult<()> {
    match code {
        FUSE_NOTIFY_POLL => {
            if body.len() != NOTIFY_POLL_LEN {
                return Err(Errno::EINVAL);
            }
            let kh = get_u64(body, 0);
            let mut g = fc.lock();
            *g.poll_wakeups.entry(kh).or_default() += 1;
            g.wake_up_locked(POLLIN);
            Ok(())
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `fuse_dev_poll`: POLLOUT|POLLWRNORM always, POLLIN|POLLRDNORM with a
/// request pending; POLLERR alone once disconnected.
pub fn fuse_dev_poll(fc: &FuseConn, pt: Option<&mut PollTable>) -> u32 {
    if let Some(pt) = pt {
        pt.wait(&fc.wq);
    }
    let g = fc.lock();
    if !g.connected {
        POLLERR
    } else if !g.pending.is_empty() {
        POLLOUT | POLLWRNORM | POLLIN | POLLRDNORM
    } else {
        POLLOUT | POLLWRNORM
    }
}

/// `fuse_abort_conn`: disconnected; every request not yet ended (pending,
/// or read and awaiting a reply) ends with ECONNABORTED; everyone woken.
/// Background requests are dropped (CUSE_INIT's end after an abort has
/// nothing left to undo).
pub fn fuse_abort_conn(fc: &FuseConn) {
    let mut g = fc.lock();
    if !g.connected {
        return;
    }
    g.connected = false;
    g.pending.clear();
    let open: Vec<u64> =
        g.reqs.iter().filter(|(_, r)| !matches!(r.state, ReqState::Done(_))).map(|(u, _)| *u).collect();
    for u in open {
        drop(request_end(&mut g, u, Err(Errno::ECONNABORTED)));
    }
    g.wake_up_locked(POLLERR);
}

/// The `waiting` sysfs file: `fc->num_waiting`.
pub fn num_waiting(fc: &FuseConn) -> u32 {
    fc.lock().num_waiting
}
