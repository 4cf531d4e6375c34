//! QUERY_DEVICE and QUERY_PORT report the limits the model enforces;
//! CREATE_CQ and RESIZE_CQ size CQs as mlx5 does.

use sim_hw::cq::{CqError, WcStatus};
use sim_hw::device::{PortState, MAX_CQE};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::host::{AsyncEvent, Interrupt};
use sim_hw::mr::Access;
use sim_hw::qp::{QpAttr, MAX_QP_WR};
use sim_hw::Profile;

#[test]
fn query_device_and_query_port_report_the_enforced_limits() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 1);
    let d = pair.fabric.hca(1).query_device();
    assert_eq!((d.max_qp_wr, d.max_sge, d.max_srq_wr, d.max_srq_sge), (MAX_QP_WR, 30, 32767, 31));
    assert_eq!((d.max_qp_rd_atom, d.max_pkeys, d.phys_port_cnt), (16, 128, 1));
    let p = pair.fabric.hca(1).query_port(1).unwrap();
    assert_eq!((p.state, p.active_mtu, p.lid, p.active_width), (PortState::Active, 4096, 1, 4));
    assert_eq!(pair.fabric.hca(1).query_port(2), None);
    pair.fabric.port_down(1, 1).unwrap();
    assert_eq!(pair.fabric.hca(1).query_port(1).unwrap().state, PortState::Down);
}

#[test]
fn cq_sizes_are_granted_as_mlx5_rounds_them() {
    let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 1);
    let h = pair.fabric.hca_mut(0);
    let got: Vec<u32> = [1, 2, 3, 4, 100, MAX_CQE].iter().map(|&n| h.create_cq_sized(n).unwrap().1).collect();
    assert_eq!(got, vec![1, 3, 3, 7, 127, MAX_CQE]);
    assert_eq!(h.create_cq_sized(0), Err(CqError::InvalidSize));
    assert_eq!(h.create_cq_sized(MAX_CQE + 1), Err(CqError::InvalidSize));
}

/// A one-entry CQ grown to three takes three completions without
/// overflowing (ungrown, it overflows); it cannot shrink below the
/// entries waiting.
#[test]
fn resize_cq_keeps_the_waiting_entries_and_refuses_to_drop_any() {
    for grow in [false, true] {
        let mut pair = HcaPair::new(Profile::cx4_edr(), 4096, 1);
        let (a, b) = pair.connect_rc(QpAttr::default(), 4096, Access::LOCAL_WRITE);
        let h = pair.fabric.hca_mut(0);
        let (cq, n) = h.create_cq_sized(1).unwrap();
        assert_eq!(n, 1);
        let qpn = h.create_qp(1, a.send_cq, cq, false);
        let c = Endpoint { qpn, recv_cq: cq, ..a };
        let peer = pair.fabric.hca_mut(1).create_qp(1, b.send_cq, b.recv_cq, false);
        pair.connect(&c, &Endpoint { qpn: peer, ..b }, QpAttr::default());
        if grow {
            assert_eq!(pair.fabric.hca_mut(0).resize_cq(cq, 3), Ok(3));
        }
        for id in 0..3 {
            pair.post_recv(0, &c, id, 8);
        }
        pair.fabric.hca_mut(0).modify_qp_error(0, qpn);
        pair.run_to_idle();
        let overflow = Interrupt::Async(AsyncEvent::CqError { cq });
        let h = pair.fabric.hca_mut(0);
        assert_eq!(h.cq(cq).is_error(), !grow);
        assert_eq!(pair.hosts[0].irqs.contains(&overflow), !grow);
        if !grow {
            continue;
        }
        let h = pair.fabric.hca_mut(0);
        assert_eq!(h.resize_cq(cq, 1), Err(CqError::InvalidSize), "three are waiting");
        assert_eq!(h.resize_cq(cq, 6), Ok(7));
        let ids: Vec<_> = h.poll_cq(cq, 8).iter().map(|e| (e.wr_id, e.status)).collect();
        assert_eq!(ids, vec![(0, WcStatus::WrFlushErr), (1, WcStatus::WrFlushErr), (2, WcStatus::WrFlushErr)]);
        assert!(h.destroy_cq(cq));
        assert_eq!(h.resize_cq(cq, 3), Err(CqError::BadCq));
    }
}
