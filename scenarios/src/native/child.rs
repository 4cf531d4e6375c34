//! The native child process (`ksim __native-child FILE`): process-wide
//! state of a native run and its setup.
//!
//! Before the scenario runs, the child closes every fd but 0, 1 and 2
//! (close_range(2)), sets RLIMIT_NOFILE's soft limit to 1024 and its hard
//! limit to 4096 (the simulator's INR_OPEN_CUR and INR_OPEN_MAX), drops
//! CAP_SYS_RESOURCE when the planner says so ([`configure`]), installs the SIGSEGV/SIGBUS handler of the
//! memory probes ([`super::mm`]) and a SIGPIPE handler that only counts
//! (so a write with no reader returns EPIPE, as if SIGPIPE were ignored, and
//! `sigcount(SIGPIPE)` reads the count). A child re-executed by `exec()`
//! (`--resume`) keeps its fds and limits: that is the point of exec.
//!
//! Output: one JSON [`super::Line`] per line on fd 1, written whole under a
//! lock, so that lines from several threads never mix and nothing is
//! buffered when `exec()` replaces the process.

use super::time::monotonic_ns;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Process-wide state of the native run.
pub struct Host {
    /// CLOCK_MONOTONIC at the start of the run (kept across `exec()`).
    pub start_ns: u64,
    /// Whether the host kernel has CONFIG_WATCH_QUEUE (pipe2 with
    /// O_NOTIFICATION_PIPE works).
    pub watch_queue: bool,
    /// The scenario's own mappings, `[start, end)` page ranges.
    #[allow(clippy::disallowed_types)]
    maps: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl Host {
    #[allow(clippy::disallowed_types)]
    fn maps(&self) -> std::sync::MutexGuard<'_, Vec<(u64, u64)>> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_map(&self, start: u64, end: u64) {
        self.maps().push((start, end));
    }

    pub fn remove_map(&self, start: u64, end: u64) {
        let mut m = self.maps();
        let old = std::mem::take(&mut *m);
        for (s, e) in old {
            if e <= start || s >= end {
                m.push((s, e));
                continue;
            }
            if s < start {
                m.push((s, start));
            }
            if e > end {
                m.push((end, e));
            }
        }
    }

    pub fn in_maps(&self, addr: u64) -> bool {
        self.maps().iter().any(|&(s, e)| s <= addr && addr < e)
    }
}

static HOST: OnceLock<Host> = OnceLock::new();

/// The run's host state (made on first use, with the current time).
pub fn host() -> &'static Host {
    HOST.get_or_init(|| Host::new(monotonic_ns()))
}

impl Host {
    fn new(start_ns: u64) -> Host {
        #[allow(clippy::disallowed_types)]
        let maps = std::sync::Mutex::new(Vec::new());
        Host { start_ns, watch_queue: super::host::detected().watch_queue, maps }
    }
}

/// Set the run's start time (a resumed child keeps its predecessor's).
pub fn init_host(start_ns: u64) {
    let _ = HOST.set(Host::new(start_ns));
}

/// Whether pipe2(O_NOTIFICATION_PIPE) works here. The probe's two fds are
/// closed at once; it runs before the scenario's fds exist (or, in a
/// resumed child, uses numbers that are free and frees them again).
pub fn probe_watch_queue() -> bool {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for two ints.
    let r = unsafe {
        libc::syscall(libc::SYS_pipe2, fds.as_mut_ptr(), sim_kernel::abi::O_NOTIFICATION_PIPE | libc::O_CLOEXEC as u32)
    };
    if r == 0 {
        // SAFETY: the two fds just made.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        return true;
    }
    false
}

static SIGPIPES: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_sigpipe(_: libc::c_int) {
    SIGPIPES.fetch_add(1, Ordering::Relaxed);
}

/// How many SIGPIPEs the process got.
pub fn sigpipe_count() -> u64 {
    SIGPIPES.load(Ordering::Relaxed)
}

/// Signal handlers of a native run (also in a resumed child: exec resets
/// them).
pub fn install_handlers() {
    super::mm::install_fault_handler();
    // SAFETY: a zeroed sigaction with a handler that only bumps an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_sigpipe as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
    }
}

/// A fresh process: only fds 0, 1 and 2, RLIMIT_NOFILE soft limit 1024.
/// [`configure`] then sets the hard limit.
pub fn fresh_process() {
    // SAFETY: closes fds this process does not use (std holds none open).
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if r != 0 {
        for fd in 3..4096 {
            // SAFETY: as above, one by one (kernels before 5.9).
            unsafe { libc::close(fd) };
        }
    }
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid rlimit pointers.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = (sim_kernel::abi::INR_OPEN_CUR).min(l.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
}

/// Make this process the machine the planner chose
/// ([`super::host::plan`]): in a fresh child (not one resumed after
/// `exec()`), set RLIMIT_NOFILE to the simulator's {INR_OPEN_CUR,
/// INR_OPEN_MAX}, the limits a Linux process starts with (`INIT_RLIMITS`),
/// so that raising the limit fails or succeeds as in the simulator; then
/// drop CAP_SYS_RESOURCE when the scenario pins it off.
pub fn configure(drop_cap_sys_resource: bool, fresh: bool) -> Result<(), String> {
    if fresh {
        // {INR_OPEN_CUR, INR_OPEN_MAX}: lowering needs no privilege, raising
        // (a host whose hard limit is below 4096) needs CAP_SYS_RESOURCE, so
        // this comes before the drop; where it fails the planner has
        // skipped every scenario that calls setrlimit.
        let l = libc::rlimit { rlim_cur: sim_kernel::abi::INR_OPEN_CUR, rlim_max: sim_kernel::abi::INR_OPEN_MAX };
        // SAFETY: a valid rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) };
    }
    if drop_cap_sys_resource && !super::host::drop_cap_sys_resource() {
        return Err("cannot drop CAP_SYS_RESOURCE (capset)".into());
    }
    Ok(())
}

#[allow(clippy::disallowed_types)]
static OUT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Write one output line to fd 1, whole.
pub fn emit(line: &super::Line) {
    let mut s = serde_json::to_string(line).unwrap_or_else(|e| format!("{{\"t\":\"bad\",\"e\":\"{e}\"}}"));
    s.push('\n');
    let _g = OUT.lock().unwrap_or_else(|p| p.into_inner());
    let mut b = s.as_bytes();
    while !b.is_empty() {
        // SAFETY: b is readable for its length.
        let r = unsafe { libc::write(1, b.as_ptr().cast(), b.len()) };
        if r <= 0 {
            if r < 0 && super::sys::last_errno() == libc::EINTR {
                continue;
            }
            return;
        }
        b = &b[r as usize..];
    }
}

/// Leave the process at once, whatever threads are still blocked.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process; every output line is already written.
    unsafe { libc::_exit(code) }
}
