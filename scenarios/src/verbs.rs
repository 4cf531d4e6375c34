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
    let r = copy_to_user(mm, buf, &c)
        .map_err(|_| Errno::EFAULT)
        .and_then(|_| sys_write_mem(t, fd, buf, in_bytes as u64))
        .and_then(|_| copy_from_user(mm, resp, out_bytes as u64).map_err(|_| Errno::EFAULT));
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
