//! UD: datagrams through address handles, with no ACK and no
//! retransmission, bounded by the MTU and filtered by Q_Key.

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Cluster, Endpoint, HcaPair};
use sim_hw::packet::GRH_BYTES;
use sim_hw::qp::{PostError, SendOp, SendWr};
use sim_hw::Profile;

const MEM: usize = 64 * 1024;
const QKEY: u32 = 0x1111_0001;

fn setup(c: &mut Cluster, hcas: &[usize]) -> Vec<Endpoint> {
    for (i, h) in c.hosts.iter_mut().enumerate() {
        let pattern: Vec<u8> = (0..MEM).map(|k| (k * 3 + i * 17 + 1) as u8).collect();
        h.mem.store(h.mem.base, &pattern);
    }
    hcas.iter().map(|&h| c.ud_endpoint(h, QKEY, 4096, MEM as u64)).collect()
}

#[test]
fn a_datagram_lands_behind_the_grh_room_and_names_its_sender() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let e = setup(&mut pair, &[0, 1]);
    let (a, b) = (e[0], e[1]);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.post_recv(0, &b, 5, GRH_BYTES + 2000);
    pair.post_ud_send(0, &a, 9, 2000, ah, b.qpn, QKEY);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.opcode), (5, WcStatus::Success, WcOpcode::Recv));
    assert_eq!((r.byte_len, r.src_qp, r.slid), ((GRH_BYTES + 2000) as u32, a.qpn, 0));
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.wr_id, s.status, s.opcode, s.byte_len), (9, WcStatus::Success, WcOpcode::Send, 2000));
    pair.run_to_idle();
    let sent = pair.hosts[0].mem.slice(a.buf, 2000).to_vec();
    assert_eq!(pair.hosts[1].mem.slice(b.buf + GRH_BYTES as u64, 2000), &sent[..]);
    // No acknowledge: the receiver sends nothing.
    assert_eq!(pair.fabric.hca(1).stats().packets_sent, 0);
}

#[test]
fn one_qp_reaches_several_hcas_through_their_address_handles() {
    let mut c = Cluster::switched(Profile::cx4_edr(), 3, MEM, 1);
    let e = setup(&mut c, &[0, 1, 2]);
    for (k, dst) in [(0u64, 1usize), (1, 2)] {
        let ah = c.fabric.hca_mut(0).create_ah(dst as u16);
        c.post_recv(0, &e[dst], k, 4096);
        c.post_ud_send(0, &e[0], k, 100, ah, e[dst].qpn, QKEY);
    }
    for dst in [1, 2] {
        let r = c.wait_cqe(dst, e[dst].recv_cq).unwrap();
        assert_eq!((r.status, r.byte_len, r.src_qp), (WcStatus::Success, GRH_BYTES as u32 + 100, e[0].qpn));
        assert_eq!(c.fabric.hca(dst).stats().packets_received, 1);
    }
}

#[test]
fn a_wrong_q_key_or_no_receive_wqe_drops_the_datagram_silently() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let e = setup(&mut pair, &[0, 1]);
    let (a, b) = (e[0], e[1]);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.post_recv(0, &b, 1, 4096);
    pair.post_ud_send(0, &a, 1, 64, ah, b.qpn, QKEY + 1);
    pair.run_to_idle();
    // The wrong Q_Key left the receive WQE in place: a good datagram takes
    // it, and the next one finds none.
    pair.post_ud_send(pair.now(), &a, 2, 64, ah, b.qpn, QKEY);
    pair.run_to_idle();
    pair.post_ud_send(pair.now(), &a, 3, 64, ah, b.qpn, QKEY);
    pair.run_to_idle();
    let recvs = pair.fabric.hca_mut(1).poll_cq(b.recv_cq, 8);
    assert_eq!(recvs.len(), 1, "only the good datagram with a receive WQE");
    let st = pair.fabric.hca(1).stats();
    assert_eq!((st.dropped_qkey, st.dropped_no_recv, st.packets_sent), (1, 1, 0));
    // The sender never knows: all three complete successfully, once each.
    let sends = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 8);
    assert!(sends.len() == 3 && sends.iter().all(|c| c.status == WcStatus::Success));
    assert_eq!(pair.fabric.hca(0).stats().retransmitted_packets, 0);
}

#[test]
fn a_datagram_longer_than_the_mtu_is_never_sent_but_completes() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let _ = setup(&mut pair, &[]);
    let a = pair.ud_endpoint(0, QKEY, 1024, MEM as u64);
    let b = pair.ud_endpoint(1, QKEY, 1024, MEM as u64);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.post_recv(0, &b, 1, 8192);
    pair.post_ud_send(0, &a, 1, 1025, ah, b.qpn, QKEY);
    pair.post_ud_send(0, &a, 2, 1024, ah, b.qpn, QKEY);
    pair.run_to_idle();
    let sends = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 8);
    assert_eq!(
        sends.iter().map(|c| (c.wr_id, c.status)).collect::<Vec<_>>(),
        vec![(1, WcStatus::Success), (2, WcStatus::Success)]
    );
    assert_eq!(pair.fabric.hca(0).stats().packets_sent, 1, "only the 1024-byte one");
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().byte_len, GRH_BYTES as u32 + 1024);
}

#[test]
fn a_lost_datagram_is_not_retransmitted() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let e = setup(&mut pair, &[0, 1]);
    let (a, b) = (e[0], e[1]);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.fabric.links[0].drop_filter = Some(Box::new(|_| true));
    pair.post_recv(0, &b, 1, 4096);
    pair.post_ud_send(0, &a, 1, 64, ah, b.qpn, QKEY);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca_mut(0).poll_cq(a.send_cq, 8)[0].status, WcStatus::Success);
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    let st = pair.fabric.hca(0).stats();
    assert_eq!((st.packets_sent, st.retransmitted_packets, st.timeouts), (1, 0, 0));
}

#[test]
fn a_receive_buffer_without_room_for_the_grh_is_a_length_error() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let e = setup(&mut pair, &[0, 1]);
    let (a, b) = (e[0], e[1]);
    let ah = pair.fabric.hca_mut(0).create_ah(1);
    pair.post_recv(0, &b, 1, 100); // 100 B of payload, but no room for the GRH
    pair.post_ud_send(0, &a, 1, 100, ah, b.qpn, QKEY);
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().status, WcStatus::LocLenErr);
}

#[test]
fn ud_and_rc_operations_stay_on_their_own_qps() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), MEM, 1);
    let e = setup(&mut pair, &[0, 1]);
    let (a, b) = (e[0], e[1]);
    let wr =
        |op| SendWr { wr_id: 0, op, sges: vec![], inline_data: Some(vec![0; 8]), signaled: true, solicited: false };
    let h = pair.fabric.hca_mut(0);
    assert_eq!(h.post_send(a.qpn, wr(SendOp::Send)), Err(PostError::WrongTransport));
    let bad_ah = SendOp::UdSend { ah: 7, remote_qpn: b.qpn, remote_qkey: QKEY };
    assert_eq!(h.post_send(a.qpn, wr(bad_ah)), Err(PostError::WrongTransport));
}
