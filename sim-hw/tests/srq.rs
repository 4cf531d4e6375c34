//! Shared receive queues: WQEs consumed in order by every QP created with
//! the SRQ, the one-shot limit event, LAST_WQE_REACHED, RNR on an empty
//! SRQ, and the post and modify checks.

use sim_hw::cq::WcStatus;
use sim_hw::harness::{Endpoint, HcaPair, MEM_BASE};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::modify_qp::QpAttrMask as M;
use sim_hw::mr::Access;
use sim_hw::qp::{PostError, QpAttr, QpCap, QpInit, QpState, QpType, RecvWr, Sge};
use sim_hw::srq::{SrqAttr, SrqAttrMask, SrqError};
use sim_hw::Profile;

const BUF: u64 = 64 * 1024;

/// `n` connected QP pairs from HCA 0 to HCA 1; HCA 1's QPs take their
/// receives from one SRQ of `max_wr` WQEs. Returns the SRQ too.
fn setup(n: usize, max_wr: u32) -> (HcaPair, Vec<(Endpoint, Endpoint)>, u32) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 5);
    let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let mr0 = pair.fabric.hca_mut(0).reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let h1 = pair.fabric.hca_mut(1);
    let mr1 = h1.reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let srq = h1.create_srq(1, max_wr, 2).unwrap();
    let mut eps = Vec::new();
    for _ in 0..n {
        let h0 = pair.fabric.hca_mut(0);
        let (s0, r0) = (h0.create_cq(64), h0.create_cq(64));
        let a = pair.endpoint(0, s0, r0, MEM_BASE, BUF, mr0);
        let h1 = pair.fabric.hca_mut(1);
        let (s1, r1) = (h1.create_cq(64), h1.create_cq(64));
        let init = QpInit {
            qp_type: QpType::Rc,
            pd: 1,
            send_cq: s1,
            recv_cq: r1,
            srq: Some(srq),
            sig_all: false,
            cap: QpCap::default(),
        };
        let qpn = h1.create_qp_init(&init).unwrap();
        let b = Endpoint { hca: 1, qpn, send_cq: s1, recv_cq: r1, buf: MEM_BASE, buf_len: BUF, mr: mr1 };
        pair.connect(&a, &b, QpAttr { timeout: 1, ..QpAttr::default() });
        eps.push((a, b));
    }
    (pair, eps, srq)
}

fn srq_recv(pair: &mut HcaPair, srq: u32, lkey: u32, wr_id: u64, off: u64) -> Result<(), PostError> {
    let now = pair.now();
    let wr = RecvWr { wr_id, sges: vec![Sge { addr: MEM_BASE + off, len: 1000, lkey }] };
    pair.fabric.hca_mut(1).post_srq_recv(now, srq, wr)
}

fn limit_events(pair: &HcaPair, srq: u32) -> usize {
    pair.hosts[1].irqs.iter().filter(|&&i| i == Interrupt::Async(AsyncEvent::SrqLimitReached { srq })).count()
}

#[test]
fn qps_share_the_srq_in_posting_order() {
    let (mut pair, eps, srq) = setup(2, 16);
    let lk = eps[0].1.mr.lkey;
    for id in 0..3 {
        srq_recv(&mut pair, srq, lk, id, id * 1000).unwrap();
    }
    let (a1, b1) = eps[0];
    let (a2, b2) = eps[1];
    assert_eq!(pair.fabric.hca_mut(1).post_recv(0, b1.qpn, RecvWr { wr_id: 9, sges: vec![] }), Err(PostError::HasSrq));
    for (k, a) in [a1, a2, a1].iter().enumerate() {
        let now = pair.now();
        pair.post_send(now, a, k as u64, 100 + k, true);
        pair.wait_cqe(0, a.send_cq).unwrap();
    }
    let r: Vec<_> = [b1.recv_cq, b2.recv_cq, b1.recv_cq]
        .iter()
        .map(|&cq| pair.wait_cqe(1, cq).unwrap())
        .map(|c| (c.wr_id, c.status, c.byte_len, c.qpn))
        .collect();
    assert_eq!(
        r,
        vec![
            (0, WcStatus::Success, 100, b1.qpn),
            (1, WcStatus::Success, 101, b2.qpn),
            (2, WcStatus::Success, 102, b1.qpn)
        ]
    );
    assert_eq!(pair.fabric.hca(1).srq_len(srq), Some(0));
}

#[test]
fn the_limit_fires_once_below_it_and_must_be_rearmed() {
    let (mut pair, eps, srq) = setup(1, 8);
    let lk = eps[0].1.mr.lkey;
    let (a, _) = eps[0];
    let h = pair.fabric.hca_mut(1);
    assert_eq!(h.query_srq(srq), Some(SrqAttr { max_wr: 15, max_sge: 2, srq_limit: 0 }));
    let arm = |limit| SrqAttr { srq_limit: limit, ..SrqAttr::default() };
    assert_eq!(h.modify_srq(srq, &arm(16), SrqAttrMask::LIMIT), Err(SrqError::InvalidAttr));
    assert_eq!(h.modify_srq(srq, &arm(2), SrqAttrMask::MAX_WR), Err(SrqError::Unsupported));
    h.modify_srq(srq, &arm(2), SrqAttrMask::LIMIT).unwrap();
    assert_eq!(h.query_srq(srq).unwrap().srq_limit, 2);
    for id in 0..4 {
        srq_recv(&mut pair, srq, lk, id, 0).unwrap();
    }
    let mut seen = Vec::new();
    for k in 0..4 {
        let now = pair.now();
        pair.post_send(now, &a, k, 10, true);
        pair.wait_cqe(0, a.send_cq).unwrap();
        pair.run_to_idle();
        seen.push(limit_events(&pair, srq));
    }
    // 3 left, 2 left (not below 2), 1 left: the event; 0 left: disarmed.
    assert_eq!(seen, vec![0, 0, 1, 1]);
    assert_eq!(pair.fabric.hca(1).query_srq(srq).unwrap().srq_limit, 0);
    // Re-armed, it fires again.
    pair.fabric.hca_mut(1).modify_srq(srq, &arm(1), SrqAttrMask::LIMIT).unwrap();
    srq_recv(&mut pair, srq, lk, 10, 0).unwrap();
    let now = pair.now();
    pair.post_send(now, &a, 10, 10, true);
    pair.wait_cqe(0, a.send_cq).unwrap();
    pair.run_to_idle();
    assert_eq!(limit_events(&pair, srq), 2);
}

#[test]
fn an_srq_qp_in_error_raises_last_wqe_reached_and_leaves_the_srq_alone() {
    let (mut pair, eps, srq) = setup(2, 16);
    let lk = eps[0].1.mr.lkey;
    let ((_, b1), (a2, b2)) = (eps[0], eps[1]);
    for id in 0..2 {
        srq_recv(&mut pair, srq, lk, id, 0).unwrap();
    }
    let err = QpAttr { qp_state: QpState::Error, ..QpAttr::default() };
    let now = pair.now();
    pair.fabric.hca_mut(1).modify_qp(now, b1.qpn, &err, M::STATE).unwrap();
    pair.run_to_idle();
    assert!(pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::QpLastWqeReached { qpn: b1.qpn })));
    assert!(pair.fabric.hca(1).cq(b1.recv_cq).is_empty(), "the SRQ's WQEs are not flushed");
    assert_eq!(pair.fabric.hca(1).srq_len(srq), Some(2));
    // The other QP still takes them.
    let now = pair.now();
    pair.post_send(now, &a2, 1, 10, true);
    assert_eq!(pair.wait_cqe(1, b2.recv_cq).unwrap().wr_id, 0);
    // A QP without an SRQ raises no such event.
    let (c, d) = pair.connect_rc(QpAttr::default(), 4096, Access::LOCAL_WRITE);
    let now = pair.now();
    pair.fabric.hca_mut(1).modify_qp(now, d.qpn, &err, M::STATE).unwrap();
    pair.run_to_idle();
    let last = |q| Interrupt::Async(AsyncEvent::QpLastWqeReached { qpn: q });
    assert!(!pair.hosts[1].irqs.contains(&last(d.qpn)) && !pair.hosts[0].irqs.contains(&last(c.qpn)));
}

#[test]
fn an_empty_srq_is_an_rnr_nak_and_a_later_post_is_taken_by_the_retry() {
    let (mut pair, eps, srq) = setup(1, 16);
    let lk = eps[0].1.mr.lkey;
    let (a, b) = eps[0];
    pair.post_send(0, &a, 1, 100, true);
    pair.run_until(20_000_000); // 20 us
    assert_eq!(pair.fabric.hca(0).stats().rnr_naks_received, 1);
    srq_recv(&mut pair, srq, lk, 7, 0).unwrap();
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len), (7, WcStatus::Success, 100));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
}

#[test]
fn posts_beyond_max_sge_or_max_wr_are_refused() {
    let (mut pair, _, srq) = setup(1, 1);
    let h = pair.fabric.hca_mut(1);
    assert_eq!(h.query_srq(srq).unwrap().max_wr, 1);
    let sge = Sge { addr: MEM_BASE, len: 8, lkey: 0 };
    assert_eq!(h.post_srq_recv(0, srq, RecvWr { wr_id: 1, sges: vec![sge; 3] }), Err(PostError::TooManySge));
    h.post_srq_recv(0, srq, RecvWr { wr_id: 1, sges: vec![sge] }).unwrap();
    assert_eq!(h.post_srq_recv(0, srq, RecvWr { wr_id: 2, sges: vec![sge] }), Err(PostError::QueueFull));
    assert_eq!(h.create_srq(1, 32768, 1), Err(sim_hw::qp::CreateError::InvalidAttr));
    h.destroy_srq(srq).unwrap();
    assert_eq!(h.destroy_srq(srq), Err(SrqError::BadSrq));
    assert_eq!(h.query_srq(srq), None);
}

#[test]
fn a_ud_qp_takes_its_receives_from_its_srq() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 5);
    let qkey = 0x77;
    let a = pair.ud_endpoint(0, qkey, 4096, BUF);
    let h1 = pair.fabric.hca_mut(1);
    let mr = h1.reg_mr(1, MEM_BASE, BUF, MEM_BASE, Access::LOCAL_WRITE);
    let srq = h1.create_srq(1, 4, 1).unwrap();
    let (s1, r1) = (h1.create_cq(8), h1.create_cq(8));
    let init = QpInit {
        qp_type: QpType::Ud,
        pd: 1,
        send_cq: s1,
        recv_cq: r1,
        srq: Some(srq),
        sig_all: false,
        cap: QpCap::default(),
    };
    let qpn = h1.create_qp_init(&init).unwrap();
    h1.connect(qpn, QpAttr { qkey, ..QpAttr::default() }).unwrap();
    let wr = RecvWr { wr_id: 3, sges: vec![Sge { addr: MEM_BASE, len: 1000, lkey: mr.lkey }] };
    h1.post_srq_recv(0, srq, wr).unwrap();
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.post_ud_send(0, &a, 1, 200, ah, qpn, qkey);
    let r = pair.wait_cqe(1, r1).unwrap();
    assert_eq!((r.wr_id, r.status, r.qpn, r.src_qp), (3, WcStatus::Success, qpn, a.qpn));
    assert_eq!(pair.fabric.hca(1).srq_len(srq), Some(0));
}
