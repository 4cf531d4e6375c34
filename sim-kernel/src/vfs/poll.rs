//! poll(2) on one fd (`fs/select.c`: `do_poll`, `do_pollfd`), with a timeout
//! on the virtual clock.

use super::fdtable::FilesStruct;
use crate::abi::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::errno::{Errno, KResult};
use crate::sched::{self, PollTable, WakeReason};

/// What a file with no `->poll` reports (`DEFAULT_POLLMASK`).
pub const DEFAULT_POLLMASK: u32 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/// Poll one fd: the ready events among `events` plus POLLERR and POLLHUP
/// (always reported), POLLNVAL for a closed fd, 0 on timeout. A negative
/// fd is ignored (0). `timeout_ms`: 0 returns at once, negative waits
/// forever.
pub fn do_poll(files: &FilesStruct, fd: i64, events: u32, timeout_ms: i32) -> KResult<u32> {
    if fd < 0 {
        return Ok(0);
    }
    let file = match files.fget(fd) {
        Ok(f) => f,
        Err(_) => return Ok(POLLNVAL),
    };
    // demangle_poll(events) | EPOLLERR | EPOLLHUP
    let filter = (events & 0xffff) | POLLERR | POLLHUP;
    let deadline =
        if timeout_ms > 0 { Some(sched::now_ns().saturating_add(timeout_ms as u64 * 1_000_000)) } else { None };
    let mut timed_out = false;
    loop {
        let waiting = timeout_ms != 0 && !timed_out;
        let mut pt = if waiting { Some(PollTable::for_current()) } else { None };
        let mask = file.ops().poll(&file, pt.as_mut()) & filter;
        if mask != 0 || !waiting {
            return Ok(mask);
        }
        match pt.as_ref().and_then(|p| p.token()) {
            Some(token) => match sched::exec::poll_block(token, file.hdr.id(), deadline) {
                WakeReason::Woken => {}
                WakeReason::TimedOut => timed_out = true,
                WakeReason::Killed => return Err(Errno::EINTR),
            },
            None => match pt.as_ref().and_then(|p| p.sleep(deadline)) {
                Some(WakeReason::Woken) => {}
                Some(WakeReason::TimedOut) => timed_out = true,
                Some(WakeReason::Killed) => return Err(Errno::EINTR),
                // In the executor but not in an actor: nothing to park.
                None => sched::poll_backoff(),
            },
        }
    }
}
