//! Unreliable connection: SEND and RDMA WRITE (with immediate) with no
//! acknowledge and no retry. A sender's WQE completes once its last packet
//! has left; a message with a lost packet is dropped at the responder and
//! its receive WQE used for the next message; a message the responder
//! refuses (no receive, a bad rkey) is dropped without an error.

use std::cell::Cell;
use std::rc::Rc;

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair, MEM_BASE};
use sim_hw::mr::Access;
use sim_hw::packet::Opcode;
use sim_hw::qp::{PostError, QpAttr, QpCap, QpInit, QpState, QpType, SendOp, SendWr, Sge};
use sim_hw::Profile;

const BUF: u64 = 64 * 1024;

/// A UC pair, path MTU 1024, A's buffer filled with a pattern.
fn uc_pair() -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 8);
    let mut eps = Vec::new();
    for hca in 0..2 {
        let h = pair.fabric.hca_mut(hca);
        let (scq, rcq) = (h.create_cq(64), h.create_cq(64));
        let mr = h.reg_mr(1, MEM_BASE, BUF, MEM_BASE, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        let init = QpInit {
            qp_type: QpType::Uc,
            pd: 1,
            send_cq: scq,
            recv_cq: rcq,
            srq: None,
            sig_all: false,
            cap: QpCap::default(),
        };
        let qpn = h.create_qp_init(&init).unwrap();
        eps.push(Endpoint { hca, qpn, send_cq: scq, recv_cq: rcq, buf: MEM_BASE, buf_len: BUF, mr });
    }
    pair.connect(&eps[0], &eps[1], QpAttr { path_mtu: 1024, ..QpAttr::default() });
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 5 + 3) as u8).collect();
    pair.hosts[0].mem.store(MEM_BASE, &pattern);
    (pair, eps[0], eps[1])
}

fn post(pair: &mut HcaPair, a: &Endpoint, wr_id: u64, op: SendOp, off: u64, len: u32) {
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    let sges = vec![Sge { addr: a.buf + off, len, lkey: a.mr.lkey }];
    let wr = SendWr { wr_id, op, sges, inline_data: None, signaled: true, solicited: false };
    h.post_send(a.qpn, wr).unwrap();
    h.ring_sq_doorbell(now, a.qpn);
}

#[test]
fn sends_and_writes_arrive_with_no_acknowledge() {
    let (mut pair, a, b) = uc_pair();
    pair.post_recv(0, &b, 1, 5000);
    pair.post_recv(0, &b, 2, 0);
    post(&mut pair, &a, 10, SendOp::Send, 0, 3000);
    post(
        &mut pair,
        &a,
        11,
        SendOp::RdmaWriteWithImm { remote_addr: b.buf + 8192, rkey: b.mr.rkey, imm: 7 },
        4096,
        2500,
    );
    let s: Vec<_> =
        (0..2).map(|_| pair.wait_cqe(0, a.send_cq).unwrap()).map(|c| (c.wr_id, c.status, c.opcode)).collect();
    assert_eq!(s, vec![(10, WcStatus::Success, WcOpcode::Send), (11, WcStatus::Success, WcOpcode::RdmaWrite)]);
    let r1 = pair.wait_cqe(1, b.recv_cq).unwrap();
    let r2 = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r1.wr_id, r1.byte_len, r1.opcode), (1, 3000, WcOpcode::Recv));
    assert_eq!((r2.wr_id, r2.byte_len, r2.opcode, r2.imm), (2, 2500, WcOpcode::RecvRdmaWithImm, Some(7)));
    pair.run_to_idle();
    let m = &pair.hosts;
    assert_eq!(m[1].mem.slice(b.buf, 3000), m[0].mem.slice(a.buf, 3000));
    assert_eq!(m[1].mem.slice(b.buf + 8192, 2500), m[0].mem.slice(a.buf + 4096, 2500));
    assert_eq!(pair.fabric.hca(1).stats().packets_sent, 0, "the responder sends nothing back");
}

/// The middle packet of a three-packet SEND is lost: that message is
/// dropped, its receive WQE takes the next message; the sender saw both
/// complete and retransmitted nothing.
#[test]
fn a_message_with_a_lost_packet_is_dropped_and_its_receive_used_again() {
    let (mut pair, a, b) = uc_pair();
    let seen = Rc::new(Cell::new(0));
    let s = seen.clone();
    pair.fabric.links[0].drop_filter = Some(Box::new(move |p| {
        if p.opcode == Opcode::SendMiddle {
            s.set(s.get() + 1);
            return s.get() == 1;
        }
        false
    }));
    pair.post_recv(0, &b, 1, 4096);
    pair.post_recv(0, &b, 2, 4096);
    post(&mut pair, &a, 10, SendOp::Send, 0, 3000);
    post(&mut pair, &a, 11, SendOp::Send, 100, 1500);
    for id in [10, 11] {
        let c = pair.wait_cqe(0, a.send_cq).unwrap();
        assert_eq!((c.wr_id, c.status), (id, WcStatus::Success));
    }
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len), (1, WcStatus::Success, 1500));
    pair.run_to_idle();
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 1500), pair.hosts[0].mem.slice(a.buf + 100, 1500));
    assert!(pair.fabric.hca(1).stats().dropped_uc >= 1);
    assert_eq!(pair.fabric.hca(0).stats().retransmitted_packets, 0);
}

/// No receive WQE, or a bad rkey: the message is dropped, no RNR, no
/// error; the QP stays in RTS and the next message arrives.
#[test]
fn a_refused_message_is_dropped_silently() {
    let (mut pair, a, b) = uc_pair();
    post(&mut pair, &a, 1, SendOp::Send, 0, 100);
    post(&mut pair, &a, 2, SendOp::RdmaWrite { remote_addr: b.buf, rkey: b.mr.rkey ^ 0x55 }, 0, 100);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(0).stats().rnr_naks_received, 0);
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Rts));
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    assert_eq!(pair.fabric.hca(1).stats().dropped_uc, 2);
    let now = pair.now();
    pair.post_recv(now, &b, 3, 100);
    post(&mut pair, &a, 4, SendOp::Send, 0, 60);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.byte_len), (3, 60));
}

#[test]
fn uc_has_no_read_atomics_or_send_with_invalidate() {
    let (mut pair, a, b) = uc_pair();
    let h = pair.fabric.hca_mut(0);
    let sges = vec![Sge { addr: a.buf, len: 8, lkey: a.mr.lkey }];
    for op in [
        SendOp::RdmaRead { remote_addr: b.buf, rkey: b.mr.rkey },
        SendOp::AtomicFetchAdd { remote_addr: b.buf, rkey: b.mr.rkey, add: 1 },
        SendOp::SendWithInv { rkey: 1 },
    ] {
        let wr = SendWr { wr_id: 0, op, sges: sges.clone(), inline_data: None, signaled: true, solicited: false };
        assert_eq!(h.post_send(a.qpn, wr), Err(PostError::WrongTransport), "{op:?}");
    }
}

/// A local error on a UC send moves the QP to SQE (IBTA 10.3.1.2), not
/// ERROR: the rest of the send queue flushes, receives go on.
#[test]
fn a_uc_send_error_is_sqe() {
    let (mut pair, a, b) = uc_pair();
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    let bad = SendWr {
        wr_id: 1,
        op: SendOp::Send,
        sges: vec![Sge { addr: a.buf, len: 8, lkey: 0xbad }],
        inline_data: None,
        signaled: true,
        solicited: false,
    };
    h.post_send(a.qpn, bad).unwrap();
    h.ring_sq_doorbell(now, a.qpn);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(c.status, WcStatus::LocProtErr);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Sqe));
    // Receives still work on A.
    let now = pair.now();
    pair.post_recv(now, &a, 5, 64);
    let h = pair.fabric.hca_mut(1);
    let wr = SendWr {
        wr_id: 6,
        op: SendOp::Send,
        sges: vec![Sge { addr: b.buf, len: 32, lkey: b.mr.lkey }],
        inline_data: None,
        signaled: true,
        solicited: false,
    };
    h.post_send(b.qpn, wr).unwrap();
    h.ring_sq_doorbell(now, b.qpn);
    assert_eq!(pair.wait_cqe(0, a.recv_cq).unwrap().status, WcStatus::Success);
}
