//! The QP state machine of the device: the transition table with its
//! required and optional attributes, and [`Hca::modify_qp`], the driver's
//! MODIFY_QP (mlx5_ib_modify_qp, rxe_qp.c `rxe_qp_chk_attr` and
//! `rxe_qp_from_attr`).
//!
//! The table is Linux's `qp_state_table` (drivers/infiniband/core/verbs.c,
//! IBTA Vol. 1 sec. 10.3.1 and table 91) for RC, UC and UD, and
//! [`modify_qp_is_ok`] is `ib_modify_qp_is_ok`. It lives here, once, as the
//! device's: in Linux the core exports it and every driver (mlx5, rxe)
//! calls it before touching its hardware, so a simulated kernel calls this
//! function rather than keeping a second copy that could drift. The mask
//! bits are `enum ib_qp_attr_mask`'s, so a uverbs layer passes the user's
//! mask through unchanged.
//!
//! What each transition does to the queues (as rxe_qp.c `rxe_qp_from_attr`
//! does it):
//! - to RESET, from any state: the queues are emptied without completions,
//!   the requester, completer and responder start over (rxe_qp_reset).
//! - RESET -> INIT: receives may be posted (they wait: packets are dropped).
//! - INIT -> RTR: the responder runs from `rq_psn`.
//! - RTR -> RTS: the requester runs from `sq_psn`.
//! - RTS -> SQD: no new WQE starts; those started finish (retransmissions
//!   included), then SQ_DRAINED is raised if `en_sqd_async_notify` was set
//!   (IBTA 11.6.3.1). Out of SQD only to ERROR or RESET until then.
//! - SQD -> RTS, SQE -> RTS: sending resumes with the next WQE.
//! - to ERROR: every outstanding WQE completes with WR_FLUSH_ERR; an
//!   SRQ-attached QP raises LAST_WQE_REACHED (IBTA 11.6.3.1; rxe_resp.c).
//!
//! A UD or UC QP whose send fails locally goes to SQE, not ERROR: its send queue
//! is flushed, receives go on (IBTA 10.3.1.2; rxe has no SQE, mlx5 has
//! SQER2RTS).
//!
//! SQD follows IBTA and rxe; mlx5_ib of the 3.x era has no RTS2SQD in its
//! `optab` (drivers/infiniband/hw/mlx5/qp.c) and answers -EINVAL there, a
//! difference the book's HCA chapter records.
//!
//! Range checks follow mlx5_ib_modify_qp: port 1 only, the P_Key index
//! inside the table, READ/atomic depths within the device's, path MTU one
//! of 256..4096 and not above the port's, 3-bit retry counts, 5-bit timer
//! codes. A failed modify changes nothing.
//!
//! Key items: [`QpAttrMask`], [`modify_qp_is_ok`], [`Hca::modify_qp`],
//! [`Hca::query_qp`].

use crate::engine::Ps;
use crate::hca::Hca;
use crate::host::{AsyncEvent, Interrupt};
use crate::qp::{ModifyError, QpAttr, QpState, QpType};

/// P_Key table entries of the port (ConnectX-4 reports max_pkeys 128).
pub const PKEY_TABLE_LEN: u16 = 128;

/// The port's active MTU (4096 on an EDR link).
pub const PORT_MTU: usize = 4096;

/// Which attributes a modify sets (`enum ib_qp_attr_mask`, same bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QpAttrMask(pub u32);

impl QpAttrMask {
    pub const STATE: QpAttrMask = QpAttrMask(1);
    pub const CUR_STATE: QpAttrMask = QpAttrMask(1 << 1);
    pub const EN_SQD_ASYNC_NOTIFY: QpAttrMask = QpAttrMask(1 << 2);
    pub const ACCESS_FLAGS: QpAttrMask = QpAttrMask(1 << 3);
    pub const PKEY_INDEX: QpAttrMask = QpAttrMask(1 << 4);
    pub const PORT: QpAttrMask = QpAttrMask(1 << 5);
    pub const QKEY: QpAttrMask = QpAttrMask(1 << 6);
    pub const AV: QpAttrMask = QpAttrMask(1 << 7);
    pub const PATH_MTU: QpAttrMask = QpAttrMask(1 << 8);
    pub const TIMEOUT: QpAttrMask = QpAttrMask(1 << 9);
    pub const RETRY_CNT: QpAttrMask = QpAttrMask(1 << 10);
    pub const RNR_RETRY: QpAttrMask = QpAttrMask(1 << 11);
    pub const RQ_PSN: QpAttrMask = QpAttrMask(1 << 12);
    pub const MAX_QP_RD_ATOMIC: QpAttrMask = QpAttrMask(1 << 13);
    pub const ALT_PATH: QpAttrMask = QpAttrMask(1 << 14);
    pub const MIN_RNR_TIMER: QpAttrMask = QpAttrMask(1 << 15);
    pub const SQ_PSN: QpAttrMask = QpAttrMask(1 << 16);
    pub const MAX_DEST_RD_ATOMIC: QpAttrMask = QpAttrMask(1 << 17);
    pub const PATH_MIG_STATE: QpAttrMask = QpAttrMask(1 << 18);
    pub const CAP: QpAttrMask = QpAttrMask(1 << 19);
    pub const DEST_QPN: QpAttrMask = QpAttrMask(1 << 20);
    pub const NONE: QpAttrMask = QpAttrMask(0);

    /// Whether every bit of `m` is set.
    pub fn has(self, m: QpAttrMask) -> bool {
        self.0 & m.0 == m.0
    }
}

impl std::ops::BitOr for QpAttrMask {
    type Output = QpAttrMask;
    fn bitor(self, rhs: QpAttrMask) -> QpAttrMask {
        QpAttrMask(self.0 | rhs.0)
    }
}

/// One cell of the table: (required, optional) masks for RC, UC, UD; None
/// where the transition is not valid.
type Cell = Option<[(u32, u32); 3]>;

const fn m(bits: &[QpAttrMask]) -> u32 {
    let mut v = 0;
    let mut i = 0;
    while i < bits.len() {
        v |= bits[i].0;
        i += 1;
    }
    v
}

use QpAttrMask as M;

const ANY: Cell = Some([(0, 0); 3]);
const RST_INIT: Cell = Some([
    (m(&[M::PKEY_INDEX, M::PORT, M::ACCESS_FLAGS]), 0),
    (m(&[M::PKEY_INDEX, M::PORT, M::ACCESS_FLAGS]), 0),
    (m(&[M::PKEY_INDEX, M::PORT, M::QKEY]), 0),
]);
const INIT_INIT: Cell = Some([
    (0, m(&[M::PKEY_INDEX, M::PORT, M::ACCESS_FLAGS])),
    (0, m(&[M::PKEY_INDEX, M::PORT, M::ACCESS_FLAGS])),
    (0, m(&[M::PKEY_INDEX, M::PORT, M::QKEY])),
]);
const INIT_RTR: Cell = Some([
    (
        m(&[M::AV, M::PATH_MTU, M::DEST_QPN, M::RQ_PSN, M::MAX_DEST_RD_ATOMIC, M::MIN_RNR_TIMER]),
        m(&[M::ALT_PATH, M::ACCESS_FLAGS, M::PKEY_INDEX]),
    ),
    (m(&[M::AV, M::PATH_MTU, M::DEST_QPN, M::RQ_PSN]), m(&[M::ALT_PATH, M::ACCESS_FLAGS, M::PKEY_INDEX])),
    (0, m(&[M::PKEY_INDEX, M::QKEY])),
]);
const RTR_RTS: Cell = Some([
    (
        m(&[M::TIMEOUT, M::RETRY_CNT, M::RNR_RETRY, M::SQ_PSN, M::MAX_QP_RD_ATOMIC]),
        m(&[M::CUR_STATE, M::ALT_PATH, M::ACCESS_FLAGS, M::MIN_RNR_TIMER, M::PATH_MIG_STATE]),
    ),
    (M::SQ_PSN.0, m(&[M::CUR_STATE, M::ALT_PATH, M::ACCESS_FLAGS, M::PATH_MIG_STATE])),
    (M::SQ_PSN.0, m(&[M::CUR_STATE, M::QKEY])),
]);
/// RTS -> RTS and SQD -> RTS have the same optional attributes.
const TO_RTS: Cell = Some([
    (0, m(&[M::CUR_STATE, M::ACCESS_FLAGS, M::ALT_PATH, M::PATH_MIG_STATE, M::MIN_RNR_TIMER])),
    (0, m(&[M::CUR_STATE, M::ACCESS_FLAGS, M::ALT_PATH, M::PATH_MIG_STATE])),
    (0, m(&[M::CUR_STATE, M::QKEY])),
]);
const RTS_SQD: Cell = Some([(0, M::EN_SQD_ASYNC_NOTIFY.0); 3]);
const SQD_SQD: Cell = Some([
    (
        0,
        m(&[
            M::PORT,
            M::AV,
            M::TIMEOUT,
            M::RETRY_CNT,
            M::RNR_RETRY,
            M::MAX_QP_RD_ATOMIC,
            M::MAX_DEST_RD_ATOMIC,
            M::ALT_PATH,
            M::ACCESS_FLAGS,
            M::PKEY_INDEX,
            M::MIN_RNR_TIMER,
            M::PATH_MIG_STATE,
        ]),
    ),
    (0, m(&[M::AV, M::ALT_PATH, M::ACCESS_FLAGS, M::PKEY_INDEX, M::PATH_MIG_STATE])),
    (0, m(&[M::PKEY_INDEX, M::QKEY])),
]);
/// SQE -> RTS: nothing optional for RC (an RC QP never is in SQE).
const SQE_RTS: Cell = Some([(0, 0), (0, m(&[M::CUR_STATE, M::ACCESS_FLAGS])), (0, m(&[M::CUR_STATE, M::QKEY]))]);

/// `qp_state_table[cur][next]`, rows and columns in `QpState` order
/// (RESET, INIT, RTR, RTS, SQD, SQE, ERROR).
const TABLE: [[Cell; 7]; 7] = [
    [ANY, RST_INIT, None, None, None, None, None],
    [ANY, INIT_INIT, INIT_RTR, None, None, None, ANY],
    [ANY, None, None, RTR_RTS, None, None, ANY],
    [ANY, None, None, TO_RTS, RTS_SQD, None, ANY],
    [ANY, None, None, TO_RTS, SQD_SQD, None, ANY],
    [ANY, None, None, SQE_RTS, None, None, ANY],
    [ANY, None, None, None, None, None, ANY],
];

/// `ib_modify_qp_is_ok`: whether a QP of type `ty` may go from `cur` to
/// `next` with attribute mask `mask`: IB_QP_CUR_STATE only from RTR, RTS,
/// SQD or SQE; the transition in the table; every required attribute in
/// the mask and nothing but required, optional and IB_QP_STATE.
pub fn modify_qp_is_ok(cur: QpState, next: QpState, ty: QpType, mask: QpAttrMask) -> bool {
    if mask.has(M::CUR_STATE) && !matches!(cur, QpState::Rtr | QpState::Rts | QpState::Sqd | QpState::Sqe) {
        return false;
    }
    let Some(cell) = TABLE[cur as usize][next as usize] else { return false };
    let (req, opt) = cell[match ty {
        QpType::Rc => 0,
        QpType::Uc => 1,
        QpType::Ud => 2,
    }];
    mask.0 & req == req && mask.0 & !(req | opt | M::STATE.0) == 0
}

impl Hca {
    /// MODIFY_QP at `now`: moves QP `qpn` to `attr.qp_state` (if `mask` has
    /// STATE; else it stays) setting the attributes `mask` names. Fails,
    /// changing nothing, for an unknown QP, a transition or mask outside
    /// the table, a CUR_STATE that is not the QP's state, an attribute out
    /// of range, or leaving SQD before it drained.
    pub fn modify_qp(&mut self, now: Ps, qpn: u32, attr: &QpAttr, mask: QpAttrMask) -> Result<(), ModifyError> {
        self.q.advance_to(now);
        let now = self.q.now();
        let max_rd = self.p.max_rd_atomic.value;
        let qp = self.live_qp(qpn).ok_or(ModifyError::BadQp)?;
        let cur = if mask.has(M::CUR_STATE) { attr.cur_qp_state } else { qp.state };
        let next = if mask.has(M::STATE) { attr.qp_state } else { cur };
        if !modify_qp_is_ok(cur, next, qp.qp_type, mask) || cur != qp.state {
            return Err(ModifyError::BadState);
        }
        if cur == QpState::Sqd && qp.draining && !matches!(next, QpState::Error | QpState::Reset) {
            return Err(ModifyError::Draining);
        }
        check_ranges(attr, mask, max_rd)?;
        self.apply_attr(qpn, attr, mask);
        if next != cur || next == QpState::Reset {
            self.enter_state(now, qpn, next);
        }
        Ok(())
    }

    /// The QP's attributes (QUERY_QP), `qp_state` and `cur_qp_state` being
    /// its state.
    pub fn query_qp(&self, qpn: u32) -> Option<QpAttr> {
        let qp = self.live_qp(qpn)?;
        Some(QpAttr { qp_state: qp.state, cur_qp_state: qp.state, ..qp.attr })
    }

    /// The QP's transport type.
    pub fn qp_type(&self, qpn: u32) -> Option<QpType> {
        self.live_qp(qpn).map(|q| q.qp_type)
    }

    /// rxe_qp_from_attr: stores what the mask names; the PSNs and retry
    /// counters start the requester, completer and responder afresh.
    fn apply_attr(&mut self, qpn: u32, a: &QpAttr, mask: QpAttrMask) {
        let qp = self.qp_mut(qpn).unwrap();
        let t = &mut qp.attr;
        if mask.has(M::EN_SQD_ASYNC_NOTIFY) {
            t.en_sqd_async_notify = a.en_sqd_async_notify;
        }
        if mask.has(M::ACCESS_FLAGS) {
            t.qp_access_flags = a.qp_access_flags;
        }
        if mask.has(M::PKEY_INDEX) {
            t.pkey_index = a.pkey_index;
        }
        if mask.has(M::PORT) {
            t.port_num = a.port_num;
        }
        if mask.has(M::QKEY) {
            t.qkey = a.qkey;
        }
        if mask.has(M::AV) {
            t.dest_lid = a.dest_lid;
        }
        if mask.has(M::PATH_MTU) {
            t.path_mtu = a.path_mtu;
        }
        if mask.has(M::TIMEOUT) {
            t.timeout = a.timeout;
        }
        if mask.has(M::RETRY_CNT) {
            t.retry_cnt = a.retry_cnt;
            qp.comp.retry_left = a.retry_cnt;
        }
        if mask.has(M::RNR_RETRY) {
            qp.attr.rnr_retry = a.rnr_retry;
            qp.comp.rnr_left = a.rnr_retry;
        }
        let t = &mut qp.attr;
        if mask.has(M::MIN_RNR_TIMER) {
            t.min_rnr_timer = a.min_rnr_timer;
        }
        if mask.has(M::MAX_QP_RD_ATOMIC) {
            t.max_rd_atomic = a.max_rd_atomic;
        }
        if mask.has(M::MAX_DEST_RD_ATOMIC) {
            t.max_dest_rd_atomic = a.max_dest_rd_atomic;
        }
        if mask.has(M::DEST_QPN) {
            t.dest_qpn = a.dest_qpn;
        }
        if mask.has(M::RQ_PSN) {
            t.rq_psn = a.rq_psn;
            qp.resp.psn = a.rq_psn;
            qp.resp.ack_psn = crate::packet::psn_add(a.rq_psn, 0xff_ffff);
        }
        if mask.has(M::SQ_PSN) {
            qp.attr.sq_psn = a.sq_psn;
            qp.req.psn = a.sq_psn;
            qp.req.sent_psn = a.sq_psn;
            qp.comp.psn = a.sq_psn;
        }
    }

    /// The effects of entering `next` (the modify was checked).
    fn enter_state(&mut self, now: Ps, qpn: u32, next: QpState) {
        match next {
            QpState::Reset => self.qp_reset(qpn),
            QpState::Error => self.qp_error(now, qpn),
            QpState::Sqd => {
                let qp = self.qp_mut(qpn).unwrap();
                qp.state = QpState::Sqd;
                qp.draining = true;
                self.check_drained(now, qpn);
            }
            QpState::Rts => {
                // From RTR, SQD or SQE: start (or resume) with the next WQE.
                self.qp_mut(qpn).unwrap().state = QpState::Rts;
                self.packetize_ready(now, qpn);
            }
            s => self.qp_mut(qpn).unwrap().state = s,
        }
    }

    /// rxe_qp_reset: the queues are emptied without completions and the
    /// three engines forget everything. WQE indices keep counting, so that
    /// a fetch still in flight finds no WQE when it lands.
    pub(crate) fn qp_reset(&mut self, qpn: u32) {
        let qp = self.qp_mut(qpn).unwrap();
        qp.state = QpState::Reset;
        qp.draining = false;
        let next_id = qp.req.head_id + qp.sq.len() as u64;
        qp.sq.clear();
        qp.req = crate::qp::ReqState {
            head_id: next_id,
            rung_id: next_id,
            doorbell_id: next_id,
            fetch_id: next_id,
            packetize_id: next_id,
            tx_pending_at: qp.req.tx_pending_at,
            ..Default::default()
        };
        qp.comp = crate::qp::CompState { timer_event_at: qp.comp.timer_event_at, ..Default::default() };
        let ack_scheduled = qp.resp.ack_scheduled;
        qp.resp = crate::qp::RespState { ack_scheduled, ..Default::default() };
    }

    /// SQD: once no started WQE is outstanding, the drain is over; raise
    /// SQ_DRAINED if the consumer asked for it.
    pub(crate) fn check_drained(&mut self, t: Ps, qpn: u32) {
        let Some(qp) = self.qp_mut(qpn) else { return };
        if qp.state != QpState::Sqd || !qp.draining || qp.req.head_id < qp.req.packetize_id {
            return;
        }
        qp.draining = false;
        if qp.attr.en_sqd_async_notify {
            self.raise(t, Interrupt::Async(AsyncEvent::SqDrained { qpn }));
        }
    }
}

/// Range checks of the attributes the mask names (mlx5_ib_modify_qp,
/// rxe_qp_chk_attr).
fn check_ranges(a: &QpAttr, mask: QpAttrMask, max_rd: u64) -> Result<(), ModifyError> {
    let bad = (mask.has(M::PORT) && a.port_num != 1)
        || (mask.has(M::PKEY_INDEX) && a.pkey_index >= PKEY_TABLE_LEN)
        || (mask.has(M::MAX_QP_RD_ATOMIC) && a.max_rd_atomic as u64 > max_rd)
        || (mask.has(M::MAX_DEST_RD_ATOMIC) && a.max_dest_rd_atomic as u64 > max_rd)
        || (mask.has(M::PATH_MTU) && (!matches!(a.path_mtu, 256 | 512 | 1024 | 2048 | 4096) || a.path_mtu > PORT_MTU))
        || (mask.has(M::RETRY_CNT) && a.retry_cnt > 7)
        || (mask.has(M::RNR_RETRY) && a.rnr_retry > 7)
        || (mask.has(M::MIN_RNR_TIMER) && a.min_rnr_timer > 31)
        || (mask.has(M::TIMEOUT) && a.timeout > 31);
    if bad {
        Err(ModifyError::InvalidAttr)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RC: QpType = QpType::Rc;
    const ST: QpAttrMask = M::STATE;

    #[test]
    fn the_table_is_linuxs() {
        use QpState::*;
        let init = ST | M::PKEY_INDEX | M::PORT | M::ACCESS_FLAGS;
        assert!(modify_qp_is_ok(Reset, Init, RC, init));
        // A required attribute missing, or one neither required nor optional.
        assert!(!modify_qp_is_ok(Reset, Init, RC, ST | M::PKEY_INDEX | M::PORT));
        assert!(!modify_qp_is_ok(Reset, Init, RC, init | M::QKEY));
        assert!(modify_qp_is_ok(Reset, Init, QpType::Ud, ST | M::PKEY_INDEX | M::PORT | M::QKEY));
        // RESET may not go to ERROR (only INIT and later may).
        assert!(!modify_qp_is_ok(Reset, Error, RC, ST));
        assert!(modify_qp_is_ok(Init, Error, RC, ST));
        let rtr = ST | M::AV | M::PATH_MTU | M::DEST_QPN | M::RQ_PSN | M::MAX_DEST_RD_ATOMIC | M::MIN_RNR_TIMER;
        assert!(modify_qp_is_ok(Init, Rtr, RC, rtr));
        assert!(!modify_qp_is_ok(Init, Rtr, QpType::Uc, rtr), "UC has no RD atomic or RNR timer");
        assert!(modify_qp_is_ok(Init, Rtr, QpType::Ud, ST));
        let rts = ST | M::TIMEOUT | M::RETRY_CNT | M::RNR_RETRY | M::SQ_PSN | M::MAX_QP_RD_ATOMIC;
        assert!(modify_qp_is_ok(Rtr, Rts, RC, rts));
        assert!(modify_qp_is_ok(Rtr, Rts, RC, rts | M::CUR_STATE));
        // CUR_STATE is refused from RESET and INIT.
        assert!(!modify_qp_is_ok(Init, Init, RC, M::CUR_STATE));
        // No skipping: INIT -> RTS, RTR -> SQD, SQE from anything.
        assert!(!modify_qp_is_ok(Init, Rts, RC, rts));
        assert!(!modify_qp_is_ok(Rtr, Sqd, RC, ST));
        assert!(!modify_qp_is_ok(Rts, Sqe, QpType::Ud, ST));
        assert!(modify_qp_is_ok(Rts, Sqd, RC, ST | M::EN_SQD_ASYNC_NOTIFY));
        assert!(modify_qp_is_ok(Sqd, Sqd, RC, ST | M::TIMEOUT | M::AV));
        assert!(!modify_qp_is_ok(Sqd, Sqd, QpType::Ud, ST | M::TIMEOUT));
        assert!(modify_qp_is_ok(Sqe, Rts, QpType::Ud, ST | M::QKEY));
        assert!(!modify_qp_is_ok(Sqe, Rts, RC, ST | M::ACCESS_FLAGS));
        // ERROR goes only to RESET (or stays).
        assert!(!modify_qp_is_ok(Error, Init, RC, init));
        assert!(modify_qp_is_ok(Error, Reset, RC, ST));
        for s in [Reset, Init, Rtr, Rts, Sqd, Sqe, Error] {
            assert!(modify_qp_is_ok(s, Reset, RC, ST), "{s:?} -> RESET");
        }
    }
}
