//! Processes and tasks (analogous to Linux's `struct task_struct`, with the
//! parts of `struct signal_struct` and `struct files_struct` a scenario
//! needs: the fd table, the address space, `RLIMIT_NOFILE` (soft and hard;
//! raising the hard limit needs the machine's CAP_SYS_RESOURCE), signal
//! counts).
//!
//! A [`Process`] owns an fd table; a [`Task`] is a thread of a process or a
//! kthread (no process). Syscalls take the calling `&Task`.

use crate::abi;
use crate::errno::{Errno, KResult};
use crate::kernel::Kernel;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Arc;
use crate::vfs::fdtable::FilesStruct;

/// Number of signals counted (`_NSIG`).
pub const NSIG: usize = 65;

pub struct Process {
    pub pid: u64,
    pub name: Arc<str>,
    pub files: FilesStruct,
    /// The address space (`mm_struct`).
    pub mm: Arc<crate::mm::MmStruct>,
    /// `RLIMIT_NOFILE` soft limit (the only limit modelled).
    rlimit_nofile: AtomicU64,
    /// `RLIMIT_NOFILE` hard limit.
    rlimit_nofile_max: AtomicU64,
    /// Signals sent to the process and ignored (counted, as if SIG_IGN:
    /// e.g. SIGPIPE from a write to a pipe with no readers).
    sig_counts: [AtomicU64; NSIG],
}

impl Process {
    /// A new process with fds 0, 1, 2 open on the null console, so the
    /// first new fd is 3 as in a Linux test.
    pub fn new(kernel: &Arc<Kernel>, name: impl Into<Arc<str>>) -> Arc<Process> {
        let pid = kernel.next_pid();
        let p = Arc::new(Process {
            pid,
            name: name.into(),
            files: FilesStruct::with_key(crate::footprint::files_key(pid)),
            mm: crate::mm::MmStruct::new(kernel),
            rlimit_nofile: AtomicU64::new(abi::INR_OPEN_CUR),
            rlimit_nofile_max: AtomicU64::new(abi::INR_OPEN_MAX),
            sig_counts: std::array::from_fn(|_| AtomicU64::new(0)),
        });
        crate::vfs::console::open_std_fds(kernel, &p);
        p
    }

    pub fn rlimit_nofile(&self) -> u64 {
        crate::footprint::access(crate::footprint::proc_key(self.pid), false);
        self.rlimit_nofile.load(Ordering::Relaxed)
    }

    /// The scenario's `setrlimit(RLIMIT_NOFILE, n)`: Linux's
    /// `setrlimit(RLIMIT_NOFILE, {n, max(n, hard)})`, which sets the soft
    /// limit to `n` and raises the hard limit to `n` when `n` is above it
    /// (never lowering it). Checks in `do_prlimit`'s order
    /// (`kernel/sys.c`): a hard limit above `sysctl_nr_open`: EPERM;
    /// raising the hard limit without `CAP_SYS_RESOURCE` (`cap`): EPERM.
    pub fn set_rlimit_nofile(&self, n: u64, cap: bool) -> KResult<()> {
        crate::footprint::access(crate::footprint::proc_key(self.pid), true);
        let max = self.rlimit_nofile_max.load(Ordering::Relaxed);
        if n > abi::NR_OPEN_MAX {
            return Err(Errno::EPERM);
        }
        if n > max && !cap {
            return Err(Errno::EPERM);
        }
        self.rlimit_nofile_max.store(n.max(max), Ordering::Relaxed);
        self.rlimit_nofile.store(n, Ordering::Relaxed);
        Ok(())
    }

    pub fn signal(&self, sig: usize) {
        crate::sched::fine_point("atomic");
        crate::footprint::access(crate::footprint::proc_key(self.pid), true);
        if let Some(c) = self.sig_counts.get(sig) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn sigcount(&self, sig: usize) -> u64 {
        crate::footprint::access(crate::footprint::proc_key(self.pid), false);
        self.sig_counts.get(sig).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// `do_exit` for the whole process: `exit_mm` (the address space is
    /// torn down) then `exit_files` (every fd is closed).
    pub fn exit_files(&self) {
        self.mm.exit();
        self.files.close_all();
    }
}

/// The caller of a syscall or kernel-internal call.
#[derive(Clone)]
pub struct Task {
    pub kernel: Arc<Kernel>,
    /// The task's process (kthreads: `None`).
    pub process: Option<Arc<Process>>,
    /// Shared, so that a runner starting the same actors again and again
    /// hands out one name rather than copying it.
    pub name: Arc<str>,
}

impl Task {
    pub fn new(kernel: &Arc<Kernel>, process: Option<Arc<Process>>, name: impl Into<Arc<str>>) -> Task {
        Task { kernel: kernel.clone(), process, name: name.into() }
    }

    /// A new kernel with `bugs` enabled, one process `main` (fds 0-2 open,
    /// so the first new fd is 3) and one task of it: for unit tests,
    /// benchmarks and loom models that call the kernel without a scenario.
    pub fn single(bugs: crate::bugs::BugSet) -> (Arc<Kernel>, Task) {
        let k = Kernel::new(bugs);
        let p = Process::new(&k, "main");
        let t = Task::new(&k, Some(p), "t");
        (k, t)
    }

    /// The process whose fd table a call uses; kthreads have none (EBADF,
    /// as for a task with no `files`).
    pub fn proc(&self) -> KResult<&Arc<Process>> {
        self.process.as_ref().ok_or(Errno::EBADF)
    }
}
