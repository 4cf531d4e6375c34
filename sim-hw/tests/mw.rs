//! Memory windows (rxe_mw.c): ALLOC_MW of type 1 and 2, BIND_MW work
//! requests with their checks, remote access through a window's rkey
//! checked like a region's, LOCAL_INV and SEND_WITH_INVALIDATE.

use sim_hw::cq::{WcOpcode, WcStatus};
use sim_hw::harness::{Endpoint, HcaPair};
use sim_hw::mr::{Access, MrError, MwBind, MwType};
use sim_hw::qp::{QpAttr, QpState, SendOp, SendWr, Sge};
use sim_hw::Profile;

const BUF: u64 = 256 * 1024;
const BINDABLE: Access = Access(Access::LOCAL_WRITE.0 | Access::MW_BIND.0);
const RW: Access = Access(Access::REMOTE_WRITE.0 | Access::REMOTE_READ.0);

/// A connected pair; both regions allow local writes and binding windows,
/// neither allows remote access by itself.
fn fixture() -> (HcaPair, Endpoint, Endpoint) {
    let mut pair = HcaPair::new(Profile::cx4_edr(), BUF as usize, 9);
    let (a, b) = pair.connect_rc(QpAttr { timeout: 1, ..QpAttr::default() }, BUF, BINDABLE);
    let pattern: Vec<u8> = (0..BUF).map(|i| (i * 11 + 7) as u8).collect();
    pair.hosts[0].mem.store(a.buf, &pattern);
    (pair, a, b)
}

fn post(pair: &mut HcaPair, ep: &Endpoint, wr_id: u64, op: SendOp, sges: Vec<Sge>) {
    let now = pair.now();
    let h = pair.fabric.hca_mut(ep.hca);
    h.post_send(ep.qpn, SendWr { wr_id, op, sges, inline_data: None, signaled: true, solicited: false }).unwrap();
    h.ring_sq_doorbell(now, ep.qpn);
}

/// Binds `mw` on `ep`'s QP to `[ep.buf + off, + len)` of its region with
/// `access` and key byte `key`; returns the completion status and the
/// window's rkey afterwards.
fn bind(pair: &mut HcaPair, ep: &Endpoint, mw: u32, off: u64, len: u64, access: Access, key: u8) -> (WcStatus, u32) {
    let b = MwBind {
        mw_rkey: pair.fabric.hca(ep.hca).mw_rkey(mw).unwrap(),
        new_rkey: key as u32,
        mr_lkey: ep.mr.lkey,
        addr: ep.buf + off,
        len,
        access,
    };
    post(pair, ep, 900, SendOp::BindMw(b), vec![]);
    let c = pair.wait_cqe(ep.hca, ep.send_cq).unwrap();
    assert_eq!((c.wr_id, c.opcode), (900, WcOpcode::BindMw));
    (c.status, pair.fabric.hca(ep.hca).mw_rkey(mw).unwrap())
}

fn write(pair: &mut HcaPair, a: &Endpoint, addr: u64, rkey: u32, len: u32) -> WcStatus {
    let sges = vec![Sge { addr: a.buf, len, lkey: a.mr.lkey }];
    post(pair, a, 1, SendOp::RdmaWrite { remote_addr: addr, rkey }, sges);
    pair.wait_cqe(a.hca, a.send_cq).unwrap().status
}

#[test]
fn a_bound_type2_window_grants_its_rights_inside_its_bounds() {
    let (mut pair, a, b) = fixture();
    let mw = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    let (st, rkey) = bind(&mut pair, &b, mw, 4096, 8192, RW, 0x42);
    assert_eq!(st, WcStatus::Success);
    assert_eq!((rkey & 0xff, rkey >> 8), (0x42, mw >> 8));
    assert_eq!(write(&mut pair, &a, b.buf + 4096, rkey, 8192), WcStatus::Success);
    pair.run_to_idle();
    let sent = pair.hosts[0].mem.slice(a.buf, 8192).to_vec();
    assert_eq!(pair.hosts[1].mem.slice(b.buf + 4096, 8192), &sent[..]);
    // A READ through it lands in A's buffer.
    let sges = vec![Sge { addr: a.buf + 100_000, len: 100, lkey: a.mr.lkey }];
    post(&mut pair, &a, 2, SendOp::RdmaRead { remote_addr: b.buf + 4096, rkey }, sges);
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    pair.run_to_idle();
    assert_eq!(pair.hosts[0].mem.slice(a.buf + 100_000, 100), &sent[..100]);
}

/// Each violation through a bound window is a remote access error, and
/// the region itself (no remote rights) is refused too.
#[test]
fn violations_through_a_window_are_remote_access_errors() {
    type Case = fn(&mut HcaPair, &Endpoint, &Endpoint, u32, u32) -> WcStatus;
    let cases: [(&str, Case); 5] = [
        ("past the window's end", |p, a, b, rkey, _| write(p, a, b.buf + 4096 + 8000, rkey, 200)),
        ("before its start", |p, a, b, rkey, _| write(p, a, b.buf + 4000, rkey, 200)),
        ("the key before the bind", |p, a, b, _, old| write(p, a, b.buf + 4096, old, 8)),
        ("the region's own key", |p, a, b, _, _| write(p, a, b.buf + 4096, b.mr.rkey, 8)),
        ("a right the window lacks", |p, a, b, rkey, _| {
            let sges = vec![Sge { addr: a.buf, len: 8, lkey: a.mr.lkey }];
            post(p, a, 3, SendOp::AtomicFetchAdd { remote_addr: b.buf + 4096, rkey, add: 1 }, sges);
            p.wait_cqe(0, a.send_cq).unwrap().status
        }),
    ];
    for (what, case) in cases {
        let (mut pair, a, b) = fixture();
        let old = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
        let (st, rkey) = bind(&mut pair, &b, old, 4096, 8192, RW, 0x42);
        assert_eq!(st, WcStatus::Success);
        assert_eq!(case(&mut pair, &a, &b, rkey, old), WcStatus::RemAccessErr, "{what}");
        pair.run_to_idle();
        assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error), "{what}");
    }
}

/// A type 2 window answers only through the QP it was bound through; a
/// type 1 window through any QP of its PD.
#[test]
fn type2_is_bound_to_its_qp_type1_is_not() {
    let (mut pair, a, b) = fixture();
    let (c, d) = pair.connect_rc(QpAttr { timeout: 1, ..QpAttr::default() }, BUF, BINDABLE);
    let h = pair.fabric.hca_mut(1);
    let (t1, t2) = (h.alloc_mw(1, MwType::Type1), h.alloc_mw(1, MwType::Type2));
    let (_, k1) = bind(&mut pair, &b, t1, 0, 4096, RW, 7);
    let (_, k2) = bind(&mut pair, &b, t2, 8192, 4096, RW, 8);
    assert_eq!(write(&mut pair, &a, b.buf + 8192, k2, 16), WcStatus::Success);
    assert_eq!(write(&mut pair, &a, b.buf, k1, 16), WcStatus::Success);
    assert_eq!(write(&mut pair, &c, d.buf, k1, 16), WcStatus::Success);
    assert_eq!(write(&mut pair, &c, d.buf + 8192, k2, 16), WcStatus::RemAccessErr);
}

/// Every check of rxe_check_bind_mw fails the BIND_MW with MW_BIND_ERR and
/// moves the QP to ERROR.
#[test]
fn a_bind_that_fails_its_checks_is_mw_bind_err() {
    type Setup = fn(&mut HcaPair, &Endpoint) -> (u32, u64, u64, Access);
    let cases: [(&str, Setup); 5] = [
        ("a region without MW_BIND", |p, b| {
            let mr = p.fabric.hca_mut(1).reg_mr(1, b.buf, 4096, b.buf, Access::LOCAL_WRITE);
            let mw = p.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
            (mw, mr.lkey as u64, 4096, RW)
        }),
        ("a remote write on a region without LOCAL_WRITE", |p, b| {
            let mr = p.fabric.hca_mut(1).reg_mr(1, b.buf, 4096, b.buf, Access::MW_BIND);
            let mw = p.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
            (mw, mr.lkey as u64, 4096, Access::REMOTE_WRITE)
        }),
        ("a range past the region", |p, b| {
            (p.fabric.hca_mut(1).alloc_mw(1, MwType::Type2), b.mr.lkey as u64, BUF + 1, RW)
        }),
        ("another PD's type 2 window", |p, b| {
            (p.fabric.hca_mut(1).alloc_mw(2, MwType::Type2), b.mr.lkey as u64, 64, RW)
        }),
        ("a zero-length type 2 bind", |p, b| (p.fabric.hca_mut(1).alloc_mw(1, MwType::Type2), b.mr.lkey as u64, 0, RW)),
    ];
    for (what, setup) in cases {
        let (mut pair, _a, b) = fixture();
        let (mw, lkey, len, access) = setup(&mut pair, &b);
        let bind = MwBind { mw_rkey: mw, new_rkey: 1, mr_lkey: lkey as u32, addr: b.buf, len, access };
        post(&mut pair, &b, 5, SendOp::BindMw(bind), vec![]);
        let c = pair.wait_cqe(1, b.send_cq).unwrap();
        assert_eq!((c.wr_id, c.status), (5, WcStatus::MwBindErr), "{what}");
        pair.run_to_idle();
        assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error), "{what}");
    }
    // A bound type 2 window is not FREE: a second bind fails.
    let (mut pair, _a, b) = fixture();
    let mw = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    assert_eq!(bind(&mut pair, &b, mw, 0, 64, RW, 1).0, WcStatus::Success);
    assert_eq!(bind(&mut pair, &b, mw, 0, 64, RW, 2).0, WcStatus::MwBindErr);
}

#[test]
fn local_inv_frees_a_type2_window_and_fails_on_anything_else() {
    let (mut pair, a, b) = fixture();
    let mw = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    let (_, rkey) = bind(&mut pair, &b, mw, 0, 4096, RW, 3);
    post(&mut pair, &b, 6, SendOp::LocalInv { rkey }, vec![]);
    let c = pair.wait_cqe(1, b.send_cq).unwrap();
    assert_eq!((c.wr_id, c.status, c.opcode), (6, WcStatus::Success, WcOpcode::LocalInv));
    // FREE again: bindable again, and the old binding is gone.
    assert_eq!(write(&mut pair, &a, b.buf, rkey, 8), WcStatus::RemAccessErr);
    for target in ["type 1", "region"] {
        let (mut pair, _a, b) = fixture();
        let rkey = match target {
            "type 1" => pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type1),
            _ => b.mr.rkey,
        };
        post(&mut pair, &b, 7, SendOp::LocalInv { rkey }, vec![]);
        let c = pair.wait_cqe(1, b.send_cq).unwrap();
        assert_eq!(c.status, WcStatus::LocQpOpErr, "{target}");
    }
}

#[test]
fn send_with_invalidate_frees_the_window_and_reports_it_in_the_receive() {
    let (mut pair, a, b) = fixture();
    let mw = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    let (_, rkey) = bind(&mut pair, &b, mw, 0, 4096, RW, 4);
    pair.post_recv(pair.now(), &b, 50, 5000);
    let sges = vec![Sge { addr: a.buf, len: 5000, lkey: a.mr.lkey }];
    post(&mut pair, &a, 51, SendOp::SendWithInv { rkey }, sges);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status, r.byte_len, r.invalidated_rkey), (50, WcStatus::Success, 5000, Some(rkey)));
    assert_eq!(pair.wait_cqe(0, a.send_cq).unwrap().status, WcStatus::Success);
    assert_eq!(write(&mut pair, &a, b.buf, rkey, 8), WcStatus::RemAccessErr);

    // A key that names no type 2 window: the receive fails, so does the send.
    let (mut pair, a, b) = fixture();
    pair.post_recv(pair.now(), &b, 60, 100);
    let sges = vec![Sge { addr: a.buf, len: 100, lkey: a.mr.lkey }];
    post(&mut pair, &a, 61, SendOp::SendWithInv { rkey: b.mr.rkey }, sges);
    let r = pair.wait_cqe(1, b.recv_cq).unwrap();
    assert_eq!((r.wr_id, r.status), (60, WcStatus::RemInvReqErr));
    let s = pair.wait_cqe(0, a.send_cq).unwrap();
    assert_eq!((s.wr_id, s.status), (61, WcStatus::RemInvReqErr));
    pair.run_to_idle();
    assert_eq!(pair.fabric.hca(1).qp_state(b.qpn), Some(QpState::Error));
}

/// A local operation between two WRITEs completes after the first and
/// before the second, though it sends nothing.
#[test]
fn a_bind_completes_in_order_between_writes() {
    let (mut pair, a, b) = fixture();
    let w = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    let (_, rkey) = bind(&mut pair, &b, w, 0, BUF, RW, 1);
    let mine = pair.fabric.hca_mut(0).alloc_mw(1, MwType::Type2);
    let write = |id, len| SendWr {
        wr_id: id,
        op: SendOp::RdmaWrite { remote_addr: b.buf, rkey },
        sges: vec![Sge { addr: a.buf, len, lkey: a.mr.lkey }],
        inline_data: None,
        signaled: true,
        solicited: false,
    };
    let bind = MwBind { mw_rkey: mine, new_rkey: 2, mr_lkey: a.mr.lkey, addr: a.buf, len: 64, access: RW };
    let bind = SendWr {
        wr_id: 2,
        op: SendOp::BindMw(bind),
        sges: vec![],
        inline_data: None,
        signaled: true,
        solicited: false,
    };
    let now = pair.now();
    let h = pair.fabric.hca_mut(0);
    for wr in [write(1, 64 * 1024), bind, write(3, 100)] {
        h.post_send(a.qpn, wr).unwrap();
    }
    h.ring_sq_doorbell(now, a.qpn);
    let got: Vec<_> = (0..3).map(|_| pair.wait_cqe(0, a.send_cq).unwrap()).map(|c| (c.wr_id, c.status)).collect();
    assert_eq!(got, vec![(1, WcStatus::Success), (2, WcStatus::Success), (3, WcStatus::Success)]);
}

#[test]
fn a_region_with_a_bound_window_cannot_be_deregistered() {
    let (mut pair, _a, b) = fixture();
    let mw = pair.fabric.hca_mut(1).alloc_mw(1, MwType::Type2);
    bind(&mut pair, &b, mw, 0, 64, RW, 5);
    let h = pair.fabric.hca_mut(1);
    assert_eq!(h.dereg_mr(b.mr.lkey), Err(MrError::Busy));
    assert_eq!(h.dereg_mr(mw), Err(MrError::BadKey), "a window is not a region");
    h.dealloc_mw(mw).unwrap();
    assert_eq!(h.dealloc_mw(mw), Err(MrError::BadKey));
    assert_eq!(h.dereg_mr(b.mr.lkey), Ok(()));
}
