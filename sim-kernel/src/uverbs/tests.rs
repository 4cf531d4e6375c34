//! Unit tests of the uverbs device through its syscalls: the framing's
//! errnos, the handle tables, the life cycle, the event files.

use super::abi::*;
use super::{ib_uverbs_comp_handler, ib_uverbs_cq_event_handler, IbUobject, UobjType};
use crate::abi::{F_SETFL, O_NONBLOCK, O_RDWR, PROT_READ, PROT_WRITE, SEEK_SET};
use crate::bugs::BugSet;
use crate::errno::{Errno, KResult};
use crate::mm::memory::copy_from_user;
use crate::sync::Arc;
use crate::syscall::mm::sys_mmap;
use crate::syscall::*;
use crate::task::Task;

fn hdr(command: u32, in_words: u16, out_words: u16) -> Vec<u8> {
    let mut v = command.to_le_bytes().to_vec();
    v.extend_from_slice(&in_words.to_le_bytes());
    v.extend_from_slice(&out_words.to_le_bytes());
    v
}

/// A command as libibverbs builds it: the header, the response address
/// (if `out` > 0), the rest of the body; in_words counts it all.
fn cmd(command: u32, resp: Option<(u64, usize)>, rest: &[u8]) -> Vec<u8> {
    let body = resp.map_or(0, |_| 8) + rest.len();
    let out = resp.map_or(0, |(_, n)| n / 4);
    let mut v = hdr(command, ((8 + body) / 4) as u16, out as u16);
    if let Some((a, _)) = resp {
        v.extend_from_slice(&a.to_le_bytes());
    }
    v.extend_from_slice(rest);
    v
}

struct Env {
    t: Task,
    fd: i64,
    buf: u64,
}

impl Env {
    fn new() -> Env {
        let (_k, t) = Task::single(BugSet::NONE);
        let fd = sys_open(&t, "/dev/infiniband/uverbs0", O_RDWR).unwrap() as i64;
        let buf = sys_mmap(&t, 4096, PROT_READ | PROT_WRITE).unwrap();
        Env { t, fd, buf }
    }
    fn write(&self, v: &[u8]) -> KResult<usize> {
        sys_write(&self.t, self.fd, v)
    }
    /// Run `command` with a response of `n` bytes; the response.
    fn run(&self, command: u32, n: usize, rest: &[u8]) -> KResult<Vec<u8>> {
        let c = cmd(command, Some((self.buf, n)), rest);
        assert_eq!(self.write(&c)?, c.len());
        Ok(copy_from_user(&self.t.proc().unwrap().mm, self.buf, n as u64).unwrap())
    }
    fn get_context(&self) -> KResult<i64> {
        let r = self.run(IB_USER_VERBS_CMD_GET_CONTEXT, 8, &[])?;
        Ok(u32_at(&r, 0) as i64)
    }
    fn alloc_pd(&self) -> KResult<u32> {
        Ok(u32_at(&self.run(IB_USER_VERBS_CMD_ALLOC_PD, 4, &[])?, 0))
    }
    fn dealloc_pd(&self, h: u32) -> KResult<usize> {
        self.write(&cmd(IB_USER_VERBS_CMD_DEALLOC_PD, None, &h.to_le_bytes()))
    }
}

fn cq_body(user_handle: u64, cqe: u32, channel: i32) -> Vec<u8> {
    let mut v = user_handle.to_le_bytes().to_vec();
    v.extend_from_slice(&cqe.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&channel.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v
}

#[test]
fn open_is_nonseekable_and_the_main_fd_has_no_read() {
    let e = Env::new();
    assert_eq!(sys_lseek(&e.t, e.fd, 0, SEEK_SET), Err(Errno::ESPIPE));
    assert_eq!(sys_read(&e.t, e.fd, 16), Err(Errno::EINVAL));
    assert_eq!(fd_path(&e.t, e.fd).unwrap(), "/dev/infiniband/uverbs0");
    assert_eq!(sys_open(&e.t, "/dev/infiniband/uverbs2", O_RDWR), Err(Errno::ENOENT));
    assert_eq!(sys_open(&e.t, "/dev/infiniband/uverbs01", O_RDWR), Err(Errno::ENOENT));
    assert!(sys_open(&e.t, "/dev/infiniband/uverbs1", O_RDWR).is_ok());
}

#[test]
fn framing_errnos_in_linux_order() {
    let e = Env::new();
    assert_eq!(e.write(&[0; 7]), Err(Errno::EINVAL));
    // Bits 8..23 of the command.
    assert_eq!(e.write(&hdr(0x100 | IB_USER_VERBS_CMD_ALLOC_PD, 2, 0)), Err(Errno::EINVAL));
    // No handler (PEEK_CQ, 41): EINVAL, even before the context check.
    assert_eq!(e.write(&hdr(IB_USER_VERBS_CMD_PEEK_CQ, 2, 0)), Err(Errno::EINVAL));
    assert_eq!(e.write(&hdr(41, 2, 0)), Err(Errno::EINVAL));
    // No context yet.
    assert_eq!(e.write(&hdr(IB_USER_VERBS_CMD_ALLOC_PD, 2, 0)), Err(Errno::EINVAL));
    // GET_CONTEXT with in_words not matching the count.
    assert_eq!(e.write(&hdr(IB_USER_VERBS_CMD_GET_CONTEXT, 3, 2)), Err(Errno::EINVAL));
    // Unknown flags.
    assert_eq!(e.write(&hdr(0x4000_0000, 2, 0)), Err(Errno::ENOSYS));
    // Extended: unknown extended command before the context check.
    assert_eq!(e.write(&hdr(0x8000_0000 | 3, 2, 0)), Err(Errno::ENOSYS));
    assert_eq!(e.write(&hdr(0x8000_0000 | IB_USER_VERBS_EX_CMD_DESTROY_FLOW, 2, 0)), Err(Errno::EINVAL));
    e.get_context().unwrap();
    // Not in the device's mask (CREATE_SRQ is not built yet).
    assert_eq!(e.write(&hdr(IB_USER_VERBS_CMD_CREATE_SRQ, 2, 0)), Err(Errno::ENOSYS));
    let ex = 0x8000_0000 | IB_USER_VERBS_EX_CMD_DESTROY_FLOW;
    assert_eq!(e.write(&hdr(0x8000_0000 | IB_USER_VERBS_EX_CMD_CREATE_FLOW, 2, 0)), Err(Errno::ENOSYS));
    assert_eq!(e.write(&hdr(ex, 1, 0)), Err(Errno::EINVAL), "count < 24");
    let exh = |in_words: u16, out_words: u16, resp: u64, pin: u16, pout: u16, rsv: u32| {
        let mut v = hdr(ex, in_words, out_words);
        v.extend_from_slice(&resp.to_le_bytes());
        v.extend_from_slice(&pin.to_le_bytes());
        v.extend_from_slice(&pout.to_le_bytes());
        v.extend_from_slice(&rsv.to_le_bytes());
        v
    };
    let mut v = exh(1, 0, 0, 0, 0, 0);
    assert_eq!(e.write(&v), Err(Errno::EINVAL), "8-byte words do not match");
    v.extend_from_slice(&[0; 8]);
    // comp_mask 0, flow handle 0: no such rule.
    assert_eq!(e.write(&v), Err(Errno::EINVAL));
    let mut w = exh(1, 0, 0, 0, 0, 1);
    w.extend_from_slice(&[0; 8]);
    assert_eq!(e.write(&w), Err(Errno::EINVAL), "reserved");
    let mut w = exh(1, 1, 1 << 47, 0, 0, 0);
    w.extend_from_slice(&[0; 8]);
    assert_eq!(e.write(&w), Err(Errno::EFAULT), "response beyond TASK_SIZE");
    let mut w = exh(1, 1, 0, 0, 0, 0);
    w.extend_from_slice(&[0; 8]);
    assert_eq!(e.write(&w), Err(Errno::EINVAL), "out words without a response");
    // The header itself faults (a write from unmapped memory).
    assert_eq!(sys_write_mem(&e.t, e.fd, 0x1000, 8), Err(Errno::EFAULT));
}

#[test]
fn get_context_once_per_fd_and_the_async_fd_is_installed() {
    let e = Env::new();
    let afd = e.get_context().unwrap();
    assert_eq!(afd, 4);
    assert_eq!(fd_path(&e.t, afd).unwrap(), "anon_inode:[infinibandevent]");
    assert_eq!(e.get_context(), Err(Errno::EINVAL));
    // Writing an event file is EBADF (O_RDONLY); a short read with an empty
    // queue: EAGAIN (the size is checked only against an event).
    assert_eq!(sys_write(&e.t, afd, &[0; 16]), Err(Errno::EBADF));
    sys_fcntl(&e.t, afd, F_SETFL, O_NONBLOCK as u64).unwrap();
    assert_eq!(sys_read(&e.t, afd, 1), Err(Errno::EAGAIN));
}

#[test]
fn handles_are_the_lowest_free_and_global_and_a_failed_copy_undoes_the_create() {
    let e = Env::new();
    e.get_context().unwrap();
    assert_eq!(e.alloc_pd(), Ok(0));
    assert_eq!(e.alloc_pd(), Ok(1));
    // A second open, in the same process: the table is global.
    let fd2 = sys_open(&e.t, "/dev/infiniband/uverbs1", O_RDWR).unwrap() as i64;
    let e2 = Env { t: e.t.clone(), fd: fd2, buf: e.buf };
    e2.get_context().unwrap();
    assert_eq!(e2.alloc_pd(), Ok(2));
    // Another context's handle: EINVAL.
    assert_eq!(e2.dealloc_pd(0), Err(Errno::EINVAL));
    assert_eq!(e.dealloc_pd(0), Ok(12));
    assert_eq!(e.dealloc_pd(0), Err(Errno::EINVAL));
    // ENOSPC: the response too small.
    let c = cmd(IB_USER_VERBS_CMD_ALLOC_PD, Some((e.buf, 0)), &[]);
    assert_eq!(e.write(&c), Err(Errno::ENOSPC));
    // EFAULT: a read-only response page; the handle is not consumed.
    let ro = sys_mmap(&e.t, 4096, PROT_READ).unwrap();
    let c = cmd(IB_USER_VERBS_CMD_ALLOC_PD, Some((ro, 4)), &[]);
    assert_eq!(e.write(&c), Err(Errno::EFAULT));
    assert_eq!(e.alloc_pd(), Ok(0));
    // The command struct past the buffer: DEALLOC_PD's 4 bytes, count 8.
    assert_eq!(e.write(&hdr(IB_USER_VERBS_CMD_DEALLOC_PD, 2, 0)), Err(Errno::EFAULT));
    sys_close(&e.t, e.fd).unwrap();
    sys_close(&e.t, fd2).unwrap();
    assert!(e.t.kernel.uverbs.idr.lock().pd.0.is_empty(), "close freed every PD");
}

#[test]
fn a_pd_with_an_mr_is_busy() {
    let e = Env::new();
    e.get_context().unwrap();
    let pd = e.alloc_pd().unwrap();
    let mr_body = |start: u64, va: u64, access: u32| {
        let mut v = start.to_le_bytes().to_vec();
        v.extend_from_slice(&4096u64.to_le_bytes());
        v.extend_from_slice(&va.to_le_bytes());
        v.extend_from_slice(&pd.to_le_bytes());
        v.extend_from_slice(&access.to_le_bytes());
        v
    };
    let mem = sys_mmap(&e.t, 8192, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(e.run(IB_USER_VERBS_CMD_REG_MR, 12, &mr_body(mem, mem + 1, 0)), Err(Errno::EINVAL));
    assert_eq!(e.run(IB_USER_VERBS_CMD_REG_MR, 12, &mr_body(mem, mem, IBV_ACCESS_REMOTE_WRITE)), Err(Errno::EINVAL));
    let ro = sys_mmap(&e.t, 4096, PROT_READ).unwrap();
    assert_eq!(e.run(IB_USER_VERBS_CMD_REG_MR, 12, &mr_body(ro, ro, IBV_ACCESS_LOCAL_WRITE)), Err(Errno::EFAULT));
    assert!(e.run(IB_USER_VERBS_CMD_REG_MR, 12, &mr_body(ro, ro, IBV_ACCESS_REMOTE_READ)).is_ok());
    let r = e.run(IB_USER_VERBS_CMD_REG_MR, 12, &mr_body(mem, mem, IBV_ACCESS_LOCAL_WRITE)).unwrap();
    let mr = u32_at(&r, 0);
    assert_eq!(mr, 1);
    assert_eq!(e.dealloc_pd(pd), Err(Errno::EBUSY));
    for h in [0u32, 1] {
        e.write(&cmd(IB_USER_VERBS_CMD_DEREG_MR, None, &h.to_le_bytes())).unwrap();
    }
    assert_eq!(e.dealloc_pd(pd), Ok(12));
}

fn cq_of(t: &Task, h: u32) -> Arc<IbUobject> {
    t.kernel.uverbs.idr.lock().of(UobjType::Cq).find(h).unwrap().clone()
}

#[test]
fn destroy_cq_purges_queued_events_and_reports_those_read() {
    let e = Env::new();
    let afd = e.get_context().unwrap();
    let ch = u32_at(&e.run(IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, 4, &[]).unwrap(), 0) as i64;
    assert_eq!(fd_path(&e.t, ch).unwrap(), "anon_inode:[infinibandevent]");
    // The async fd is not a completion channel.
    assert_eq!(e.run(IB_USER_VERBS_CMD_CREATE_CQ, 8, &cq_body(7, 10, afd as i32)), Err(Errno::EINVAL));
    assert_eq!(e.run(IB_USER_VERBS_CMD_CREATE_CQ, 8, &cq_body(7, 0, ch as i32)), Err(Errno::EINVAL));
    let r = e.run(IB_USER_VERBS_CMD_CREATE_CQ, 8, &cq_body(0xabc, 10, ch as i32)).unwrap();
    assert_eq!((u32_at(&r, 0), u32_at(&r, 4)), (0, 15));
    let cq = cq_of(&e.t, 0);
    for _ in 0..3 {
        ib_uverbs_comp_handler(&cq);
    }
    ib_uverbs_cq_event_handler(&cq, IBV_EVENT_CQ_ERR);
    let both = crate::abi::POLLIN | crate::abi::POLLRDNORM;
    assert_eq!(sys_poll(&e.t, ch, both, 0), Ok(both));
    // A buffer smaller than an event: EINVAL, and the event stays.
    assert_eq!(sys_read(&e.t, ch, 7), Err(Errno::EINVAL));
    assert_eq!(sys_read(&e.t, ch, 100), Ok(0xabcu64.to_le_bytes().to_vec()));
    assert_eq!(sys_read(&e.t, afd, 15), Err(Errno::EINVAL));
    let a = sys_read(&e.t, afd, 16).unwrap();
    assert_eq!((u64_at(&a, 0), u32_at(&a, 8)), (0xabc, IBV_EVENT_CQ_ERR));
    // POLL_CQ: nothing completes (no HCA behind the CQ); REQ_NOTIFY_CQ arms it.
    let mut pb = 0u32.to_le_bytes().to_vec();
    pb.extend_from_slice(&2u32.to_le_bytes());
    assert_eq!(e.run(IB_USER_VERBS_CMD_POLL_CQ, 8 + 2 * 48, &pb).map(|r| u32_at(&r, 0)), Ok(0));
    let mut nb = 0u32.to_le_bytes().to_vec();
    nb.extend_from_slice(&1u32.to_le_bytes());
    e.write(&cmd(IB_USER_VERBS_CMD_REQ_NOTIFY_CQ, None, &nb)).unwrap();
    if let super::UobjKind::Cq { notify, .. } = &cq.kind {
        assert_eq!(notify.load(crate::sync::atomic::Ordering::Relaxed), super::CQ_SOLICITED);
    }
    drop(cq);
    let mut body = 0u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[0; 4]);
    let r = e.run(IB_USER_VERBS_CMD_DESTROY_CQ, 8, &body).unwrap();
    assert_eq!((u32_at(&r, 0), u32_at(&r, 4)), (1, 1), "one completion and one async event read");
    // A destroyed CQ is not found.
    assert_eq!(e.run(IB_USER_VERBS_CMD_POLL_CQ, 8, &pb), Err(Errno::EINVAL));
    // The two completion events left were purged.
    sys_fcntl(&e.t, ch, F_SETFL, O_NONBLOCK as u64).unwrap();
    assert_eq!(sys_read(&e.t, ch, 8), Err(Errno::EAGAIN));
    assert_eq!(e.run(IB_USER_VERBS_CMD_DESTROY_CQ, 8, &body), Err(Errno::EINVAL));
}

#[test]
fn events_after_the_channel_closed_are_dropped_and_close_frees_everything() {
    let e = Env::new();
    e.get_context().unwrap();
    let ch = u32_at(&e.run(IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, 4, &[]).unwrap(), 0) as i64;
    e.run(IB_USER_VERBS_CMD_CREATE_CQ, 8, &cq_body(1, 1, ch as i32)).unwrap();
    e.alloc_pd().unwrap();
    sys_close(&e.t, ch).unwrap();
    let cq = cq_of(&e.t, 0);
    ib_uverbs_comp_handler(&cq);
    if let super::UobjKind::Cq { channel: Some(c), .. } = &cq.kind {
        assert!(c.lock().events.is_empty());
    }
    drop(cq);
    e.t.proc().unwrap().exit_files();
    let live: Vec<_> = e.t.kernel.objs.live().into_iter().map(|(_, r)| r.ty).collect();
    assert!(!live.iter().any(|t| t.starts_with("ib_")), "{live:?}");
}

#[test]
fn unregister_waits_for_the_async_file_and_the_node_goes() {
    let e = Env::new();
    let afd = e.get_context().unwrap();
    let k = e.t.kernel.clone();
    sys_close(&e.t, e.fd).unwrap();
    // The async file still holds the uverbs file, which holds the device.
    assert!(super::uverbs_main::lookup_dev(&k, "/dev/infiniband/uverbs0").is_some());
    assert_eq!(k.uverbs.devices[0].refs.lock().count, 2);
    sys_close(&e.t, afd).unwrap();
    assert_eq!(k.uverbs.devices[0].refs.lock().count, 1);
    // Nothing left: the removal does not wait.
    super::ib_unregister_device(&k, 0).unwrap();
    assert_eq!(sys_open(&e.t, "/dev/infiniband/uverbs0", O_RDWR), Err(Errno::ENOENT));
    assert_eq!(super::ib_unregister_device(&k, 0), Err(Errno::EINVAL));
    assert!(sys_open(&e.t, "/dev/infiniband/uverbs1", O_RDWR).is_ok());
}
