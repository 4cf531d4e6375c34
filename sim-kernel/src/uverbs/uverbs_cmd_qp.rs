//! The QP commands of `drivers/infiniband/core/uverbs_cmd.c` (Linux
//! 3.14): CREATE_QP, QUERY_QP, MODIFY_QP, DESTROY_QP and the kernel-path
//! POST_SEND and POST_RECV (`ib_uverbs_post_send`, `ib_uverbs_post_recv`
//! with `ib_uverbs_unmarshall_recv`), with the core's `ib_destroy_qp`
//! (`drivers/infiniband/core/verbs.c`). The driver under them is the HCA
//! model (`sim_hw::hca::Hca`, the device's `hca`): its `create_qp_init`,
//! `modify_qp` (whose state table is `sim_hw::modify_qp::modify_qp_is_ok`,
//! Linux's `ib_modify_qp_is_ok`), `query_qp`, `destroy_qp`, `post_send`
//! with `ring_sq_doorbell`, and `post_recv`. Every driver error is EINVAL
//! but a full queue (ENOMEM, as mlx4's `mlx4_wq_overflow`).
//!
//! Lock order (as [`super`]'s): CREATE_QP looks its dependencies up in
//! Linux's order (the SRQ if `is_srq`, the receive CQ if it is not the
//! send CQ, the send CQ, the PD), each read-locked, before the new QP is
//! findable; the driver's lock (`hca`) is innermost, taken under the
//! rwsems and released before any copy to user memory.

use super::abi::*;
use super::uverbs_cmd::{
    create_lock, destroy_uobj, free_uobj, idr_add_uobj, idr_get_uobj, idr_remove_uobj, init_uobj, publish, read_live,
    resp_addr, ucontext,
};
use super::uverbs_main::{copy_resp, purge_events, Body};
use super::{IbUobject, IbUverbsFile, UobjKind, UobjType};
use crate::errno::{Errno, KResult};
use crate::sched::yield_point;
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sync::Arc;
use crate::task::Task;
use sim_hw::modify_qp::QpAttrMask;
use sim_hw::mr::Access;
use sim_hw::qp::{PostError, QpAttr, QpCap, QpInit, QpState, QpType, RecvWr, SendOp, SendWr, Sge};

/// `KMALLOC_MAX_SIZE` on x86-64 (order-10 pages): a larger `wqe_size`
/// fails the handler's `kmalloc(cmd.wqe_size)` with ENOMEM.
const KMALLOC_MAX_SIZE: u32 = 4 << 20;

fn use_count(u: &IbUobject) -> Option<&AtomicU32> {
    match &u.kind {
        UobjKind::Pd { usecnt } | UobjKind::Cq { usecnt, .. } => Some(usecnt),
        _ => None,
    }
}

fn hw_cq(u: &IbUobject) -> u32 {
    match &u.kind {
        UobjKind::Cq { hw, .. } => *hw,
        _ => u32::MAX,
    }
}

/// The QP's number and type, for a QP object.
fn qp_of(u: &IbUobject) -> (u32, QpType) {
    match &u.kind {
        UobjKind::Qp { qpn, qp_type, .. } => (*qpn, *qp_type),
        _ => (0, QpType::Rc),
    }
}

/// CREATE_QP (`ib_uverbs_create_qp`): ENOSPC; the copy; the lookups in
/// Linux's order, each EINVAL (an SRQ, since none can be made yet,
/// always); the driver's create (`qp_type` other than RC, UC, UD, or
/// queue sizes beyond the device's `max_qp_wr`/`max_sge`: EINVAL); the
/// PD's and both CQs' use counts go up (a QP whose CQs are one CQ counts
/// it twice, as Linux does); the response `{qp_handle, qpn, granted
/// caps}` (EFAULT: the QP is destroyed again).
pub(super) fn ib_uverbs_create_qp(file: &Arc<IbUverbsFile>, t: &Task, body: &Body, out_len: usize) -> KResult<()> {
    if out_len < CREATE_QP_RESP_SIZE {
        return Err(Errno::ENOSPC);
    }
    let cmd = body.copy(CREATE_QP_SIZE)?;
    let user_handle = u64_at(&cmd, 8);
    let (pd_h, scq_h, rcq_h) = (u32_at(&cmd, 16), u32_at(&cmd, 20), u32_at(&cmd, 24));
    let cap = QpCap {
        max_send_wr: u32_at(&cmd, 32),
        max_recv_wr: u32_at(&cmd, 36),
        max_send_sge: u32_at(&cmd, 40),
        max_recv_sge: u32_at(&cmd, 44),
        max_inline_data: u32_at(&cmd, 48),
    };
    let (sq_sig_all, qp_type, is_srq) = (cmd[52] != 0, cmd[53] as u32, cmd[54] != 0);
    let ctx = ucontext(file)?;
    if is_srq {
        // idr_read_srq: CREATE_SRQ is not built, so no SRQ exists.
        crate::footprint::access(crate::footprint::uverbs_idr_key(), false);
        return Err(Errno::EINVAL);
    }
    let rcq =
        if rcq_h != scq_h { Some(idr_get_uobj(file, UobjType::Cq, rcq_h, &ctx).ok_or(Errno::EINVAL)?) } else { None };
    let rcq_g = match &rcq {
        Some(r) => Some(read_live(r).ok_or(Errno::EINVAL)?),
        None => None,
    };
    let scq = idr_get_uobj(file, UobjType::Cq, scq_h, &ctx);
    let scq_g = scq.as_ref().and_then(|s| read_live(s));
    let pd = idr_get_uobj(file, UobjType::Pd, pd_h, &ctx);
    let pd_g = pd.as_ref().and_then(|p| read_live(p));
    let (Some(scq), Some(pd), Some(_), Some(_)) = (scq.clone(), pd.clone(), &scq_g, &pd_g) else {
        return Err(Errno::EINVAL);
    };
    let rcq = rcq.clone().unwrap_or_else(|| scq.clone());
    // The driver's create_qp: mlx4's type and size rules (set_rq_size,
    // set_kernel_sq_size: beyond the device's limits, EINVAL), then the
    // HCA's QP.
    let ty = match qp_type {
        IBV_QPT_RC => QpType::Rc,
        IBV_QPT_UC => QpType::Uc,
        IBV_QPT_UD => QpType::Ud,
        _ => return Err(Errno::EINVAL),
    };
    let a = &file.device.attr;
    if cap.max_send_wr > a.max_qp_wr
        || cap.max_recv_wr > a.max_qp_wr
        || cap.max_send_sge > a.max_sge
        || cap.max_recv_sge > a.max_sge
    {
        return Err(Errno::EINVAL);
    }
    let init = QpInit {
        qp_type: ty,
        pd: pd_h,
        send_cq: hw_cq(&scq),
        recv_cq: hw_cq(&rcq),
        srq: None,
        sig_all: sq_sig_all,
        cap,
    };
    let (qpn, granted) = {
        let mut hca = file.device.hca.lock();
        let qpn = hca.create_qp_init(&init).map_err(|_| Errno::EINVAL)?;
        (qpn, hca.query_qp_cap(qpn).unwrap_or(cap))
    };
    for d in [&pd, &scq, &rcq] {
        if let Some(c) = use_count(d) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    let u = init_uobj(
        file,
        user_handle,
        &ctx,
        UobjKind::Qp {
            pd: pd.clone(),
            send_cq: scq.clone(),
            recv_cq: rcq.clone(),
            ufile: file.clone(),
            qpn,
            qp_type: ty,
            sq_sig_all,
            events_reported: AtomicU32::new(0),
        },
    );
    let g = create_lock(&u);
    idr_add_uobj(file, UobjType::Qp, &u);
    yield_point("uverbs:create_findable");
    let mut resp = Vec::with_capacity(CREATE_QP_RESP_SIZE);
    for w in [
        u.handle(),
        qpn,
        granted.max_send_wr,
        granted.max_recv_wr,
        granted.max_send_sge,
        granted.max_recv_sge,
        granted.max_inline_data,
        0,
    ] {
        resp.extend_from_slice(&w.to_le_bytes());
    }
    if let Err(e) = copy_resp(t, resp_addr(&cmd), &resp) {
        idr_remove_uobj(file, UobjType::Qp, &u);
        ib_destroy_qp(file, &u);
        drop(g);
        free_uobj(file, &u);
        return Err(e);
    }
    // put_pd_read, put_cq_read (both CQs) before file->mutex.
    drop(pd_g);
    drop(scq_g);
    drop(rcq_g);
    publish(file, &u, g, |l| &mut l.qp);
    Ok(())
}

/// `ib_destroy_qp` (`drivers/infiniband/core/verbs.c`): the driver's
/// destroy (the HCA quiesces the QP and cleans its CQEs from its CQs),
/// then the use counts of its PD and CQs go down.
pub(super) fn ib_destroy_qp(file: &IbUverbsFile, u: &IbUobject) {
    if let UobjKind::Qp { pd, send_cq, recv_cq, qpn, .. } = &u.kind {
        {
            let mut hca = file.device.hca.lock();
            let now = hca.now();
            let _ = hca.destroy_qp(now, *qpn);
        }
        for d in [pd, send_cq, recv_cq] {
            if let Some(c) = use_count(d) {
                c.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// `ib_uverbs_release_uevent`: the QP's queued async events purged from
/// the file's async event file, under its lock.
pub(super) fn ib_uverbs_release_uevent(file: &IbUverbsFile, u: &Arc<IbUobject>) {
    let af = file.async_file.lock_quiet().clone();
    if let Some(af) = af {
        purge_events(&af, u);
    }
}

/// `idr_read_qp`: the live QP of handle `h` in the caller's context.
fn lookup_qp(file: &IbUverbsFile, h: u32) -> KResult<Arc<IbUobject>> {
    let ctx = ucontext(file)?;
    idr_get_uobj(file, UobjType::Qp, h, &ctx).ok_or(Errno::EINVAL)
}

/// `enum ib_mtu` of a path MTU in bytes (IB_MTU_256 = 1 ... IB_MTU_4096 = 5).
fn ib_mtu(bytes: usize) -> u8 {
    (bytes.max(256) / 256).trailing_zeros() as u8 + 1
}

fn qp_state(v: u8) -> Option<QpState> {
    Some(match v {
        0 => QpState::Reset,
        1 => QpState::Init,
        2 => QpState::Rtr,
        3 => QpState::Rts,
        4 => QpState::Sqd,
        5 => QpState::Sqe,
        6 => QpState::Error,
        _ => return None,
    })
}

/// QUERY_QP (`ib_uverbs_query_qp`): no ENOSPC check; the copy; the QP's
/// lookup (EINVAL); `ib_query_qp` (every attribute, whatever
/// `attr_mask` asks); the 128-byte response (EFAULT).
pub(super) fn ib_uverbs_query_qp(file: &IbUverbsFile, t: &Task, body: &Body) -> KResult<()> {
    let cmd = body.copy(QUERY_QP_SIZE)?;
    let qp = lookup_qp(file, u32_at(&cmd, 8))?;
    let (attr, cap, sig_all) = {
        let _g = read_live(&qp).ok_or(Errno::EINVAL)?;
        let (qpn, _) = qp_of(&qp);
        let hca = file.device.hca.lock();
        let attr = hca.query_qp(qpn).ok_or(Errno::EINVAL)?;
        let cap = hca.query_qp_cap(qpn).ok_or(Errno::EINVAL)?;
        let sig_all = matches!(&qp.kind, UobjKind::Qp { sq_sig_all: true, .. });
        (attr, cap, sig_all)
    };
    let mut r = vec![0u8; QUERY_QP_RESP_SIZE];
    // dest: dlid at 20, port_num at 31; alt_dest stays zero.
    r[20..22].copy_from_slice(&attr.dest_lid.to_le_bytes());
    r[31] = attr.port_num;
    let words = [
        cap.max_send_wr,
        cap.max_recv_wr,
        cap.max_send_sge,
        cap.max_recv_sge,
        cap.max_inline_data,
        attr.qkey,
        attr.rq_psn,
        attr.sq_psn,
        attr.dest_qpn,
        attr.qp_access_flags.0 as u32,
    ];
    for (i, w) in words.iter().enumerate() {
        r[64 + 4 * i..68 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    r[104..106].copy_from_slice(&attr.pkey_index.to_le_bytes());
    let bytes = [
        attr.qp_state as u8,
        attr.cur_qp_state as u8,
        ib_mtu(attr.path_mtu),
        0, // path_mig_state
        0, // sq_draining
        attr.max_rd_atomic,
        attr.max_dest_rd_atomic,
        attr.min_rnr_timer,
        attr.port_num,
        attr.timeout,
        attr.retry_cnt,
        attr.rnr_retry,
        0, // alt_port_num
        0, // alt_timeout
        sig_all as u8,
    ];
    r[108..108 + bytes.len()].copy_from_slice(&bytes);
    copy_resp(t, resp_addr(&cmd), &r)
}

/// MODIFY_QP (`ib_uverbs_modify_qp`): the copy; the QP's lookup
/// (EINVAL); the attributes the mask names passed to the driver's
/// `modify_qp` (mlx4_ib_modify_qp: a state out of range, a transition or
/// mask outside `ib_modify_qp_is_ok`'s table, a CUR_STATE that is not the
/// QP's, an attribute out of range: EINVAL). uverbs itself checks no
/// state. No response.
pub(super) fn ib_uverbs_modify_qp(file: &IbUverbsFile, body: &Body) -> KResult<()> {
    let cmd = body.copy(MODIFY_QP_SIZE)?;
    let qp = lookup_qp(file, u32_at(&cmd, 64))?;
    let _g = read_live(&qp).ok_or(Errno::EINVAL)?;
    let (qpn, _) = qp_of(&qp);
    let mask = u32_at(&cmd, 68);
    let mut hca = file.device.hca.lock();
    let mut attr: QpAttr = hca.query_qp(qpn).ok_or(Errno::EINVAL)?;
    let has = |m: u32| mask & m != 0;
    if has(IBV_QP_STATE) {
        attr.qp_state = qp_state(cmd[96]).ok_or(Errno::EINVAL)?;
    }
    if has(IBV_QP_CUR_STATE) {
        attr.cur_qp_state = qp_state(cmd[97]).ok_or(Errno::EINVAL)?;
    }
    if has(IBV_QP_PATH_MTU) {
        let m = cmd[98] as u32;
        if !(IBV_MTU_256..=IBV_MTU_4096).contains(&m) {
            return Err(Errno::EINVAL);
        }
        attr.path_mtu = 256 << (m - 1);
    }
    attr.en_sqd_async_notify = cmd[100] != 0;
    if has(IBV_QP_ACCESS_FLAGS) {
        attr.qp_access_flags = Access(u32_at(&cmd, 88) as u8);
    }
    if has(IBV_QP_PKEY_INDEX) {
        attr.pkey_index = u16_at(&cmd, 92);
    }
    if has(IBV_QP_PORT) {
        attr.port_num = cmd[104];
    }
    if has(IBV_QP_QKEY) {
        attr.qkey = u32_at(&cmd, 72);
    }
    if has(IBV_QP_AV) {
        attr.dest_lid = u16_at(&cmd, 20);
    }
    if has(IBV_QP_TIMEOUT) {
        attr.timeout = cmd[105];
    }
    if has(IBV_QP_RETRY_CNT) {
        attr.retry_cnt = cmd[106];
    }
    if has(IBV_QP_RNR_RETRY) {
        attr.rnr_retry = cmd[107];
    }
    if has(IBV_QP_RQ_PSN) {
        attr.rq_psn = u32_at(&cmd, 76);
    }
    if has(IBV_QP_SQ_PSN) {
        attr.sq_psn = u32_at(&cmd, 80);
    }
    if has(IBV_QP_MAX_QP_RD_ATOMIC) {
        attr.max_rd_atomic = cmd[101];
    }
    if has(IBV_QP_MAX_DEST_RD_ATOMIC) {
        attr.max_dest_rd_atomic = cmd[102];
    }
    if has(IBV_QP_MIN_RNR_TIMER) {
        attr.min_rnr_timer = cmd[103];
    }
    if has(IBV_QP_DEST_QPN) {
        attr.dest_qpn = u32_at(&cmd, 84);
    }
    let now = hca.now();
    hca.modify_qp(now, qpn, &attr, QpAttrMask(mask)).map_err(|_| Errno::EINVAL)
}

/// DESTROY_QP (`ib_uverbs_destroy_qp`): the two-step destroy (no
/// multicast group can be attached yet, so never EBUSY), its queued async
/// events purged, then `events_reported` (the events already read) copied
/// to the response: EFAULT there comes after the QP is gone.
pub(super) fn ib_uverbs_destroy_qp(file: &IbUverbsFile, t: &Task, body: &Body) -> KResult<()> {
    let cmd = body.copy(DESTROY_QP_SIZE)?;
    let u = destroy_uobj(
        file,
        UobjType::Qp,
        u32_at(&cmd, 8),
        |u| {
            ib_destroy_qp(file, u);
            Ok(())
        },
        |l| &mut l.qp,
    )?;
    ib_uverbs_release_uevent(file, &u);
    let reported = match &u.kind {
        UobjKind::Qp { events_reported, .. } => events_reported.load(Ordering::Relaxed),
        _ => 0,
    };
    free_uobj(file, &u);
    copy_resp(t, resp_addr(&cmd), &reported.to_le_bytes())
}

/// The errno of a driver's post failure: a full queue (or an inline
/// payload the WQE cannot hold) is ENOMEM, anything else EINVAL.
fn post_errno(e: PostError) -> Errno {
    match e {
        PostError::QueueFull | PostError::InlineTooLong => Errno::ENOMEM,
        _ => Errno::EINVAL,
    }
}

/// `copy_from_user` of `n` SGEs at `off` of the body.
fn copy_sges(body: &Body, off: usize, n: u32) -> KResult<Vec<Sge>> {
    let b = body.buf.copy(body.off + off, n as usize * UVERBS_SGE_SIZE)?;
    Ok(b.chunks(UVERBS_SGE_SIZE).map(|s| Sge { addr: u64_at(s, 0), len: u32_at(s, 8), lkey: u32_at(s, 12) }).collect())
}

/// The `ib_send_wr` an `ib_uverbs_send_wr` makes on an RC or UC QP; None
/// for an opcode the driver refuses (at post time, with its index).
fn send_op(w: &[u8]) -> Option<SendOp> {
    let (imm, remote_addr, rkey) = (u32_at(w, 20), u64_at(w, 24), u32_at(w, 32));
    Some(match u32_at(w, 12) {
        IBV_WR_RDMA_WRITE => SendOp::RdmaWrite { remote_addr, rkey },
        IBV_WR_RDMA_WRITE_WITH_IMM => SendOp::RdmaWriteWithImm { remote_addr, rkey, imm },
        IBV_WR_SEND => SendOp::Send,
        IBV_WR_SEND_WITH_IMM => SendOp::SendWithImm { imm },
        IBV_WR_RDMA_READ => SendOp::RdmaRead { remote_addr, rkey },
        IBV_WR_ATOMIC_CMP_AND_SWP => {
            SendOp::AtomicCmpSwap { remote_addr, compare: u64_at(w, 32), swap: u64_at(w, 40), rkey: u32_at(w, 48) }
        }
        IBV_WR_ATOMIC_FETCH_AND_ADD => SendOp::AtomicFetchAdd { remote_addr, add: u64_at(w, 32), rkey: u32_at(w, 48) },
        // IB_WR_SEND_WITH_INV
        8 => SendOp::SendWithInv { rkey: imm },
        _ => return None,
    })
}

/// POST_SEND (`ib_uverbs_post_send`): the copy; `in_len` (the write's
/// count) below `24 + wqe_size * wr_count` (a u32 product, wrapping) `+
/// 16 * sge_count`, or `wqe_size` below 56: EINVAL; `kmalloc(wqe_size)`
/// (ENOMEM); the QP's lookup (EINVAL); each WR copied (EFAULT), claiming
/// more SGEs than remain: EINVAL, on a UD QP its AH looked up (EINVAL: no
/// AH can be made yet), its SGEs copied (EFAULT); none of these answers.
/// Then the driver posts the WRs in order and rings the doorbell for those
/// it took; at the first it refuses (below RTS, too many SGEs, a wrong
/// opcode: EINVAL; queue full: ENOMEM) `bad_wr` is its 1-based index. The
/// response `{bad_wr}` is copied (EFAULT after the posts took effect).
pub(super) fn ib_uverbs_post_send(file: &IbUverbsFile, t: &Task, body: &Body, in_len: usize) -> KResult<()> {
    let cmd = body.copy(POST_SEND_SIZE)?;
    let (h, wr_count, sge_count, wqe_size) = (u32_at(&cmd, 8), u32_at(&cmd, 12), u32_at(&cmd, 16), u32_at(&cmd, 20));
    let need = POST_SEND_SIZE as u64 + wqe_size.wrapping_mul(wr_count) as u64 + sge_count as u64 * 16;
    if (in_len as u64) < need || (wqe_size as usize) < UVERBS_SEND_WR_SIZE {
        return Err(Errno::EINVAL);
    }
    if wqe_size > KMALLOC_MAX_SIZE {
        return Err(Errno::ENOMEM);
    }
    let qp = lookup_qp(file, h)?;
    let _g = read_live(&qp).ok_or(Errno::EINVAL)?;
    let (qpn, ty) = qp_of(&qp);
    let mut wrs = Vec::new();
    let mut sg_ind = 0u32;
    let sge_base = POST_SEND_SIZE + wr_count as usize * wqe_size as usize;
    for i in 0..wr_count as usize {
        let w = body.buf.copy(body.off + POST_SEND_SIZE + i * wqe_size as usize, wqe_size as usize)?;
        let num_sge = u32_at(&w, 8);
        if num_sge.wrapping_add(sg_ind) > sge_count {
            return Err(Errno::EINVAL);
        }
        if ty == QpType::Ud {
            // idr_read_ah: CREATE_AH is not built, so no AH exists.
            crate::footprint::access(crate::footprint::uverbs_idr_key(), false);
            return Err(Errno::EINVAL);
        }
        let sges =
            if num_sge > 0 { copy_sges(body, sge_base + sg_ind as usize * UVERBS_SGE_SIZE, num_sge)? } else { vec![] };
        sg_ind += num_sge;
        let flags = u32_at(&w, 16);
        let wr = send_op(&w).map(|op| SendWr {
            wr_id: u64_at(&w, 0),
            op,
            sges,
            inline_data: None,
            signaled: flags & IBV_SEND_SIGNALED != 0,
            solicited: flags & IBV_SEND_SOLICITED != 0,
        });
        wrs.push(wr);
    }
    let mut ret = Ok(());
    let mut bad_wr = 0u32;
    {
        let mut hca = file.device.hca.lock();
        let mut posted = false;
        for (i, wr) in wrs.into_iter().enumerate() {
            let r = wr.ok_or(PostError::Unsupported).and_then(|wr| hca.post_send(qpn, wr));
            if let Err(e) = r {
                ret = Err(post_errno(e));
                bad_wr = i as u32 + 1;
                break;
            }
            posted = true;
        }
        if posted {
            let now = hca.now();
            hca.ring_sq_doorbell(now, qpn);
        }
    }
    copy_resp(t, resp_addr(&cmd), &bad_wr.to_le_bytes())?;
    ret
}

/// POST_RECV (`ib_uverbs_post_recv`): the copy; the WRs unmarshalled
/// first (`ib_uverbs_unmarshall_recv`: the bytes after the command below
/// `wqe_size * wr_count + 16 * sge_count`, or `wqe_size` below 16:
/// EINVAL; ENOMEM; a WR copy: EFAULT; more SGEs than remain: EINVAL; the
/// SGEs: EFAULT); then the QP's lookup (EINVAL); the driver posts them in
/// order (the QP in RESET or taking receives from an SRQ, too many SGEs:
/// EINVAL; queue full: ENOMEM; `bad_wr` the 1-based index of the first
/// refused); the response `{bad_wr}` (EFAULT).
pub(super) fn ib_uverbs_post_recv(file: &IbUverbsFile, t: &Task, body: &Body, in_len: usize) -> KResult<()> {
    let cmd = body.copy(POST_RECV_SIZE)?;
    let (h, wr_count, sge_count, wqe_size) = (u32_at(&cmd, 8), u32_at(&cmd, 12), u32_at(&cmd, 16), u32_at(&cmd, 20));
    // `in_len - sizeof cmd` is an int that may be negative; compared with
    // a size_t it is huge, and the check passes.
    let rest = in_len as i64 - POST_RECV_SIZE as i64;
    let need = wqe_size.wrapping_mul(wr_count) as u64 + sge_count as u64 * 16;
    if (rest >= 0 && (rest as u64) < need) || (wqe_size as usize) < UVERBS_RECV_WR_SIZE {
        return Err(Errno::EINVAL);
    }
    if wqe_size > KMALLOC_MAX_SIZE {
        return Err(Errno::ENOMEM);
    }
    let mut wrs = Vec::new();
    let mut sg_ind = 0u32;
    let sge_base = POST_RECV_SIZE + wr_count as usize * wqe_size as usize;
    for i in 0..wr_count as usize {
        let w = body.buf.copy(body.off + POST_RECV_SIZE + i * wqe_size as usize, wqe_size as usize)?;
        let num_sge = u32_at(&w, 8);
        if num_sge.wrapping_add(sg_ind) > sge_count {
            return Err(Errno::EINVAL);
        }
        let sges =
            if num_sge > 0 { copy_sges(body, sge_base + sg_ind as usize * UVERBS_SGE_SIZE, num_sge)? } else { vec![] };
        sg_ind += num_sge;
        wrs.push(RecvWr { wr_id: u64_at(&w, 0), sges });
    }
    let qp = lookup_qp(file, h)?;
    let mut ret = Ok(());
    let mut bad_wr = 0u32;
    {
        let _g = read_live(&qp).ok_or(Errno::EINVAL)?;
        let (qpn, _) = qp_of(&qp);
        let mut hca = file.device.hca.lock();
        for (i, wr) in wrs.into_iter().enumerate() {
            let now = hca.now();
            if let Err(e) = hca.post_recv(now, qpn, wr) {
                ret = Err(post_errno(e));
                bad_wr = i as u32 + 1;
                break;
            }
        }
    }
    copy_resp(t, resp_addr(&cmd), &bad_wr.to_le_bytes())?;
    ret
}
