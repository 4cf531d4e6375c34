//! Destroying QPs and CQs, quiesced as real drivers do it: once the call
//! returns, the HCA writes no CQE and raises no event for the object.
//!
//! mlx5_ib_destroy_qp moves the QP to RESET and then cleans its CQs of
//! the CQEs it left there (`mlx5_ib_cq_clean`), so a poll after the destroy
//! finds none of them; the model does the same and also drops the CQE
//! writes and the MSI-X writes (an affiliated async event) still in
//! flight for it. A destroyed CQ takes no more CQEs and raises nothing;
//! a destroyed SRQ raises no SRQ_LIMIT_REACHED (`srq.rs`). Packets for a
//! destroyed QP are dropped like those for a QP in RESET. QP and CQ
//! numbers are not reused. Whether a destroy is allowed (a CQ still used
//! by a QP, a QP with multicast groups) is the kernel's usecnt business:
//! the device does what it is told.
//!
//! Key items: [`Hca::destroy_qp`], [`Hca::destroy_cq`].

use crate::engine::Ps;
use crate::hca::Hca;
use crate::host::{AsyncEvent, Interrupt};
use crate::qp::{ModifyError, Qp};

impl Hca {
    /// DESTROY_QP at `now`: the QP is reset (its queues emptied without
    /// completions), its CQEs still unpolled are removed from its CQs, and
    /// nothing more is written or raised for it.
    pub fn destroy_qp(&mut self, now: Ps, qpn: u32) -> Result<(), ModifyError> {
        self.q.advance_to(now);
        let qp = self.live_qp(qpn).ok_or(ModifyError::BadQp)?;
        let cqs = [qp.send_cq, qp.recv_cq];
        self.qp_reset(qpn);
        self.qp_mut(qpn).unwrap().destroyed = true;
        for cq in cqs {
            if let Some(c) = self.cqs.get_mut(cq as usize) {
                c.entries.retain(|e| e.qpn != qpn);
            }
        }
        Ok(())
    }

    /// DESTROY_CQ: no CQE lands in it and no completion or CQ_ERR event is
    /// raised for it any more. False if there is no such CQ.
    pub fn destroy_cq(&mut self, cq: u32) -> bool {
        match self.cqs.get_mut(cq as usize) {
            Some(c) if !c.destroyed => {
                c.destroyed = true;
                c.entries.clear();
                c.armed = crate::cq::Arm::No;
                true
            }
            _ => false,
        }
    }

    /// The QP, unless it does not exist or was destroyed.
    pub(crate) fn live_qp(&self, qpn: u32) -> Option<&Qp> {
        self.qp(qpn).filter(|q| !q.destroyed)
    }

    /// Whether an interrupt still has a live object to be about.
    pub(crate) fn irq_live(&self, irq: &Interrupt) -> bool {
        let cq_live = |cq: u32| self.cqs.get(cq as usize).is_some_and(|c| !c.destroyed);
        match *irq {
            Interrupt::Completion { cq } | Interrupt::Async(AsyncEvent::CqError { cq }) => cq_live(cq),
            Interrupt::Async(
                AsyncEvent::QpAccessError { qpn }
                | AsyncEvent::QpRequestError { qpn }
                | AsyncEvent::SqDrained { qpn }
                | AsyncEvent::QpLastWqeReached { qpn },
            ) => self.live_qp(qpn).is_some(),
            Interrupt::Async(AsyncEvent::SrqLimitReached { srq }) => self.srq(srq).is_some(),
            Interrupt::Async(AsyncEvent::PortError { .. } | AsyncEvent::PortActive { .. }) => true,
        }
    }
}
