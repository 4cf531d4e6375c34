//! Reliable-connection state machine tests on a kernel-free HCA pair: every
//! transition with an observable effect (data, CQEs, QP state, interrupts,
//! retry counts, timing).

use std::cell::Cell;
use std::rc::Rc;

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::mr::Access;
use sim_hw::packet::{Ext, Opcode, Packet};
use sim_hw::qp::{QpAttr, QpState, SendOp, SendWr, Sge};
use sim_hw::{Profile, Ps, US};

const BUF: u64 = 64 * 1024;

fn pair_with(attr: QpAttr) -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 7);
    let (a, b) = pair.connect_rc(attr, BUF, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 7 + 3) as u8).collect();
    pair.hosts[0].mem.store(a.buf, &pattern);
    (pair, a, b)
}

fn attr() -> QpAttr {
    QpAttr { timeout: 1, ..QpAttr::default() } // 8.192 us
}

fn drop_when(pair: &mut HcaPair, mut f: impl FnMut(&Packet) -> bool + 'static) {
    pair.fabric.links[0].drop_filter = Some(Box::new(move |p| f(p)));
}

fn a_data(pair: &HcaPair, a: &Endpoint, len: usize) -> Vec<u8> {
    pair.hosts[0].mem.slice(a.buf, len).to_vec()
}

#[test]
fn multi_packet_send_lands_in_the_receive_buffer() {
    let (mut pair, a, b) = pair_with(QpAttr { path_mtu: 1024, ..attr() });
    pair.post_recv(0, &b, 77, 20_000);
    pair.post_send(0, &a, 5, 10_000, true);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.opcode, r.byte_len), (77, WcStatus::Success, WcOpcode::Recv, 10_000));
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.wr_id, s.status, s.opcode), (5, WcStatus::Success, WcOpcode::Send));
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 10_000), &a_data(&pair, &a, 10_000)[..]);
    assert_eq!(pair.fabric.hca(0).stats().packets_sent, 10); // ceil(10000 / 1024)
}

#[test]
fn rdma_write_places_data_without_a_receive_completion() {
    let (mut pair, a, b) = pair_with(attr());
    pair.post_write(0, &a, 1, 9000, b.buf + 100, b.mr.rkey, true);
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.status, s.opcode, s.byte_len), (WcStatus::Success, WcOpcode::RdmaWrite, 9000));
    pair.run_to_idle();
    assert_eq!(pair.hosts[1].mem.slice(b.buf + 100, 9000), &a_data(&pair, &a, 9000)[..]);
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
}

#[test]
fn unsignaled_successes_complete_silently() {
    let (mut pair, a, b) = pair_with(attr());
    for i in 0..4 {
        pair.post_write(0, &a, i, 64, b.buf, b.mr.rkey, i == 3);
    }
    pair.run_to_idle();
    let cqes = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 16);
    assert_eq!(cqes.len(), 1);
    assert_eq!(cqes[0].wr_id, 3);
}

#[test]
fn inline_sends_skip_the_wqe_fetch_and_gather() {
    // 187 B goes inline, 188 B is fetched and gathered: two more DMA read
    // round trips, plus a few bytes of serialization.
    let lat = |len| {
        let (mut pair, a, b) = pair_with(attr());
        pair.post_recv(0, &b, 0, 4096);
        pair.run_to_idle();
        let t0 = pair.now();
        pair.post_send(t0, &a, 0, len, true);
        pair.wait_cqe(1, b.recv_cq).unwrap();
        pair.now() - t0
    };
    let (inline, fetched) = (lat(187), lat(188));
    let rtt = Profile::cx4_edr().dma_read_rtt.value;
    let step = fetched - inline;
    assert!(step > 2 * rtt && step < 2 * rtt + 60_000, "step {step} ps");
}

#[test]
fn a_lost_only_packet_is_retransmitted_after_the_ack_timeout() {
    let (mut pair, a, b) = pair_with(attr());
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    drop_when(&mut pair, move |p| p.opcode == Opcode::SendOnly && !d.replace(true));
    pair.post_recv(0, &b, 0, 4096);
    pair.post_send(0, &a, 0, 1000, true);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!(r.status, WcStatus::Success);
    assert!(pair.now() > 8_192_000, "delivered only after the 8.192 us timeout");
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    let st = pair.fabric.hca(0).stats();
    assert_eq!((st.timeouts, st.retransmitted_packets), (1, 1));
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 1000), &a_data(&pair, &a, 1000)[..]);
}

#[test]
fn a_lost_middle_packet_draws_one_sequence_nak_and_go_back_n() {
    let (mut pair, a, b) = pair_with(QpAttr { path_mtu: 1024, ..attr() });
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    drop_when(&mut pair, move |p| p.opcode == Opcode::SendMiddle && p.psn == 1 && !d.replace(true));
    pair.post_recv(0, &b, 0, 8192);
    pair.post_send(0, &a, 0, 8192, true);
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().byte_len, 8192);
    assert!(pair.now() < 8_192_000, "recovered by NAK, before any timeout");
    let st = pair.fabric.hca(0).stats().clone();
    assert_eq!((st.seq_naks_received, st.timeouts), (1, 0));
    assert_eq!(st.retransmitted_packets, 7); // PSNs 1..=7 again
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 8192), &a_data(&pair, &a, 8192)[..]);
}

#[test]
fn a_lost_ack_makes_a_duplicate_that_is_acknowledged_not_redelivered() {
    let (mut pair, a, b) = pair_with(attr());
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    drop_when(&mut pair, move |p| p.opcode == Opcode::Acknowledge && !d.replace(true));
    pair.post_recv(0, &b, 0, 4096);
    pair.post_recv(0, &b, 1, 4096);
    pair.post_send(0, &a, 0, 100, true);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca_mut(1).poll_cq(b.recv_cq, 8).len(), 1, "delivered once");
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 1);
}

#[test]
fn timeout_zero_disables_the_ack_timer() {
    let (mut pair, a, b) = pair_with(QpAttr { timeout: 0, ..attr() });
    drop_when(&mut pair, |p| p.opcode == Opcode::SendOnly);
    pair.post_recv(0, &b, 0, 4096);
    pair.post_send(0, &a, 0, 100, true);
    pair.run_to_idle();
    assert!(pair.fabric.hca(0).cq(a.send_cq).is_empty());
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 0);
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Rts));
}

fn exhaust_retries(retry_cnt: u8) -> (HcaPair, Endpoint, Ps) {
    let (mut pair, a, b) = pair_with(QpAttr { retry_cnt, ..attr() });
    drop_when(&mut pair, |p| p.opcode == Opcode::WriteOnly);
    pair.post_write(0, &a, 1, 64, b.buf, b.mr.rkey, false);
    pair.post_write(0, &a, 2, 64, b.buf, b.mr.rkey, false);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (1, WcStatus::RetryExcErr), "errors complete even unsignaled");
    let t = pair.now();
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (2, WcStatus::WrFlushErr));
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Error));
    (pair, a, t)
}

#[test]
fn exhausted_retries_fail_with_retry_exc_err_and_flush() {
    let (pair, _, t) = exhaust_retries(3);
    let st = pair.fabric.hca(0).stats();
    assert_eq!(st.timeouts, 4, "three retries, then the fourth timeout fails");
    assert_eq!(st.retransmitted_packets, 3 * 2);
    assert!(t > 4 * 8_192_000 && t < 5 * 8_192_000);
}

#[test]
fn retry_cnt_seven_means_seven_not_infinite() {
    let (pair, _, _) = exhaust_retries(7);
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 8);
}

#[test]
fn posting_to_a_qp_in_error_flushes() {
    let (mut pair, a, b) = exhaust_retries(0);
    let _ = b;
    pair.post_send(pair.now(), &a, 9, 10, false);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (9, WcStatus::WrFlushErr));
}

#[test]
fn rnr_naks_retry_after_the_rnr_timer_then_fail() {
    let (mut pair, a, _b) = pair_with(QpAttr { rnr_retry: 2, min_rnr_timer: 1, ..attr() });
    pair.post_send(0, &a, 4, 100, false);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(c.status, WcStatus::RnrRetryExcErr);
    assert_eq!(pair.fabric.hca(0).stats().rnr_naks_received, 3);
    let t = pair.now();
    assert!(t > 2 * 10 * US && t < 3 * 10 * US, "two 10 us RNR waits: {t}");
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Error));
}

#[test]
fn rnr_retry_seven_retries_for_ever_until_a_receive_is_posted() {
    let (mut pair, a, b) = pair_with(QpAttr { rnr_retry: 7, min_rnr_timer: 1, ..attr() });
    pair.post_send(0, &a, 4, 3000, true);
    pair.run_until(1_500 * US);
    assert!(pair.fabric.hca(0).stats().rnr_naks_received > 100);
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Rts));
    pair.post_recv(pair.now(), &b, 8, 4096);
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().byte_len, 3000);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    assert_eq!(pair.hosts[1].mem.slice(b.buf, 3000), &a_data(&pair, &a, 3000)[..]);
}

fn write_error(remote: impl FnOnce(&mut HcaPair, &Endpoint) -> (u64, u32), len: usize) {
    let (mut pair, a, b) = pair_with(attr());
    let (addr, rkey) = remote(&mut pair, &b);
    pair.post_write(0, &a, 1, len, addr, rkey, false);
    pair.post_write(0, &a, 2, 64, b.buf, b.mr.rkey, false);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (1, WcStatus::RemAccessErr));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::WrFlushErr);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Error));
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
    assert_eq!(pair.hosts[1].irqs, vec![Interrupt::Async(AsyncEvent::QpAccessError { qpn: b.qpn })]);
    assert!(pair.hosts[1].mem.slice(b.buf, 64).iter().all(|&x| x == 0), "nothing written");
}

#[test]
fn a_bad_rkey_is_a_remote_access_error() {
    write_error(|_, b| (b.buf, b.mr.rkey ^ 0xff), 64);
}

#[test]
fn a_write_past_the_region_is_a_remote_access_error() {
    write_error(|_, b| (b.buf + BUF - 32, b.mr.rkey), 64);
}

#[test]
fn a_write_to_a_region_without_remote_write_is_a_remote_access_error() {
    write_error(|pair, b| (b.buf, pair.fabric.hca_mut(1).reg_mr(1, b.buf, 4096, b.buf, Access::LOCAL_WRITE).rkey), 64);
}

#[test]
fn a_bad_lkey_is_a_local_protection_error_and_nothing_is_sent() {
    let (mut pair, a, _b) = pair_with(attr());
    let h = &mut pair.fabric.hca_mut(0);
    let sges = vec![Sge { addr: a.buf, len: 1000, lkey: a.mr.lkey ^ 0xff }];
    h.post_send(
        a.qpn,
        SendWr { wr_id: 3, op: SendOp::Send, sges, inline_data: None, signaled: false, solicited: false },
    )
    .unwrap();
    h.ring_sq_doorbell(0, a.qpn);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (3, WcStatus::LocProtErr));
    assert_eq!(pair.fabric.hca(0).stats().packets_sent, 0);
    assert_eq!(pair.fabric.hca(0).qp_state(a.qpn), Some(QpState::Error));
}

#[test]
fn a_send_larger_than_the_receive_buffer_is_a_length_error() {
    let (mut pair, a, b) = pair_with(attr());
    pair.post_recv(0, &b, 6, 16);
    pair.post_recv(0, &b, 7, 16);
    pair.post_send(0, &a, 1, 64, false);
    let c = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (6, WcStatus::LocLenErr));
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().status, WcStatus::WrFlushErr);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::RemInvReqErr);
    pair.run_to_idle();
    assert_eq!(pair.hosts[1].irqs, vec![Interrupt::Async(AsyncEvent::QpRequestError { qpn: b.qpn })]);
}

fn injected(b: &Endpoint, opcode: Opcode, psn: u32, len: usize) -> Packet {
    Packet {
        dlid: 1,
        slid: 0,
        dest_qp: b.qpn,
        opcode,
        psn,
        ack_req: true,
        se: false,
        reth: None,
        aeth: None,
        ext: Ext::None,
        payload: vec![1; len].into(),
    }
}

#[test]
fn a_middle_packet_outside_a_message_is_an_invalid_request() {
    let (mut pair, _a, b) = pair_with(attr());
    pair.post_recv(0, &b, 0, 4096);
    pair.fabric.hca_mut(1).deliver(10 * US, injected(&b, Opcode::SendMiddle, 0, 4096));
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
    assert_eq!(pair.hosts[1].irqs, vec![Interrupt::Async(AsyncEvent::QpRequestError { qpn: b.qpn })]);
    assert_eq!(pair.fabric.hca_mut(1).poll_cq_one(b.recv_cq).unwrap().status, WcStatus::WrFlushErr);
}

#[test]
fn a_short_first_packet_is_an_invalid_request() {
    let (mut pair, _a, b) = pair_with(attr());
    pair.post_recv(0, &b, 0, 8192);
    pair.fabric.hca_mut(1).deliver(10 * US, injected(&b, Opcode::SendFirst, 0, 100));
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
}

#[test]
fn out_of_sequence_packets_draw_one_nak_and_are_dropped() {
    let (mut pair, _a, b) = pair_with(attr());
    pair.post_recv(0, &b, 0, 4096);
    for k in 0..3 {
        pair.fabric.hca_mut(1).deliver(10 * US + k, injected(&b, Opcode::SendOnly, 5 + k as u32, 8));
    }
    while pair.fabric.hca(1).next_deadline().is_some() {
        pair.fabric.hca_mut(1).step(&mut pair.hosts[1]);
    }
    let out: Vec<_> = pair.fabric.hca_mut(1).take_outbox().map(|(_, p)| p).collect();
    assert_eq!(out.len(), 1, "one NAK for the gap");
    assert_eq!(out[0].psn, 0, "it names the expected PSN");
    assert_eq!(out[0].aeth.unwrap().kind, sim_hw::packet::AckKind::NakPsnSeq);
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Rts));
}

#[test]
fn packets_for_a_qp_in_error_are_dropped_silently() {
    let (mut pair, a, b) = pair_with(QpAttr { retry_cnt: 1, ..attr() });
    pair.fabric.hca_mut(1).modify_qp_error(0, b.qpn);
    pair.post_write(0, &a, 1, 64, b.buf, b.mr.rkey, true);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(c.status, WcStatus::RetryExcErr);
    assert_eq!(pair.fabric.hca(1).stats().dropped_bad_qp, 2);
}

#[test]
fn the_window_never_exceeds_128_unacknowledged_psns() {
    // A 20 km cable (100 us each way) makes the window the bottleneck.
    let mut profile = Profile::cx4_edr();
    profile.propagation.value = 100 * US;
    let mut pair = HcaPair::new(profile, BUF as usize, 1);
    let (a, b) = pair.connect_rc(
        QpAttr { path_mtu: 256, timeout: 14, ..attr() },
        BUF,
        Access::LOCAL_WRITE | Access::REMOTE_WRITE,
    );
    let (max_data, max_acked, worst) = (Rc::new(Cell::new(-1i64)), Rc::new(Cell::new(-1i64)), Rc::new(Cell::new(0)));
    let (d, k, w) = (max_data.clone(), max_acked.clone(), worst.clone());
    drop_when(&mut pair, move |p| {
        if p.opcode == Opcode::Acknowledge {
            k.set(k.get().max(p.psn as i64));
        } else {
            d.set(d.get().max(p.psn as i64));
            w.set(w.get().max(d.get() - k.get()));
        }
        false
    });
    pair.post_write(0, &a, 1, 250 * 256, b.buf, b.mr.rkey, true);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    assert_eq!(worst.get(), 128);
    // Two windows, of 128 and 122 packets: about two round trips.
    assert!(pair.now() > 2 * 200 * US && pair.now() < 2 * 200 * US + 50 * US, "{}", pair.now());
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 0);
}

#[test]
fn an_armed_cq_interrupts_once_and_must_be_rearmed() {
    let (mut pair, a, b) = pair_with(attr());
    pair.fabric.hca_mut(1).req_notify_cq(b.recv_cq);
    for i in 0..3 {
        pair.post_recv(0, &b, i, 4096);
    }
    pair.post_send(0, &a, 0, 10, false);
    pair.post_send(0, &a, 1, 10, false);
    pair.run_to_idle();
    assert_eq!(pair.hosts[1].irqs, vec![Interrupt::Completion { cq: b.recv_cq }]);
    assert_eq!(pair.fabric.hca(1).cq(b.recv_cq).len(), 2);
    assert!(!pair.fabric.hca(1).cq(b.recv_cq).is_armed());
    pair.fabric.hca_mut(1).req_notify_cq(b.recv_cq);
    pair.post_send(pair.now(), &a, 2, 10, false);
    pair.run_to_idle();
    assert_eq!(pair.hosts[1].irqs.len(), 2);
}

#[test]
fn a_full_cq_overflows_into_an_async_cq_error() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 1);
    let h = &mut pair.fabric.hca_mut(0);
    let cq = h.create_cq(2);
    let qpn = h.create_qp(1, cq, cq, true);
    h.connect(qpn, QpAttr { dest_lid: 1, dest_qpn: 1, ..attr() }).unwrap();
    h.modify_qp_error(0, qpn);
    for i in 0..3 {
        h.post_recv(0, qpn, sim_hw::qp::RecvWr { wr_id: i, sges: vec![] }).unwrap();
    }
    pair.run_to_idle();
    assert!(pair.fabric.hca(0).cq(cq).is_error());
    assert_eq!(pair.hosts[0].irqs, vec![Interrupt::Async(AsyncEvent::CqError { cq })]);
}

/// Random loss exercises every recovery path; the run is a function of the seed.
#[test]
fn random_loss_recovers_and_is_deterministic() {
    let run = |seed| {
        let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, seed);
        pair.fabric.links[0].loss_ppm = 20_000; // 2 %
        let (a, b) =
            pair.connect_rc(QpAttr { path_mtu: 1024, ..attr() }, BUF, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        for i in 0..200u64 {
            pair.post_recv(0, &b, i, 8192);
            pair.post_send(0, &a, i, 1 + (i as usize * 37) % 8000, true);
        }
        for i in 0..200 {
            let c = pair.wait_cqe(1, b.recv_cq).unwrap();
            assert_eq!((c.wr_id, c.status), (i, WcStatus::Success));
        }
        for i in 0..200 {
            let c = pair.wait_cqe(0, a.send_cq).unwrap();
            assert_eq!((c.wr_id, c.status), (i, WcStatus::Success));
        }
        pair.run_to_idle();
        (pair.now(), pair.fabric.events_processed(), pair.fabric.links[0].dropped, pair.fabric.hca(0).stats().clone())
    };
    let (t, events, dropped, stats) = run(42);
    assert!(dropped > 10, "{dropped}");
    assert!(stats.retransmitted_packets > 0);
    assert_eq!(run(42), (t, events, dropped, stats.clone()));
    assert_ne!(run(43).0, t);
}

#[test]
fn the_next_event_is_a_discrete_step_in_time_then_sequence_order() {
    let (mut pair, a, b) = pair_with(attr());
    pair.post_recv(0, &b, 0, 4096);
    pair.post_send(0, &a, 0, 64, true);
    let mut last = (0, 0);
    while let Some((t, i)) = pair.fabric.next_event() {
        assert_eq!(pair.fabric.hca_mut(i).peek_event().unwrap().0, t);
        assert!((t, i) >= last, "global order is (time, HCA)");
        assert_eq!(pair.step(), Some((t, i)));
        last = (t, i);
    }
    assert_eq!(pair.fabric.hca(1).cq(b.recv_cq).len(), 1);
}

// ---------------------------------------------------------------- RDMA READ

fn read_pair(attr: QpAttr) -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 7);
    let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ;
    let (a, b) = pair.connect_rc(attr, BUF, access);
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 13 + 5) as u8).collect();
    pair.hosts[1].mem.store(b.buf, &pattern);
    (pair, a, b)
}

fn b_data(pair: &HcaPair, b: &Endpoint, off: u64, len: usize) -> Vec<u8> {
    pair.hosts[1].mem.slice(b.buf + off, len).to_vec()
}

#[test]
fn rdma_read_brings_the_remote_range_back() {
    let (mut pair, a, b) = read_pair(QpAttr { path_mtu: 1024, ..attr() });
    pair.post_read(0, &a, 11, 10_000, b.buf + 500, b.mr.rkey, true);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status, c.opcode, c.byte_len), (11, WcStatus::Success, WcOpcode::RdmaRead, 10_000));
    assert_eq!(pair.hosts[0].mem.slice(a.buf, 10_000), &b_data(&pair, &b, 500, 10_000)[..]);
    assert_eq!(pair.fabric.hca(1).stats().packets_sent, 10, "ten responses");
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_empty());
}

#[test]
fn rdma_read_without_remote_read_rights_is_a_remote_access_error() {
    let (mut pair, a, b) = pair_with(attr()); // registered without REMOTE_READ
    pair.post_read(0, &a, 1, 64, b.buf, b.mr.rkey, false);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(c.status, WcStatus::RemAccessErr);
    pair.run_to_idle();
    assert_eq!(pair.hosts[1].irqs, vec![Interrupt::Async(AsyncEvent::QpAccessError { qpn: b.qpn })]);
}

#[test]
fn a_lost_read_response_is_re_requested_from_where_it_stopped() {
    let (mut pair, a, b) = read_pair(QpAttr { path_mtu: 1024, ..attr() });
    let dropped = Rc::new(Cell::new(false));
    let requests = Rc::new(std::cell::RefCell::new(Vec::new()));
    let (d, r) = (dropped.clone(), requests.clone());
    drop_when(&mut pair, move |p| {
        if p.opcode == Opcode::ReadRequest {
            r.borrow_mut().push((p.psn, p.reth.unwrap().len));
        }
        p.opcode == Opcode::ReadResponseMiddle && p.psn == 2 && !d.replace(true)
    });
    pair.post_read(0, &a, 1, 4096, b.buf, b.mr.rkey, true);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!(c.status, WcStatus::Success);
    assert!(pair.now() > 8_192_000, "recovered by the ACK timer, as rxe");
    assert_eq!(*requests.borrow(), vec![(0, 4096), (2, 2048)], "the retry asks for PSNs 2 and 3 only");
    assert_eq!(pair.hosts[0].mem.slice(a.buf, 4096), &b_data(&pair, &b, 0, 4096)[..]);
    // The responder re-executed a duplicate without moving its PSN on: a
    // later SEND still lands.
    pair.post_recv(pair.now(), &b, 3, 64);
    pair.post_send(pair.now(), &a, 2, 64, true);
    assert_eq!(pair.wait_cqe(1, b.recv_cq).unwrap().status, WcStatus::Success);
}

#[test]
fn an_ack_past_a_read_with_lost_responses_retries_at_once() {
    let (mut pair, a, b) = read_pair(attr());
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    drop_when(&mut pair, move |p| p.opcode == Opcode::ReadResponseOnly && !d.replace(true));
    pair.post_recv(0, &b, 0, 64);
    pair.post_read(0, &a, 1, 64, b.buf, b.mr.rkey, true);
    pair.post_write(0, &a, 2, 64, b.buf + 1024, b.mr.rkey, true);
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status), (1, WcStatus::Success));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().wr_id, 2);
    assert!(pair.now() < 8_192_000, "the WRITE's ACK implied the loss; no timeout");
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 0);
    assert_eq!(pair.hosts[0].mem.slice(a.buf, 64), &b_data(&pair, &b, 0, 64)[..]);
}

#[test]
fn random_loss_with_reads_writes_and_sends_recovers() {
    let run = |seed| {
        let (mut pair, a, b) = read_pair(QpAttr { path_mtu: 1024, ..attr() });
        pair.fabric.links[0] = sim_hw::fabric::Link::new(&Profile::cx4_edr(), seed);
        pair.fabric.links[0].loss_ppm = 30_000; // 3 %
        let mut longest_read = 0;
        for i in 0..150u64 {
            let len = 1 + (i as usize * 53) % 8000;
            match i % 3 {
                0 => {
                    pair.post_read(0, &a, i, len, b.buf, b.mr.rkey, true);
                    longest_read = longest_read.max(len);
                }
                1 => pair.post_write(0, &a, i, len, b.buf + 32 * 1024, b.mr.rkey, true),
                _ => {
                    // Receive at 16 KiB, away from the range the READs read.
                    let sges = vec![Sge { addr: b.buf + 16 * 1024, len: 8192, lkey: b.mr.lkey }];
                    pair.fabric.hca_mut(1).post_recv(0, b.qpn, sim_hw::qp::RecvWr { wr_id: i, sges }).unwrap();
                    pair.post_send(0, &a, i, len, true);
                }
            }
        }
        for i in 0..150 {
            let c = pair.wait_cqe(0, a.send_cq).unwrap();
            assert_eq!((c.wr_id, c.status), (i, WcStatus::Success));
        }
        pair.run_to_idle();
        assert_eq!(pair.fabric.hca_mut(1).poll_cq(b.recv_cq, 100).len(), 50);
        assert!(pair.hosts[0].mem.slice(a.buf, longest_read) == &b_data(&pair, &b, 0, longest_read)[..]);
        (pair.now(), pair.fabric.links[0].dropped)
    };
    let (t, dropped) = run(5);
    assert!(dropped > 10);
    assert_eq!(run(5), (t, dropped));
}

#[test]
fn connect_refuses_out_of_range_attributes_and_a_second_connect() {
    use sim_hw::qp::ModifyError;
    let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 1);
    let h = &mut pair.fabric.hca_mut(0);
    let cq = h.create_cq(4);
    let qpn = h.create_qp(1, cq, cq, false);
    for bad in [
        QpAttr { path_mtu: 3000, ..attr() },
        QpAttr { retry_cnt: 8, ..attr() },
        QpAttr { rnr_retry: 8, ..attr() },
        QpAttr { min_rnr_timer: 32, ..attr() },
        QpAttr { timeout: 32, ..attr() },
    ] {
        assert_eq!(h.connect(qpn, bad), Err(ModifyError::InvalidAttr));
    }
    assert_eq!(h.qp_state(qpn), Some(QpState::Reset));
    assert_eq!(h.connect(qpn + 1, attr()), Err(ModifyError::BadQp));
    assert_eq!(h.connect(qpn, attr()), Ok(()));
    assert_eq!(h.connect(qpn, attr()), Err(ModifyError::BadState));
}

#[test]
fn hca_poll_runs_exactly_the_events_due() {
    let (mut pair, a, _b) = pair_with(attr());
    pair.post_send(0, &a, 0, 32, true);
    let h = &mut pair.fabric.hca_mut(0);
    let due = h.next_deadline().unwrap();
    let p = Profile::cx4_edr();
    // The doorbell: its fixed cost plus 8 B + a 64 B inline WQE + 32 B in one MWr.
    assert_eq!(due, p.doorbell.value + p.pcie_time(8 + 64 + 32 + 24));
    h.poll(due - 1, &mut pair.hosts[0]);
    assert_eq!((h.events_processed(), h.now()), (0, due - 1));
    h.poll(due, &mut pair.hosts[0]);
    // The doorbell, then at the same picosecond the transmit it kicked.
    assert_eq!(h.events_processed(), 2);
    assert_eq!(h.next_deadline(), Some(due + 8_192_000), "only the ACK timer is left");
    let out: Vec<_> = h.take_outbox().collect();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.opcode), (due + p.hca_packet_time.value, Opcode::SendOnly));
}
