//! The host's features and privileges that change results, found once per
//! process ([`HostFeatures::detect`]), and the one planner that decides,
//! from a scenario and those features, how the scenario is compared
//! ([`plan`]): run natively with the simulated side configured like the
//! host, or skip with a reason. `ksim run --native`, `ksim compare`,
//! `ksim conformance` and the native child all go through [`plan`]; the
//! child's own run-time skips for the same features ([`super::pipe`],
//! [`super::watch_queue`], [`super::userfaultfd`]) use the reasons
//! written here.
//!
//! What is detected:
//! - protection keys: `/proc/cpuinfo` flags `pku` (the CPU has them) and
//!   `ospke` (the kernel enabled them). They decide whether `PROT_EXEC`
//!   alone is execute-only (`arch/x86/mm/pkeys.c`).
//! - CONFIG_WATCH_QUEUE: `pipe2(O_NOTIFICATION_PIPE)` works (else
//!   `ENOPKG`, `fs/pipe.c`).
//! - userfaultfd: whether `userfaultfd(2)` is allowed here (it is `EPERM`
//!   when `vm.unprivileged_userfaultfd` is 0 and the process lacks
//!   CAP_SYS_PTRACE, `ENOSYS` without CONFIG_USERFAULTFD;
//!   `fs/userfaultfd.c`, `userfaultfd_syscall_allowed`), and the features
//!   its `UFFDIO_API` reports.
//! - CAP_SYS_RESOURCE (capget(2)), the hard RLIMIT_NOFILE and
//!   `fs.nr_open`: they decide `setrlimit(RLIMIT_NOFILE, N)` and
//!   `F_SETPIPE_SZ` past `pipe-max-size`.
//!
//! Planning ([`plan`]): a feature the scenario pins (`config pkeys=on`,
//! `config cap_sys_resource=off`) must be what the host has, or the host
//! can be made to match (a process can drop CAP_SYS_RESOURCE, never gain
//! it), else the scenario is skipped with the reason. A feature the
//! scenario does not pin is given to the simulated side as the host has
//! it. `ksim run` and `ksim explore` never call this: the simulated
//! machine there is the scenario's config and the documented defaults
//! ([`sim_kernel::Machine::DEFAULT`]).

use crate::lang::ir::{CallOp, Const, IrExpr, Op, Program};
use sim_kernel::abi::{INR_OPEN_MAX, NR_OPEN_MAX, O_NOTIFICATION_PIPE, UFFD_API_FEATURES};
use sim_kernel::Machine;
use std::sync::OnceLock;

/// `CAP_SYS_PTRACE` and `CAP_SYS_RESOURCE` (`include/uapi/linux/capability.h`).
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_RESOURCE: u32 = 24;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// What the host has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFeatures {
    /// `pku` and `ospke` in /proc/cpuinfo.
    pub pkeys: bool,
    /// pipe2(O_NOTIFICATION_PIPE) works.
    pub watch_queue: bool,
    /// The features `UFFDIO_API` reports, or why `userfaultfd(2)` is refused.
    pub userfaultfd: Result<u64, String>,
    /// This process has CAP_SYS_RESOURCE in its effective set.
    pub cap_sys_resource: bool,
    /// ... and CAP_SYS_PTRACE (which lets it use userfaultfd(2) whatever
    /// vm.unprivileged_userfaultfd says).
    pub cap_sys_ptrace: bool,
    /// `vm.unprivileged_userfaultfd` (`None`: not readable).
    pub unprivileged_userfaultfd: Option<u64>,
    /// The hard RLIMIT_NOFILE this process got.
    pub nofile_hard: u64,
    /// `fs.nr_open`.
    pub nr_open: u64,
}

impl HostFeatures {
    /// A host like the simulator's default machine (for tests).
    pub fn like_default() -> HostFeatures {
        HostFeatures {
            pkeys: false,
            watch_queue: true,
            userfaultfd: Ok(UFFD_API_FEATURES),
            cap_sys_resource: false,
            cap_sys_ptrace: true,
            unprivileged_userfaultfd: Some(0),
            nofile_hard: INR_OPEN_MAX,
            nr_open: NR_OPEN_MAX,
        }
    }

    /// Probe this host. Opens and closes two fds (a pipe and a
    /// userfaultfd); reads /proc.
    pub fn detect() -> HostFeatures {
        let caps = effective_caps();
        let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: a valid rlimit pointer.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) };
        HostFeatures {
            pkeys: cpu_has_pkeys(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
            watch_queue: super::child::probe_watch_queue(),
            userfaultfd: probe_userfaultfd(caps),
            cap_sys_resource: caps & (1 << CAP_SYS_RESOURCE) != 0,
            cap_sys_ptrace: caps & (1 << CAP_SYS_PTRACE) != 0,
            unprivileged_userfaultfd: read_u64("/proc/sys/vm/unprivileged_userfaultfd"),
            nofile_hard: l.rlim_max,
            nr_open: read_u64("/proc/sys/fs/nr_open").unwrap_or(NR_OPEN_MAX),
        }
    }

    /// One line saying what was found, for the commands' headers.
    pub fn summary(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        format!(
            "protection keys: {}; CONFIG_WATCH_QUEUE: {}; userfaultfd: {} (vm.unprivileged_userfaultfd {}, \
             CAP_SYS_PTRACE: {}); CAP_SYS_RESOURCE: {}; RLIMIT_NOFILE hard limit {}, fs.nr_open {}",
            yn(self.pkeys),
            yn(self.watch_queue),
            match &self.userfaultfd {
                Ok(f) => format!("features {f:#x}"),
                Err(why) => format!("refused: {why}"),
            },
            self.unprivileged_userfaultfd.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
            yn(self.cap_sys_ptrace),
            yn(self.cap_sys_resource),
            self.nofile_hard,
            self.nr_open
        )
    }
}

/// This process's features, detected on first use.
pub fn detected() -> &'static HostFeatures {
    static H: OnceLock<HostFeatures> = OnceLock::new();
    H.get_or_init(HostFeatures::detect)
}

/// Whether a /proc/cpuinfo text shows protection keys the kernel uses: the
/// first `flags` line has both `pku` and `ospke`.
pub fn cpu_has_pkeys(cpuinfo: &str) -> bool {
    let Some(flags) = cpuinfo.lines().find(|l| l.starts_with("flags")) else { return false };
    let flags = flags.split(':').nth(1).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("pku") && has("ospke")
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The effective capability set (bits 0..63), by capget(2).
fn effective_caps() -> u64 {
    let mut hdr = [LINUX_CAPABILITY_VERSION_3, 0u32];
    let mut data = [0u32; 6];
    // SAFETY: a v3 header and two 3-word data structs.
    let r = unsafe { libc::syscall(libc::SYS_capget, hdr.as_mut_ptr(), data.as_mut_ptr()) };
    if r != 0 {
        return 0;
    }
    data[0] as u64 | (data[3] as u64) << 32
}

/// Drop CAP_SYS_RESOURCE from this thread's effective and permitted sets
/// (threads made after this inherit it). Returns whether it is gone.
pub fn drop_cap_sys_resource() -> bool {
    let mut hdr = [LINUX_CAPABILITY_VERSION_3, 0u32];
    let mut data = [0u32; 6];
    // SAFETY: as in effective_caps; then capset with the same structs.
    unsafe {
        if libc::syscall(libc::SYS_capget, hdr.as_mut_ptr(), data.as_mut_ptr()) != 0 {
            return false;
        }
        data[0] &= !(1 << CAP_SYS_RESOURCE);
        data[1] &= !(1 << CAP_SYS_RESOURCE);
        data[2] &= !(1 << CAP_SYS_RESOURCE);
        libc::syscall(libc::SYS_capset, hdr.as_mut_ptr(), data.as_ptr());
    }
    effective_caps() & (1 << CAP_SYS_RESOURCE) == 0
}

/// Whether userfaultfd(2) is allowed here, and the features UFFDIO_API
/// reports (`fs/userfaultfd.c`).
fn probe_userfaultfd(caps: u64) -> Result<u64, String> {
    // SAFETY: one integer argument.
    let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if fd < 0 {
        return Err(userfaultfd_refusal(super::sys::last_errno(), caps));
    }
    let fd = fd as libc::c_int;
    let mut api = [0xaa_u64, 0, 0];
    // SAFETY: api is the whole struct uffdio_api.
    let r = unsafe { libc::ioctl(fd, super::userfaultfd::UFFDIO_API as _, api.as_mut_ptr()) };
    // SAFETY: the fd just made.
    unsafe { libc::close(fd) };
    if r != 0 {
        return Err(format!("UFFDIO_API failed with errno {}", super::sys::last_errno()));
    }
    Ok(api[1])
}

/// Why userfaultfd(2) failed with `errno`.
pub fn userfaultfd_refusal(errno: i32, caps: u64) -> String {
    match errno {
        libc::EPERM => {
            let sysctl =
                read_u64("/proc/sys/vm/unprivileged_userfaultfd").map(|v| v.to_string()).unwrap_or_else(|| "?".into());
            format!(
                "userfaultfd(2) is EPERM: vm.unprivileged_userfaultfd is {sysctl} and the process {} CAP_SYS_PTRACE",
                if caps & (1 << CAP_SYS_PTRACE) != 0 { "has" } else { "lacks" }
            )
        }
        libc::ENOSYS => "userfaultfd(2) is ENOSYS: the host kernel lacks CONFIG_USERFAULTFD".into(),
        e => format!("userfaultfd(2) failed with errno {e}"),
    }
}

/// The reason a notification pipe cannot run here.
pub const NO_WATCH_QUEUE: &str = "a notification pipe needs CONFIG_WATCH_QUEUE, which the host kernel lacks \
                                  (pipe2(O_NOTIFICATION_PIPE) is ENOPKG)";

/// The flags pipe2(2) accepts (`fs/pipe.c`, `__do_pipe_flags`).
const PIPE2_FLAGS: u64 = (sim_kernel::abi::O_CLOEXEC | sim_kernel::abi::O_NONBLOCK | sim_kernel::abi::O_DIRECT) as u64
    | O_NOTIFICATION_PIPE as u64;

/// How a scenario is compared on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Run it natively; the simulated side runs on `machine`. With
    /// `drop_cap_sys_resource` the native child drops CAP_SYS_RESOURCE
    /// first (the scenario pins `cap_sys_resource=off` on a host that has
    /// it).
    Run { machine: Machine, drop_cap_sys_resource: bool },
    /// The host cannot run it as written: `what (line N): why`.
    Skip(String),
}

/// What a scenario uses that depends on the host, found statically: the
/// first call (file order) of each kind, as `name (line N)`.
#[derive(Default, Debug)]
struct Uses {
    notification_pipe: Option<String>,
    userfaultfd: Option<String>,
    uffdio_api: Option<String>,
    setrlimit: Option<String>,
}

fn uses(prog: &Program) -> Uses {
    let mut u = Uses::default();
    let wq_ioctls =
        [super::watch_queue::IOC_WATCH_QUEUE_SET_SIZE as u64, super::watch_queue::IOC_WATCH_QUEUE_SET_FILTER as u64];
    let mut visit = |c: &CallOp| {
        let name = crate::calls::call_sig(c.call).name;
        let at = || format!("{name} (line {})", c.span.line);
        let ints: Vec<u64> = c
            .args
            .iter()
            .filter_map(|a| match a {
                IrExpr::Const(Const::Int(n)) => Some(*n),
                _ => None,
            })
            .collect();
        let set = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(at());
            }
        };
        match name {
            // A flag outside the valid ones is EINVAL before the
            // notification pipe matters (`fs/pipe.c`, `__do_pipe_flags`).
            "pipe2" if ints.first().is_some_and(|f| f & O_NOTIFICATION_PIPE as u64 != 0 && f & !PIPE2_FLAGS == 0) => {
                set(&mut u.notification_pipe)
            }
            "ioctl" if ints.iter().any(|n| wq_ioctls.contains(n)) => set(&mut u.notification_pipe),
            "ioctl" if ints.contains(&(super::userfaultfd::UFFDIO_API as u64)) => set(&mut u.uffdio_api),
            "userfaultfd" => set(&mut u.userfaultfd),
            "setrlimit" => set(&mut u.setrlimit),
            _ => {}
        }
    };
    fn walk(ops: &[Op], f: &mut dyn FnMut(&CallOp)) {
        for op in ops {
            match op {
                Op::Call(c) => f(c),
                Op::Repeat { body, .. } => walk(body, f),
            }
        }
    }
    walk(&prog.setup, &mut visit);
    for a in &prog.actors {
        walk(&a.body, &mut visit);
    }
    walk(&prog.finally, &mut visit);
    u
}

/// Decide how `prog` is compared on a host with `host`'s features. Pure:
/// the same program and features give the same plan.
pub fn plan(prog: &Program, host: &HostFeatures) -> Plan {
    let cfg = &prog.config;
    let on = |b: bool| if b { "on" } else { "off" };
    let mut machine = cfg.machine();
    // Protection keys: a CPU's, nothing a process can change.
    match cfg.pkeys {
        Some(p) if p != host.pkeys => {
            return Plan::Skip(format!(
                "config pkeys={} (the scenario's machine): the host CPU {} protection keys (/proc/cpuinfo flags \
                 pku and ospke), so PROT_EXEC alone is {} there",
                on(p),
                if host.pkeys { "has" } else { "has no" },
                if host.pkeys { "execute-only" } else { "readable" }
            ))
        }
        Some(_) => {}
        None => machine.pkeys = host.pkeys,
    }
    // CAP_SYS_RESOURCE: the child can drop it, not gain it.
    let mut drop = false;
    match cfg.cap_sys_resource {
        Some(true) if !host.cap_sys_resource => {
            return Plan::Skip(
                "config cap_sys_resource=on (the scenario's machine): the native child lacks CAP_SYS_RESOURCE \
                 (capget), and a process cannot gain it"
                    .into(),
            )
        }
        Some(false) if host.cap_sys_resource => drop = true,
        Some(_) => {}
        None => machine.cap_sys_resource = host.cap_sys_resource,
    }
    let u = uses(prog);
    if let Some(at) = &u.setrlimit {
        if host.nofile_hard < INR_OPEN_MAX && !host.cap_sys_resource {
            return Plan::Skip(format!(
                "{at}: the host's hard RLIMIT_NOFILE is {} and cannot be raised to ksim's {INR_OPEN_MAX} without \
                 CAP_SYS_RESOURCE",
                host.nofile_hard
            ));
        }
        if host.nr_open != NR_OPEN_MAX {
            return Plan::Skip(format!(
                "{at}: the host's fs.nr_open is {}, ksim models the default {NR_OPEN_MAX}",
                host.nr_open
            ));
        }
    }
    if let Some(at) = &u.notification_pipe {
        if !host.watch_queue {
            return Plan::Skip(format!("{at}: {NO_WATCH_QUEUE}"));
        }
    }
    if let Some(at) = u.userfaultfd.as_ref().or(u.uffdio_api.as_ref()) {
        match &host.userfaultfd {
            Err(why) => return Plan::Skip(format!("{at}: {why}")),
            Ok(f) if f & !UFFD_API_FEATURES != 0 && u.uffdio_api.is_some() => {
                return Plan::Skip(format!(
                    "{}: the host's UFFDIO_API reports features {f:#x}, beyond the {UFFD_API_FEATURES:#x} ksim \
                     models",
                    u.uffdio_api.as_deref().unwrap_or(at)
                ))
            }
            Ok(f) => machine.uffd_features = f & UFFD_API_FEATURES,
        }
    }
    Plan::Run { machine, drop_cap_sys_resource: drop }
}

/// `prog` with its simulated machine set to `machine` (what `ksim compare`
/// runs under the simulator).
pub fn configured(prog: &Program, machine: Machine) -> Program {
    let mut p = prog.clone();
    p.config.pkeys = Some(machine.pkeys);
    p.config.cap_sys_resource = Some(machine.cap_sys_resource);
    p.config.uffd_features = Some(machine.uffd_features);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(src: &str) -> Program {
        (*crate::cli::load_source("t.scn", src).expect("parses")).clone()
    }

    const EXEC: &str = "setup:\n  b = mmap(PAGE_SIZE, PROT_EXEC)\n  load(b)\n";

    #[test]
    fn a_host_without_pkeys_configures_the_simulator_without_them() {
        let host = HostFeatures { pkeys: false, ..HostFeatures::like_default() };
        match plan(&prog(EXEC), &host) {
            Plan::Run { machine, drop_cap_sys_resource } => {
                assert!(!machine.pkeys);
                assert!(!drop_cap_sys_resource);
            }
            p => panic!("{p:?}"),
        }
        let pinned = prog(&format!("config pkeys=on\n{EXEC}"));
        match plan(&pinned, &host) {
            Plan::Skip(why) => assert!(why.contains("pkeys=on") && why.contains("has no protection keys"), "{why}"),
            p => panic!("{p:?}"),
        }
        assert!(matches!(plan(&prog(&format!("config pkeys=off\n{EXEC}")), &host), Plan::Run { .. }));
    }

    #[test]
    fn a_host_with_pkeys_configures_the_simulator_with_them() {
        let host = HostFeatures { pkeys: true, ..HostFeatures::like_default() };
        match plan(&prog(EXEC), &host) {
            Plan::Run { machine, .. } => assert!(machine.pkeys),
            p => panic!("{p:?}"),
        }
        match plan(&prog(&format!("config pkeys=off\n{EXEC}")), &host) {
            Plan::Skip(why) => assert!(why.contains("pkeys=off") && why.contains("execute-only"), "{why}"),
            p => panic!("{p:?}"),
        }
        assert!(matches!(plan(&prog(&format!("config pkeys=on\n{EXEC}")), &host), Plan::Run { .. }));
    }

    #[test]
    fn cap_sys_resource_is_dropped_to_match_never_gained() {
        let src = "setup:\n  setrlimit(RLIMIT_NOFILE, 1048576)\n";
        let without = HostFeatures { cap_sys_resource: false, ..HostFeatures::like_default() };
        let with = HostFeatures { cap_sys_resource: true, ..HostFeatures::like_default() };
        assert!(matches!(plan(&prog(src), &without), Plan::Run { machine, .. } if !machine.cap_sys_resource));
        assert!(matches!(plan(&prog(src), &with), Plan::Run { machine, .. } if machine.cap_sys_resource));
        let off = prog(&format!("config cap_sys_resource=off\n{src}"));
        assert!(
            matches!(plan(&off, &with), Plan::Run { drop_cap_sys_resource: true, machine } if !machine.cap_sys_resource)
        );
        let on = prog(&format!("config cap_sys_resource=on\n{src}"));
        assert!(matches!(plan(&on, &without), Plan::Skip(w) if w.contains("lacks CAP_SYS_RESOURCE")));
        let low = HostFeatures { nofile_hard: 1024, ..without.clone() };
        assert!(matches!(plan(&prog(src), &low), Plan::Skip(w) if w.starts_with("setrlimit (line 2)")));
        assert!(matches!(plan(&prog("setup:\n  eventfd(0, 0)\n"), &low), Plan::Run { .. }));
    }

    #[test]
    fn watch_queue_and_userfaultfd_skips_name_the_call_and_the_reason() {
        let host = HostFeatures {
            watch_queue: false,
            userfaultfd: Err(userfaultfd_refusal(libc::EPERM, 0)),
            ..HostFeatures::like_default()
        };
        let wq = prog("setup:\n  (r, w) = pipe2(O_NOTIFICATION_PIPE)\n");
        assert!(matches!(plan(&prog("setup:\n  pipe2(0xffffffff) => EINVAL\n"), &host), Plan::Run { .. }));
        assert!(matches!(plan(&wq, &host), Plan::Skip(w) if w.starts_with("pipe2 (line 2): a notification pipe")));
        let uffd = prog("setup:\n  u = userfaultfd(0)\n");
        assert!(matches!(plan(&uffd, &host), Plan::Skip(w) if w.contains("lacks CAP_SYS_PTRACE")));
        let fewer = HostFeatures { userfaultfd: Ok(UFFD_API_FEATURES & !(1 << 16)), ..HostFeatures::like_default() };
        assert!(matches!(plan(&uffd, &fewer), Plan::Run { machine, .. } if machine.uffd_features == 0xffff));
        let api = prog("setup:\n  u = userfaultfd(0)\n  ioctl(u, UFFDIO_API, api=UFFD_API, features=0)\n");
        let more = HostFeatures { userfaultfd: Ok(UFFD_API_FEATURES | 1 << 17), ..HostFeatures::like_default() };
        assert!(matches!(plan(&api, &more), Plan::Skip(w) if w.starts_with("ioctl (line 3)")));
    }

    #[test]
    fn cpuinfo_needs_both_flags() {
        assert!(cpu_has_pkeys("processor\t: 0\nflags\t\t: fpu sse pku ospke avx\n"));
        assert!(!cpu_has_pkeys("flags\t\t: fpu sse pku avx\n"));
        assert!(!cpu_has_pkeys("flags\t\t: fpu sse\n"));
        assert!(!cpu_has_pkeys(""));
    }
}
