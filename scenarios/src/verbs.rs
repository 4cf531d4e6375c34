//! The verbs layer the scenario calls use: what libibverbs does for an
//! application on the uverbs device (`libibverbs/src/cmd.c`, `verbs.c`,
//! `device.c`): every command is built in the process's memory (an
//! anonymous mapping standing for the library's buffer), written with
//! write(2) from there, and its response read back from the address the
//! command named. Nothing crosses into the kernel but those bytes.
//!
//! `IBV_INIT_CMD_RESP`: `command`, `in_words` = the command's size / 4
//! (header included), `out_words` = the response's size / 4, `response` =
//! the response buffer's address, first in the body.

use sim_kernel::abi::{O_RDWR, PROT_READ, PROT_WRITE};
use sim_kernel::mm::memory::{copy_from_user, copy_to_user};
use sim_kernel::syscall::mm::{sys_mmap, sys_munmap};
use sim_kernel::syscall::{sys_close, sys_open, sys_read, sys_write_mem};
use sim_kernel::uverbs::abi::*;
use sim_kernel::{Errno, KResult, Task};

/// Write one command (`cmd`, with `body` after the response address when
/// `out_bytes` > 0) to `fd` from a buffer in the caller's memory, and
/// return the `out_bytes` of the response. `in_words` counts the header
/// and the whole body, as libibverbs' does.
pub fn command(t: &Task, fd: i64, cmd: u32, body: &[u8], out_bytes: usize) -> KResult<Vec<u8>> {
    command_with(t, fd, cmd, body, out_bytes, |_| ())
}

/// [`command`], with `seen` given the response buffer's bytes after the
/// write whatever it returned (a post's `bad_wr` comes with its errno).
pub fn command_with(
    t: &Task,
    fd: i64,
    cmd: u32,
    body: &[u8],
    out_bytes: usize,
    seen: impl FnOnce(&[u8]),
) -> KResult<Vec<u8>> {
    let resp_len = if out_bytes > 0 { 8 } else { 0 };
    let in_bytes = CMD_HDR_SIZE + resp_len + body.len();
    let in_words = u16::try_from(in_bytes / 4).map_err(|_| Errno::EINVAL)?;
    let out_words = u16::try_from(out_bytes / 4).map_err(|_| Errno::EINVAL)?;
    let len = (in_bytes + out_bytes) as u64;
    let buf = sys_mmap(t, len.max(1), PROT_READ | PROT_WRITE)?;
    let resp = buf + in_bytes as u64;
    let mut c = Vec::with_capacity(in_bytes);
    c.extend_from_slice(&cmd.to_le_bytes());
    c.extend_from_slice(&in_words.to_le_bytes());
    c.extend_from_slice(&out_words.to_le_bytes());
    if out_bytes > 0 {
        c.extend_from_slice(&resp.to_le_bytes());
    }
    c.extend_from_slice(body);
    let mm = &t.proc()?.mm;
    let r = copy_to_user(mm, buf, &c).map_err(|_| Errno::EFAULT).and_then(|_| {
        let w = sys_write_mem(t, fd, buf, in_bytes as u64);
        if let Ok(resp) = copy_from_user(mm, resp, out_bytes as u64) {
            seen(&resp);
        }
        w.and_then(|_| copy_from_user(mm, resp, out_bytes as u64).map_err(|_| Errno::EFAULT))
    });
    let _ = sys_munmap(t, buf, len.max(1).next_multiple_of(4096));
    r
}

/// `ibv_open_device` + `ibv_cmd_get_context`: the device's fd (O_RDWR)
/// and GET_CONTEXT; returns (cmd_fd, async_fd, num_comp_vectors). A
/// failed GET_CONTEXT closes the fd again. ENODEV for a name no HCA has.
pub fn open_device(t: &Task, name: &str) -> KResult<(i64, i64, u32)> {
    let dev = t.kernel.uverbs.devices.iter().find(|d| d.name == name).ok_or(Errno::ENODEV)?;
    let fd = sys_open(t, &format!("/dev/infiniband/uverbs{}", dev.devnum), O_RDWR)? as i64;
    match command(t, fd, IB_USER_VERBS_CMD_GET_CONTEXT, &[], GET_CONTEXT_RESP_SIZE) {
        Ok(r) => Ok((fd, u32_at(&r, 0) as i64, u32_at(&r, 4))),
        Err(e) => {
            let _ = sys_close(t, fd);
            Err(e)
        }
    }
}

/// `ibv_close_device`: the async fd, then the command fd.
pub fn close_device(t: &Task, cmd_fd: i64, async_fd: i64) -> KResult<()> {
    sys_close(t, async_fd)?;
    sys_close(t, cmd_fd)
}

/// `ibv_alloc_pd`: the PD's handle.
pub fn alloc_pd(t: &Task, fd: i64) -> KResult<u32> {
    Ok(u32_at(&command(t, fd, IB_USER_VERBS_CMD_ALLOC_PD, &[], ALLOC_PD_RESP_SIZE)?, 0))
}

/// A destroy command with no response: `{u32 handle}`.
pub fn destroy(t: &Task, fd: i64, cmd: u32, handle: u32) -> KResult<()> {
    command(t, fd, cmd, &handle.to_le_bytes(), 0).map(|_| ())
}

/// `ibv_reg_mr(pd, addr, length, access)` (`hca_va` = `addr`): (handle,
/// lkey, rkey).
pub fn reg_mr(t: &Task, fd: i64, pd: u32, addr: u64, len: u64, access: u32) -> KResult<(u32, u32, u32)> {
    let mut b = addr.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&addr.to_le_bytes());
    b.extend_from_slice(&pd.to_le_bytes());
    b.extend_from_slice(&access.to_le_bytes());
    let r = command(t, fd, IB_USER_VERBS_CMD_REG_MR, &b, REG_MR_RESP_SIZE)?;
    Ok((u32_at(&r, 0), u32_at(&r, 4), u32_at(&r, 8)))
}

/// `ibv_create_comp_channel`: the channel's fd.
pub fn create_comp_channel(t: &Task, fd: i64) -> KResult<i64> {
    let r = command(t, fd, IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, &[], CREATE_COMP_CHANNEL_RESP_SIZE)?;
    Ok(u32_at(&r, 0) as i64)
}

/// `ibv_create_cq(ctx, cqe, cq_context, channel, vector)`: (handle, cqe).
/// The user handle is the CQ's handle-to-be in libibverbs (a pointer);
/// here `user_handle`.
pub fn create_cq(t: &Task, fd: i64, user_handle: u64, cqe: u32, channel: i32, vector: u32) -> KResult<(u32, u32)> {
    let mut b = user_handle.to_le_bytes().to_vec();
    b.extend_from_slice(&cqe.to_le_bytes());
    b.extend_from_slice(&vector.to_le_bytes());
    b.extend_from_slice(&channel.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    let r = command(t, fd, IB_USER_VERBS_CMD_CREATE_CQ, &b, CREATE_CQ_RESP_SIZE)?;
    Ok((u32_at(&r, 0), u32_at(&r, 4)))
}

/// `ibv_cmd_destroy_cq`: (comp_events_reported, async_events_reported).
pub fn destroy_cq(t: &Task, fd: i64, cq: u32) -> KResult<(u32, u32)> {
    let mut b = cq.to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 4]);
    let r = command(t, fd, IB_USER_VERBS_CMD_DESTROY_CQ, &b, DESTROY_CQ_RESP_SIZE)?;
    Ok((u32_at(&r, 0), u32_at(&r, 4)))
}

/// `ibv_get_async_event`: one 16-byte read of the async fd (blocks while
/// it is empty); (event_type, element).
pub fn get_async_event(t: &Task, async_fd: i64) -> KResult<(u32, u64)> {
    let b = sys_read(t, async_fd, ASYNC_EVENT_DESC_SIZE as u64)?;
    if b.len() != ASYNC_EVENT_DESC_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok((u32_at(&b, 8), u64_at(&b, 0)))
}

/// One work completion (`struct ib_uverbs_wc`) as the scenario sees it.
pub struct Wc {
    pub wr_id: u64,
    pub status: u32,
    pub opcode: u32,
    pub byte_len: u32,
    pub imm: u32,
    pub qp_num: u32,
}

/// `ibv_cmd_poll_cq(cq, ne)`: a response of 8 + `ne` × 48 bytes; the
/// completions it holds.
pub fn poll_cq(t: &Task, fd: i64, cq: u32, ne: u32) -> KResult<Vec<Wc>> {
    let mut b = cq.to_le_bytes().to_vec();
    b.extend_from_slice(&ne.to_le_bytes());
    let out = POLL_CQ_RESP_SIZE + ne as usize * UVERBS_WC_SIZE;
    let r = command(t, fd, IB_USER_VERBS_CMD_POLL_CQ, &b, out)?;
    let n = (u32_at(&r, 0) as usize).min(ne as usize);
    Ok((0..n)
        .map(|i| {
            let w = &r[POLL_CQ_RESP_SIZE + i * UVERBS_WC_SIZE..];
            Wc {
                wr_id: u64_at(w, 0),
                status: u32_at(w, 8),
                opcode: u32_at(w, 12),
                byte_len: u32_at(w, 20),
                imm: u32_at(w, 24),
                qp_num: u32_at(w, 28),
            }
        })
        .collect())
}

/// `ibv_req_notify_cq(cq, solicited_only)`.
pub fn req_notify_cq(t: &Task, fd: i64, cq: u32, solicited_only: bool) -> KResult<()> {
    let mut b = cq.to_le_bytes().to_vec();
    b.extend_from_slice(&u32::from(solicited_only).to_le_bytes());
    command(t, fd, IB_USER_VERBS_CMD_REQ_NOTIFY_CQ, &b, 0).map(|_| ())
}

/// `ibv_query_port(ctx, 1)`'s LID (`ib_uverbs_query_port_resp.lid`).
pub fn port_lid(t: &Task, fd: i64) -> KResult<u16> {
    let mut b = vec![1u8];
    b.extend_from_slice(&[0; 7]);
    let r = command(t, fd, IB_USER_VERBS_CMD_QUERY_PORT, &b, QUERY_PORT_RESP_SIZE)?;
    Ok(u16_at(&r, 22))
}

/// What `ibv_create_qp` asks (`struct ibv_qp_init_attr`).
pub struct QpInitAttr {
    pub pd: u32,
    pub send_cq: u32,
    pub recv_cq: u32,
    pub qp_type: u32,
    /// max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline_data.
    pub cap: [u32; 5],
    pub sq_sig_all: bool,
}

/// `ibv_cmd_create_qp`: (handle, qp_num, granted caps as in [`QpInitAttr::cap`]).
pub fn create_qp(t: &Task, fd: i64, user_handle: u64, a: &QpInitAttr) -> KResult<(u32, u32, [u32; 5])> {
    let mut b = user_handle.to_le_bytes().to_vec();
    for w in [a.pd, a.send_cq, a.recv_cq, 0].iter().chain(&a.cap) {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&[a.sq_sig_all as u8, a.qp_type as u8, 0, 0]);
    let r = command(t, fd, IB_USER_VERBS_CMD_CREATE_QP, &b, CREATE_QP_RESP_SIZE)?;
    Ok((u32_at(&r, 0), u32_at(&r, 4), std::array::from_fn(|i| u32_at(&r, 8 + 4 * i))))
}

/// The attributes `ibv_modify_qp` takes by name: (name, mask bit, offset
/// in `struct ib_uverbs_modify_qp`, width in bytes). `dlid` is the
/// address vector's (IBV_QP_AV).
pub const MODIFY_QP_ATTRS: &[(&str, u32, usize, usize)] = &[
    ("qp_state", IBV_QP_STATE, 96, 1),
    ("cur_qp_state", IBV_QP_CUR_STATE, 97, 1),
    ("en_sqd_async_notify", IBV_QP_EN_SQD_ASYNC_NOTIFY, 100, 1),
    ("qp_access_flags", IBV_QP_ACCESS_FLAGS, 88, 4),
    ("pkey_index", IBV_QP_PKEY_INDEX, 92, 2),
    ("port_num", IBV_QP_PORT, 104, 1),
    ("qkey", IBV_QP_QKEY, 72, 4),
    ("dlid", IBV_QP_AV, 20, 2),
    ("path_mtu", IBV_QP_PATH_MTU, 98, 1),
    ("timeout", IBV_QP_TIMEOUT, 105, 1),
    ("retry_cnt", IBV_QP_RETRY_CNT, 106, 1),
    ("rnr_retry", IBV_QP_RNR_RETRY, 107, 1),
    ("rq_psn", IBV_QP_RQ_PSN, 76, 4),
    ("max_rd_atomic", IBV_QP_MAX_QP_RD_ATOMIC, 101, 1),
    ("min_rnr_timer", IBV_QP_MIN_RNR_TIMER, 103, 1),
    ("sq_psn", IBV_QP_SQ_PSN, 80, 4),
    ("max_dest_rd_atomic", IBV_QP_MAX_DEST_RD_ATOMIC, 102, 1),
    ("dest_qp_num", IBV_QP_DEST_QPN, 84, 4),
];

/// `ibv_cmd_modify_qp(qp, attr, mask)`: the attributes given by name
/// (from [`MODIFY_QP_ATTRS`]), the mask being theirs, or `mask` if given.
/// An unknown name: EINVAL before anything is written.
pub fn modify_qp(t: &Task, fd: i64, qp: u32, attrs: &[(&str, u64)], mask: Option<u32>) -> KResult<()> {
    let mut b = vec![0u8; MODIFY_QP_SIZE];
    let mut m = 0;
    for (name, val) in attrs {
        let &(_, bit, off, w) = MODIFY_QP_ATTRS.iter().find(|a| a.0 == *name).ok_or(Errno::EINVAL)?;
        b[off..off + w].copy_from_slice(&val.to_le_bytes()[..w]);
        m |= bit;
    }
    b[64..68].copy_from_slice(&qp.to_le_bytes());
    b[68..72].copy_from_slice(&mask.unwrap_or(m).to_le_bytes());
    command(t, fd, IB_USER_VERBS_CMD_MODIFY_QP, &b, 0).map(|_| ())
}

/// `ibv_cmd_query_qp`: the attributes by name, as [`MODIFY_QP_ATTRS`]
/// reads them back from `struct ib_uverbs_query_qp_resp`.
pub fn query_qp(t: &Task, fd: i64, qp: u32) -> KResult<Vec<(&'static str, u64)>> {
    let mut b = qp.to_le_bytes().to_vec();
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    let r = command(t, fd, IB_USER_VERBS_CMD_QUERY_QP, &b, QUERY_QP_RESP_SIZE)?;
    let u8s = |o: usize| r[o] as u64;
    Ok(vec![
        ("qp_state", u8s(108)),
        ("cur_qp_state", u8s(109)),
        ("path_mtu", u8s(110)),
        ("dest_qp_num", u32_at(&r, 96) as u64),
        ("sq_psn", u32_at(&r, 92) as u64),
        ("rq_psn", u32_at(&r, 88) as u64),
        ("qkey", u32_at(&r, 84) as u64),
        ("qp_access_flags", u32_at(&r, 100) as u64),
        ("timeout", u8s(117)),
        ("retry_cnt", u8s(118)),
        ("rnr_retry", u8s(119)),
        ("min_rnr_timer", u8s(115)),
        ("max_rd_atomic", u8s(113)),
        ("max_dest_rd_atomic", u8s(114)),
        ("port_num", u8s(116)),
        ("dlid", u16_at(&r, 20) as u64),
        ("max_send_wr", u32_at(&r, 64) as u64),
        ("max_recv_wr", u32_at(&r, 68) as u64),
    ])
}

/// `ibv_cmd_destroy_qp`: `events_reported`.
pub fn destroy_qp(t: &Task, fd: i64, qp: u32) -> KResult<u32> {
    let mut b = qp.to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 4]);
    Ok(u32_at(&command(t, fd, IB_USER_VERBS_CMD_DESTROY_QP, &b, DESTROY_QP_RESP_SIZE)?, 0))
}

/// One end of [`connect`]: a QP's command fd, handle, type, number and
/// port LID.
pub struct QpEnd {
    pub fd: i64,
    pub handle: u32,
    pub qp_type: u32,
    pub qpn: u32,
    pub lid: u16,
}

/// perftest's `ctx_modify_qp_to_init`, `_to_rtr`, `_to_rts` for `a`
/// towards `b`: port 1, P_Key index 0, every remote access (UD: Q_Key
/// 0x11111111), MTU 4096, PSNs 0, timeout 14, retry_cnt 7, rnr_retry 7,
/// min_rnr_timer 12, 16 READs and atomics each way; each transition's
/// mask is what the state table requires for the type.
pub fn connect_one(t: &Task, a: &QpEnd, b: &QpEnd) -> KResult<()> {
    let access =
        (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC) as u64;
    let ud = a.qp_type == IBV_QPT_UD;
    let mut init = vec![("qp_state", IBV_QPS_INIT as u64), ("pkey_index", 0), ("port_num", 1)];
    init.push(if ud { ("qkey", 0x1111_1111) } else { ("qp_access_flags", access) });
    modify_qp(t, a.fd, a.handle, &init, None)?;
    let mut rtr = vec![("qp_state", IBV_QPS_RTR as u64)];
    if !ud {
        rtr.extend([
            ("dlid", b.lid as u64),
            ("path_mtu", IBV_MTU_4096 as u64),
            ("dest_qp_num", b.qpn as u64),
            ("rq_psn", 0),
        ]);
        if a.qp_type == IBV_QPT_RC {
            rtr.extend([("max_dest_rd_atomic", 16), ("min_rnr_timer", 12)]);
        }
    }
    modify_qp(t, a.fd, a.handle, &rtr, None)?;
    let mut rts = vec![("qp_state", IBV_QPS_RTS as u64), ("sq_psn", 0)];
    if a.qp_type == IBV_QPT_RC {
        rts.extend([("timeout", 14), ("retry_cnt", 7), ("rnr_retry", 7), ("max_rd_atomic", 16)]);
    }
    modify_qp(t, a.fd, a.handle, &rts, None)
}

/// A kernel-path post (`ibv_cmd_post_send`, `ibv_cmd_post_recv`): the
/// header `{response, qp_handle, wr_count, sge_count, wqe_size}`, the WRs,
/// the SGEs. Returns the write's result and `bad_wr` (the response is
/// read whatever the write returned: the kernel writes it when the driver
/// refused a WR; it stays 0 otherwise).
pub fn post(
    t: &Task,
    fd: i64,
    cmd: u32,
    qp: u32,
    wqe_size: u32,
    wrs: &[Vec<u8>],
    sges: &[[u8; 16]],
) -> (KResult<()>, u32) {
    let mut b = qp.to_le_bytes().to_vec();
    for w in [wrs.len() as u32, sges.len() as u32, wqe_size] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    for w in wrs {
        b.extend_from_slice(w);
    }
    for s in sges {
        b.extend_from_slice(s);
    }
    let mut bad = 0u32;
    let r = command_with(t, fd, cmd, &b, POST_RESP_SIZE, |resp| bad = u32_at(resp, 0));
    (r.map(|_| ()), bad)
}

/// `struct ib_uverbs_sge`.
pub fn sge(addr: u64, length: u32, lkey: u32) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&addr.to_le_bytes());
    s[8..12].copy_from_slice(&length.to_le_bytes());
    s[12..].copy_from_slice(&lkey.to_le_bytes());
    s
}
