//! The QP state machine through MODIFY_QP: the transition table with its
//! required and optional attributes, and what each state does (receives
//! from INIT, the responder from RTR, sends from RTS, SQD's drain, SQE,
//! ERROR's flush, RESET's silent clear).

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::modify_qp::QpAttrMask as M;
use sim_hw::mr::Access;
use sim_hw::packet::GRH_BYTES;
use sim_hw::qp::{ModifyError, PostError, QpAttr, QpState, SendOp, SendWr, Sge};
use sim_hw::{Profile, US};

const BUF: u64 = 256 * 1024;
const RW: Access = Access(Access::LOCAL_WRITE.0 | Access::REMOTE_WRITE.0);

fn attr() -> QpAttr {
    QpAttr { timeout: 1, ..QpAttr::default() } // 8.192 us
}

/// Two RC QPs in RESET, buffers registered, A's filled with a pattern.
fn pair_in_reset() -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 3);
    let (a, b) = pair.rc_endpoints(BUF, RW);
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 5 + 1) as u8).collect();
    pair.hosts[0].mem.store(a.buf, &pattern);
    (pair, a, b)
}

/// `ep`'s attributes pointing at `peer`.
fn toward(pair: &HcaPair, peer: &Endpoint, a: QpAttr) -> QpAttr {
    QpAttr { dest_lid: pair.fabric.hca(peer.hca).lid(), dest_qpn: peer.qpn, ..a }
}

const INIT: M = M(M::STATE.0 | M::PKEY_INDEX.0 | M::PORT.0 | M::ACCESS_FLAGS.0);
const RTR: M = M(M::STATE.0
    | M::AV.0
    | M::PATH_MTU.0
    | M::DEST_QPN.0
    | M::RQ_PSN.0
    | M::MAX_DEST_RD_ATOMIC.0
    | M::MIN_RNR_TIMER.0);
const RTS: M = M(M::STATE.0 | M::TIMEOUT.0 | M::RETRY_CNT.0 | M::RNR_RETRY.0 | M::SQ_PSN.0 | M::MAX_QP_RD_ATOMIC.0);

fn modify(pair: &mut HcaPair, ep: &Endpoint, peer: &Endpoint, state: QpState, mask: M) -> Result<(), ModifyError> {
    let a = QpAttr { qp_state: state, ..toward(pair, peer, attr()) };
    let now = pair.now();
    pair.fabric.hca_mut(ep.hca).modify_qp(now, ep.qpn, &a, mask)
}

/// Walks `ep` from RESET up to `to` with the required masks.
fn walk(pair: &mut HcaPair, ep: &Endpoint, peer: &Endpoint, to: QpState) {
    for (s, m) in [(QpState::Init, INIT), (QpState::Rtr, RTR), (QpState::Rts, RTS)] {
        modify(pair, ep, peer, s, m).unwrap();
        if s == to {
            return;
        }
    }
}

fn state(pair: &HcaPair, ep: &Endpoint) -> QpState {
    pair.fabric.hca(ep.hca).qp_state(ep.qpn).unwrap()
}

fn cqes(pair: &mut HcaPair, ep: &Endpoint, cq: u32) -> Vec<(u64, WcStatus)> {
    pair.fabric.hca_mut(ep.hca).poll_cq(cq, 1000).iter().map(|c| (c.wr_id, c.status)).collect()
}

fn write_wr(ep: &Endpoint, peer: &Endpoint, wr_id: u64, len: u32) -> SendWr {
    SendWr {
        wr_id,
        op: SendOp::RdmaWrite { remote_addr: peer.buf, rkey: peer.mr.rkey },
        sges: vec![Sge { addr: ep.buf, len, lkey: ep.mr.lkey }],
        inline_data: None,
        signaled: true,
        solicited: false,
    }
}

#[test]
fn the_walk_with_the_required_masks_connects_and_query_reports_it() {
    let (mut pair, a, b) = pair_in_reset();
    walk(&mut pair, &a, &b, QpState::Rts);
    walk(&mut pair, &b, &a, QpState::Rts);
    let q = pair.fabric.hca(0).query_qp(a.qpn).unwrap();
    assert_eq!((q.qp_state, q.dest_qpn, q.dest_lid, q.timeout), (QpState::Rts, b.qpn, 1, 1));
    pair.post_recv(0, &b, 7, 5000);
    pair.post_send(0, &a, 8, 5000, true);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len), (7, WcStatus::Success, 5000));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
}

#[test]
fn a_transition_or_mask_outside_the_table_is_refused_and_changes_nothing() {
    let (mut pair, a, b) = pair_in_reset();
    // Skipping a state, RESET -> ERROR, a missing or an extra attribute.
    assert_eq!(modify(&mut pair, &a, &b, QpState::Rtr, RTR), Err(ModifyError::BadState));
    assert_eq!(modify(&mut pair, &a, &b, QpState::Error, M::STATE), Err(ModifyError::BadState));
    assert_eq!(modify(&mut pair, &a, &b, QpState::Init, M(INIT.0 & !M::PORT.0)), Err(ModifyError::BadState));
    assert_eq!(modify(&mut pair, &a, &b, QpState::Init, INIT | M::QKEY), Err(ModifyError::BadState));
    assert_eq!(state(&pair, &a), QpState::Reset);
    // Out-of-range attributes, each alone.
    let h = pair.fabric.hca_mut(0);
    for bad in [QpAttr { port_num: 2, ..attr() }, QpAttr { pkey_index: 128, ..attr() }] {
        let a2 = QpAttr { qp_state: QpState::Init, ..bad };
        assert_eq!(h.modify_qp(0, a.qpn, &a2, INIT), Err(ModifyError::InvalidAttr));
    }
    assert_eq!(h.qp_state(a.qpn), Some(QpState::Reset));
    modify(&mut pair, &a, &b, QpState::Init, INIT).unwrap();
    let h = pair.fabric.hca_mut(0);
    for bad in [
        QpAttr { path_mtu: 3000, ..attr() },
        QpAttr { max_dest_rd_atomic: 17, ..attr() },
        QpAttr { min_rnr_timer: 32, ..attr() },
    ] {
        let a2 = QpAttr { qp_state: QpState::Rtr, dest_qpn: 99, ..bad };
        assert_eq!(h.modify_qp(0, a.qpn, &a2, RTR), Err(ModifyError::InvalidAttr));
    }
    let q = h.query_qp(a.qpn).unwrap();
    assert_eq!((q.qp_state, q.dest_qpn), (QpState::Init, 0), "a failed modify sets no attribute");
    // INIT -> INIT changes an optional attribute; CUR_STATE is refused from INIT.
    let no_remote = QpAttr { qp_state: QpState::Init, qp_access_flags: Access::NONE, ..attr() };
    h.modify_qp(0, a.qpn, &no_remote, M::STATE | M::ACCESS_FLAGS).unwrap();
    assert_eq!(h.query_qp(a.qpn).unwrap().qp_access_flags, Access::NONE);
    assert_eq!(h.modify_qp(0, a.qpn, &no_remote, M::STATE | M::CUR_STATE), Err(ModifyError::BadState));
    // A CUR_STATE that is not the QP's state.
    modify(&mut pair, &a, &b, QpState::Rtr, RTR).unwrap();
    let wrong = QpAttr { qp_state: QpState::Rts, cur_qp_state: QpState::Rts, ..toward(&pair, &b, attr()) };
    let h = pair.fabric.hca_mut(0);
    assert_eq!(h.modify_qp(0, a.qpn, &wrong, RTS | M::CUR_STATE), Err(ModifyError::BadState));
    let right = QpAttr { cur_qp_state: QpState::Rtr, ..wrong };
    h.modify_qp(0, a.qpn, &right, RTS | M::CUR_STATE).unwrap();
    assert_eq!(h.qp_state(a.qpn), Some(QpState::Rts));
}

#[test]
fn receives_post_from_init_and_sends_only_from_rts() {
    let (mut pair, a, b) = pair_in_reset();
    let recv = |ep: &Endpoint, id| sim_hw::qp::RecvWr {
        wr_id: id,
        sges: vec![Sge { addr: ep.buf, len: 64, lkey: ep.mr.lkey }],
    };
    let h = pair.fabric.hca_mut(0);
    assert_eq!(h.post_recv(0, a.qpn, recv(&a, 1)), Err(PostError::BadState));
    assert_eq!(h.post_send(a.qpn, write_wr(&a, &b, 1, 8)), Err(PostError::BadState));
    modify(&mut pair, &a, &b, QpState::Init, INIT).unwrap();
    let h = pair.fabric.hca_mut(0);
    assert_eq!(h.post_recv(0, a.qpn, recv(&a, 2)), Ok(()));
    assert_eq!(h.post_send(a.qpn, write_wr(&a, &b, 2, 8)), Err(PostError::BadState));
    modify(&mut pair, &a, &b, QpState::Rtr, RTR).unwrap();
    let h = pair.fabric.hca_mut(0);
    assert_eq!(h.post_send(a.qpn, write_wr(&a, &b, 3, 8)), Err(PostError::BadState));
    modify(&mut pair, &a, &b, QpState::Rts, RTS).unwrap();
    assert_eq!(pair.fabric.hca_mut(0).post_send(a.qpn, write_wr(&a, &b, 4, 8)), Ok(()));
}

/// B's responder ignores A's SEND while B is in INIT (A times out and
/// retries); once B is in RTR (and no further) the retry is taken by the
/// receive B posted in INIT, and B acknowledges it.
#[test]
fn the_responder_runs_from_rtr_and_uses_receives_posted_in_init() {
    let (mut pair, a, b) = pair_in_reset();
    walk(&mut pair, &a, &b, QpState::Rts);
    walk(&mut pair, &b, &a, QpState::Init);
    pair.post_recv(0, &b, 70, 4096);
    pair.post_send(0, &a, 71, 4000, true);
    pair.run_until(5 * US);
    assert_eq!(pair.fabric.hca(1).stats().dropped_bad_qp, 1);
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    modify(&mut pair, &b, &a, QpState::Rtr, RTR).unwrap();
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len), (70, WcStatus::Success, 4000));
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.wr_id, s.status), (71, WcStatus::Success));
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 1);
    assert_eq!(state(&pair, &b), QpState::Rtr);
}

fn connected() -> (HcaPair, Endpoint, Endpoint) {
    let (mut pair, a, b) = pair_in_reset();
    walk(&mut pair, &a, &b, QpState::Rts);
    walk(&mut pair, &b, &a, QpState::Rts);
    (pair, a, b)
}

fn sqd(pair: &mut HcaPair, a: &Endpoint, b: &Endpoint, notify: bool) -> Result<(), ModifyError> {
    let at = QpAttr { qp_state: QpState::Sqd, en_sqd_async_notify: notify, ..attr() };
    let now = pair.now();
    pair.fabric.hca_mut(a.hca).modify_qp(now, a.qpn, &at, M::STATE | M::EN_SQD_ASYNC_NOTIFY)?;
    let _ = b;
    Ok(())
}

fn drained(pair: &HcaPair, a: &Endpoint) -> usize {
    let ev = Interrupt::Async(AsyncEvent::SqDrained { qpn: a.qpn });
    pair.hosts[a.hca].irqs.iter().filter(|&&i| i == ev).count()
}

/// RTS -> SQD with WQEs started: they finish, the one posted later waits,
/// SQ_DRAINED comes after the last started one completes, SQD cannot be
/// left (but for ERROR/RESET) before it, and SQD -> RTS sends the rest.
#[test]
fn sqd_finishes_started_wqes_holds_new_ones_and_raises_sq_drained() {
    let (mut pair, a, b) = connected();
    let h = pair.fabric.hca_mut(0);
    h.post_send(a.qpn, write_wr(&a, &b, 1, 64 * 1024)).unwrap();
    h.post_send(a.qpn, write_wr(&a, &b, 2, 64 * 1024)).unwrap();
    h.ring_sq_doorbell(0, a.qpn);
    while pair.fabric.hca(0).stats().packets_sent == 0 {
        pair.step();
    }
    let h = pair.fabric.hca_mut(0);
    h.post_send(a.qpn, write_wr(&a, &b, 3, 64)).unwrap();
    let now = pair.now();
    pair.fabric.hca_mut(0).ring_sq_doorbell(now, a.qpn);
    sqd(&mut pair, &a, &b, true).unwrap();
    assert_eq!(state(&pair, &a), QpState::Sqd);
    assert_eq!(drained(&pair, &a), 0);
    let back = QpAttr { qp_state: QpState::Rts, ..attr() };
    assert_eq!(pair.fabric.hca_mut(0).modify_qp(now, a.qpn, &back, M::STATE), Err(ModifyError::Draining));
    // The two started writes complete; the third does not start.
    let c1 = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(drained(&pair, &a), 0, "not before the second write completes");
    let c2 = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c1.wr_id, c1.status, c2.wr_id, c2.status), (1, WcStatus::Success, 2, WcStatus::Success));
    let completed_at = pair.now();
    pair.run_to_idle();
    assert_eq!(drained(&pair, &a), 1);
    assert!(pair.fabric.hca(0).cq(a.send_cq).is_empty(), "the WQE posted after SQD waits");
    assert!(pair.now() >= completed_at);
    // SQD -> SQD changes attributes once drained; SQD -> RTS resumes.
    let at = QpAttr { qp_state: QpState::Sqd, timeout: 3, ..attr() };
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    h.modify_qp(now, a.qpn, &at, M::STATE | M::TIMEOUT).unwrap();
    assert_eq!(h.query_qp(a.qpn).unwrap().timeout, 3);
    h.modify_qp(now, a.qpn, &back, M::STATE).unwrap();
    let c3 = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c3.wr_id, c3.status), (3, WcStatus::Success));
    assert_eq!(drained(&pair, &a), 1);
}

#[test]
fn sqd_with_nothing_started_drains_at_once_and_only_notifies_when_asked() {
    let (mut pair, a, b) = connected();
    sqd(&mut pair, &a, &b, false).unwrap();
    pair.run_to_idle();
    assert_eq!(drained(&pair, &a), 0);
    let back = QpAttr { qp_state: QpState::Rts, ..attr() };
    let now = pair.now();
    pair.fabric.hca_mut(0).modify_qp(now, a.qpn, &back, M::STATE).unwrap();
    sqd(&mut pair, &a, &b, true).unwrap();
    pair.run_to_idle();
    assert_eq!(drained(&pair, &a), 1);
    // The responder keeps working in SQD.
    let now = pair.now();
    pair.post_recv(now, &a, 9, 100);
    pair.post_send(now, &b, 10, 100, true);
    assert_eq!(pair.wait_cqe(0, a.recv_cq).unwrap().status, WcStatus::Success);
}

/// To ERROR flushes every outstanding WQE, signaled or not; to RESET
/// clears the queues without a completion, and the QP connects again.
#[test]
fn error_flushes_and_reset_clears_without_completions() {
    let (mut pair, a, b) = connected();
    for id in 0..3 {
        pair.post_recv(0, &b, id, 100);
    }
    let h = pair.fabric.hca_mut(1);
    let err = QpAttr { qp_state: QpState::Error, ..attr() };
    h.modify_qp(0, b.qpn, &err, M::STATE).unwrap();
    pair.run_to_idle();
    assert_eq!(
        cqes(&mut pair, &b, b.recv_cq),
        vec![(0, WcStatus::WrFlushErr), (1, WcStatus::WrFlushErr), (2, WcStatus::WrFlushErr)]
    );
    // ERROR -> INIT is not in the table; ERROR -> RESET is.
    let now = pair.now();
    assert_eq!(modify(&mut pair, &b, &a, QpState::Init, INIT), Err(ModifyError::BadState));
    let reset = QpAttr { qp_state: QpState::Reset, ..attr() };
    pair.fabric.hca_mut(1).modify_qp(now, b.qpn, &reset, M::STATE).unwrap();
    // RESET from RTS with work queued: no completion at all.
    for id in 10..13 {
        pair.post_recv(now, &a, id, 100);
    }
    pair.post_write(now, &a, 20, 64 * 1024, b.buf, b.mr.rkey, true);
    pair.fabric.hca_mut(0).modify_qp(now, a.qpn, &reset, M::STATE).unwrap();
    pair.run_to_idle();
    assert!(pair.fabric.hca(0).cq(a.send_cq).is_empty() && pair.fabric.hca(0).cq(a.recv_cq).is_empty());
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    // Both connect again: the old receives are gone, new ones are used.
    walk(&mut pair, &a, &b, QpState::Rts);
    walk(&mut pair, &b, &a, QpState::Rts);
    let now = pair.now();
    pair.post_recv(now, &a, 30, 100);
    pair.post_send(now, &b, 31, 50, true);
    let r = pair.wait_cqe(0, a.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len), (30, WcStatus::Success, 50));
}

#[test]
fn the_qp_access_flags_gate_remote_operations() {
    let (mut pair, a, b) = pair_in_reset();
    walk(&mut pair, &a, &b, QpState::Rts);
    // B allows remote READ only.
    let only_read = QpAttr { qp_state: QpState::Init, qp_access_flags: Access::REMOTE_READ, ..attr() };
    pair.fabric.hca_mut(1).modify_qp(0, b.qpn, &only_read, INIT).unwrap();
    modify(&mut pair, &b, &a, QpState::Rtr, RTR).unwrap();
    pair.post_write(0, &a, 1, 100, b.buf, b.mr.rkey, true);
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.wr_id, s.status, s.opcode), (1, WcStatus::RemInvReqErr, WcOpcode::RdmaWrite));
    pair.run_to_idle();
    assert_eq!(state(&pair, &b), QpState::Error);
    assert!(pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::QpRequestError { qpn: b.qpn })));
}

/// A UD send that fails locally moves the QP to SQE: the rest of its send
/// queue flushes, its receives go on, and SQE -> RTS sends again.
#[test]
fn a_ud_send_error_is_sqe_receives_go_on_and_rts_resumes() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), 64 * 1024, 1);
    let qkey = 0x22;
    let a = pair.ud_endpoint(0, qkey, 4096, 64 * 1024);
    let b = pair.ud_endpoint(1, qkey, 4096, 64 * 1024);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    let ah_back = pair.fabric.hca_mut(1).create_ah(0);
    let op = SendOp::UdSend { ah, remote_qpn: b.qpn, remote_qkey: qkey };
    let bad = SendWr {
        wr_id: 1,
        op,
        sges: vec![Sge { addr: a.buf, len: 500, lkey: 0xdead }],
        inline_data: None,
        signaled: true,
        solicited: false,
    };
    let good = SendWr { wr_id: 2, sges: vec![Sge { addr: a.buf, len: 500, lkey: a.mr.lkey }], ..bad.clone() };
    let h = pair.fabric.hca_mut(0);
    h.post_send(a.qpn, bad).unwrap();
    h.post_send(a.qpn, good.clone()).unwrap();
    h.ring_sq_doorbell(0, a.qpn);
    pair.run_to_idle();
    assert_eq!(cqes(&mut pair, &a, a.send_cq), vec![(1, WcStatus::LocProtErr), (2, WcStatus::WrFlushErr)]);
    assert_eq!(state(&pair, &a), QpState::Sqe);
    // Receives still work in SQE.
    let now = pair.now();
    pair.post_recv(now, &a, 5, GRH_BYTES + 100);
    pair.post_ud_send(now, &b, 6, 100, ah_back, a.qpn, qkey);
    assert_eq!(pair.wait_cqe(0, a.recv_cq).unwrap().status, WcStatus::Success);
    // SQE -> RTS (QKEY optional) and the send goes through.
    let rts = QpAttr { qp_state: QpState::Rts, qkey, ..attr() };
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    h.modify_qp(now, a.qpn, &rts, M::STATE | M::QKEY).unwrap();
    h.post_send(a.qpn, SendWr { wr_id: 3, ..good }).unwrap();
    h.ring_sq_doorbell(now, a.qpn);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (3, WcStatus::Success));
}

/// RTS -> RTS changes what the responder allows at once.
#[test]
fn rts_to_rts_revokes_remote_write() {
    let (mut pair, a, b) = connected();
    pair.post_write(0, &a, 1, 64, b.buf, b.mr.rkey, true);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    let none = QpAttr { qp_state: QpState::Rts, qp_access_flags: Access::NONE, ..attr() };
    let now = pair.now();
    pair.fabric.hca_mut(1).modify_qp(now, b.qpn, &none, M::STATE | M::ACCESS_FLAGS).unwrap();
    pair.post_write(now, &a, 2, 64, b.buf, b.mr.rkey, true);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (2, WcStatus::RemInvReqErr));
}

/// SQD -> ERROR is allowed while draining: the started WQEs flush.
#[test]
fn sqd_to_error_while_draining_flushes_the_started_wqes() {
    let (mut pair, a, b) = connected();
    let h = pair.fabric.hca_mut(0);
    h.post_send(a.qpn, write_wr(&a, &b, 1, 128 * 1024)).unwrap();
    h.ring_sq_doorbell(0, a.qpn);
    while pair.fabric.hca(0).stats().packets_sent == 0 {
        pair.step();
    }
    sqd(&mut pair, &a, &b, true).unwrap();
    let err = QpAttr { qp_state: QpState::Error, ..attr() };
    let now = pair.now();
    pair.fabric.hca_mut(0).modify_qp(now, a.qpn, &err, M::STATE).unwrap();
    pair.run_to_idle();
    assert_eq!(cqes(&mut pair, &a, a.send_cq), vec![(1, WcStatus::WrFlushErr)]);
    assert_eq!(drained(&pair, &a), 0, "no SQ_DRAINED once in ERROR");
}

/// INIT -> ERROR flushes the receives posted in INIT; RTR -> ERROR too.
#[test]
fn init_and_rtr_to_error_flush_the_receives() {
    for from in [QpState::Init, QpState::Rtr] {
        let (mut pair, a, b) = pair_in_reset();
        walk(&mut pair, &a, &b, from);
        pair.post_recv(0, &a, 40, 64);
        let err = QpAttr { qp_state: QpState::Error, ..attr() };
        pair.fabric.hca_mut(0).modify_qp(0, a.qpn, &err, M::STATE).unwrap();
        pair.run_to_idle();
        assert_eq!(cqes(&mut pair, &a, a.recv_cq), vec![(40, WcStatus::WrFlushErr)], "{from:?}");
    }
}

/// CREATE_QP's queue sizes: granted rounded up to a power of two, refused
/// beyond the device's maxima; a full queue and too many entries refuse
/// the post, and completions make room again.
#[test]
fn queue_capacities_are_granted_checked_and_enforced() {
    use sim_hw::qp::{CreateError, QpCap, QpInit, QpType, RecvWr};
    let (mut pair, a, b) = connected();
    let h = pair.fabric.hca_mut(0);
    let cap = QpCap { max_send_wr: 3, max_recv_wr: 2, max_send_sge: 1, max_recv_sge: 1, max_inline_data: 16 };
    let init =
        QpInit { qp_type: QpType::Rc, pd: 1, send_cq: a.send_cq, recv_cq: a.recv_cq, srq: None, sig_all: false, cap };
    for bad in [
        QpCap { max_send_wr: 32769, ..cap },
        QpCap { max_recv_wr: 32769, ..cap },
        QpCap { max_send_sge: 31, ..cap },
        QpCap { max_recv_sge: 31, ..cap },
    ] {
        assert_eq!(h.create_qp_init(&QpInit { cap: bad, ..init }), Err(CreateError::InvalidAttr));
    }
    let qpn = h.create_qp_init(&init).unwrap();
    assert_eq!(h.query_qp_cap(qpn), Some(QpCap { max_send_wr: 4, ..cap }));
    let c = Endpoint { qpn, ..a };
    // Connect the new QP to a fresh one on HCA 1.
    let h1 = pair.fabric.hca_mut(1);
    let peer = h1.create_qp(1, b.send_cq, b.recv_cq, false);
    let d = Endpoint { qpn: peer, ..b };
    pair.connect(&c, &d, attr());
    let h = pair.fabric.hca_mut(0);
    let recv = |id| RecvWr { wr_id: id, sges: vec![Sge { addr: c.buf, len: 8, lkey: c.mr.lkey }] };
    let two = RecvWr { wr_id: 4, sges: vec![Sge { addr: c.buf, len: 8, lkey: c.mr.lkey }; 2] };
    assert_eq!(h.post_recv(0, qpn, two), Err(PostError::TooManySge));
    h.post_recv(0, qpn, recv(1)).unwrap();
    h.post_recv(0, qpn, recv(2)).unwrap();
    assert_eq!(h.post_recv(0, qpn, recv(3)), Err(PostError::QueueFull));
    let inline = SendWr { inline_data: Some(vec![0; 17]), sges: vec![], ..write_wr(&c, &d, 6, 17) };
    assert_eq!(h.post_send(qpn, inline), Err(PostError::InlineTooLong));
    for id in 0..4 {
        h.post_send(qpn, write_wr(&c, &d, id, 8)).unwrap();
    }
    assert_eq!(h.post_send(qpn, write_wr(&c, &d, 4, 8)), Err(PostError::QueueFull));
    let mut two_sges = write_wr(&c, &d, 5, 8);
    two_sges.sges.push(two_sges.sges[0]);
    assert_eq!(h.post_send(qpn, two_sges), Err(PostError::TooManySge));
    h.ring_sq_doorbell(0, qpn);
    pair.run_to_idle();
    assert_eq!(cqes(&mut pair, &c, c.send_cq).len(), 4);
    assert_eq!(pair.fabric.hca_mut(0).post_send(qpn, write_wr(&c, &d, 7, 8)), Ok(()), "room again");
    // A destroyed CQ cannot be used.
    let h = pair.fabric.hca_mut(0);
    let cq = h.create_cq(4);
    assert!(h.destroy_cq(cq));
    assert_eq!(h.create_qp_init(&QpInit { send_cq: cq, ..init }), Err(CreateError::BadCq));
}
