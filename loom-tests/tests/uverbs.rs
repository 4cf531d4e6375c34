//! Loom models of uverbs' race windows (`drivers/infiniband/core/uverbs_cmd.c`,
//! Linux 3.14), on the real kernel code: commands written with `write(2)`,
//! responses copied to the process's memory. See the crate docs for the
//! command.
#![cfg(loom)]

use loom::thread;
use loom_tests::{model, setup, Reached};
use sim_kernel::abi::{O_RDWR, PROT_READ, PROT_WRITE};
use sim_kernel::bugs::BugSet;
use sim_kernel::mm::memory::copy_from_user;
use sim_kernel::syscall::mm::sys_mmap;
use sim_kernel::syscall::{sys_close, sys_open, sys_write};
use sim_kernel::task::Task;
use sim_kernel::uverbs::abi::*;
use sim_kernel::Errno;

/// A command with its response address first, as libibverbs builds it.
fn cmd(command: u32, resp: u64, out: u16, rest: &[u8]) -> Vec<u8> {
    let mut v = command.to_le_bytes().to_vec();
    v.extend_from_slice(&(((16 + rest.len()) / 4) as u16).to_le_bytes());
    v.extend_from_slice(&out.to_le_bytes());
    v.extend_from_slice(&resp.to_le_bytes());
    v.extend_from_slice(rest);
    v
}

fn no_resp(command: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = command.to_le_bytes().to_vec();
    v.extend_from_slice(&(((8 + rest.len()) / 4) as u16).to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(rest);
    v
}

fn resp_u32(t: &Task, addr: u64) -> u32 {
    let b = copy_from_user(&t.proc().unwrap().mm, addr, 4).unwrap();
    u32::from_le_bytes(b[..4].try_into().unwrap())
}

/// Two threads race GET_CONTEXT on one fd: exactly one succeeds, the other
/// gets EINVAL (the check and the setting of `file->ucontext` are under
/// `file->mutex`); one async event fd exists, and closing everything
/// frees every object.
#[test]
fn get_context_vs_get_context() {
    model("get_context_vs_get_context", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_open(&t, "/dev/infiniband/uverbs0", O_RDWR).unwrap() as i64;
        let buf = sys_mmap(&t, 4096, PROT_READ | PROT_WRITE).unwrap();
        let other = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, fd, &cmd(IB_USER_VERBS_CMD_GET_CONTEXT, buf + 64, 2, &[])))
        };
        let mine = sys_write(&t, fd, &cmd(IB_USER_VERBS_CMD_GET_CONTEXT, buf, 2, &[]));
        let theirs = other.join().unwrap();
        assert!(mine.is_ok() != theirs.is_ok(), "{mine:?} {theirs:?}");
        assert_eq!(mine.err().or(theirs.err()), Some(Errno::EINVAL));
        let afd = resp_u32(&t, if mine.is_ok() { buf } else { buf + 64 });
        assert_eq!(afd, 4);
        assert_eq!(sys_close(&t, 5), Err(Errno::EBADF), "a second async fd");
        t.proc().unwrap().exit_files();
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
        assert!(k.objs.live().iter().all(|(_, r)| !r.ty.starts_with("ib_")), "{:?}", k.objs.live());
    });
}

/// REG_MR looks its PD up (read lock) while DEALLOC_PD destroys it (write
/// lock): either the MR is made and the PD is busy (EBUSY), or the PD is
/// gone first and the lookup fails (EINVAL). Both are reached; never an MR
/// on a freed PD.
#[test]
fn reg_mr_vs_dealloc_pd() {
    static R: Reached = Reached::new();
    model("reg_mr_vs_dealloc_pd", || {
        let (k, t) = setup(BugSet::NONE);
        let fd = sys_open(&t, "/dev/infiniband/uverbs0", O_RDWR).unwrap() as i64;
        let buf = sys_mmap(&t, 4096, PROT_READ | PROT_WRITE).unwrap();
        let mem = sys_mmap(&t, 4096, PROT_READ | PROT_WRITE).unwrap();
        sys_write(&t, fd, &cmd(IB_USER_VERBS_CMD_GET_CONTEXT, buf, 2, &[])).unwrap();
        sys_write(&t, fd, &cmd(IB_USER_VERBS_CMD_ALLOC_PD, buf, 1, &[])).unwrap();
        let pd = resp_u32(&t, buf);
        let dealloc = {
            let t = t.clone();
            thread::spawn(move || sys_write(&t, fd, &no_resp(IB_USER_VERBS_CMD_DEALLOC_PD, &pd.to_le_bytes())))
        };
        let mut body = mem.to_le_bytes().to_vec();
        body.extend_from_slice(&4096u64.to_le_bytes());
        body.extend_from_slice(&mem.to_le_bytes());
        body.extend_from_slice(&pd.to_le_bytes());
        body.extend_from_slice(&IBV_ACCESS_LOCAL_WRITE.to_le_bytes());
        let reg = sys_write(&t, fd, &cmd(IB_USER_VERBS_CMD_REG_MR, buf + 64, 3, &body));
        let d = dealloc.join().unwrap();
        match (reg, d) {
            (Ok(_), Err(Errno::EBUSY)) => R.mark("mr made, pd busy"),
            (Err(Errno::EINVAL), Ok(_)) => R.mark("pd gone, lookup failed"),
            other => panic!("{other:?}"),
        }
        t.proc().unwrap().exit_files();
        assert!(k.objs.reports().is_empty(), "{:?}", k.objs.reports());
    });
    R.assert_all("reg_mr_vs_dealloc_pd", &["mr made, pd busy", "pd gone, lookup failed"]);
}
