//! Completion events: REQ_NOTIFY_CQ for the next completion or for the
//! next solicited one (the BTH SE bit of a SEND posted with
//! IBV_SEND_SOLICITED, or a receive completed in error), one shot.

use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::host::Interrupt;
use sim_hw::mr::Access;
use sim_hw::qp::{QpAttr, SendOp, SendWr, Sge};
use sim_hw::Profile;

fn pair() -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 6);
    let (a, b) = pair.connect_rc(QpAttr { timeout: 1, ..QpAttr::default() }, 4096, Access::LOCAL_WRITE);
    (pair, a, b)
}

fn send(pair: &mut HcaPair, a: &Endpoint, b: &Endpoint, solicited: bool) {
    let now = pair.now();
    pair.post_recv(now, b, 0, 64);
    let h = pair.fabric.hca_mut(0);
    let sges = vec![Sge { addr: a.buf, len: 32, lkey: a.mr.lkey }];
    h.post_send(a.qpn, SendWr { wr_id: 0, op: SendOp::Send, sges, inline_data: None, signaled: true, solicited })
        .unwrap();
    h.ring_sq_doorbell(now, a.qpn);
    pair.wait_cqe(1, b.recv_cq).unwrap();
    pair.run_to_idle();
}

fn events(pair: &HcaPair, h: usize, cq: u32) -> usize {
    pair.hosts[h].irqs.iter().filter(|&&i| i == Interrupt::Completion { cq }).count()
}

#[test]
fn solicited_only_waits_for_a_solicited_receive_and_is_one_shot() {
    let (mut pair, a, b) = pair();
    pair.fabric.hca_mut(1).req_notify_cq_solicited(b.recv_cq);
    send(&mut pair, &a, &b, false);
    assert_eq!(events(&pair, 1, b.recv_cq), 0, "an unsolicited SEND raises nothing");
    assert!(pair.fabric.hca(1).cq(b.recv_cq).is_armed());
    send(&mut pair, &a, &b, true);
    assert_eq!(events(&pair, 1, b.recv_cq), 1);
    assert!(!pair.fabric.hca(1).cq(b.recv_cq).is_armed());
    send(&mut pair, &a, &b, true);
    assert_eq!(events(&pair, 1, b.recv_cq), 1, "one shot");
    // The sender's CQ armed solicited-only: a send completion never is.
    pair.fabric.hca_mut(0).req_notify_cq_solicited(a.send_cq);
    send(&mut pair, &a, &b, true);
    assert_eq!(events(&pair, 0, a.send_cq), 0);
}

#[test]
fn a_receive_in_error_is_solicited_and_next_completion_is_not_downgraded() {
    let (mut pair, _a, b) = pair();
    pair.post_recv(0, &b, 1, 64);
    let h = pair.fabric.hca_mut(1);
    h.req_notify_cq_solicited(b.recv_cq);
    h.modify_qp_error(0, b.qpn);
    pair.run_to_idle();
    assert_eq!(events(&pair, 1, b.recv_cq), 1, "the flushed receive raises it");
    // Armed for any completion, a later solicited-only arm keeps it so.
    let (mut pair, a2, b2) = self::pair();
    let h = pair.fabric.hca_mut(1);
    h.req_notify_cq(b2.recv_cq);
    h.req_notify_cq_solicited(b2.recv_cq);
    send(&mut pair, &a2, &b2, false);
    assert_eq!(events(&pair, 1, b2.recv_cq), 1);
}
