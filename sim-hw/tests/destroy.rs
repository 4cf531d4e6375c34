//! Destroys quiesce: once destroy_qp / destroy_cq / destroy_srq returns,
//! no CQE of the object is polled and no event for it is delivered, even
//! those already on their way.

use sim_hw::cq::WcStatus;
use sim_hw::harness::{Endpoint, HcaPair, MEM_BASE};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::modify_qp::QpAttrMask as M;
use sim_hw::mr::Access;
use sim_hw::qp::{ModifyError, PostError, QpAttr, QpCap, QpInit, QpState, QpType, RecvWr, Sge};
use sim_hw::srq::{SrqAttr, SrqAttrMask};
use sim_hw::Profile;

const BUF: u64 = 64 * 1024;

fn attr() -> QpAttr {
    QpAttr { timeout: 1, ..QpAttr::default() }
}

/// Two connected pairs whose HCA 1 QPs share one receive CQ.
fn shared_cq() -> (HcaPair, [(Endpoint, Endpoint); 2]) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 2);
    let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let mr0 = pair.fabric.hca_mut(0).reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let h1 = pair.fabric.hca_mut(1);
    let mr1 = h1.reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let (s1, r1) = (h1.create_cq(64), h1.create_cq(64));
    let mut eps = Vec::new();
    for _ in 0..2 {
        let h0 = pair.fabric.hca_mut(0);
        let (s0, r0) = (h0.create_cq(64), h0.create_cq(64));
        let a = pair.endpoint(0, s0, r0, MEM_BASE, BUF, mr0);
        let init = QpInit {
            qp_type: QpType::Rc,
            pd: 1,
            send_cq: s1,
            recv_cq: r1,
            srq: None,
            sig_all: false,
            cap: QpCap::default(),
        };
        let qpn = pair.fabric.hca_mut(1).create_qp_init(&init).unwrap();
        let b = Endpoint { hca: 1, qpn, send_cq: s1, recv_cq: r1, buf: MEM_BASE, buf_len: BUF, mr: mr1 };
        pair.connect(&a, &b, attr());
        eps.push((a, b));
    }
    (pair, [eps[0], eps[1]])
}

#[test]
fn a_destroyed_qps_cqes_are_gone_from_its_cq_and_in_flight_ones_never_land() {
    let (mut pair, [(a1, b1), (a2, b2)]) = shared_cq();
    // One completed receive of each QP is waiting in the shared CQ.
    for (id, (a, b)) in [(1u64, (a1, b1)), (2, (a2, b2))] {
        pair.post_recv(pair.now(), &b, id, 100);
        let now = pair.now();
        pair.post_send(now, &a, id, 10, true);
        pair.wait_cqe(0, a.send_cq).unwrap();
    }
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(1).cq(b1.recv_cq).len(), 2);
    // b1 gets more receives, goes to ERROR (their flush CQEs are on their
    // way) and is destroyed at the same instant.
    let now = pair.now();
    for id in 10..13 {
        pair.post_recv(now, &b1, id, 100);
    }
    pair.fabric.hca_mut(1).modify_qp_error(now, b1.qpn);
    pair.fabric.hca_mut(1).destroy_qp(now, b1.qpn).unwrap();
    pair.run_to_idle();
    let left: Vec<_> = pair.fabric.hca_mut(1).poll_cq(b1.recv_cq, 10).iter().map(|c| (c.wr_id, c.qpn)).collect();
    assert_eq!(left, vec![(2, b2.qpn)]);
    // Gone for the driver interface too; packets for it are dropped.
    let h = pair.fabric.hca_mut(1);
    assert_eq!(h.qp_state(b1.qpn), None);
    assert_eq!(h.destroy_qp(now, b1.qpn), Err(ModifyError::BadQp));
    assert_eq!(h.post_recv(now, b1.qpn, RecvWr { wr_id: 0, sges: vec![] }), Err(PostError::BadQp));
    let q = QpAttr { qp_state: QpState::Init, ..attr() };
    assert_eq!(h.modify_qp(now, b1.qpn, &q, M::STATE), Err(ModifyError::BadQp));
    let dropped = pair.fabric.hca(1).stats().dropped_bad_qp;
    pair.post_send(now, &a1, 5, 10, true);
    let s = pair.wait_cqe(0, a1.send_cq).unwrap();
    assert_eq!(s.status, WcStatus::RetryExcErr);
    assert!(pair.fabric.hca(1).stats().dropped_bad_qp > dropped);
}

#[test]
fn a_destroyed_qps_async_event_in_flight_is_not_delivered() {
    let (mut pair, [(_, b1), _]) = shared_cq();
    // SQD with nothing started raises SQ_DRAINED at once; its MSI-X write
    // is still on its way when the QP is destroyed.
    let now = pair.now();
    let sqd = QpAttr { qp_state: QpState::Sqd, en_sqd_async_notify: true, ..attr() };
    let h = pair.fabric.hca_mut(1);
    h.modify_qp(now, b1.qpn, &sqd, M::STATE | M::EN_SQD_ASYNC_NOTIFY).unwrap();
    h.destroy_qp(now, b1.qpn).unwrap();
    pair.run_to_idle();
    assert!(!pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::SqDrained { qpn: b1.qpn })));
    // The same without the destroy is delivered.
    let (mut pair, [(_, b1), _]) = shared_cq();
    let now = pair.now();
    pair.fabric.hca_mut(1).modify_qp(now, b1.qpn, &sqd, M::STATE | M::EN_SQD_ASYNC_NOTIFY).unwrap();
    pair.run_to_idle();
    assert!(pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::SqDrained { qpn: b1.qpn })));
}

#[test]
fn a_destroyed_cq_takes_no_cqe_and_raises_no_completion_event() {
    let (mut pair, [(_, b1), _]) = shared_cq();
    let now = pair.now();
    pair.post_recv(now, &b1, 1, 100);
    let h = pair.fabric.hca_mut(1);
    h.req_notify_cq(b1.recv_cq);
    h.modify_qp_error(now, b1.qpn);
    assert!(h.destroy_cq(b1.recv_cq));
    assert!(!h.destroy_cq(b1.recv_cq));
    pair.run_to_idle();
    assert!(pair.fabric.hca(1).cq(b1.recv_cq).is_empty());
    assert!(!pair.hosts[1].irqs.contains(&Interrupt::Completion { cq: b1.recv_cq }));
}

#[test]
fn a_destroyed_srqs_limit_event_in_flight_is_not_delivered() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 2);
    let access = Access::LOCAL_WRITE;
    let mr0 = pair.fabric.hca_mut(0).reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let h1 = pair.fabric.hca_mut(1);
    let mr1 = h1.reg_mr(1, MEM_BASE, BUF, MEM_BASE, access);
    let srq = h1.create_srq(1, 4, 1).unwrap();
    let (s1, r1) = (h1.create_cq(8), h1.create_cq(8));
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
    h1.modify_srq(srq, &SrqAttr { srq_limit: 1, ..SrqAttr::default() }, SrqAttrMask::LIMIT).unwrap();
    h1.post_srq_recv(0, srq, RecvWr { wr_id: 1, sges: vec![Sge { addr: MEM_BASE, len: 64, lkey: mr1.lkey }] }).unwrap();
    let h0 = pair.fabric.hca_mut(0);
    let (s0, r0) = (h0.create_cq(8), h0.create_cq(8));
    let a = pair.endpoint(0, s0, r0, MEM_BASE, BUF, mr0);
    let b = Endpoint { hca: 1, qpn, send_cq: s1, recv_cq: r1, buf: MEM_BASE, buf_len: BUF, mr: mr1 };
    pair.connect(&a, &b, attr());
    pair.post_send(0, &a, 1, 10, true);
    // Step until the responder took the WQE: the limit event's MSI-X write
    // was issued then and has not landed yet.
    while pair.fabric.hca(1).srq_len(srq) == Some(1) {
        pair.step();
    }
    let ev = Interrupt::Async(AsyncEvent::SrqLimitReached { srq });
    assert!(!pair.hosts[1].irqs.contains(&ev), "the event is still in flight");
    pair.fabric.hca_mut(1).destroy_srq(srq).unwrap();
    pair.run_to_idle();
    assert!(!pair.hosts[1].irqs.contains(&ev));
}
