//! The simulated machine: the features of the CPU, the kernel's build and
//! the caller's privileges that change what a system call returns. They are
//! part of a scenario (`config pkeys=on|off`, `config
//! cap_sys_resource=on|off`), never read from the host, so a run or an
//! exploration gives the same result on every machine. `ksim compare`
//! configures them to match the host it compares with
//! (`scenarios/src/native/host.rs`).

use crate::abi::UFFD_API_FEATURES;

/// What the simulated machine has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// x86 memory protection keys (CPU flags `pku` and `ospke`). With them
    /// `mmap`/`mprotect` with exactly `PROT_EXEC` make an execute-only
    /// mapping: Linux gives it the execute-only pkey, whose access-disable
    /// bit makes reads fault (`arch/x86/mm/pkeys.c`, `execute_only_pkey`,
    /// `__arch_override_mprotect_pkey`; `mm/mmap.c`, `do_mmap`). Without
    /// them the page tables cannot express execute-without-read, so
    /// `PROT_EXEC` alone is readable (`arch/x86/mm/fault.c`,
    /// `access_error`: any of `VM_READ|VM_WRITE|VM_EXEC` allows a read).
    pub pkeys: bool,
    /// Whether the calling process has `CAP_SYS_RESOURCE`: it may raise
    /// its hard `RLIMIT_NOFILE` (`kernel/sys.c`, `do_prlimit`) and grow a
    /// pipe past `pipe-max-size` (`fs/pipe.c`, `pipe_set_size`).
    pub cap_sys_resource: bool,
    /// The userfaultfd features `UFFDIO_API` reports and accepts: a subset
    /// of [`UFFD_API_FEATURES`] (`fs/userfaultfd.c`, `userfaultfd_api`
    /// clears those a kernel's build or CPU lacks).
    pub uffd_features: u64,
}

impl Machine {
    /// The default machine: no protection keys (an x86 CPU without PKU:
    /// `PROT_EXEC` alone is readable), no `CAP_SYS_RESOURCE` (an
    /// unprivileged user, or root in a container), every userfaultfd
    /// feature of 6.8+.
    pub const DEFAULT: Machine = Machine { pkeys: false, cap_sys_resource: false, uffd_features: UFFD_API_FEATURES };
}

impl Default for Machine {
    fn default() -> Self {
        Machine::DEFAULT
    }
}
