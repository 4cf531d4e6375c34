//! SEND and RDMA WRITE with immediate data: the ImmDt on the last packet,
//! reported in the receive's CQE; a WRITE with immediate consumes a
//! receive WQE (RNR when there is none) and scatters nothing into it.

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::mr::Access;
use sim_hw::qp::{QpAttr, SendOp, SendWr, Sge};
use sim_hw::Profile;

const BUF: u64 = 64 * 1024;
const IMM: u32 = 0xdead_beef;

fn pair() -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 4);
    let attr = QpAttr { path_mtu: 1024, timeout: 1, min_rnr_timer: 1, ..QpAttr::default() };
    let (a, b) = pair.connect_rc(attr, BUF, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 3 + 11) as u8).collect();
    pair.hosts[0].mem.store(a.buf, &pattern);
    (pair, a, b)
}

fn post(pair: &mut HcaPair, a: &Endpoint, op: SendOp, len: u32) {
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    let sges = vec![Sge { addr: a.buf, len, lkey: a.mr.lkey }];
    h.post_send(a.qpn, SendWr { wr_id: 1, op, sges, inline_data: None, signaled: true, solicited: false }).unwrap();
    h.ring_sq_doorbell(now, a.qpn);
}

#[test]
fn send_with_immediate_reports_the_data_in_the_receive() {
    let (mut pair, a, b) = pair();
    pair.post_recv(0, &b, 7, 4000);
    post(&mut pair, &a, SendOp::SendWithImm { imm: IMM }, 3000);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!(
        (r.wr_id, r.status, r.opcode, r.byte_len, r.imm),
        (7, WcStatus::Success, WcOpcode::Recv, 3000, Some(IMM))
    );
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.status, s.opcode, s.imm), (WcStatus::Success, WcOpcode::Send, None));
    pair.run_to_idle();
    let sent = pair.hosts[0].mem.slice(a.buf, 3000).to_vec();
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 3000), &sent[..]);
}

#[test]
fn write_with_immediate_consumes_a_receive_and_scatters_nothing_into_it() {
    let (mut pair, a, b) = pair();
    // The receive names the first 100 bytes; the WRITE lands after them.
    pair.post_recv(0, &b, 8, 100);
    let before = pair.hosts[1].mem.slice(b.buf, 100).to_vec();
    post(&mut pair, &a, SendOp::RdmaWriteWithImm { remote_addr: b.buf + 100, rkey: b.mr.rkey, imm: IMM }, 10_000);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!(
        (r.wr_id, r.status, r.opcode, r.byte_len, r.imm),
        (8, WcStatus::Success, WcOpcode::RecvRdmaWithImm, 10_000, Some(IMM))
    );
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.status, s.opcode), (WcStatus::Success, WcOpcode::RdmaWrite));
    pair.run_to_idle();
    let sent = pair.hosts[0].mem.slice(a.buf, 10_000).to_vec();
    assert_eq!(pair.hosts[1].mem.slice(b.buf + 100, 10_000), &sent[..]);
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 100), &before[..]);
}

/// Without a receive, the last packet of a WRITE with immediate draws an
/// RNR NAK; the retry after a receive is posted completes it.
#[test]
fn write_with_immediate_without_a_receive_is_rnr_nakked_then_retried() {
    let (mut pair, a, b) = pair();
    post(&mut pair, &a, SendOp::RdmaWriteWithImm { remote_addr: b.buf, rkey: b.mr.rkey, imm: 5 }, 5000);
    pair.run_until(30_000_000); // 30 us
    assert!(pair.fabric.hca(0).stats().rnr_naks_received >= 1);
    assert!(pair.fabric.hca(0).cq(a.send_cq).is_empty());
    let now = pair.now();
    pair.post_recv(now, &b, 9, 0);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.opcode, r.byte_len, r.imm), (9, WcOpcode::RecvRdmaWithImm, 5000, Some(5)));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    pair.run_to_idle();
    let sent = pair.hosts[0].mem.slice(a.buf, 5000).to_vec();
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 5000), &sent[..]);
}
