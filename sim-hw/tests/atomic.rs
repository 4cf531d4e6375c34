//! RC atomics (CMP_SWAP, FETCH_ADD) on a kernel-free HCA pair: results,
//! rights, alignment, ordering after WRITEs, and a lost acknowledge.

use std::cell::Cell;
use std::rc::Rc;

use sim_hw::cq::{Cqe, WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::mr::Access;
use sim_hw::packet::{AtomicEth, Ext, Opcode, Packet};
use sim_hw::qp::{PostError, QpAttr, QpState, SendOp, SendWr, Sge};
use sim_hw::{Profile, US};

const BUF: u64 = 64 * 1024;
/// The counter's offset in B's buffer.
const CTR: u64 = 256;

fn pair_with(access: Access) -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 7);
    let (a, b) = pair.connect_rc(QpAttr { timeout: 1, ..QpAttr::default() }, BUF, access);
    (pair, a, b)
}

fn all() -> Access {
    Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_ATOMIC
}

fn counter(pair: &HcaPair, b: &Endpoint) -> u64 {
    u64::from_le_bytes(pair.hosts[1].mem.slice(b.buf + CTR, 8).try_into().unwrap())
}

/// Posts an atomic whose original value lands at `a.buf + 8 * slot`.
fn post_atomic(pair: &mut HcaPair, a: &Endpoint, wr_id: u64, slot: u64, op: SendOp) -> Result<(), PostError> {
    let sges = vec![Sge { addr: a.buf + 8 * slot, len: 8, lkey: a.mr.lkey }];
    let now = pair.now();
    let h = pair.fabric.hca_mut(a.hca);
    h.post_send(a.qpn, SendWr { wr_id, op, sges, inline_data: None, signaled: true, solicited: false })?;
    h.ring_sq_doorbell(now, a.qpn);
    Ok(())
}

fn fetch_add(b: &Endpoint, add: u64) -> SendOp {
    SendOp::AtomicFetchAdd { remote_addr: b.buf + CTR, rkey: b.mr.rkey, add }
}

fn cmp_swap(b: &Endpoint, compare: u64, swap: u64) -> SendOp {
    SendOp::AtomicCmpSwap { remote_addr: b.buf + CTR, rkey: b.mr.rkey, compare, swap }
}

fn original(pair: &HcaPair, a: &Endpoint, slot: u64) -> u64 {
    u64::from_le_bytes(pair.hosts[0].mem.slice(a.buf + 8 * slot, 8).try_into().unwrap())
}

fn done(pair: &mut HcaPair, a: &Endpoint) -> Cqe {
    let c = pair.wait_cqe(0, a.send_cq).unwrap();
    pair.run_to_idle();
    c
}

#[test]
fn fetch_add_returns_the_original_value_and_adds() {
    let (mut pair, a, b) = pair_with(all());
    pair.hosts[1].mem.store(b.buf + CTR, &40u64.to_le_bytes());
    post_atomic(&mut pair, &a, 9, 0, fetch_add(&b, 2)).unwrap();
    let c = done(&mut pair, &a);
    assert_eq!((c.wr_id, c.status, c.opcode, c.byte_len), (9, WcStatus::Success, WcOpcode::FetchAdd, 8));
    assert_eq!(original(&pair, &a, 0), 40);
    assert_eq!(counter(&pair, &b), 42);
}

#[test]
fn compare_and_swap_swaps_only_on_a_match() {
    let (mut pair, a, b) = pair_with(all());
    pair.hosts[1].mem.store(b.buf + CTR, &7u64.to_le_bytes());
    post_atomic(&mut pair, &a, 1, 0, cmp_swap(&b, 7, 9)).unwrap();
    assert_eq!(done(&mut pair, &a).opcode, WcOpcode::CompSwap);
    assert_eq!((original(&pair, &a, 0), counter(&pair, &b)), (7, 9));
    post_atomic(&mut pair, &a, 2, 1, cmp_swap(&b, 7, 11)).unwrap();
    assert_eq!(done(&mut pair, &a).status, WcStatus::Success);
    assert_eq!((original(&pair, &a, 1), counter(&pair, &b)), (9, 9), "no match: unchanged");
}

#[test]
fn pipelined_fetch_adds_each_see_a_distinct_value() {
    let (mut pair, a, b) = pair_with(all());
    for i in 0..100 {
        post_atomic(&mut pair, &a, i, i, fetch_add(&b, 1)).unwrap();
    }
    pair.run_to_idle();
    let cqes = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 200);
    assert_eq!(cqes.len(), 100);
    assert!(cqes.iter().all(|c| c.status == WcStatus::Success));
    let mut seen: Vec<u64> = (0..100).map(|i| original(&pair, &a, i)).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert_eq!(counter(&pair, &b), 100);
    assert_eq!(pair.fabric.hca(0).stats().retransmitted_packets, 0);
}

/// A WRITE's ACK coalesced behind an atomic waits for the atomic's
/// acknowledge, so responses leave in PSN order and nothing is retried.
#[test]
fn an_ack_after_an_atomic_does_not_overtake_its_acknowledge() {
    let (mut pair, a, b) = pair_with(all());
    for i in 0..10 {
        post_atomic(&mut pair, &a, 2 * i, i, fetch_add(&b, 1)).unwrap();
        let now = pair.now();
        pair.post_write(now, &a, 2 * i + 1, 64, b.buf + 4096, b.mr.rkey, true);
    }
    pair.run_to_idle();
    let cqes = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 64);
    assert_eq!(cqes.iter().map(|c| c.wr_id).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    assert!(cqes.iter().all(|c| c.status == WcStatus::Success));
    assert_eq!(counter(&pair, &b), 10);
    let st = pair.fabric.hca(0).stats();
    assert_eq!((st.retransmitted_packets, st.timeouts), (0, 0));
}

#[test]
fn an_atomic_sees_the_write_posted_before_it() {
    let (mut pair, a, b) = pair_with(all());
    pair.hosts[0].mem.store(a.buf + 4096, &100u64.to_le_bytes());
    let sges = vec![Sge { addr: a.buf + 4096, len: 8, lkey: a.mr.lkey }];
    let op = SendOp::RdmaWrite { remote_addr: b.buf + CTR, rkey: b.mr.rkey };
    pair.fabric
        .hca_mut(0)
        .post_send(a.qpn, SendWr { wr_id: 0, op, sges, inline_data: None, signaled: false, solicited: false })
        .unwrap();
    post_atomic(&mut pair, &a, 1, 0, fetch_add(&b, 5)).unwrap();
    assert_eq!(done(&mut pair, &a).status, WcStatus::Success);
    assert_eq!((original(&pair, &a, 0), counter(&pair, &b)), (100, 105));
    assert_eq!(pair.fabric.hca(0).stats().retransmitted_packets, 0);
}

#[test]
fn an_atomic_needs_remote_atomic_rights() {
    let (mut pair, a, b) = pair_with(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    post_atomic(&mut pair, &a, 1, 0, fetch_add(&b, 1)).unwrap();
    assert_eq!(done(&mut pair, &a).status, WcStatus::RemAccessErr);
    assert_eq!(counter(&pair, &b), 0);
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
    assert!(pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::QpAccessError { qpn: b.qpn })));
}

#[test]
fn a_misaligned_or_wrong_length_atomic_is_refused_at_post() {
    let (mut pair, a, b) = pair_with(all());
    let op = SendOp::AtomicFetchAdd { remote_addr: b.buf + CTR + 4, rkey: b.mr.rkey, add: 1 };
    assert_eq!(post_atomic(&mut pair, &a, 1, 0, op), Err(PostError::InvalidAtomic));
    let sges = vec![Sge { addr: a.buf, len: 16, lkey: a.mr.lkey }];
    let wr = SendWr { wr_id: 2, op: fetch_add(&b, 1), sges, inline_data: None, signaled: true, solicited: false };
    assert_eq!(pair.fabric.hca_mut(0).post_send(a.qpn, wr), Err(PostError::InvalidAtomic));
}

/// A misaligned request reaching the responder (here injected: a requester
/// refuses to send one) is rxe's RESPST_ERR_MISALIGNED_ATOMIC: an invalid
/// request NAK, QP_REQ_ERR, and the QP in ERROR.
#[test]
fn a_misaligned_atomic_at_the_responder_is_an_invalid_request() {
    let (mut pair, _a, b) = pair_with(all());
    let pkt = Packet {
        dlid: 1,
        slid: 0,
        dest_qp: b.qpn,
        opcode: Opcode::FetchAdd,
        psn: 0,
        ack_req: true,
        se: false,
        reth: None,
        aeth: None,
        ext: Ext::Atomic(Box::new(AtomicEth { va: b.buf + CTR + 4, rkey: b.mr.rkey, swap_add: 1, compare: 0 })),
        payload: Default::default(),
    };
    pair.fabric.hca_mut(1).deliver(10 * US, pkt);
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
    assert!(pair.hosts[1].irqs.contains(&Interrupt::Async(AsyncEvent::QpRequestError { qpn: b.qpn })));
    assert_eq!(counter(&pair, &b), 0);
}

/// The acknowledge is lost: the requester times out and resends; the
/// responder answers the duplicate from its saved result, so the add runs
/// once and the original value is the first one.
#[test]
fn a_lost_atomic_acknowledge_is_answered_again_without_executing_twice() {
    let (mut pair, a, b) = pair_with(all());
    pair.hosts[1].mem.store(b.buf + CTR, &10u64.to_le_bytes());
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    pair.fabric.links[0].drop_filter =
        Some(Box::new(move |p: &Packet| p.opcode == Opcode::AtomicAcknowledge && !d.replace(true)));
    post_atomic(&mut pair, &a, 1, 0, fetch_add(&b, 1)).unwrap();
    let c = done(&mut pair, &a);
    assert_eq!(c.status, WcStatus::Success);
    assert_eq!((original(&pair, &a, 0), counter(&pair, &b)), (10, 11));
    assert_eq!(pair.fabric.hca(0).stats().timeouts, 1);
}

/// Seeded 3 % loss both ways: 200 FETCH_ADDs, at most 8 outstanding (so
/// that a duplicate always finds its saved result among the last 16), each
/// interleaved with a WRITE. Every add happens exactly once, each sees a
/// distinct value, and the same seed gives the same run.
#[test]
fn random_loss_with_atomics_recovers_and_adds_exactly_once() {
    let run = |seed| {
        let (mut pair, a, b) = pair_with(all());
        pair.fabric.links[0] = sim_hw::fabric::Link::new(&Profile::cx4_edr(), seed);
        pair.fabric.links[0].loss_ppm = 30_000;
        let (mut posted, mut done) = (0u64, 0u64);
        while done < 200 {
            while posted < 200 && posted - done < 8 {
                post_atomic(&mut pair, &a, posted, posted, fetch_add(&b, 1)).unwrap();
                let now = pair.now();
                pair.post_write(now, &a, 1000 + posted, 64, b.buf + 4096, b.mr.rkey, false);
                posted += 1;
            }
            let c = pair.wait_cqe(0, a.send_cq).unwrap();
            assert_eq!(c.status, WcStatus::Success, "{c:?}");
            done += 1;
        }
        pair.run_to_idle();
        let mut seen: Vec<u64> = (0..200).map(|i| original(&pair, &a, i)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert_eq!(counter(&pair, &b), 200);
        (pair.now(), pair.fabric.links[0].dropped, pair.fabric.hca(0).stats().retransmitted_packets)
    };
    let (t, dropped, retx) = run(11);
    assert!(dropped > 5 && retx > 0, "{dropped} lost, {retx} retransmitted");
    assert_eq!(run(11), (t, dropped, retx));
}

/// 40 FETCH_ADDs posted at once under 5 % loss: the requester keeps at
/// most `max_rd_atomic` (16) outstanding (see the next test), so a
/// duplicate always finds its saved result; every add happens once.
#[test]
fn forty_atomics_at_once_under_loss_each_add_once() {
    let (mut pair, a, b) = pair_with(all());
    pair.fabric.links[0] = sim_hw::fabric::Link::new(&Profile::cx4_edr(), 3);
    pair.fabric.links[0].loss_ppm = 50_000;
    for i in 0..40 {
        post_atomic(&mut pair, &a, i, i, fetch_add(&b, 1)).unwrap();
    }
    pair.run_to_idle();
    let cqes = pair.fabric.hca_mut(0).poll_cq(a.send_cq, 64);
    assert_eq!(cqes.len(), 40);
    assert!(cqes.iter().all(|c| c.status == WcStatus::Success), "{cqes:?}");
    assert_eq!(counter(&pair, &b), 40);
    let mut seen: Vec<u64> = (0..40).map(|i| original(&pair, &a, i)).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..40).collect::<Vec<_>>());
    assert!(pair.fabric.links[0].dropped > 0);
}

/// Without loss, the atomic requests on the wire run exactly 16 ahead of
/// their acknowledges at most.
#[test]
fn without_loss_exactly_max_rd_atomic_atomics_are_outstanding() {
    let (mut pair, a, b) = pair_with(all());
    let in_flight = Rc::new(Cell::new((0i64, 0i64)));
    let f = in_flight.clone();
    pair.fabric.links[0].drop_filter = Some(Box::new(move |p: &Packet| {
        let (n, max) = f.get();
        let n = match p.opcode {
            Opcode::FetchAdd => n + 1,
            Opcode::AtomicAcknowledge => n - 1,
            _ => n,
        };
        f.set((n, max.max(n)));
        false
    }));
    for i in 0..40 {
        post_atomic(&mut pair, &a, i, i, fetch_add(&b, 1)).unwrap();
    }
    pair.run_to_idle();
    assert_eq!(counter(&pair, &b), 40);
    assert_eq!(in_flight.get(), (0, 16));
}
